"""The export side of a `cbec clear` run, composed: lists decided, manifests and cancellations
judged, documents kept, rows for the store's batch, receipts that follow.

`cbec.pipeline` calls `clear_exports` before it commits its batch and `write_export_decisions`
after; everything export-specific lives here so that the import pipeline stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cbec.exports import applications, clearance, manifests
from cbec.messages import batch as batch_files
from cbec.messages.catalog import MESSAGES
from cbec.messages.parse import NODE_COLUMN
from cbec.store.embedded import PendingFile, Store

FILE_COLUMN = "_file"
NEW_DECISIONS = "new_export_decisions"
NEW_EVENTS = "new_export_events"
Answers = dict[tuple[int, int], tuple[int, list[tuple[str, str]]]]


@dataclass
class ExportRun:
    """What a run's export messages add: decisions (a temp table), store rows, files, answers."""

    decided: int = 0
    files: list[PendingFile] = field(default_factory=list)
    rows: dict[str, str] = field(default_factory=dict)  # store table -> temp table
    answers: Answers = field(default_factory=dict)
    follow_ups: dict[tuple[int, int], list[Any]] = field(default_factory=dict)

    @property
    def anything(self) -> bool:
        return bool(self.decided or self.files or self.rows)


def clear_exports(
    store: Store, tables: dict[str, pa.Table], files: list[Any], as_of: Any
) -> ExportRun:
    """Decide this run's export lists into `new_export_decisions`, judge its manifests and
    cancellations into `new_export_events`; return them with the documents to store."""
    con = store.con.con
    for name in (NEW_DECISIONS, NEW_EVENTS):
        con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')
    tables = {s: t for s, t in tables.items() if t.num_rows}
    run = ExportRun()
    if not tables:
        return run
    plain = {s: _plain(t) for s, t in tables.items()}
    stored: dict[str, pa.Table] = {}
    for stem in clearance.EXPORT_STEMS:
        documents = store.documents(stem)
        if documents is not None:
            stored[stem] = documents.to_pyarrow()
    decided = {(a, c) for a, c in con.execute(_DECIDED).fetchall()}
    serials = {(c, y): n for c, y, n in con.execute(_SERIALS).fetchall()}
    registered = {(e, m) for e, m in con.execute(_REGISTERED).fetchall()}
    warehouses = {(e, c) for e, c in con.execute(_WAREHOUSES).fetchall()}
    cleared = {s: t for s, t in plain.items() if s in clearance.EXPORT_STEMS}
    new = clearance.clear_exports(cleared, stored, decided, serials, as_of, registered, warehouses)
    con.register("cbec_new_decisions", new)
    con.execute(f"CREATE TEMP TABLE {NEW_DECISIONS} AS SELECT * FROM cbec_new_decisions")
    con.unregister("cbec_new_decisions")
    run.decided = new.num_rows
    if run.decided:
        run.rows["export_decisions"] = NEW_DECISIONS

    lists = con.sql(_LISTS).to_arrow_table().cast(manifests.LISTS)
    earlier = con.sql(_EVENTS).to_arrow_table().cast(manifests.EVENT)
    judged = manifests.judge(tables, lists, earlier)
    for answer in judged.answers.to_pylist():
        info = [(code, clearance_text(code)) for code in answer["reasons"]]
        if answer["detail"]:
            info.append(("detail", answer["detail"]))
        run.answers[(answer["_file"], answer["_node"])] = (
            answer["status"],
            info or [("accepted", "accepted")],
        )
    # Events of this run's messages, new or recorded by an earlier run of the same messages.
    events = pa.concat_tables([earlier, judged.events])
    run.follow_ups = _follow_ups(store, tables, events)
    new_events = [judged.events]
    summaries = tables.get("export_summaries")
    if summaries is not None and summaries.num_rows:
        new_events += _applications(store, run, summaries, tables, judged.events)
    new_events_table = pa.concat_tables(new_events)
    if new_events_table.num_rows:
        _temp(store, NEW_EVENTS, new_events_table)
        run.rows["export_events"] = NEW_EVENTS

    known = store.known_files()
    name = batch_files.digest(files)
    run.files = [
        PendingFile(stem, name, table=table)
        for stem, table in sorted(plain.items())
        if (stem, name) not in known
    ]
    return run


def _applications(
    store: Store,
    run: ExportRun,
    heads: pa.Table,
    tables: dict[str, pa.Table],
    run_events: pa.Table,
) -> list[pa.Table]:
    """Judge this run's CEB701: answers (CEB702 then CEB792) as follow-ups of their nodes, the
    summaries' rows for the batch; returns the `summarised` events."""
    from cbec.exports.summarize import last_serials
    from cbec.receipts import Receipt, return_info

    judged = applications.judge_applications(
        store, heads, tables.get("export_summary_lines"), run_events, last_serials(store)
    )
    again = [s for _, s, _ in judged.answers.values() if s and s not in judged.results]
    results = {**applications.stored_results(store, again), **judged.results}
    fields = MESSAGES["702"].head.document.columns
    for row in heads.to_pylist():
        key = (row[FILE_COLUMN], row[NODE_COLUMN])
        if key not in judged.answers:
            continue
        status, sum_no, info = judged.answers[key]
        answer = {c: row.get(c) for c in fields if c in row}
        answer.update(
            sum_no=sum_no,
            return_status=status,
            return_time=row.get("app_time"),
            return_info=return_info(info),
        )
        follow = [Receipt("702", answer, str(row.get("cop_no") or row.get("guid")))]
        if sum_no in results:
            follow.append(results[sum_no])
        run.follow_ups[key] = follow
    events: list[pa.Table] = []
    for target, table in judged.rows.items():
        if target == "export_events":
            events.append(table)
            continue
        _temp(store, f"new_{target}", table)
        run.rows[target] = f"new_{target}"
    return events


def _temp(store: Store, name: str, table: pa.Table) -> None:
    con = store.con.con
    con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')
    con.register("cbec_rows", table)
    try:
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM cbec_rows")
    finally:
        con.unregister("cbec_rows")


def clearance_text(code: str) -> str:
    meaning = next((r.meaning for r in clearance.EXPORT_REASONS if r.code == code), code)
    return meaning.split("; ")[0]


def _plain(table: pa.Table) -> pa.Table:
    """A table as stored: without the file and node each row came from."""
    drop = [c for c in (NODE_COLUMN, FILE_COLUMN) if c in table.column_names]
    return table.drop_columns(drop)


def _follow_ups(
    store: Store, tables: dict[str, pa.Table], events: pa.Table
) -> dict[tuple[int, int], list[Any]]:
    """A CEB604 for each list a departure concludes (399) or a cancellation closes (899),
    after the answer to the node that caused it (the list's own guid, as its other 604s)."""
    from cbec.receipts import Receipt, return_info

    sources: dict[str, tuple[int, int]] = {}
    for stem in ("export_departures", "export_cancellations"):
        table = tables.get(stem)
        if table is not None:
            for row in table.select(["guid", NODE_COLUMN, FILE_COLUMN]).to_pylist():
                sources.setdefault(row["guid"], (row[FILE_COLUMN], row[NODE_COLUMN]))
    if not sources:
        return {}
    changed = events.filter(
        pc.and_(
            pc.is_valid(events["status"]),
            pc.is_in(events["source_guid"], pa.array(list(sources), pa.string())),
        )
    )
    if changed.num_rows == 0:
        return {}
    heads = [t for t in (_stored(store, "export_inventories"),) if t is not None]
    current = tables.get("export_inventories")
    if current is not None:
        heads.append(_plain(current))
    if not heads:
        return {}
    con = store.con.con
    con.register("cbec_changed", changed)
    con.register("cbec_heads", pa.concat_tables(heads, promote_options="default"))
    try:
        rows = con.sql(
            "SELECT DISTINCT ON (e.agent_code, e.cop_no, e.event) e.*, h.guid AS list_guid, "
            "h.ebc_code, h.ebp_code, h.order_no, d.invt_no FROM cbec_changed e "
            "JOIN cbec_heads h ON coalesce(h.agent_code, '') = e.agent_code "
            "AND h.cop_no = e.cop_no "
            f"LEFT JOIN (SELECT agent_code, cop_no, invt_no FROM export_decisions UNION ALL "
            f"SELECT agent_code, cop_no, invt_no FROM {NEW_DECISIONS}) d "
            "ON d.agent_code = e.agent_code AND d.cop_no = e.cop_no "
            "ORDER BY e.agent_code, e.cop_no, e.event, h.app_time DESC"
        ).to_arrow_table()
    finally:
        con.unregister("cbec_changed")
        con.unregister("cbec_heads")
    follow: dict[tuple[int, int], list[Any]] = {}
    for row in rows.to_pylist():
        where = sources.get(row["source_guid"])
        if where is None:
            continue
        concluded = row["status"] == manifests.CONCLUDED
        info = _CONCLUDED if concluded else _CANCELLED
        receipt = {
            "guid": row["list_guid"],
            "agent_code": row["agent_code"],
            "cop_no": row["cop_no"],
            "invt_no": row["invt_no"],
            "ebc_code": row["ebc_code"],
            "ebp_code": row["ebp_code"],
            "order_no": row["order_no"],
            "return_status": row["status"],
            "return_time": row["event_time"],
            "return_info": return_info([info]),
        }
        follow.setdefault(where, []).append(Receipt("604", receipt, row["cop_no"]))
    return follow


def _stored(store: Store, stem: str) -> pa.Table | None:
    documents = store.documents(stem)
    return None if documents is None else documents.to_pyarrow()


def write_export_decisions(store: Store, heads: pa.Table | None, out: Path) -> pa.Table | None:
    """OUT/export_decisions.parquet: the decision of every export declaration list read (this
    run's or an earlier one's), sorted by key; None when the input holds none."""
    if heads is None or heads.num_rows == 0:
        return None
    keys = pa.table(
        {
            "agent_code": pc.fill_null(heads["agent_code"], ""),
            "cop_no": pc.fill_null(heads["cop_no"], ""),
        }
    )
    con = store.con.con
    columns = ", ".join(clearance.EXPORT_DECISION.names)
    union = f"SELECT {columns} FROM export_decisions"
    if _has_temp(store, NEW_DECISIONS):
        union = f"{union} UNION ALL SELECT {columns} FROM {NEW_DECISIONS}"
    con.register("cbec_export_keys", keys)
    try:
        table = con.sql(
            f"SELECT DISTINCT d.* FROM ({union}) d SEMI JOIN cbec_export_keys k "
            "USING (agent_code, cop_no) ORDER BY agent_code, cop_no"
        ).to_arrow_table()
    finally:
        con.unregister("cbec_export_keys")
    table = table.cast(clearance.EXPORT_DECISION)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "export_decisions.parquet.partial"
    pq.write_table(table, partial)
    partial.replace(out / "export_decisions.parquet")
    return table


def _has_temp(store: Store, name: str) -> bool:
    found = store.con.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]
    ).fetchall()
    return bool(found[0][0])


_CONCLUDED = ("concluded", "Concluded: the goods have left the country (CEB509).")
_CANCELLED = ("cancelled", "Cancelled: the list is withdrawn (CEB605).")
_DECIDED = "SELECT agent_code, cop_no FROM export_decisions"
# invtNo of an export list: customs code (4), year (4), 'E', serial (9).
_SERIALS = (
    "SELECT customs_code, CAST(substr(invt_no, 5, 4) AS INTEGER) AS year, "
    "max(CAST(right(invt_no, 9) AS BIGINT)) FROM export_decisions "
    "WHERE invt_no IS NOT NULL GROUP BY ALL"
)
_REGISTERED = "SELECT ebc_code, trade_mode FROM export_registrations"
_WAREHOUSES = "SELECT DISTINCT ebc_code, country FROM overseas_warehouses"
_LISTS = (
    "SELECT agent_code, cop_no, invt_no, status, logistics_code, logistics_no "
    "FROM export_decisions UNION ALL SELECT agent_code, cop_no, invt_no, status, "
    f"logistics_code, logistics_no FROM {NEW_DECISIONS}"
)
_EVENTS = "SELECT agent_code, cop_no, event, status, event_time, source_guid FROM export_events"
