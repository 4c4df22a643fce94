"""The service's journal: its intake log, receipt log, companion keys and the few registry reads
a request needs, on whichever store the service runs (DuckDB here, PostgreSQL in
`journal_pg.py`). Routes and the batcher call a `Journal` and hold no SQL of their own. The
requests' statements are written once, here (`RequestSide`), for both stores; the embedded
batcher's are in `intake.py` and `companions.py`, PostgreSQL's in `journal_pg.py`.

Two sides, two connections. Requests (intake, receipts, keys, decisions, health) use one, so
that an acknowledgement never waits for a micro-batch to clear; the batcher uses the other,
under the service's lock. A batch is taken with `claim`: on the embedded store (one process) the
oldest waiting entries; on PostgreSQL the same rows locked `FOR UPDATE SKIP LOCKED`, so that
several processes share the queue and never clear one message twice at once.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from cbec.enterprises import Enterprise
from cbec.service import companions, intake
from cbec.service.group_commit import GroupCommit
from cbec.store.embedded import ENTERPRISE_QUERY, Store, enterprise_from_row

# The requests' statements; `{p}` is the driver's parameter mark (`RequestSide`).
INTAKE_COLUMNS = "sender, guid, message_code, node_guids, body, received_at, needs, acknowledged_at"
ACCEPT_QUERY = (
    f"INSERT INTO service_intake ({INTAKE_COLUMNS}) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (sender, guid) DO NOTHING RETURNING id"
)
# A group of messages in one statement on DuckDB, where an INSERT costs about 12 ms whatever its
# rows. The parallel unnests zip, and a list of lists unnests to lists.
ACCEPT_MANY_QUERY = (
    f"INSERT INTO service_intake ({INTAKE_COLUMNS}) "
    "SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
    "unnest(?::VARCHAR[][]), unnest(?::BLOB[]), unnest(?::TIMESTAMP[]), unnest(?::VARCHAR[][]), "
    "?::DOUBLE ON CONFLICT (sender, guid) DO NOTHING RETURNING id, sender, guid"
)


@dataclass(frozen=True)
class Offer:
    """A message offered to the intake log (`RequestSide.accept`)."""

    sender: str
    guid: str
    message_code: str
    node_guids: tuple[str, ...]
    body: bytes
    received_at: dt.datetime
    provides: tuple[str, ...]
    needs: tuple[str, ...]

    def row(self) -> list[Any]:
        """The intake columns it fills: INTAKE_COLUMNS but `acknowledged_at`."""
        return [
            self.sender,
            self.guid,
            self.message_code,
            list(self.node_guids),
            self.body,
            self.received_at,
            list(self.needs),
        ]


# One declaration's decision and its tax lines, for `GET /v1/declarations/{cop_no}` (the
# declaring agent's only).
DECISION_QUERY = (
    "SELECT cop_no, invt_no, order_no, status, reasons, decl_time, decided_at, "
    "buyer_id_number, dutiable_value, customs_tax, value_added_tax, consumption_tax, tax_total "
    "FROM decisions WHERE agent_code = {p} AND cop_no = {p}"
)
TAX_LINES_QUERY = (
    "SELECT gnum, gcode, tax_price, customs_tax, value_added_tax, consumption_tax "
    "FROM tax_lines WHERE agent_code = {p} AND cop_no = {p} ORDER BY gnum"
)


class Claim(Protocol):
    """A batch of intake entries taken by one batcher; `record` marks them (and any of them)
    processed with their receipts. On PostgreSQL everything recorded commits when the claim
    ends; an exception inside it gives the entries back to the queue."""

    entries: list[intake.Entry]

    def record(
        self,
        entry_ids: Sequence[int],
        receipts: Sequence[intake.ReceiptRow],
        when: dt.datetime,
        failure: str | None = None,
    ) -> int: ...


class Journal(Protocol):
    # Requests' side: any thread.
    def accept(
        self,
        sender: str,
        guid: str,
        message_code: str,
        node_guids: Sequence[str],
        body: bytes,
        received_at: dt.datetime,
        provides: Sequence[str] = (),
        needs: Sequence[str] = (),
    ) -> tuple[int, bool]: ...

    def depth(self) -> int: ...

    def receipts_after(
        self, recipient: str, after: int, limit: int
    ) -> list[intake.StoredReceipt]: ...

    def enterprise_by_key_sha256(self, digest: str) -> Enterprise | None: ...

    def meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def declaration(
        self, agent_code: str, cop_no: str
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]: ...

    # The batcher's side: its thread, under the service's lock.
    def held(
        self, store: Store, now: dt.datetime, window: dt.timedelta, looked_up: set[int]
    ) -> dict[int, frozenset[str]]: ...

    def claim(self, limit: int, held: Collection[int]) -> AbstractContextManager[Claim]: ...

    def record(
        self,
        entry_ids: Sequence[int],
        receipts: Sequence[intake.ReceiptRow],
        when: dt.datetime,
        failure: str | None = None,
    ) -> int: ...

    def close(self) -> None: ...


def open_journal(store: Store) -> Journal:
    """The journal of `store`: in its PostgreSQL database, else in its DuckDB file."""
    from cbec.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        from cbec.service.journal_pg import PostgresJournal

        return PostgresJournal(store.url)
    return EmbeddedJournal(store.con.con)


class _EmbeddedClaim:
    def __init__(self, con: duckdb.DuckDBPyConnection, entries: list[intake.Entry]):
        self.con, self.entries = con, entries

    def record(
        self,
        entry_ids: Sequence[int],
        receipts: Sequence[intake.ReceiptRow],
        when: dt.datetime,
        failure: str | None = None,
    ) -> int:
        return intake.record(self.con, entry_ids, receipts, when, failure)


class RequestSide:
    """The requests' side of a journal, each statement written once for both stores: `{p}` in
    it is the driver's parameter `mark` (`?` for DuckDB, `%s` for psycopg), and `_transaction`
    the transaction of the store's connection. `requests` is that connection (a DuckDB cursor, a
    psycopg connection in autocommit: `execute(sql, params)` gives rows to `fetchall` on both);
    it runs one statement at a time, under `_requests_lock`, for any thread."""

    mark: str

    def __init__(self, requests: Any):
        self.requests = requests
        self._requests_lock = threading.Lock()
        self._accepting: GroupCommit[Offer, tuple[int, bool]] = GroupCommit(self.accept_all)

    def _transaction(self) -> AbstractContextManager[object]:
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.requests.execute(sql.format(p=self.mark), list(params) or None)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._execute(sql, params).fetchall())

    def accept(
        self,
        sender: str,
        guid: str,
        message_code: str,
        node_guids: Sequence[str],
        body: bytes,
        received_at: dt.datetime,
        provides: Sequence[str] = (),
        needs: Sequence[str] = (),
    ) -> tuple[int, bool]:
        """Appends a message to the intake log with the companion keys it provides and needs,
        and commits; returns its id and whether it is new (False: the sender sent this `guid`
        before, and the first entry's id is returned).

        Messages offered while a commit runs are appended together in the next (`GroupCommit`):
        one transaction for all of them, on DuckDB one statement. Each is answered only once
        that transaction has committed."""
        offer = Offer(
            sender,
            guid,
            message_code,
            tuple(node_guids),
            body,
            received_at,
            tuple(provides),
            tuple(needs),
        )
        return self._accepting.submit(offer)

    def accept_all(self, offers: list[Offer]) -> list[tuple[int, bool] | BaseException]:
        """`accept` for several offers at once, in one transaction: each offer's id and whether
        it is new, or the error that refused it. When the transaction fails, each offer is
        tried again in its own, so that only an offer that fails by itself is refused."""
        with self._requests_lock:
            try:
                with self._transaction():
                    return list(self._append(offers))  # typed as results or errors
            except Exception as error:
                if len(offers) == 1:
                    return [error]
            results: list[tuple[int, bool] | BaseException] = []
            for offer in offers:
                try:
                    with self._transaction():
                        results += self._append([offer])
                except Exception as error:
                    results.append(error)
            return results

    def _append(self, offers: list[Offer]) -> list[tuple[int, bool]]:
        first: dict[tuple[str, str], Offer] = {}  # a guid sent twice in one group: once
        for offer in offers:
            first.setdefault((offer.sender, offer.guid), offer)
        added = self._insert_intake(list(first.values()), time.time())
        provided: dict[str, int] = {}  # a key provided twice: the first provider's, as before
        for key, offer in first.items():
            if key in added:
                for companion in offer.provides:
                    provided.setdefault(companion, added[key])
        if provided:
            self._execute(companions.REMEMBER, [list(provided), list(provided.values())])
        results = []
        for offer in offers:
            key = (offer.sender, offer.guid)
            if key in added:
                results.append((added[key], first[key] is offer))
            else:
                known = self._rows(
                    "SELECT id FROM service_intake WHERE sender = {p} AND guid = {p}", list(key)
                )
                results.append((int(known[0][0]), False))
        return results

    def _insert_intake(
        self, offers: list[Offer], acknowledged: float
    ) -> dict[tuple[str, str], int]:
        """Inserts the offers whose (sender, guid) the log does not hold; their ids."""
        added = {}
        for offer in offers:
            rows = self._rows(ACCEPT_QUERY, [*offer.row(), acknowledged])
            if rows:
                added[(offer.sender, offer.guid)] = int(rows[0][0])
        return added

    def depth(self) -> int:
        """Entries waiting to be cleared."""
        with self._requests_lock:
            rows = self._rows("SELECT count(*) FROM service_intake WHERE processed_at IS NULL")
        return int(rows[0][0])

    def receipts_after(self, recipient: str, after: int, limit: int) -> list[intake.StoredReceipt]:
        """A recipient's receipts with a cursor greater than `after`, oldest first."""
        with self._requests_lock:
            rows = self._rows(
                "SELECT cursor, code, xml FROM service_receipts WHERE recipient = {p} "
                "AND cursor > {p} ORDER BY cursor LIMIT {p}",
                [recipient, after, limit],
            )
        return [intake.StoredReceipt(int(r[0]), r[1], r[2]) for r in rows]

    def enterprise_by_key_sha256(self, digest: str) -> Enterprise | None:
        with self._requests_lock:
            rows = self._rows(
                ENTERPRISE_QUERY + " WHERE api_key_sha256 = {p} AND NOT disabled", [digest]
            )
        return enterprise_from_row(rows[0]) if rows else None

    def meta(self, key: str) -> str | None:
        with self._requests_lock:
            rows = self._rows("SELECT value FROM store_meta WHERE key = {p}", [key])
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._requests_lock:
            self._execute(
                "INSERT INTO store_meta VALUES ({p}, {p}) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value",
                [key, value],
            )

    def declaration(
        self, agent_code: str, cop_no: str
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with self._requests_lock:
            decisions = self._rows(DECISION_QUERY, [agent_code, cop_no])
            lines = self._rows(TAX_LINES_QUERY, [agent_code, cop_no])
        return decisions, lines


class EmbeddedJournal(RequestSide):
    """The journal in the embedded DuckDB store: one process, the batcher on the store's own
    connection, requests on a cursor of it (a DuckDB cursor serves one thread at a time)."""

    mark = "?"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        super().__init__(con.cursor())
        self.con = con

    def _insert_intake(
        self, offers: list[Offer], acknowledged: float
    ) -> dict[tuple[str, str], int]:
        columns = list(zip(*(offer.row() for offer in offers), strict=True))
        rows = self.requests.execute(
            ACCEPT_MANY_QUERY, [*(list(c) for c in columns), acknowledged]
        ).fetchall()
        return {(str(r[1]), str(r[2])): int(r[0]) for r in rows}

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.requests.execute("BEGIN TRANSACTION")
        try:
            yield
            self.requests.execute("COMMIT")
        except BaseException:
            self.requests.execute("ROLLBACK")
            raise

    def held(
        self, store: Store, now: dt.datetime, window: dt.timedelta, looked_up: set[int]
    ) -> dict[int, frozenset[str]]:
        return companions.held(
            store,
            lambda cutoff: companions.missing(self.con, cutoff),
            lambda keys: companions.remember(self.con, None, keys),
            now,
            window,
            looked_up,
        )

    @contextmanager
    def claim(self, limit: int, held: Collection[int]) -> Iterator[Claim]:
        held = set(held)
        while True:
            entries = intake.pending(self.con, limit, held)
            # Lists whose companion comes after this batch wait for the batch that clears it.
            later = (
                companions.provided_later(self.con, [e.id for e in entries], entries[-1].id)
                if entries
                else set()
            )
            if not later:
                break
            held |= later
        yield _EmbeddedClaim(self.con, entries)

    def record(
        self,
        entry_ids: Sequence[int],
        receipts: Sequence[intake.ReceiptRow],
        when: dt.datetime,
        failure: str | None = None,
    ) -> int:
        return intake.record(self.con, entry_ids, receipts, when, failure)

    def close(self) -> None:
        self.requests.close()
