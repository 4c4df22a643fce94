"""CEB701 summary applications: the enterprise names the lists to summarise; cbec answers CEB702
(120 with the `sumNo`, or 100 with why) and sends the CEB792 summary result.

Each listed `invtNo` must be a 9610 list released by an earlier run (it is in the store), of the
application's `agentCode` and `ebcCode`, neither cancelled nor summarised (this run's
cancellations count, and a list an earlier application of the run takes). All must pass, or
nothing is summarised. The lists become one summary
(`cbec.exports.summary`, at 10 digits: the rule), its period the month of the application. An
application sent again (same `guid`) gets the same answer and summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from cbec.exports import summary
from cbec.exports.summarize import candidates_sql, lines_of, store_rows, stored_summaries
from cbec.store.embedded import Store

_NO_LINES = pa.table(
    {
        "agent_code": pa.array([], pa.string()),
        "cop_no": pa.array([], pa.string()),
        "invt_no": pa.array([], pa.string()),
        "_file": pa.array([], pa.int32()),
    }
)
ACCEPTED = 120
REFUSED = 100


@dataclass
class Applications:
    rows: dict[str, pa.Table] = field(default_factory=dict)  # store table -> new rows
    # (file, node) -> (status, sumNo or None, reasons with their text)
    answers: dict[tuple[int, int], tuple[int, str | None, list[tuple[str, str]]]] = field(
        default_factory=dict
    )
    results: dict[str, Any] = field(default_factory=dict)  # sumNo -> its CEB792 (a Receipt)


def judge_applications(
    store: Store,
    heads: pa.Table,
    lines: pa.Table | None,
    run_events: pa.Table,
    serials: dict[tuple[str, int], int],
) -> Applications:
    """Answers and summaries of this run's CEB701 nodes (`heads` and `lines` keep `_file` and
    `_node`); `run_events` are this run's events so far (EVENT)."""
    from cbec.exports.clearance import EXPORT_REASONS

    text = {r.code: r.meaning.split("; ")[0] for r in EXPORT_REASONS}
    con = store.con.con
    done = Applications()
    before = {
        g: s
        for g, s in con.execute(
            "SELECT source_guid, sum_no FROM export_summaries WHERE source_guid IS NOT NULL"
        ).fetchall()
    }
    asked = lines if lines is not None else _NO_LINES
    con.register("cbec_apps", heads)
    con.register("cbec_app_lines", asked)
    con.register("cbec_run_events", run_events)
    try:
        named = con.sql(
            f"""
            WITH closed AS (
                SELECT agent_code, cop_no FROM export_events
                WHERE event IN ('cancelled', 'summarised')
                UNION SELECT agent_code, cop_no FROM cbec_run_events
                WHERE event IN ('cancelled', 'summarised')),
            listed AS ({candidates_sql(store, with_period=False)})
            SELECT a._file::INTEGER AS _file, a._node::INTEGER AS _node, a.guid,
                   a.app_time, l.invt_no AS asked, d.*,
                   (d.cop_no IS NOT NULL AND d.agent_code = coalesce(a.agent_code, '')
                    AND d.ebc_code IS NOT DISTINCT FROM a.ebc_code
                    AND c.cop_no IS NULL) AS ok
            FROM cbec_apps a
            LEFT JOIN cbec_app_lines l ON l._file = a._file
              AND l.agent_code IS NOT DISTINCT FROM a.agent_code AND l.cop_no = a.cop_no
            LEFT JOIN listed d ON d.invt_no = l.invt_no
            LEFT JOIN closed c ON c.agent_code = d.agent_code AND c.cop_no = d.cop_no
            ORDER BY _file, _node, asked
            """
        ).to_arrow_table()
    finally:
        for name in ("cbec_apps", "cbec_app_lines", "cbec_run_events"):
            con.unregister(name)
    nodes: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in named.to_pylist():
        nodes.setdefault((row["_file"], row["_node"]), []).append(row)
    chosen: list[dict[str, Any]] = []
    taken: set[str] = set()  # lists an earlier node of this run summarises
    for key, rows in sorted(nodes.items()):
        guid = rows[0]["guid"]
        if guid in before:  # sent again: the same summary
            done.answers[key] = (ACCEPTED, before[guid], [("accepted", "summarised")])
            continue
        if all(r["asked"] is None for r in rows):
            done.answers[key] = (
                REFUSED,
                None,
                [("export_summary_empty", text["export_summary_empty"])],
            )
            continue
        bad = sorted(
            {
                r["asked"]
                for r in rows
                if r["asked"] is not None and (not r["ok"] or r["asked"] in taken)
            }
        )
        if bad:
            info = [
                ("export_summary_list_invalid", text["export_summary_list_invalid"]),
                ("detail", ", ".join(bad[:20])),
            ]
            done.answers[key] = (REFUSED, None, info)
            continue
        seen: set[str] = set()
        for r in rows:
            if r["asked"] is not None and r["asked"] not in seen:
                seen.add(r["asked"])
                chosen.append({**r, "source_guid": guid})
        taken |= seen
    if not chosen:
        return done
    candidates = pa.Table.from_pylist(
        [{c: r.get(c) for c in summary.CANDIDATE.names} for r in chosen], schema=summary.CANDIDATE
    )
    months = {r["guid"]: r["app_time"] for r in chosen}
    when = max(t for t in months.values() if t is not None)
    made = summary.consolidate(candidates, lines_of(store, candidates), "", when, serials)
    periods = [
        f"{months[g]:%Y-%m}" if months.get(g) else ""
        for g in made.summaries["source_guid"].to_pylist()
    ]
    made.summaries = made.summaries.set_column(
        made.summaries.schema.get_field_index("period"), "period", pa.array(periods, pa.string())
    )
    done.rows = store_rows(made, when)
    by_guid = dict(
        zip(
            made.summaries["source_guid"].to_pylist(),
            made.summaries["sum_no"].to_pylist(),
            strict=True,
        )
    )
    for key, rows in nodes.items():
        sum_no = by_guid.get(rows[0]["guid"])
        if sum_no is not None:
            done.answers[key] = (ACCEPTED, sum_no, [("accepted", "summarised")])
    for receipt in summary.result_receipts(made):
        done.results[receipt.name] = receipt
    return done


def stored_results(store: Store, sum_nos: list[str]) -> dict[str, Any]:
    """The CEB792 of summaries made by an earlier run (an application sent again)."""
    if not sum_nos:
        return {}
    found = summary.result_receipts(stored_summaries(store, sum_nos=sum_nos))
    return {receipt.name: receipt for receipt in found}
