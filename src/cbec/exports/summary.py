"""The consolidated declaration of 9610 exports (CEB701 / CEB792): released lists summarised.

Lists are released one by one ("清单核放"); afterwards the e-commerce enterprise or its agent
declares them together ("汇总申报"). GACC Announcement 2018 No. 194, art. 11 (as 2016 No. 26
before it): the lists of a period are merged by the same consignor, transport mode, destination
country, exit port, and on the lines the same final destination, the same 10-digit commodity
code and the same currency, into export declarations. cbec makes:

- one summary (`sumNo`) per customs code, declaring agent (`agentCode`) and exporting enterprise
  (`ebcCode`) in the period;
- its items, one per trade mode, commodity code cut to `hs_digits` (10 by the rule above; 4 for
  the simplified declaration some pilot zones allow, an option), destination country, currency,
  exit port (`portCode`), transport mode and unit, with the quantity and value summed and the
  number of lists;
- the lists it covers, which can be neither summarised again nor cancelled.

`sumNo` is `<customsCode><year>S<serial of 9 digits>`, counted per customs code and year (cbec's
own form: the official one is not published). The work is joins and aggregates in DuckDB over
Arrow tables; nothing is done per row in Python.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

RULE_HS_DIGITS = 10  # GACC 2018 No. 194, art. 11: "同一10位海关商品编码"
SIMPLIFIED_HS_DIGITS = 4
SUMMARY_LETTER = "S"

SUMMARY = pa.schema(
    [
        ("sum_no", pa.string()),
        ("customs_code", pa.string()),
        ("agent_code", pa.string()),
        ("ebc_code", pa.string()),
        ("period", pa.string()),
        ("hs_digits", pa.int32()),
        ("lists", pa.int32()),
        ("items", pa.int32()),
        ("created_at", pa.timestamp("us")),
        ("source_guid", pa.string()),
    ]
)
ITEM = pa.schema(
    [
        ("sum_no", pa.string()),
        ("line_no", pa.int32()),
        ("trade_mode", pa.string()),
        ("hs_code", pa.string()),
        ("country", pa.string()),
        ("currency", pa.string()),
        ("port_code", pa.string()),
        ("traf_mode", pa.string()),
        ("unit", pa.string()),
        ("qty", pa.decimal128(18, 5)),
        ("value", pa.decimal128(18, 2)),
        ("lists", pa.int32()),
    ]
)
MEMBER = pa.schema(
    [
        ("sum_no", pa.string()),
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("invt_no", pa.string()),
        ("logistics_no", pa.string()),
    ]
)
CANDIDATE = pa.schema(  # a released list that may be summarised
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("invt_no", pa.string()),
        ("customs_code", pa.string()),
        ("ebc_code", pa.string()),
        ("trade_mode", pa.string()),
        ("country", pa.string()),
        ("port_code", pa.string()),
        ("traf_mode", pa.string()),
        ("logistics_no", pa.string()),
        ("currency", pa.string()),
        ("source_guid", pa.string()),  # the CEB701 asking for it, or null (`summarize` command)
    ]
)
LINE = pa.schema(
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("gnum", pa.int32()),
        ("gcode", pa.string()),
        ("qty", pa.decimal128(18, 5)),
        ("unit", pa.string()),
        ("total_price", pa.decimal128(18, 2)),
        ("currency", pa.string()),
    ]
)


@dataclass
class Consolidation:
    summaries: pa.Table  # SUMMARY
    items: pa.Table  # ITEM
    members: pa.Table  # MEMBER
    result_lines: (
        pa.Table
    )  # the CEB792 SummaryResultList rows: sum_no invt_no logistics_no gnum gcode


def consolidate(
    candidates: pa.Table,
    lines: pa.Table,
    period: str,
    created_at: dt.datetime,
    last_serials: dict[tuple[str, int], int],
    hs_digits: int = RULE_HS_DIGITS,
) -> Consolidation:
    """Summaries of the `candidates` (CANDIDATE: released lists not summarised) with their
    `lines` (LINE). One summary per customs code, agent, enterprise and asking CEB701."""
    if not SIMPLIFIED_HS_DIGITS <= hs_digits <= RULE_HS_DIGITS:
        raise ValueError(f"hs_digits must be from 4 to 10, not {hs_digits}")
    con = duckdb.connect()
    try:
        con.register("candidates", candidates.cast(CANDIDATE))
        con.register("lines", lines.cast(LINE))
        serials = pa.table(
            {
                "customs_code": [c for c, _ in last_serials],
                "year": pa.array([y for _, y in last_serials], pa.int32()),
                "last_serial": pa.array(list(last_serials.values()), pa.int64()),
            }
        )
        con.register("serials", serials)
        year = created_at.year
        con.execute(
            f"""
            CREATE TEMP TABLE groups AS
            SELECT customs_code, agent_code, ebc_code, source_guid, count(*)::INTEGER AS lists,
                   customs_code || '{year}' || '{SUMMARY_LETTER}' || lpad(CAST(
                     coalesce((SELECT max(last_serial) FROM serials s
                               WHERE s.customs_code = c.customs_code AND s.year = {year}), 0)
                     + row_number() OVER (PARTITION BY customs_code
                         ORDER BY agent_code, ebc_code, source_guid NULLS FIRST)
                   AS VARCHAR), 9, '0') AS sum_no
            FROM candidates c GROUP BY customs_code, agent_code, ebc_code, source_guid
            """
        )
        members = con.sql(
            """
            SELECT g.sum_no, c.agent_code, c.cop_no, c.invt_no, c.logistics_no
            FROM candidates c JOIN groups g
              ON g.customs_code = c.customs_code AND g.agent_code = c.agent_code
             AND g.ebc_code = c.ebc_code AND g.source_guid IS NOT DISTINCT FROM c.source_guid
            ORDER BY g.sum_no, c.invt_no
            """
        ).to_arrow_table()
        con.register("members", members)
        items = con.sql(
            f"""
            SELECT m.sum_no,
                   row_number() OVER (PARTITION BY m.sum_no ORDER BY c.trade_mode,
                       left(l.gcode, {hs_digits}), c.country, coalesce(l.currency, c.currency),
                       c.port_code, c.traf_mode, l.unit)::INTEGER AS line_no,
                   c.trade_mode, left(l.gcode, {hs_digits}) AS hs_code, c.country,
                   coalesce(l.currency, c.currency) AS currency, c.port_code, c.traf_mode,
                   l.unit, sum(l.qty) AS qty, sum(l.total_price) AS value,
                   count(DISTINCT c.cop_no)::INTEGER AS lists
            FROM members m
            JOIN candidates c ON c.agent_code = m.agent_code AND c.cop_no = m.cop_no
            JOIN lines l ON l.agent_code = m.agent_code AND l.cop_no = m.cop_no
            GROUP BY m.sum_no, c.trade_mode, left(l.gcode, {hs_digits}), c.country,
                     coalesce(l.currency, c.currency), c.port_code, c.traf_mode, l.unit
            ORDER BY m.sum_no, line_no
            """
        ).to_arrow_table()
        con.register("items", items)
        summaries = con.sql(
            f"""
            SELECT g.sum_no, g.customs_code, g.agent_code, g.ebc_code, ? AS period,
                   {hs_digits}::INTEGER AS hs_digits, g.lists,
                   (SELECT count(*) FROM items i WHERE i.sum_no = g.sum_no)::INTEGER AS items,
                   ?::TIMESTAMP AS created_at, g.source_guid
            FROM groups g ORDER BY g.sum_no
            """,
            params=[period, created_at],
        ).to_arrow_table()
        result_lines = con.sql(
            """
            SELECT m.sum_no, m.invt_no, m.logistics_no, l.gnum, l.gcode
            FROM members m JOIN lines l ON l.agent_code = m.agent_code AND l.cop_no = m.cop_no
            ORDER BY m.sum_no, m.invt_no, l.gnum
            """
        ).to_arrow_table()
    finally:
        con.close()
    return Consolidation(
        summaries=summaries.cast(SUMMARY),
        items=items.cast(ITEM),
        members=members.cast(MEMBER),
        result_lines=result_lines,
    )


RESULT_STATE = "120"  # decState of a CEB792: the summary is accepted (cbec's code, see docs)


def result_receipts(consolidation: Consolidation) -> list[Any]:
    """One CEB792 summary result per summary (`cbec.receipts.Receipt`, named by its sumNo)."""
    from cbec.receipts import Receipt

    lines: dict[str, list[dict[str, Any]]] = {}
    for line in consolidation.result_lines.to_pylist():
        lines.setdefault(line["sum_no"], []).append(line)
    out = []
    for summary in consolidation.summaries.to_pylist():
        sum_no = summary["sum_no"]
        head = {
            "guid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cbec:792:{sum_no}")).upper(),
            "customs_code": summary["customs_code"],
            "sum_no": sum_no,
            "op_date": summary["created_at"],
            "dec_state": RESULT_STATE,
            "agent_code": summary["agent_code"],
            "ebc_code": summary["ebc_code"],
            "decl_agent_code": summary["agent_code"],
            "msg_count": 1,
            "msg_seq_no": 1,
        }
        out.append(Receipt("792", head, sum_no, tuple(lines.get(sum_no, []))))
    return out
