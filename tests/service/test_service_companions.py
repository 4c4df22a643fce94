"""The companion window (issue 4): a declaration list whose order, payment or waybill has not
come yet waits for it; a late companion completes it and it is cleared at once; at the end of the
window it is rejected for what is still missing. The clock is the test's, never slept on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from service_world import AGENT, SENDERS, T_SHIRT, Running, start

from builders import declaration, merge, write_messages
from cbec import pipeline
from cbec.pipeline import Policy
from cbec.store.embedded import Store
from cbec.store.postgres import PostgresStore


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 6, 18, 10, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now


def _post(running: Running, paths: list[Path]) -> None:
    for path in paths:
        status, answer = running.post(SENDERS[path.stem[-3:]], path.read_bytes())
        assert status == 202, answer


def _agent_statuses(running: Running) -> list[str]:
    return [
        str(r["xml"]).split("<ceb:returnStatus>")[1].split("<")[0]
        for r in running.receipts(AGENT)
        if r["code"] == "622"
    ]


def test_a_list_waits_for_a_late_companion_and_clears_with_it(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    clock = Clock()
    with start(tmp_path, policy, pg_url=service_store, clock=clock) as running:
        order, payment, waybill, inventory = write_messages(
            tmp_path / "m", declaration("W1", T_SHIRT)
        )
        _post(running, [order, payment, inventory])
        assert running.service.batcher.flush() == 2  # the order and the payment; the list waits
        assert _agent_statuses(running) == []
        assert running.client.get("/health").json()["queue"] == 1
        clock.now += dt.timedelta(minutes=9, seconds=59)  # still within the 10 minutes
        assert running.service.batcher.flush() == 0
        _post(running, [waybill])
        assert running.service.batcher.flush() == 2  # the waybill and the list, one batch
        assert _agent_statuses(running) == ["120", "800"]
        assert running.service.batcher.metrics.value("cbec_batches_total") == 2


def test_at_the_end_of_the_window_the_list_is_rejected_for_the_missing_companion(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    clock = Clock()
    with start(
        tmp_path, policy, pg_url=service_store, clock=clock, companion_window_seconds=60
    ) as running:
        order, payment, _, inventory = write_messages(tmp_path / "m", declaration("W2", T_SHIRT))
        _post(running, [inventory, order, payment])
        assert running.service.batcher.flush() == 2
        clock.now += dt.timedelta(seconds=60)  # the window (60 s here) has ended
        assert running.service.batcher.flush() == 1
        assert _agent_statuses(running) == ["100"]
        decision = running.client.get("/v1/declarations/W2", headers=running.headers(AGENT))
        assert decision.json()["reasons"] == ["waybill_missing"]
        assert running.client.get("/health").json()["queue"] == 0


def test_companions_sent_first_clear_the_list_in_its_first_batch(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    with start(tmp_path, policy, pg_url=service_store, clock=Clock()) as running:
        _post(running, write_messages(tmp_path / "m", declaration("W3", T_SHIRT)))
        assert running.service.batcher.flush() == 4
        assert _agent_statuses(running) == ["120", "800"]


def test_companions_cleared_before_the_service_by_cbec_clear_count(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    order, payment, waybill, inventory = write_messages(tmp_path / "m", declaration("W4", T_SHIRT))
    first = tmp_path / "first"
    first.mkdir()
    for path in (order, payment, waybill):
        (first / path.name).write_bytes(path.read_bytes())
    store = (
        PostgresStore(service_store, documents_dir=tmp_path / "documents")
        if service_store
        else Store(tmp_path / "service.duckdb")
    )
    pipeline.clear([first], store, tmp_path / "out", policy)
    store.close()
    with start(tmp_path, policy, pg_url=service_store, clock=Clock()) as running:
        _post(running, [inventory])
        assert running.service.batcher.flush() == 1
        assert _agent_statuses(running) == ["120", "800"]


def _by_list(running: Running) -> dict[str, list[str]]:
    """Each declaration list's CEB622 statuses and CEB816 bills, in cursor order."""
    found: dict[str, list[str]] = {}
    for receipt in running.receipts(AGENT):
        xml = str(receipt["xml"])
        if receipt["code"] == "622":
            cop_no = xml.split("<ceb:copNo>")[1].split("<")[0]
            found.setdefault(cop_no, []).append(xml.split("<ceb:returnStatus>")[1].split("<")[0])
        elif receipt["code"] == "816":
            cop_no = xml.split("<ceb:entDutyNo>")[1].split("<")[0]
            found.setdefault(cop_no, []).append("bill")
    return found


def _two_lists_one_without_its_order(root: Path) -> tuple[list[Path], Path, Path]:
    """(P1's order, payment and waybill with P2's payment and waybill; P2's order; the one
    message declaring both P1 and P2)."""
    p1 = write_messages(root / "p1", declaration("P1", T_SHIRT), prefix="p1-")
    p2_order, p2_payment, p2_waybill, _ = write_messages(
        root / "p2", declaration("P2", T_SHIRT), prefix="p2-"
    )
    both = write_messages(
        root / "both", merge(declaration("P1", T_SHIRT), declaration("P2", T_SHIRT)), "both-"
    )[-1]
    return [*p1[:3], p2_payment, p2_waybill], p2_order, both


def test_the_complete_lists_of_a_message_clear_while_another_waits_for_its_order(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    """One message declares P1 and P2; P2's order has not come. P1 is cleared at once (120,
    800 and its bill); P2 waits, and clears when its order comes; nothing is answered twice."""
    companions, p2_order, both = _two_lists_one_without_its_order(tmp_path)
    with start(tmp_path, policy, pg_url=service_store, clock=Clock()) as running:
        _post(running, [*companions, both])
        assert running.service.batcher.flush() == 5  # the companions; the message stays
        assert _by_list(running) == {"P1": ["120", "800", "bill"]}
        assert running.client.get("/health").json()["queue"] == 1
        assert running.service.batcher.flush() == 0  # nothing changed: held, not cleared again
        _post(running, [p2_order])
        assert running.service.batcher.flush() == 2  # the order, and the message, whole
        assert _by_list(running) == {
            "P1": ["120", "800", "bill"],
            "P2": ["120", "800", "bill"],
        }
        assert running.client.get("/health").json()["queue"] == 0


def test_a_list_whose_order_never_comes_is_rejected_and_its_neighbour_answered_once(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    companions, _, both = _two_lists_one_without_its_order(tmp_path)
    clock = Clock()
    with start(
        tmp_path, policy, pg_url=service_store, clock=clock, companion_window_seconds=60
    ) as running:
        _post(running, [*companions, both])
        assert running.service.batcher.flush() == 5
        clock.now += dt.timedelta(seconds=60)  # the window (60 s here) has ended
        assert running.service.batcher.flush() == 1
        assert _by_list(running) == {"P1": ["120", "800", "bill"], "P2": ["100"]}
        decision = running.client.get("/v1/declarations/P2", headers=running.headers(AGENT))
        assert decision.json()["reasons"] == ["order_missing"]


def test_an_entry_that_stops_waiting_is_forgotten(tmp_path: Path) -> None:
    """The store is searched once per waiting entry; an entry no longer waiting (cleared, its
    companion came, its window ended) never waits again and is not remembered for ever."""
    from cbec.service import companions

    store = Store(tmp_path / "store.duckdb")
    now, window = dt.datetime(2024, 6, 15, 10), dt.timedelta(minutes=10)
    waiting = {"order:3301964J31:O1": [5, 7], "waybill:3201980001:W1": [7]}
    searched: list[list[str]] = []

    def held() -> dict[int, frozenset[str]]:
        return companions.held(
            store, lambda cutoff: dict(waiting), searched.append, now, window, looked_up
        )

    looked_up = {1, 2}  # entries that waited before and no longer do
    assert held() == {
        5: frozenset({"order:3301964J31:O1"}),
        7: frozenset({"order:3301964J31:O1", "waybill:3201980001:W1"}),
    }
    assert looked_up == {5, 7}
    del waiting["waybill:3201980001:W1"], waiting["order:3301964J31:O1"]
    waiting["order:3301964J31:O2"] = [9]
    assert held() == {9: frozenset({"order:3301964J31:O2"})}
    assert looked_up == {9}
    waiting.clear()
    assert held() == {} and looked_up == set()
    assert searched == []  # nothing found in the empty store: nothing remembered
    store.close()
