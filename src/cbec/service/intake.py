"""The intake log and the receipt log of the online service, two tables in the store.

`service_intake` holds every message acknowledged, as received (its bytes, `guid`, sender, time),
appended before the 202 is sent; the batcher marks an entry processed in the same transaction that
records the receipts its clearing produced, in `service_receipts`. An entry is unique by (sender,
message `guid`): a message sent again returns the first entry's id and is not cleared again. A
receipt is unique by (recipient, receipt message `guid`), which cbec derives from what it answers,
so recording the receipts of a batch cleared twice (after a crash between the pipeline's commit and
this one) adds nothing. Cursors come from a sequence and are given only by the batcher, under its
lock, so a receipt committed later never has a smaller cursor than one a reader has already seen.

DuckDB writes a transaction to its write-ahead log and syncs it at commit: an acknowledged
message is on disk. The tables come from the store's migrations (version 6); these functions are
the embedded batcher's side of `service/journal.py` (the requests' statements, for both stores,
are in `journal.py`; PostgreSQL's batcher is in `service/journal_pg.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

CHINA = ZoneInfo("Asia/Shanghai")  # DESIGN.md, "Choices": times in China Standard Time


def now() -> dt.datetime:
    """The wall clock in China Standard Time, to the second (the messages' precision)."""
    return dt.datetime.now(CHINA).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Entry:
    id: int
    sender: str
    guid: str
    message_code: str
    node_guids: tuple[str, ...]
    body: bytes
    acknowledged_at: float | None = None  # time.time() at intake; None in stores before it


@dataclass(frozen=True)
class ReceiptRow:
    recipient: str
    code: str  # "622"
    receipt_guid: str  # the receipt message's own guid
    xml: str
    intake_id: int | None


def pending(con: duckdb.DuckDBPyConnection, limit: int, held: Collection[int] = ()) -> list[Entry]:
    """The oldest entries not yet processed, but those `held` (waiting for companions)."""
    rows = con.execute(
        "SELECT id, sender, guid, message_code, node_guids, body, acknowledged_at "
        "FROM service_intake WHERE processed_at IS NULL AND NOT list_contains(?, id) "
        "ORDER BY id LIMIT ?",
        [sorted(held), limit],
    ).fetchall()
    return [Entry(r[0], r[1], r[2], r[3], tuple(r[4]), bytes(r[5]), r[6]) for r in rows]


def record(
    con: duckdb.DuckDBPyConnection,
    entry_ids: Sequence[int],
    receipts: Sequence[ReceiptRow],
    when: dt.datetime,
    failure: str | None = None,
) -> int:
    """In one transaction: adds the receipts not recorded before and marks the entries processed
    (with `failure` when they could not be cleared). Returns the receipts added."""
    con.execute("BEGIN TRANSACTION")
    try:
        added = _add_receipts(con, receipts, when)
        if entry_ids:
            con.execute(
                "UPDATE service_intake SET processed_at = ?, failure = ? WHERE id IN "
                "(SELECT unnest(?))",
                [when, failure, list(entry_ids)],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return added


def _add_receipts(
    con: duckdb.DuckDBPyConnection, receipts: Sequence[ReceiptRow], when: dt.datetime
) -> int:
    """The receipts not recorded before (by recipient and receipt `guid`), inserted at once with
    cursors that grow in the order given. One INSERT a receipt cost DuckDB about 15 ms each
    (its unique index), most of a micro-batch of a few thousand receipts."""
    first: dict[tuple[str, str], ReceiptRow] = {}
    for receipt in receipts:
        first.setdefault((receipt.recipient, receipt.receipt_guid), receipt)
    if not first:
        return 0
    rows = list(first.values())
    offered = pa.table(
        {
            "ordinal": pa.array(range(len(rows)), pa.int64()),
            "recipient": [r.recipient for r in rows],
            "receipt_guid": [r.receipt_guid for r in rows],
        }
    )
    con.register("cbec_offered_receipts", offered)
    try:
        known = con.execute(
            "SELECT o.ordinal FROM cbec_offered_receipts o SEMI JOIN service_receipts r "
            "ON r.recipient = o.recipient AND r.receipt_guid = o.receipt_guid"
        ).fetchall()
    finally:
        con.unregister("cbec_offered_receipts")
    recorded_before = {int(k[0]) for k in known}
    new = [r for ordinal, r in enumerate(rows) if ordinal not in recorded_before]
    if not new:
        return 0
    # Cursors from the sequence, sorted: a receipt given later in a batch reads later.
    cursors = sorted(
        int(c[0])
        for c in con.execute(
            "SELECT nextval('service_receipt_cursors') FROM range(?)", [len(new)]
        ).fetchall()
    )
    table = pa.table(
        {
            "cursor": pa.array(cursors, pa.int64()),
            "recipient": pa.array([r.recipient for r in new], pa.string()),
            "code": pa.array([r.code for r in new], pa.string()),
            "receipt_guid": pa.array([r.receipt_guid for r in new], pa.string()),
            "xml": pa.array([r.xml for r in new], pa.string()),
            "intake_id": pa.array([r.intake_id for r in new], pa.int64()),
        }
    )
    con.register("cbec_new_receipts", table)
    try:
        con.execute(
            "INSERT INTO service_receipts "
            "(cursor, recipient, code, receipt_guid, xml, intake_id, created_at) "
            "SELECT cursor, recipient, code, receipt_guid, xml, intake_id, ? "
            "FROM cbec_new_receipts",
            [when],
        )
    finally:
        con.unregister("cbec_new_receipts")
    return len(new)


@dataclass(frozen=True)
class StoredReceipt:
    cursor: int
    code: str
    xml: str
