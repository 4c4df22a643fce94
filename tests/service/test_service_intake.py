"""Intake details: a DXP envelope, the e-commerce enterprise declaring for itself, and a message
the pipeline cannot clear, which is kept and marked without stopping the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_world import LOGISTICS, PAYMENT, PLATFORM, T_SHIRT, Running, start

from builders import declaration, write_messages
from cbec import pipeline
from cbec.messages.build import wrap_dxp
from cbec.pipeline import Policy
from cbec.service import auth

SELLER = "3301960001"  # the builders' ebcCode


@pytest.fixture
def running(tmp_path: Path, policy: Policy, service_store: str | None) -> Iterator[Running]:
    with start(tmp_path, policy, pg_url=service_store) as service:
        service.service.store.add_enterprise(SELLER, "Seller", ["ecommerce"])
        service.keys[SELLER] = auth.issue_key(service.service.store, SELLER)
        yield service


def test_a_dxp_envelope_and_a_seller_declaring_for_itself(running: Running) -> None:
    rows = declaration("D1", T_SHIRT, agent_code=SELLER)
    senders = {"311": PLATFORM, "411": PAYMENT, "511": LOGISTICS, "621": SELLER}
    for path in write_messages(running.root / "parcel", rows):
        body = wrap_dxp(path.read_bytes(), {"CopMsgId": path.stem, "MsgType": path.stem[-6:]})
        status, answer = running.post(senders[path.stem[-3:]], body)
        assert status == 202, answer
    assert running.service.batcher.flush() == 4
    assert [r["code"] for r in running.receipts(SELLER)] == ["622", "622", "816"]


def test_a_message_that_cannot_be_cleared_is_kept_and_marked(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_messages(running.root / "parcel", declaration("P1", T_SHIRT))
    for path, sender in zip(files[:2], (PLATFORM, PAYMENT), strict=True):
        assert running.post(sender, path.read_bytes())[0] == 202
    clear = pipeline.clear

    def failing(inputs: list[Path], *args: object, **kwargs: object) -> object:
        if any("CEB411" in p.read_text() for folder in inputs for p in folder.glob("*.xml")):
            raise RuntimeError("a payment this version cannot clear")
        return clear(inputs, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "clear", failing)
    assert running.service.batcher.flush() == 2
    assert [r["code"] for r in running.receipts(PLATFORM)] == ["312"]
    assert running.receipts(PAYMENT) == []
    kept = running.rows(
        "SELECT message_code, failure FROM service_intake WHERE failure IS NOT NULL"
    )
    assert kept == [("411", "a payment this version cannot clear")]
    assert running.service.metrics.value("cbec_batch_failures_total") == 1
