"""JSON on both sides (issue 4): a parcel posted as JSON messages, receipts read as JSON and as
server-sent events; the enterprise registry over the operator's admin routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from service_world import ADMIN_TOKEN, AGENT, PLATFORM, SENDERS, T_SHIRT, Running, start

from builders import declaration
from cbec.pipeline import Policy

LINES = {"orders": "order_lines", "inventories": "inventory_lines"}
CODES = {"orders": "311", "payments": "411", "waybills": "511", "inventories": "621"}


def _json_messages(rows: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """(code, JSON message) of each family, lines inside their node."""
    found = []
    for stem, code in CODES.items():
        nodes = []
        for head in rows[stem]:
            node = dict(head)
            if stem in LINES:
                node["lines"] = [
                    {k: v for k, v in line.items() if k not in ("order_no", "ebp_code")}
                    for line in rows[LINES[stem]]
                ]
            nodes.append(node)
        found.append((code, {"code": code, "guid": f"JSON-{code}", "nodes": nodes}))
    return found


@pytest.fixture(scope="module")
def posted(
    tmp_path_factory: pytest.TempPathFactory, policy: Policy, module_store: str | None
) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("json")
    with start(root, policy, pg_url=module_store) as running:
        for code, message in _json_messages(declaration("J1", T_SHIRT)):
            response = running.client.post(
                "/v1/messages",
                json=message,
                headers={"Authorization": f"Bearer {running.keys[SENDERS[code]]}"},
            )
            assert response.status_code == 202, response.text
        assert running.service.batcher.flush() == 4
        yield running


def test_a_parcel_posted_as_json_is_cleared(posted: Running) -> None:
    decision = posted.client.get("/v1/declarations/J1", headers=posted.headers(AGENT)).json()
    assert (decision["status"], decision["value_added_tax"]) == (800, "9.10")


def test_receipts_read_as_json_carry_their_fields(posted: Running) -> None:
    receipts = posted.receipts(AGENT)
    assert [r["code"] for r in receipts] == ["622", "622", "816"]
    released = receipts[1]["document"]
    assert isinstance(released, dict)
    (row,) = next(iter(released.values()))
    assert (row["cop_no"], row["return_status"]) == ("J1", 800)
    order = posted.receipts(PLATFORM)[0]["document"]
    assert isinstance(order, dict)
    assert next(iter(order.values()))[0]["return_status"] == 120


def test_receipts_as_server_sent_events(posted: Running) -> None:
    headers = posted.headers(AGENT, Accept="text/event-stream")
    with posted.client.stream(
        "GET", "/v1/receipts", params={"wait": 0.2}, headers=headers
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = [block for block in text.split("\n\n") if block.startswith("id:")]
    assert len(events) == 3
    first = dict(line.split(": ", 1) for line in events[0].splitlines())
    assert first["event"] == "receipt"
    assert json.loads(first["data"])["code"] == "622"
    resumed = {**headers, "Last-Event-ID": first["id"]}
    with posted.client.stream(
        "GET", "/v1/receipts", params={"wait": 0.2}, headers=resumed
    ) as response:
        again = "".join(response.iter_text())
    assert again.count("\nevent: receipt") == 2


def test_a_json_body_with_an_unknown_field_or_a_bad_value_is_400(posted: Running) -> None:
    auth = {"Authorization": f"Bearer {posted.keys[PLATFORM]}"}
    (_, order), *_ = _json_messages(declaration("J2", T_SHIRT))
    order["nodes"][0]["buyer_idnumber"] = "x"
    answer = posted.client.post("/v1/messages", json=order, headers=auth)
    assert answer.status_code == 400
    assert answer.json()["error"] == "json_unreadable"
    assert "node 1: unknown field(s) buyer_idnumber" in answer.json()["detail"]
    (_, order), *_ = _json_messages(declaration("J2", T_SHIRT))
    order["nodes"][0]["lines"][0]["price"] = "1.234"
    answer = posted.client.post("/v1/messages", json=order, headers=auth)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("node 1, line 1, price:")
    bad = posted.client.post(
        "/v1/messages", content=b"{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert bad.json()["error"] == "json_unreadable"


def test_the_operator_manages_the_registry_over_http(posted: Running) -> None:
    operator = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    refused = posted.client.get("/v1/admin/enterprises", headers=posted.headers(AGENT))
    assert (refused.status_code, refused.json()["error"]) == (401, "admin_token_required")
    added = posted.client.put(
        "/v1/admin/enterprises/3301980009",
        json={"name": "New agent", "roles": ["agent"], "issue_key": True},
        headers=operator,
    )
    assert added.status_code == 200, added.text
    key = added.json()["api_key"]
    assert added.json()["roles"] == ["agent"] and added.json()["has_api_key"]
    own = {"Authorization": f"Bearer {key}"}
    assert posted.client.get("/v1/receipts", headers=own).json() == []
    listed = posted.client.get("/v1/admin/enterprises", headers=operator).json()
    assert "3301980009" in [e["code"] for e in listed]
    bad = posted.client.put(
        "/v1/admin/enterprises/3301980009",
        json={"name": "x", "roles": ["pilot"]},
        headers=operator,
    )
    assert (bad.status_code, bad.json()["error"]) == (400, "bad_enterprise")
    disabled = posted.client.post("/v1/admin/enterprises/3301980009/disable", headers=operator)
    assert disabled.json()["disabled"] is True
    assert posted.client.get("/v1/receipts", headers=own).status_code == 401
    unknown = posted.client.post("/v1/admin/enterprises/NOPE/key", headers=operator)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_enterprise")
