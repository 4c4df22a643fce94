"""Two service processes on one PostgreSQL store (issue 11): they share one queue without
clearing a message twice, never admit two lists of one buyer past the allowance, and give
receipt cursors in commit order, so a reader following the cursor misses nothing.

The two "processes" are two services in this process, each with its own store copy and its own
database connections, exactly as two `cbec serve` processes have (the SIGKILL test runs real
processes: tests/service/test_service_crash.py)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from service_world import (
    AGENT,
    OTHER_AGENT,
    Running,
    last_of_the_allowance,
    one_shirt,
    post_all,
    start,
)

from builders import declaration, write_messages
from cbec.pipeline import Policy
from cbec.service import intake
from cbec.service.journal_pg import PostgresJournal
from cbec.store import pg_local


@pytest.fixture
def url(postgres: pg_local.LocalServer, tmp_path: Path) -> str:
    return postgres.database_url(f"cbec_service_{tmp_path.name.lower()}")


@contextmanager
def two_services(root: Path, policy: Policy, url: str) -> Iterator[tuple[Running, Running]]:
    with (
        start(root, policy, pg_url=url) as first,
        start(root, policy, pg_url=url, keys=first.keys) as second,
    ):
        yield first, second


def _flush_together(*services: Running) -> None:
    """Each service's batcher clears until its queue is empty, all at once."""
    failures: list[BaseException] = []

    def flush(running: Running) -> None:
        try:
            while running.service.batcher.flush():
                pass
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=flush, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    for running in services:  # a list held for a companion the other cleared: cleared now
        running.service.batcher.flush()


def test_a_claimed_batch_is_skipped_by_the_other_process(
    tmp_path: Path, policy: Policy, url: str
) -> None:
    with two_services(tmp_path, policy, url) as (first, second):
        paths = write_messages(tmp_path / "p", declaration("Q1", one_shirt("50.00")))
        post_all(first, paths)
        ids = [r[0] for r in first.rows("SELECT id FROM service_intake ORDER BY id")]
        assert len(ids) == 4
        with first.service.journal.claim(2, ()) as claim:
            assert [e.id for e in claim.entries] == ids[:2]  # the order and the payment
            # While the first holds them, the second takes the waybill; the declaration list
            # waits for its order and payment, not cleared yet and not in its batch.
            with second.service.journal.claim(10, ()) as other:
                assert [e.id for e in other.entries] == [ids[2]]
        # The first's claim ended without a record: its entries are back in the queue.
        with second.service.journal.claim(10, ()) as other:
            assert [e.id for e in other.entries] == ids


def test_two_processes_clear_every_message_once(tmp_path: Path, policy: Policy, url: str) -> None:
    with two_services(tmp_path, policy, url) as (first, second):
        for number in range(12):
            paths = write_messages(
                tmp_path / f"p{number}",
                declaration(f"T{number:02d}", one_shirt("50.00")),
                prefix=f"P{number}-",
            )
            post_all(first if number % 2 else second, paths)
        _flush_together(first, second)
        entries = first.rows("SELECT processed_at IS NOT NULL, failure FROM service_intake")
        assert len(entries) == 48 and set(entries) == {(True, None)}
        decided = first.rows("SELECT cop_no, count(*), min(status) FROM decisions GROUP BY cop_no")
        assert sorted(decided) == [(f"T{n:02d}", 1, 800) for n in range(12)]
        finals = first.rows(
            "SELECT count(*), count(DISTINCT xml) FROM service_receipts "
            "WHERE recipient = ? AND code = '622' AND xml LIKE ?",
            [AGENT, "%<ceb:returnStatus>800<%"],
        )
        assert finals == [(12, 12)]
        # A reader paging by cursor, from either process, reads each receipt once, in order.
        table = first.rows(
            "SELECT cursor FROM service_receipts WHERE recipient = ? ORDER BY cursor", [AGENT]
        )
        read: list[int] = []
        while page := second.receipts(AGENT, after=read[-1] if read else 0):
            read += [int(str(r["cursor"])) for r in page]
        assert read == [c for (c,) in table]


def test_two_processes_never_admit_one_buyer_past_the_allowance(
    tmp_path: Path, policy: Policy, url: str
) -> None:
    """26,000 CNY a year (Cai Guan Shui [2018] No. 49). 23,000 admitted; two lists of 2,000
    each, cleared by two processes at once: whichever commits first is released (25,000), the
    other would reach 27,000 and is rejected, never both released."""
    with two_services(tmp_path, policy, url) as (first, second):
        messages = last_of_the_allowance(tmp_path)
        post_all(first, messages.earlier)
        first.service.batcher.flush()
        post_all(first, messages.first)
        post_all(second, messages.second, OTHER_AGENT)
        _flush_together(first, second)
        decided = first.rows(
            "SELECT cop_no, status, reasons FROM decisions WHERE cop_no IN ('C1', 'C2') "
            "ORDER BY cop_no"
        )
        statuses = sorted((status, list(reasons)) for _, status, reasons in decided)
        assert statuses == [(100, ["over_annual_limit"]), (800, [])]
        used = first.rows("SELECT sum(value) FROM allowance_ledger WHERE year = 2024")
        assert used == [(Decimal("25000.00"),)]


def test_receipt_cursors_are_given_in_commit_order(url: str, tmp_path: Path) -> None:
    """A batch that has drawn cursors and not committed holds back every other batch's cursors:
    a reader who has seen cursor N never finds a receipt below N committed later."""
    from cbec.store.postgres import PostgresStore

    PostgresStore(url, documents_dir=tmp_path / "documents").close()  # the schema
    first, second = PostgresJournal(url), PostgresJournal(url)
    watcher = psycopg.connect(url, autocommit=True)
    when = dt.datetime(2024, 6, 15, 10)

    def receipt(name: str) -> intake.ReceiptRow:
        return intake.ReceiptRow(AGENT, "622", name, f"<r>{name}</r>", None)

    try:
        recorded: list[int] = []
        with first.claim(10, ()) as claim:
            assert claim.record([], [receipt("R-first")], when) == 1
            later = threading.Thread(
                target=lambda: recorded.append(second.record([], [receipt("R-second")], when))
            )
            later.start()
            for _ in range(600):  # the second waits on the cursor lock (a state, not a time)
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchall()
                if waiting[0][0] == 1:
                    break
                later.join(0.05)
            assert waiting[0][0] == 1 and later.is_alive()
            assert second.receipts_after(AGENT, 0, 10) == []  # nothing readable yet
        later.join()
        assert recorded == [1]
        cursors = [(r.cursor, r.xml) for r in second.receipts_after(AGENT, 0, 10)]
        assert [xml for _, xml in cursors] == ["<r>R-first</r>", "<r>R-second</r>"]
        assert cursors[0][0] < cursors[1][0]
    finally:
        watcher.close()
        first.close()
        second.close()
