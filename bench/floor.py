"""The floor: the least work any clearance of a day must do on DuckDB, as one bare SQL query.

Each declaration joined to its order (ebpCode + orderNo), its payment (ebpCode + orderNo) and its
waybill (logisticsCode + logisticsNo), with its lines' total, and the buyer's running sum of
declared value in declaration-time order (the annual allowance's cumulative sum), written to
Parquet. No checks, no policy, no deduplication of resent documents, no tax: whatever the
pipeline adds costs time above this bound. DESIGN.md asks the pipeline to stay within 5x of it.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

FLOOR_SQL = """
COPY (
    WITH line_totals AS (
        SELECT agent_code, cop_no, SUM(total_price) AS goods_total, COUNT(*) AS line_count
        FROM read_parquet($lines)
        GROUP BY agent_code, cop_no
    ),
    joined AS (
        SELECT
            i.agent_code,
            i.cop_no,
            i.buyer_id_number,
            i.decl_time,
            o.actural_paid,
            p.amount_paid,
            w.consignee AS waybill_consignee,
            l.line_count,
            COALESCE(l.goods_total, 0) + COALESCE(i.freight, 0) + COALESCE(i.insured_fee, 0)
                AS declared_value
        FROM read_parquet($inventories) AS i
        LEFT JOIN read_parquet($orders) AS o
            ON o.ebp_code = i.ebp_code AND o.order_no = i.order_no
        LEFT JOIN read_parquet($payments) AS p
            ON p.ebp_code = i.ebp_code AND p.order_no = i.order_no
        LEFT JOIN read_parquet($waybills) AS w
            ON w.logistics_code = i.logistics_code AND w.logistics_no = i.logistics_no
        LEFT JOIN line_totals AS l
            ON l.agent_code = i.agent_code AND l.cop_no = i.cop_no
    )
    SELECT
        *,
        SUM(declared_value) OVER (
            PARTITION BY buyer_id_number ORDER BY decl_time, cop_no
        ) AS buyer_running_value
    FROM joined
) TO '{out}' (FORMAT parquet)
"""


def floor_query(folder: Path, out: Path) -> float:
    """Run the floor query over the day in `folder`, write `out` (a Parquet file); seconds.

    A fresh in-memory connection with DuckDB's default threads; the time covers reading the
    files, the joins, the window and writing the result.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {
        stem: str(folder / f"{stem}.parquet")
        for stem in ("inventories", "inventory_lines", "orders", "payments", "waybills")
    }
    sql = FLOOR_SQL.format(out=str(out).replace("'", "''"))
    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(
            sql,
            {
                "inventories": files["inventories"],
                "lines": files["inventory_lines"],
                "orders": files["orders"],
                "payments": files["payments"],
                "waybills": files["waybills"],
            },
        )
    finally:
        con.close()
    return time.perf_counter() - started
