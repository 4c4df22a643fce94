"""What the service refuses, and how it says so: 401, 403, 413, 415, 429, 400."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_world import AGENT, LOGISTICS, PAYMENT, PLATFORM, T_SHIRT, Running, start

from builders import declaration, write_messages
from cbec.pipeline import Policy
from cbec.service import auth


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, policy: Policy, module_store: str | None
) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("refusals")
    with start(root, policy, pg_url=module_store) as service:
        write_messages(root / "parcel", declaration("R1", T_SHIRT))
        yield service


def _message(running: Running, code: str) -> bytes:
    return next((running.root / "parcel").glob(f"*_CEB{code}.xml")).read_bytes()


def test_no_key_or_an_unknown_key_is_401(running: Running) -> None:
    status, answer = running.post(None, _message(running, "311"))
    assert (status, answer["error"]) == (401, "no_api_key")
    response = running.client.post(
        "/v1/messages",
        content=_message(running, "311"),
        headers={"Content-Type": "application/xml", "X-API-Key": "cbec_not-a-key"},
    )
    assert (response.status_code, response.json()["error"]) == (401, "unknown_api_key")
    assert running.client.get("/v1/receipts").status_code == 401


def test_the_key_in_x_api_key_is_accepted(running: Running) -> None:
    response = running.client.get("/v1/receipts", headers={"X-API-Key": running.keys[PAYMENT]})
    assert response.status_code == 200


def test_a_disabled_enterprise_is_401(running: Running, policy: Policy) -> None:
    store = running.service.store
    store.add_enterprise("3301989999", "Gone", ["agent"])
    key = auth.issue_key(store, "3301989999")
    store.disable_enterprise("3301989999")
    response = running.client.get("/v1/receipts", headers={"X-API-Key": key})
    assert response.status_code == 401


def test_a_message_of_another_role_is_403(running: Running) -> None:
    status, answer = running.post(PAYMENT, _message(running, "311"))
    assert (status, answer["error"]) == (403, "role_not_allowed")
    assert "platform" in str(answer["detail"])


def test_a_message_about_another_enterprise_is_403(running: Running) -> None:
    """A platform may send orders, but only its own: ebpCode must be its code."""
    running.service.store.add_enterprise("3301964J99", "Another platform", ["platform"])
    key = auth.issue_key(running.service.store, "3301964J99")
    running.keys["3301964J99"] = key
    status, answer = running.post("3301964J99", _message(running, "311"))
    assert (status, answer["error"]) == (403, "not_about_sender")
    assert "ebpCode" in str(answer["detail"])


def test_a_body_over_the_limit_is_413(running: Running) -> None:
    status, answer = running.post(PLATFORM, b"<x/>" * 20_000)
    assert (status, answer["error"]) == (413, "body_too_large")


def test_a_body_that_is_neither_xml_nor_json_is_415(running: Running) -> None:
    status, answer = running.post(LOGISTICS, b"{}", **{"Content-Type": "text/plain"})
    assert (status, answer["error"]) == (415, "unsupported_media_type")


def test_an_unreadable_message_is_400_and_not_logged(running: Running) -> None:
    status, answer = running.post(LOGISTICS, b"<not-a-ceb-message/>")
    assert (status, answer["error"]) == (400, "message_unreadable")
    assert running.rows("SELECT count(*) FROM service_intake") == [(0,)]


def test_over_the_rate_is_429(running: Running) -> None:
    running.service.limiter = auth.RateLimiter(rate=0.001, burst=1)
    try:
        first, _ = running.post(AGENT, _message(running, "621"))
        second, answer = running.post(AGENT, _message(running, "621"))
    finally:
        running.service.limiter = auth.RateLimiter(200, 400)
    assert first == 202
    assert (second, answer["error"]) == (429, "rate_limited")


def test_long_polling_waits_then_answers_empty(running: Running) -> None:
    response = running.client.get(
        "/v1/receipts", params={"wait": 0.05}, headers=running.headers(PLATFORM)
    )
    assert response.json() == []


def test_keys_are_stored_hashed(running: Running, tmp_path: Path) -> None:
    stored = running.service.store.enterprise(PLATFORM)
    assert stored is not None
    assert stored.api_key_sha256 == auth.key_sha256(running.keys[PLATFORM])
    assert running.keys[PLATFORM] not in (stored.api_key_sha256 or "")


def test_a_long_poll_is_answered_when_the_batch_records_the_receipt(running: Running) -> None:
    """Runs last in this module: the platform's first receipt arrives while its poll waits."""
    status, _ = running.post(PLATFORM, _message(running, "311"))
    assert status == 202
    batch = threading.Timer(0.1, running.service.batcher.flush)
    batch.start()
    try:
        response = running.client.get(
            "/v1/receipts", params={"wait": 30}, headers=running.headers(PLATFORM)
        )
    finally:
        batch.join()
    assert [r["code"] for r in response.json()] == ["312"]
