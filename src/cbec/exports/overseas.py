"""9710 / 9810 registration, overseas warehouses, their stock and its age.

GACC Announcement 2020 No. 75 (9710 B2B direct export, 9810 export to an overseas warehouse),
art. 2: the enterprises that export under these modes register with customs, and an enterprise
exporting to an overseas warehouse files the warehouse. cbec keeps both registers
(`export_registrations`, `overseas_warehouses`) and checks 9710 / 9810 lists against them
(`cbec.exports.clearance`).

The stock of an overseas warehouse (`overseas_stock`) is what customs cannot see directly: cbec
records it from two kinds of move, each a file an operator loads.
- **Arrivals**: a released 9810 list arrives at a warehouse filed by its enterprise, in its
  destination country; each of its lines enters the stock under the item (`itemNo`, else the
  10-digit `gcode`), once.
- **Sales**: the warehouse dispatches an item sold abroad (`qty`, `ordered_at`,
  `dispatched_at`); stock must cover it.
A file is taken whole or refused whole, with every bad row named.

Age is first-in first-out: each unit sold is the oldest unit on hand of its item in its
warehouse, so the time from its arrival at the warehouse to its dispatch is known per unit; the
stock on hand is aged the same way. Both are cumulative sums and interval joins in DuckDB.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cbec.enterprises import check_code
from cbec.store.embedded import Store

MODES = ("9710", "9810")
PROMISE_DAYS = 7  # the "processed within 7 days" promise measured (issue 7); an option

ARRIVAL_COLUMNS = ("warehouse_code", "agent_code", "cop_no", "arrived_at")
SALE_COLUMNS = ("warehouse_code", "item_no", "qty", "ordered_at", "dispatched_at", "reference")


class MovesError(ValueError):
    """A file of warehouse moves that cannot be taken; the message names every bad row."""


def register_enterprise(
    store: Store, ebc_code: str, mode: str, when: dt.datetime | None = None
) -> None:
    if mode not in MODES:
        raise ValueError(f"--mode {mode!r}: write 9710 or 9810")
    check_code(ebc_code)
    store.insert_rows(
        "export_registrations",
        [(ebc_code, mode, when or dt.datetime(1970, 1, 1))],
        replace=("ebc_code", "trade_mode"),
    )


def add_warehouse(
    store: Store,
    code: str,
    name: str,
    country: str,
    ebc_code: str,
    when: dt.datetime | None = None,
) -> None:
    """File an overseas warehouse of `ebc_code` in `country` (GACC 3-digit code)."""
    check_code(code)
    check_code(ebc_code)
    if not (len(country) == 3 and country.isdigit()):
        raise ValueError(f"--country {country!r}: write GACC's 3-digit country code (502 USA)")
    store.insert_rows(
        "overseas_warehouses",
        [(code, name, country, ebc_code, when or dt.datetime(1970, 1, 1))],
        replace=("warehouse_code",),
    )


def read_moves(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> pa.Table:
    """A CSV or Parquet file of moves with at least `columns`, and those of `optional` it has
    (all read as text)."""
    if not path.is_file():
        raise MovesError(f"{path}: no such file")
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
        else:
            types = {c: pa.string() for c in (*columns, *optional)}
            options = pacsv.ConvertOptions(column_types=types)
            table = pacsv.read_csv(path, convert_options=options)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MovesError(f"{path}: cannot read it as CSV or Parquet: {exc}") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise MovesError(f"{path}: missing column(s) {', '.join(missing)}")
    present = [*columns, *(c for c in optional if c in table.column_names)]
    return table.select(present).cast(pa.schema([(c, pa.string()) for c in present]))


def record_arrivals(store: Store, moves: pa.Table) -> int:
    """Lines of released 9810 lists into their warehouse's stock; returns the lines entered."""
    con = store.con.con
    lines = store.document_paths("export_inventory_lines")
    con.register("cbec_moves", moves)
    try:
        checked = con.sql(
            """
            WITH entered AS (SELECT DISTINCT agent_code, cop_no FROM overseas_stock
                             WHERE kind = 'arrival'),
                 closed AS (SELECT DISTINCT agent_code, cop_no FROM export_events
                            WHERE event = 'cancelled')
            SELECT row_number() OVER () + 1 AS row, m.*, TRY_CAST(m.arrived_at AS TIMESTAMP) AS at,
              CASE
                WHEN m.arrived_at IS NULL OR TRY_CAST(m.arrived_at AS TIMESTAMP) IS NULL
                     THEN 'arrived_at is not a time (YYYY-MM-DD HH:MM:SS)'
                WHEN d.cop_no IS NULL THEN 'no export list with this agent_code and cop_no'
                WHEN d.trade_mode IS DISTINCT FROM '9810' THEN 'the list is not a 9810 export'
                WHEN d.status <> 800 THEN 'the list was not released'
                WHEN c.cop_no IS NOT NULL THEN 'the list was cancelled'
                WHEN w.warehouse_code IS NULL THEN 'no overseas warehouse with this code'
                WHEN w.ebc_code IS DISTINCT FROM d.ebc_code
                     THEN 'the warehouse is not filed by the list''s enterprise'
                WHEN w.country IS DISTINCT FROM d.country
                     THEN 'the warehouse is not in the list''s destination country'
                WHEN e.cop_no IS NOT NULL OR count(*) OVER (PARTITION BY m.agent_code, m.cop_no) > 1
                     THEN 'the list has already arrived at a warehouse'
                WHEN TRY_CAST(m.arrived_at AS TIMESTAMP) < d.decided_at
                     THEN 'arrived before the list was released'
              END AS problem,
              d.ebc_code
            FROM cbec_moves m
            LEFT JOIN export_decisions d
              ON d.agent_code = coalesce(m.agent_code, '') AND d.cop_no = m.cop_no
            LEFT JOIN overseas_warehouses w ON w.warehouse_code = m.warehouse_code
            LEFT JOIN entered e ON e.agent_code = d.agent_code AND e.cop_no = d.cop_no
            LEFT JOIN closed c ON c.agent_code = d.agent_code AND c.cop_no = d.cop_no
            """
        ).to_arrow_table()
    finally:
        con.unregister("cbec_moves")
    _refuse(checked)
    if checked.num_rows == 0:
        return 0
    if not lines:
        raise MovesError("the store holds no export list lines")
    con.register("cbec_arrivals", checked)
    try:
        stock = con.sql(
            """
            SELECT a.warehouse_code, a.ebc_code, coalesce(l.item_no, l.gcode) AS item_no,
                   l.gcode, l.qty::DECIMAL(18,5) AS qty, 'arrival' AS kind,
                   coalesce(l.agent_code, '') AS agent_code, l.cop_no,
                   CAST(l.gnum AS VARCHAR) AS reference, NULL::TIMESTAMP AS ordered_at,
                   a.at AS move_time
            FROM (SELECT DISTINCT ON (coalesce(agent_code, ''), cop_no, gnum) *
                  FROM read_parquet(?, union_by_name = true)) l
            JOIN cbec_arrivals a ON coalesce(l.agent_code, '') = coalesce(a.agent_code, '')
             AND l.cop_no = a.cop_no
            ORDER BY a.warehouse_code, l.cop_no, l.gnum
            """,
            params=[lines],
        ).to_arrow_table()
    finally:
        con.unregister("cbec_arrivals")
    store.commit_rows({"overseas_stock": stock}, uuid.uuid4().hex)
    return stock.num_rows


def record_sales(store: Store, moves: pa.Table) -> int:
    """Items dispatched out of the warehouses' stock; returns the sales recorded."""
    con = store.con.con
    con.register("cbec_moves", moves)
    try:
        checked = con.sql(
            """
            WITH on_hand AS (SELECT warehouse_code, item_no, sum(qty) AS qty FROM overseas_stock
                             GROUP BY ALL),
                 asked AS (SELECT *, row_number() OVER () + 1 AS row,
                                  TRY_CAST(qty AS DECIMAL(18,5)) AS amount,
                                  TRY_CAST(ordered_at AS TIMESTAMP) AS ordered,
                                  TRY_CAST(dispatched_at AS TIMESTAMP) AS dispatched
                           FROM cbec_moves)
            SELECT a.*, w.ebc_code,
              CASE
                WHEN w.warehouse_code IS NULL THEN 'no overseas warehouse with this code'
                WHEN a.item_no IS NULL OR trim(a.item_no) = '' THEN 'item_no is empty'
                WHEN a.amount IS NULL OR a.amount <= 0 THEN 'qty is not a positive number'
                WHEN a.ordered IS NULL OR a.dispatched IS NULL
                     THEN 'ordered_at and dispatched_at must be times (YYYY-MM-DD HH:MM:SS)'
                WHEN a.dispatched < a.ordered THEN 'dispatched before it was ordered'
                WHEN sum(a.amount) OVER (PARTITION BY a.warehouse_code, a.item_no)
                     > coalesce(h.qty, 0)
                     THEN 'more than the stock on hand of this item in this warehouse'
              END AS problem
            FROM asked a
            LEFT JOIN overseas_warehouses w USING (warehouse_code)
            LEFT JOIN on_hand h USING (warehouse_code, item_no)
            ORDER BY a.row
            """
        ).to_arrow_table()
    finally:
        con.unregister("cbec_moves")
    _refuse(checked)
    con.register("cbec_sales", checked)
    try:
        stock = con.sql(
            """
            SELECT s.warehouse_code, s.ebc_code, s.item_no,
                   (SELECT any_value(gcode) FROM overseas_stock o
                    WHERE o.warehouse_code = s.warehouse_code AND o.item_no = s.item_no) AS gcode,
                   -s.amount AS qty, 'sale' AS kind, NULL::VARCHAR AS agent_code,
                   NULL::VARCHAR AS cop_no, s.reference, s.ordered AS ordered_at,
                   s.dispatched AS move_time
            FROM cbec_sales s ORDER BY s.row
            """
        ).to_arrow_table()
    finally:
        con.unregister("cbec_sales")
    if stock.num_rows:
        store.commit_rows({"overseas_stock": stock}, uuid.uuid4().hex)
    return stock.num_rows


def _refuse(checked: pa.Table) -> None:
    bad = [r for r in checked.select(["row", "problem"]).to_pylist() if r["problem"]]
    if bad:
        shown = "; ".join(f"row {r['row']}: {r['problem']}" for r in bad[:20])
        more = f" (and {len(bad) - 20} more)" if len(bad) > 20 else ""
        raise MovesError(f"nothing recorded, {len(bad)} bad row(s): {shown}{more}")


def stock(store: Store, as_of: dt.datetime, warehouse: str | None = None) -> pa.Table:
    """Per warehouse and item: entered, sold, on hand, and the age in days of the units on hand
    at `as_of` (oldest, and weighted mean), first-in first-out."""
    where = "WHERE warehouse_code = ?" if warehouse else ""
    return store.con.con.sql(
        f"""
        WITH moves AS (SELECT * FROM overseas_stock WHERE move_time <= ?),
        arrivals AS (
            SELECT warehouse_code, item_no, move_time, qty,
                   sum(qty) OVER w - qty AS a_start, sum(qty) OVER w AS a_end
            FROM moves WHERE kind = 'arrival'
            WINDOW w AS (PARTITION BY warehouse_code, item_no ORDER BY move_time, cop_no,
                         reference ROWS UNBOUNDED PRECEDING)),
        sold AS (SELECT warehouse_code, item_no, -sum(qty) AS sold FROM moves
                 WHERE kind = 'sale' GROUP BY ALL),
        left_over AS (
            SELECT a.warehouse_code, a.item_no, a.move_time,
                   a.a_end - greatest(a.a_start, coalesce(s.sold, 0)) AS qty
            FROM arrivals a LEFT JOIN sold s USING (warehouse_code, item_no)
            WHERE a.a_end > coalesce(s.sold, 0))
        SELECT m.warehouse_code, m.item_no,
               sum(m.qty) FILTER (WHERE m.kind = 'arrival') AS entered,
               coalesce(-sum(m.qty) FILTER (WHERE m.kind = 'sale'), 0) AS sold,
               sum(m.qty) AS on_hand,
               (SELECT round(max(date_diff('second', l.move_time, ?::TIMESTAMP)) / 86400, 2)
                FROM left_over l WHERE l.warehouse_code = m.warehouse_code
                AND l.item_no = m.item_no) AS oldest_days,
               (SELECT round(sum(l.qty * date_diff('second', l.move_time, ?::TIMESTAMP))
                             / sum(l.qty) / 86400, 2)
                FROM left_over l WHERE l.warehouse_code = m.warehouse_code
                AND l.item_no = m.item_no) AS mean_age_days
        FROM moves m {where} GROUP BY m.warehouse_code, m.item_no ORDER BY ALL
        """,
        params=[as_of, as_of, as_of, *([warehouse] if warehouse else [])],
    ).to_arrow_table()


def dispatch_times(store: Store, promise_days: int = PROMISE_DAYS) -> pa.Table:
    """Per warehouse: units dispatched, the days from their arrival at the warehouse to their
    dispatch (first-in first-out; mean by unit, and the longest), the share of units
    dispatched within `promise_days`, and the mean hours from order to dispatch."""
    return store.con.con.sql(
        """
        WITH arrivals AS (
            SELECT warehouse_code, item_no, move_time AS arrived,
                   sum(qty) OVER w - qty AS a_start, sum(qty) OVER w AS a_end
            FROM overseas_stock WHERE kind = 'arrival'
            WINDOW w AS (PARTITION BY warehouse_code, item_no ORDER BY move_time, cop_no,
                         reference ROWS UNBOUNDED PRECEDING)),
        sales AS (
            SELECT warehouse_code, item_no, move_time AS dispatched, ordered_at, -qty AS qty,
                   sum(-qty) OVER w + qty AS s_start, sum(-qty) OVER w AS s_end
            FROM overseas_stock WHERE kind = 'sale'
            WINDOW w AS (PARTITION BY warehouse_code, item_no ORDER BY move_time, reference
                         ROWS UNBOUNDED PRECEDING)),
        matched AS (
            SELECT s.warehouse_code, s.dispatched, s.ordered_at,
                   least(a.a_end, s.s_end) - greatest(a.a_start, s.s_start) AS units,
                   date_diff('second', a.arrived, s.dispatched) / 86400.0 AS days
            FROM sales s JOIN arrivals a USING (warehouse_code, item_no)
            WHERE a.a_start < s.s_end AND s.s_start < a.a_end)
        SELECT warehouse_code, sum(units) AS units,
               round(sum(units * days) / sum(units), 2) AS mean_days,
               round(max(days), 2) AS max_days,
               round(sum(units) FILTER (WHERE days <= ?) / sum(units), 4) AS within_promise,
               round(avg(date_diff('second', ordered_at, dispatched) / 3600.0), 2)
                   AS mean_order_to_dispatch_hours
        FROM matched GROUP BY warehouse_code ORDER BY warehouse_code
        """,
        params=[promise_days],
    ).to_arrow_table()


def load_registry(store: Store, folder: Path) -> tuple[int, int]:
    """`registrations.csv` (ebc_code, trade_mode) and `warehouses.csv` (warehouse_code, name,
    country, ebc_code) of `folder`, all checked before any is recorded; returns their counts."""
    registrations = read_moves(folder / "registrations.csv", ("ebc_code", "trade_mode"))
    warehouses = read_moves(
        folder / "warehouses.csv", ("warehouse_code", "name", "country", "ebc_code")
    )
    problems = []
    for row, entry in enumerate(registrations.to_pylist(), 2):
        if entry["trade_mode"] not in MODES or not entry["ebc_code"]:
            problems.append(f"registrations.csv row {row}: needs an ebc_code and 9710 or 9810")
    for row, entry in enumerate(warehouses.to_pylist(), 2):
        country = entry["country"] or ""
        if not (
            entry["warehouse_code"]
            and entry["ebc_code"]
            and len(country) == 3
            and country.isdigit()
        ):
            problems.append(f"warehouses.csv row {row}: needs codes and a 3-digit country")
    if problems:
        raise MovesError("nothing recorded: " + "; ".join(problems[:20]))
    for entry in registrations.to_pylist():
        register_enterprise(store, entry["ebc_code"], entry["trade_mode"])
    for entry in warehouses.to_pylist():
        add_warehouse(
            store, entry["warehouse_code"], entry["name"] or "", entry["country"], entry["ebc_code"]
        )
    return registrations.num_rows, warehouses.num_rows
