"""Export returns: goods exported and returned unchanged, free of import duty and taxes.

MOF, GACC, STA Announcement 2026 No. 16: goods exported under 1210, 9610, 9710 or 9810 from
2026-01-01 to 2027-12-31 and returned unchanged within 6 months of export are exempt from import
duty, import VAT and consumption tax; food keeps paying the import duty. The period, the window
and the food rule are dated parameters (`cbec/policy/export_params/export_returns/`), resolved
at each export's own date (its list's release), so an export of 2025 never gets the relief and
one of December 2027 keeps it when it comes back in 2028.

**Assumption** (the announcement's list of food is not in cbec's sources): food is HS chapters
01 to 22 (live animals, foodstuffs and beverages of Sections I-IV), `FOOD_CHAPTERS`.

cbec clears 9610, 9710 and 9810 lists, so it judges their returns from its own records. A 1210
export (bonded goods leaving a special customs supervision zone) is cleared by the zone's
system, not cbec: its return is judged from the original export's data carried on the returned
line (`trade_mode` 1210, `exported_at`, `gcode` and the export's number `export_no`, for the
officer to check against the zone's record), and only when cbec holds no list under the same
`agent_code` and `cop_no`. Those rows are marked `export_source` = `declared`.

A pure function of Arrow tables, written as joins in DuckDB: nothing per row in Python.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from cbec.policy.parameters import load_parameters, policy_periods
from cbec.store.embedded import Store

RELIEF_MODES = ("1210", "9610", "9710", "9810")
DECLARED_MODE = "1210"  # the one relief mode cbec does not clear; see the module's docstring
FOOD_CHAPTERS = tuple(f"{n:02d}" for n in range(1, 23))  # assumption, see above
EXPORT_PARAMS_DIR = Path(__file__).parent.parent / "policy" / "export_params"

RETURN = pa.schema(  # a returned line, as an operator loads it
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("gnum", pa.int32()),
        ("returned_at", pa.timestamp("us")),
        ("unchanged", pa.bool_()),
        # the original export's data, read only for a 1210 export cbec has no record of
        ("trade_mode", pa.string()),
        ("exported_at", pa.timestamp("us")),
        ("gcode", pa.string()),
        ("export_no", pa.string()),
    ]
)
EXPORTED = pa.schema(  # the export lists, as `export_decisions` keeps them
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("status", pa.int32()),
        ("trade_mode", pa.string()),
        ("decided_at", pa.timestamp("us")),
    ]
)
EXPORTED_LINE = pa.schema(
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("gnum", pa.int32()),
        ("gcode", pa.string()),
    ]
)
# Why a returned line gets no relief, in the order they are checked.
NOT_RELIEVED = {
    "unknown_export": "no released export list line with this agent_code, cop_no and gnum, "
    "and not a 1210 export with its data on the returned line",
    "mode": "not exported under 1210, 9610, 9710 or 9810",
    "outside_period": "exported outside the relief period",
    "too_late": "returned after the window from its export",
    "changed": "not returned unchanged",
}


def export_policy() -> pa.Table:
    """The export-return parameters as a dated table (valid_from, valid_to, one column each)."""
    return policy_periods(load_parameters(EXPORT_PARAMS_DIR))


def relief(
    returns: pa.Table, exported: pa.Table, lines: pa.Table, policy: pa.Table | None = None
) -> pa.Table:
    """Per returned line: `relieved`, why not (`reason`), and which import charges it is exempt
    from (`duty_exempt`, `vat_exempt`, `consumption_tax_exempt`), with the export date and the
    last return day of its window."""
    con = duckdb.connect()
    try:
        con.register("returned", returns.cast(RETURN))
        con.register("exported", exported.cast(EXPORTED))
        con.register("lines", lines.cast(EXPORTED_LINE))
        con.register("policy", policy if policy is not None else export_policy())
        modes = ", ".join(f"'{m}'" for m in RELIEF_MODES)
        food = ", ".join(f"'{c}'" for c in FOOD_CHAPTERS)
        return con.sql(
            f"""
            WITH source AS (
                SELECT r.agent_code, r.cop_no, r.gnum, r.returned_at, r.unchanged,
                       e.cop_no IS NULL AND r.trade_mode = '{DECLARED_MODE}'
                         AND r.exported_at IS NOT NULL AND r.gcode IS NOT NULL
                         AND r.export_no IS NOT NULL AS declared,
                       e.trade_mode, e.decided_at, e.status, l.gnum AS line, l.gcode,
                       r.trade_mode AS declared_mode, r.exported_at AS declared_at,
                       r.gcode AS declared_gcode, r.export_no
                FROM returned r
                LEFT JOIN exported e
                  ON e.agent_code = coalesce(r.agent_code, '') AND e.cop_no = r.cop_no
                LEFT JOIN lines l
                  ON l.agent_code = e.agent_code AND l.cop_no = e.cop_no AND l.gnum = r.gnum),
            chosen AS (  -- cbec's record, else the declared 1210 export
                SELECT agent_code, cop_no, gnum, returned_at, unchanged, declared, export_no,
                       CASE WHEN declared THEN declared_mode ELSE trade_mode END AS trade_mode,
                       CASE WHEN declared THEN declared_at ELSE decided_at END AS exported_at,
                       CASE WHEN declared THEN declared_gcode ELSE gcode END AS gcode,
                       declared OR (line IS NOT NULL AND status IN (800, 399)) AS known
                FROM source),
            joined AS (
                SELECT c.*, left(c.gcode, 2) IN ({food}) AS food,
                       coalesce(p.relief, 0) = 1 AS in_period,
                       CAST(c.exported_at AS DATE)
                         + to_months(CAST(coalesce(p.return_months, 0) AS INTEGER))
                         AS last_return_day,
                       coalesce(p.food_pays_duty, 0) = 1 AS food_pays_duty
                FROM chosen c
                LEFT JOIN policy p ON CAST(c.exported_at AS DATE) >= p.valid_from
                 AND (p.valid_to IS NULL OR CAST(c.exported_at AS DATE) < p.valid_to)),
            judged AS (
                SELECT *, CASE
                    WHEN NOT known THEN 'unknown_export'
                    WHEN trade_mode NOT IN ({modes}) THEN 'mode'
                    WHEN NOT in_period THEN 'outside_period'
                    WHEN CAST(returned_at AS DATE) > last_return_day THEN 'too_late'
                    WHEN NOT coalesce(unchanged, false) THEN 'changed'
                  END AS reason
                FROM joined)
            SELECT agent_code, cop_no, gnum, gcode, trade_mode, exported_at,
                   CAST(last_return_day AS DATE) AS last_return_day, returned_at,
                   reason IS NULL AS relieved, reason,
                   reason IS NULL AND NOT (food AND food_pays_duty) AS duty_exempt,
                   reason IS NULL AS vat_exempt,
                   reason IS NULL AS consumption_tax_exempt,
                   CASE WHEN declared THEN 'declared' WHEN known THEN 'cbec' END
                     AS export_source,
                   CASE WHEN declared THEN export_no END AS export_no
            FROM judged ORDER BY agent_code, cop_no, gnum, returned_at
            """
        ).to_arrow_table()
    finally:
        con.close()


RETURN_COLUMNS = ("agent_code", "cop_no", "gnum", "returned_at", "unchanged")
# optional: the original export's data, needed only for a 1210 export (DECLARED_MODE)
DECLARED_COLUMNS = ("trade_mode", "exported_at", "gcode", "export_no")


def parse_returns(text_table: pa.Table) -> pa.Table:
    """The returned lines of a file read as text (RETURN); every bad row is named."""
    from cbec.exports.overseas import MovesError

    for name in DECLARED_COLUMNS:
        if name not in text_table.column_names:
            text_table = text_table.append_column(name, pa.nulls(text_table.num_rows, pa.string()))
    con = duckdb.connect()
    try:
        con.register("raw", text_table)
        parsed = con.sql(
            f"""
            WITH raw AS (
                SELECT * REPLACE (nullif(trim(trade_mode), '') AS trade_mode,
                                  nullif(trim(exported_at), '') AS exported_at,
                                  nullif(trim(gcode), '') AS gcode,
                                  nullif(trim(export_no), '') AS export_no)
                FROM raw)
            SELECT row_number() OVER () + 1 AS row, agent_code, cop_no,
                   TRY_CAST(gnum AS INTEGER) AS gnum,
                   TRY_CAST(returned_at AS TIMESTAMP) AS returned_at,
                   CASE WHEN lower(trim(unchanged)) IN ('true', '1', 'yes', 'y') THEN true
                        WHEN lower(trim(unchanged)) IN ('false', '0', 'no', 'n') THEN false
                   END AS unchanged,
                   trade_mode, TRY_CAST(exported_at AS TIMESTAMP) AS exported_at, gcode,
                   export_no,
                   CASE WHEN cop_no IS NULL OR trim(cop_no) = '' THEN 'cop_no is empty'
                        WHEN TRY_CAST(gnum AS INTEGER) IS NULL THEN 'gnum is not a whole number'
                        WHEN TRY_CAST(returned_at AS TIMESTAMP) IS NULL
                             THEN 'returned_at is not a time (YYYY-MM-DD HH:MM:SS)'
                        WHEN lower(trim(unchanged)) NOT IN
                             ('true', '1', 'yes', 'y', 'false', '0', 'no', 'n')
                             OR unchanged IS NULL THEN 'unchanged is not true or false'
                        WHEN trade_mode IS DISTINCT FROM '{DECLARED_MODE}' THEN NULL
                        WHEN TRY_CAST(exported_at AS TIMESTAMP) IS NULL
                             THEN 'a 1210 export needs exported_at, a time (YYYY-MM-DD HH:MM:SS)'
                        WHEN NOT regexp_full_match(coalesce(gcode, ''), '[0-9]{{10}}')
                             THEN 'a 1210 export needs gcode, its 10-digit commodity code'
                        WHEN export_no IS NULL
                             THEN 'a 1210 export needs export_no, the number of its export'
                        WHEN TRY_CAST(returned_at AS TIMESTAMP)
                             < TRY_CAST(exported_at AS TIMESTAMP)
                             THEN 'returned_at is before exported_at'
                   END AS problem
            FROM raw
            """
        ).to_arrow_table()
    finally:
        con.close()
    bad = [r for r in parsed.select(["row", "problem"]).to_pylist() if r["problem"]]
    if bad:
        shown = "; ".join(f"row {r['row']}: {r['problem']}" for r in bad[:20])
        raise MovesError(f"nothing judged, {len(bad)} bad row(s): {shown}")
    return parsed.select(list(RETURN.names)).cast(RETURN)


def judge_stored(store: Store, returned: pa.Table) -> pa.Table:
    """`relief` of returned lines against the store's export lists (a cancelled list was not
    exported: it counts as unknown)."""
    con = store.con.con
    exported = con.sql(
        "SELECT d.agent_code, d.cop_no, CASE WHEN EXISTS (SELECT 1 FROM export_events e "
        "WHERE e.agent_code = d.agent_code AND e.cop_no = d.cop_no AND e.event = 'cancelled') "
        "THEN 899 ELSE d.status END AS status, d.trade_mode, d.decided_at FROM export_decisions d"
    ).to_arrow_table()
    paths = store.document_paths("export_inventory_lines")
    if paths:
        lines = con.sql(
            "SELECT DISTINCT coalesce(agent_code, '') AS agent_code, cop_no, gnum, gcode "
            "FROM read_parquet(?, union_by_name = true)",
            params=[paths],
        ).to_arrow_table()
    else:
        lines = EXPORTED_LINE.empty_table()
    return relief(returned, exported, lines)
