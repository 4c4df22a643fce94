"""The service's journal in PostgreSQL (`service/journal.py`): several `cbec serve` processes,
on one or more machines, share one intake log, one queue and one receipt log.

- **Intake.** A message is inserted and committed before its 202; `(sender, guid)` is unique and
  `ON CONFLICT DO NOTHING` waits for a concurrent insert of the same message, so two processes
  that receive it at once return the same id.
- **Queue.** A batcher claims the oldest waiting entries with `FOR UPDATE SKIP LOCKED` in a
  transaction that stays open while the batch is cleared and commits the entries' processed mark
  and their receipts together: another process skips those rows, and a process that dies gives
  them back (its transaction is rolled back by the server). The decisions themselves are
  committed by the store (`PostgresStore.commit`, advisory locks per buyer) before that: a batch
  cleared again after a crash is answered from the stored decisions, as on the embedded store.
- **Receipt cursors.** Cursors are drawn from a sequence while holding a transaction-level
  advisory lock that is released at commit, so cursors grow in commit order: a reader that has
  seen cursor N never finds a receipt below N committed later.
- **Companions.** A list waits while a companion it needs is in an entry not cleared yet that is
  not in its batch (another process may be clearing it): it is cleared once that entry commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from cbec.service import companions, intake
from cbec.service.journal import Claim, RequestSide
from cbec.store.embedded import Store, StoreError

RECEIPT_CURSOR_LOCK = 7_211_012  # advisory lock key held while cursors are drawn (any fixed number)


def _connect(url: str) -> Any:
    import psycopg

    try:
        pg = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the store's journal: {str(exc).strip()}") from exc
    pg.execute("SET DateStyle = ISO")
    return pg


class _PostgresClaim:
    def __init__(self, pg: Any, entries: list[intake.Entry]):
        self.pg, self.entries = pg, entries

    def record(
        self,
        entry_ids: Sequence[int],
        receipts: Sequence[intake.ReceiptRow],
        when: dt.datetime,
        failure: str | None = None,
    ) -> int:
        return _record(self.pg, entry_ids, receipts, when, failure)


class PostgresJournal(RequestSide):
    """The journal in PostgreSQL: requests on a connection of their own, the batcher on another."""

    mark = "%s"

    def __init__(self, url: str):
        super().__init__(_connect(url))
        self.batches = _connect(url)

    def _transaction(self) -> AbstractContextManager[object]:
        return self.requests.transaction()

    # The batcher ---------------------------------------------------------------------------

    def held(
        self, store: Store, now: dt.datetime, window: dt.timedelta, looked_up: set[int]
    ) -> dict[int, frozenset[str]]:
        return companions.held(
            store,
            self._missing,
            lambda keys: _remember(self.batches, None, keys),
            now,
            window,
            looked_up,
        )

    def _missing(self, cutoff: dt.datetime) -> dict[str, list[int]]:
        rows = self.batches.execute(
            "WITH need AS (SELECT id, unnest(needs) AS key FROM service_intake "
            "  WHERE processed_at IS NULL AND cardinality(needs) > 0 AND received_at > %s) "
            "SELECT need.key, array_agg(need.id) FROM need WHERE NOT EXISTS "
            "(SELECT 1 FROM service_companions c WHERE c.key = need.key) GROUP BY need.key",
            [cutoff],
        ).fetchall()
        return {str(r[0]): [int(i) for i in r[1]] for r in rows}

    @contextmanager
    def claim(self, limit: int, held: Collection[int]) -> Iterator[Claim]:
        with self.batches.transaction():
            rows = self.batches.execute(
                "SELECT id, sender, guid, message_code, node_guids, body, acknowledged_at "
                "FROM service_intake WHERE processed_at IS NULL AND NOT (id = ANY(%s)) "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                [sorted(held), limit],
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            # Lists whose companion is in an entry not cleared yet and not in this batch (later,
            # or claimed by another process) wait for it; they stay locked until this commits.
            later = {
                int(r[0])
                for r in self.batches.execute(
                    "WITH need AS (SELECT id, unnest(needs) AS key FROM service_intake "
                    "  WHERE id = ANY(%s)) "
                    "SELECT DISTINCT need.id FROM need JOIN service_companions c USING (key) "
                    "JOIN service_intake p ON p.id = c.intake_id "
                    "WHERE p.processed_at IS NULL AND NOT (p.id = ANY(%s))",
                    [ids, ids],
                ).fetchall()
            }
            entries = [
                intake.Entry(r[0], r[1], r[2], r[3], tuple(r[4]), bytes(r[5]), r[6])
                for r in rows
                if int(r[0]) not in later
            ]
            yield _PostgresClaim(self.batches, entries)

    def record(
        self,
        entry_ids: Sequence[int],
        receipts: Sequence[intake.ReceiptRow],
        when: dt.datetime,
        failure: str | None = None,
    ) -> int:
        with self.batches.transaction():
            return _record(self.batches, entry_ids, receipts, when, failure)

    def close(self) -> None:
        self.requests.close()
        self.batches.close()


def _remember(pg: Any, intake_id: int | None, keys: list[str]) -> None:
    if keys:
        pg.execute(companions.REMEMBER.format(p="%s"), [keys, [intake_id] * len(keys)])


def _record(
    pg: Any,
    entry_ids: Sequence[int],
    receipts: Sequence[intake.ReceiptRow],
    when: dt.datetime,
    failure: str | None,
) -> int:
    """Inside the caller's transaction: the receipts not recorded before, with cursors drawn in
    commit order, and the entries marked processed."""
    first: dict[tuple[str, str], intake.ReceiptRow] = {}
    for receipt in receipts:
        first.setdefault((receipt.recipient, receipt.receipt_guid), receipt)
    added = 0
    if first:
        rows = list(first.values())
        pg.execute("SELECT pg_advisory_xact_lock(%s)", [RECEIPT_CURSOR_LOCK])
        # nextval in the select list is evaluated after the ORDER BY: cursors follow the order
        # given. A receipt recorded before (a batch cleared again) is left out by the conflict.
        cursor = pg.execute(
            "INSERT INTO service_receipts "
            "(cursor, recipient, code, receipt_guid, xml, intake_id, created_at) "
            "SELECT nextval('service_receipt_cursors'), recipient, code, receipt_guid, xml, "
            "intake_id, %s FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], "
            "%s::varchar[], %s::bigint[]) WITH ORDINALITY "
            "AS r(recipient, code, receipt_guid, xml, intake_id, ordinal) ORDER BY ordinal "
            "ON CONFLICT (recipient, receipt_guid) DO NOTHING",
            [
                when,
                [r.recipient for r in rows],
                [r.code for r in rows],
                [r.receipt_guid for r in rows],
                [r.xml for r in rows],
                [r.intake_id for r in rows],
            ],
        )
        added = max(cursor.rowcount, 0)
    if entry_ids:
        pg.execute(
            "UPDATE service_intake SET processed_at = %s, failure = %s WHERE id = ANY(%s)",
            [when, failure, list(entry_ids)],
        )
    return added
