"""Inspection outcomes posted by the operator: the held parcel is released (800, with its 816)
and the declaring agent reads the receipts; a bad outcome changes nothing and says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_world import ADMIN_TOKEN, AGENT, SENDERS, Running, start

from builders import declaration, write_messages
from cbec.pipeline import Policy

# 8.00 for a T-shirt is far below its reference price: the shipped hard rule holds the parcel
# for inspection (docs/risk.md, "Rules").
FAR_BELOW = [{"gcode": "6111200050", "qty": 1, "price": "8.00"}]
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def held(tmp_path: Path, policy: Policy, service_store: str | None) -> Iterator[Running]:
    with start(tmp_path, policy, pg_url=service_store) as running:
        for path in write_messages(tmp_path / "parcel", declaration("H1", FAR_BELOW)):
            code = path.stem.split("CEB")[-1]
            status, answer = running.post(SENDERS[code], path.read_bytes())
            assert status == 202, answer
        assert running.service.batcher.flush() == 4
        decision = running.client.get("/v1/declarations/H1", headers=running.headers(AGENT))
        assert decision.json()["status"] == 500
        yield running


def test_nothing_found_releases_the_parcel_with_its_tax_bill(held: Running) -> None:
    before = held.receipts(AGENT)
    body = {"outcomes": [{"agent_code": AGENT, "cop_no": "H1", "found": False}]}
    response = held.client.post("/v1/admin/inspections", json=body, headers=OPERATOR)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["released"], answer["rejected"], answer["receipts"]) == (1, 0, 2)
    decision = held.client.get("/v1/declarations/H1", headers=held.headers(AGENT)).json()
    assert decision["status"] == 800
    new = held.receipts(AGENT, after=int(str(before[-1]["cursor"])))
    assert [r["code"] for r in new] == ["622", "816"]
    assert "<ceb:returnStatus>800</ceb:returnStatus>" in str(new[0]["xml"])


def test_a_bad_outcome_is_refused_and_changes_nothing(held: Running) -> None:
    body = {"outcomes": [{"agent_code": AGENT, "cop_no": "H1", "found": "maybe"}]}
    response = held.client.post("/v1/admin/inspections", json=body, headers=OPERATOR)
    assert response.status_code == 422
    assert "found" in response.json()["detail"]
    # Not held for review: the review route refuses it too.
    body = {"outcomes": [{"agent_code": AGENT, "cop_no": "H1", "found": False}]}
    response = held.client.post("/v1/admin/reviews", json=body, headers=OPERATOR)
    assert response.status_code == 422 and "not held for" in response.json()["detail"]
    decision = held.client.get("/v1/declarations/H1", headers=held.headers(AGENT)).json()
    assert decision["status"] == 500


def test_only_the_operator_records_outcomes(held: Running) -> None:
    body = {"outcomes": [{"agent_code": AGENT, "cop_no": "H1", "found": False}]}
    response = held.client.post("/v1/admin/inspections", json=body, headers=held.headers(AGENT))
    assert response.status_code == 401
