"""`cbec exports summarize`: the period's released 9610 lists consolidated, stored and written.

Reads the lists that may be summarised from the store (released 800 or concluded, 9610, decided
in the period, neither cancelled nor summarised before), consolidates them
(`cbec.exports.summary`), commits the summaries with a `summarised` event per list in one
transaction, and writes every summary of the period (new and earlier) to OUT with its CEB792.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cbec.exports import summary
from cbec.exports.manifests import EVENT
from cbec.store.embedded import Store


@dataclass
class Summarized:
    new: int  # summaries made now
    summaries: pa.Table  # every summary of the period (SUMMARY)
    items: pa.Table
    members: pa.Table


def candidates_sql(store: Store, with_period: bool = True) -> str:
    """SQL of the released 9610 lists with what the summary needs (CANDIDATE columns), with
    `status`; with `with_period`, only those decided in [$start, $end) not yet closed."""
    heads = store.document_paths("export_inventories")
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in heads)
    traf = (
        "(SELECT DISTINCT ON (coalesce(agent_code, ''), cop_no) coalesce(agent_code, '') "
        f"AS agent_code, cop_no, traf_mode FROM read_parquet([{listed}], union_by_name = true) "
        "ORDER BY coalesce(agent_code, ''), cop_no, app_time DESC)"
        if heads
        else "(SELECT NULL::VARCHAR AS agent_code, NULL::VARCHAR AS cop_no, "
        "NULL::VARCHAR AS traf_mode WHERE false)"
    )
    period = (
        "AND d.decided_at >= $start AND d.decided_at < $end AND NOT EXISTS (SELECT 1 FROM "
        "export_events e WHERE e.agent_code = d.agent_code AND e.cop_no = d.cop_no "
        "AND e.event IN ('cancelled', 'summarised')) AND ($ebc IS NULL OR d.ebc_code = $ebc)"
        if with_period
        else ""
    )
    return f"""
        SELECT d.agent_code, d.cop_no, d.invt_no, d.customs_code, d.ebc_code, d.trade_mode,
               d.country, d.port_code, h.traf_mode, d.logistics_no, d.currency,
               NULL::VARCHAR AS source_guid
        FROM export_decisions d
        LEFT JOIN {traf} h USING (agent_code, cop_no)
        WHERE d.status = 800 AND d.trade_mode = '9610' AND d.invt_no IS NOT NULL {period}
        """


def candidates(
    store: Store, start: dt.datetime, end: dt.datetime, ebc_code: str | None = None
) -> pa.Table:
    """Released 9610 lists decided in [start, end) that can be summarised (CANDIDATE)."""
    table = store.con.con.sql(
        candidates_sql(store) + " ORDER BY d.agent_code, d.cop_no",
        params={"start": start, "end": end, "ebc": ebc_code},
    ).to_arrow_table()
    return table.cast(summary.CANDIDATE)


def lines_of(store: Store, lists: pa.Table) -> pa.Table:
    """The stored goods lines of `lists` (agent_code, cop_no), one version each (LINE)."""
    paths = store.document_paths("export_inventory_lines")
    if not paths or lists.num_rows == 0:
        return summary.LINE.empty_table()
    con = store.con.con
    con.register("cbec_lists", lists.select(["agent_code", "cop_no"]))
    try:
        table = con.sql(
            "SELECT DISTINCT ON (agent_code, cop_no, gnum) coalesce(agent_code, '') AS agent_code, "
            "cop_no, gnum, gcode, qty, unit, total_price, currency "
            "FROM read_parquet(?, union_by_name = true) l "
            "SEMI JOIN cbec_lists k ON k.agent_code = coalesce(l.agent_code, '') "
            "AND k.cop_no = l.cop_no ORDER BY agent_code, cop_no, gnum",
            params=[paths],
        ).to_arrow_table()
    finally:
        con.unregister("cbec_lists")
    return table.cast(summary.LINE)


def last_serials(store: Store) -> dict[tuple[str, int], int]:
    rows = store.con.con.execute(
        "SELECT customs_code, CAST(substr(sum_no, 5, 4) AS INTEGER), "
        "max(CAST(right(sum_no, 9) AS BIGINT)) FROM export_summaries GROUP BY ALL"
    ).fetchall()
    return {(c, y): n for c, y, n in rows}


def events_of(consolidation: summary.Consolidation, when: dt.datetime) -> pa.Table:
    """A `summarised` event per list, its source the summary's sumNo."""
    members = consolidation.members
    return pa.table(
        {
            "agent_code": members["agent_code"],
            "cop_no": members["cop_no"],
            "event": pa.array(["summarised"] * members.num_rows, pa.string()),
            "status": pa.nulls(members.num_rows, pa.int32()),
            "event_time": pa.array([when] * members.num_rows, pa.timestamp("us")),
            "source_guid": members["sum_no"],
        },
        schema=EVENT,
    )


def store_rows(consolidation: summary.Consolidation, when: dt.datetime) -> dict[str, pa.Table]:
    return {
        "export_summaries": consolidation.summaries,
        "export_summary_items": consolidation.items,
        "export_summary_lists": consolidation.members,
        "export_events": events_of(consolidation, when),
    }


def summarize(
    store: Store,
    period: str,
    start: dt.date,
    end: dt.date,
    out: Path,
    as_of: dt.datetime | None = None,
    ebc_code: str | None = None,
    hs_digits: int = summary.RULE_HS_DIGITS,
) -> Summarized:
    """Consolidate the period's lists not yet summarised, commit, and write OUT."""
    begin = dt.datetime.combine(start, dt.time())
    finish = dt.datetime.combine(end, dt.time())
    when = as_of or finish  # by default the summary is made when the period closes
    found = candidates(store, begin, finish, ebc_code)
    new = 0
    if found.num_rows:
        made = summary.consolidate(
            found, lines_of(store, found), period, when, last_serials(store), hs_digits
        )
        store.commit_rows(store_rows(made, when), uuid.uuid4().hex)
        new = made.summaries.num_rows
    written = stored_summaries(store, period, ebc_code)
    write_outputs(written, out)
    return Summarized(new, written.summaries, written.items, written.members)


def stored_summaries(
    store: Store,
    period: str | None = None,
    ebc_code: str | None = None,
    sum_nos: list[str] | None = None,
) -> summary.Consolidation:
    """The stored summaries of a period (or the named ones), as a Consolidation."""
    con = store.con.con
    where: list[str] = ["true"]
    params: list[object] = []
    if period is not None:
        where.append("period = ?")
        params.append(period)
    if ebc_code:
        where.append("ebc_code = ?")
        params.append(ebc_code)
    if sum_nos is not None:
        where.append("list_contains(?, sum_no)")
        params.append(sum_nos)
    columns = ", ".join(summary.SUMMARY.names)
    summaries = (
        con.sql(
            f"SELECT {columns} FROM export_summaries WHERE {' AND '.join(where)} ORDER BY sum_no",
            params=params,
        )
        .to_arrow_table()
        .cast(summary.SUMMARY)
    )
    con.register("cbec_sums", summaries.select(["sum_no"]))
    try:
        items = (
            con.sql(
                f"SELECT {', '.join(summary.ITEM.names)} FROM export_summary_items "
                "SEMI JOIN cbec_sums USING (sum_no) ORDER BY sum_no, line_no"
            )
            .to_arrow_table()
            .cast(summary.ITEM)
        )
        members = (
            con.sql(
                f"SELECT {', '.join(summary.MEMBER.names)} FROM export_summary_lists "
                "SEMI JOIN cbec_sums USING (sum_no) ORDER BY sum_no, invt_no"
            )
            .to_arrow_table()
            .cast(summary.MEMBER)
        )
    finally:
        con.unregister("cbec_sums")
    lines = lines_of(store, members)
    con.register("cbec_members", members)
    con.register("cbec_lines", lines)
    try:
        result_lines = con.sql(
            "SELECT m.sum_no, m.invt_no, m.logistics_no, l.gnum, l.gcode FROM cbec_members m "
            "JOIN cbec_lines l USING (agent_code, cop_no) ORDER BY m.sum_no, m.invt_no, l.gnum"
        ).to_arrow_table()
    finally:
        con.unregister("cbec_members")
        con.unregister("cbec_lines")
    return summary.Consolidation(summaries, items, members, result_lines)


def write_outputs(consolidation: summary.Consolidation, out: Path) -> None:
    """OUT/export_summaries.parquet, export_summary_items.parquet, export_summary_lists.parquet
    and OUT/receipts/CEB792_<sumNo>.xml, each file written whole or not at all."""
    out.mkdir(parents=True, exist_ok=True)
    for name, table in (
        ("export_summaries", consolidation.summaries),
        ("export_summary_items", consolidation.items),
        ("export_summary_lists", consolidation.members),
    ):
        partial = out / f"{name}.parquet.partial"
        pq.write_table(table, partial)
        partial.replace(out / f"{name}.parquet")
    from cbec.receipts import write_receipts

    write_receipts(out / "receipts", summary.result_receipts(consolidation))
