"""The companion window: a declaration list waits for its order, payment and waybill.

Online, documents arrive in any order (issue 4): a CEB621 whose order, payment or waybill has not
come yet is held, not rejected, for `companion_window_seconds` (10 minutes by default) from its
arrival. A late companion completes it and it is cleared in the same micro-batch as that
companion; when the window ends it is cleared anyway, and the pipeline rejects the lists still
missing a companion with the usual reasons (`order_missing`, `payment_missing`,
`waybill_missing`).

Each message names, at intake, the companion keys it provides (an order, a payment, a waybill)
and those it needs (a declaration list's three), with the keys the matching joins on
(domain digest section 7; `clearance/frames.declarations_with_companions`): the order and the
payment by `ebpCode` + `orderNo`, the waybill by `logisticsCode` + `logisticsNo`. Provided keys go
to `service_companions`, with the first intake entry providing them; keys of documents the store
held before the service saw them (a `cbec clear` run) are looked up there once and remembered.

Each list waits alone (service/batcher.py): a message's complete lists are cleared while its
waiting ones stay in the queue with the message's intake entry, which is cleared again, in part or
whole, when a companion comes or the window ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import ibis

from cbec.messages import companion_keys
from cbec.messages.parse import RawMessage, part_texts
from cbec.store.embedded import Store


def provided(message: RawMessage) -> list[str]:
    """The companion keys the message's nodes provide."""
    keys: list[str] = []
    for stem, kind, columns in companion_keys.PROVIDED:
        for row in part_texts(message, stem, columns) or []:
            if (k := companion_keys.key(kind, tuple(row[c] for c in columns))) is not None:
                keys.append(k)
    return sorted(set(keys))


def needed(message: RawMessage) -> list[str]:
    """The companion keys the message's declaration lists need."""
    heads = part_texts(message, "inventories", companion_keys.NEEDED_COLUMNS) or []
    return sorted({k for head in heads for k in companion_keys.needed_by(head)})


# Records the keys intake entries provide (the first provider of a key is kept); with no entry
# (a null id), keys found in the store. Parameters: the keys, and in step with them the id of the
# entry providing each (the two unnests zip); `{p}` is the driver's mark.
REMEMBER = (
    "INSERT INTO service_companions SELECT unnest({p}::VARCHAR[]), unnest({p}::BIGINT[]) "
    "ON CONFLICT DO NOTHING"
)


def remember(con: duckdb.DuckDBPyConnection, intake_id: int | None, keys: list[str]) -> None:
    """`REMEMBER` on the embedded store."""
    if keys:
        con.execute(REMEMBER.format(p="?"), [keys, [intake_id] * len(keys)])


def _missing(con: duckdb.DuckDBPyConnection, cutoff: dt.datetime) -> dict[str, list[int]]:
    """Keys needed by waiting entries still in their window and not provided yet, with the
    entries needing them."""
    rows = con.execute(
        "WITH need AS (SELECT id, unnest(needs) AS key FROM service_intake "
        "  WHERE processed_at IS NULL AND len(needs) > 0 AND received_at > ?) "
        "SELECT need.key, list(need.id) FROM need ANTI JOIN service_companions c USING (key) "
        "GROUP BY need.key",
        [cutoff],
    ).fetchall()
    return {str(r[0]): [int(i) for i in r[1]] for r in rows}


def _found_in_store(store: Store, keys: list[str]) -> list[str]:
    """Of `keys`, those whose document the store holds (stored by an earlier `cbec clear`)."""
    found: list[str] = []
    for stem, kind, columns in companion_keys.PROVIDED:
        wanted = [k for k in keys if k.startswith(kind + ":")]
        stored = store.documents(stem) if wanted else None
        if stored is None:
            continue
        key = ibis.literal(kind + ":")
        for column in columns[:-1]:
            key = key.concat(stored[column].strip(), ":")
        key = key.concat(stored[columns[-1]].strip())
        hits = stored.select(key=key).filter(key.isin(wanted)).distinct()
        found += [str(k) for k in hits.to_pyarrow().column("key").to_pylist()]
    return found


def missing(con: duckdb.DuckDBPyConnection, cutoff: dt.datetime) -> dict[str, list[int]]:
    """Keys needed by waiting entries received after `cutoff` (still in their window) and not
    provided yet, with the entries needing them."""
    return _missing(con, cutoff)


def held(
    store: Store,
    missing: Callable[[dt.datetime], dict[str, list[int]]],
    remember_found: Callable[[list[str]], None],
    now: dt.datetime,
    window: dt.timedelta,
    looked_up: set[int],
) -> dict[int, frozenset[str]]:
    """The waiting entries, in their window with a companion not yet come, each with the keys of
    the companions it still waits for.
    `missing` reads the intake log (`companions.missing` on the embedded store), and
    `remember_found` records keys found in the store as provided before the service.

    The store is searched once per entry (`looked_up` remembers which were): a document stored
    since came through the intake, whose keys are remembered already."""
    waiting = missing(now - window)
    # An entry that stops waiting (cleared, its companions came, its window ended) never waits
    # again: forgotten, so that a service running for months keeps only the entries waiting.
    looked_up.intersection_update(i for ids in waiting.values() for i in ids)
    if not waiting:
        return {}
    new_keys = sorted(k for k, ids in waiting.items() if not looked_up.issuperset(ids))
    if new_keys:
        store.refresh()  # documents other processes of a PostgreSQL store cleared since
    found = _found_in_store(store, new_keys) if new_keys else []
    looked_up.update(i for ids in waiting.values() for i in ids)
    if found:  # remembered as provided before the service (no intake entry)
        remember_found(found)
    found_keys = set(found)
    still: dict[int, set[str]] = {}
    for key, ids in waiting.items():
        if key not in found_keys:
            for i in ids:
                still.setdefault(i, set()).add(key)
    return {i: frozenset(keys) for i, keys in still.items()}


def provided_later(con: duckdb.DuckDBPyConnection, entry_ids: list[int], last_id: int) -> set[int]:
    """Of the entries `entry_ids`, those needing a companion provided by an entry not cleared
    yet and after `last_id` (not in this batch): they wait for the batch that clears it."""
    if not entry_ids:
        return set()
    rows = con.execute(
        "WITH need AS (SELECT id, unnest(needs) AS key FROM service_intake "
        "  WHERE id IN (SELECT unnest(?))) "
        "SELECT DISTINCT need.id FROM need JOIN service_companions c USING (key) "
        "JOIN service_intake p ON p.id = c.intake_id "
        "WHERE p.processed_at IS NULL AND p.id > ?",
        [entry_ids, last_id],
    ).fetchall()
    return {int(r[0]) for r in rows}
