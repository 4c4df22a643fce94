"""Clearance of export declaration lists (CEB603: 9610, 9710, 9810) against their documents.

Each export declaration list (`export_inventories` with its `export_inventory_lines`) is matched
against the companions its mode needs (`COMPANIONS`): its order (CEB303, `ebpCode + orderNo`),
its collection receipt (CEB403, `orderNo + ebcCode`) and its waybill (CEB505, `logisticsCode +
logisticsNo`), from this run's messages and the documents stored by earlier runs; it is checked
(required fields, `ieFlag` E, the mode, 10-digit `gcode`, lines against the order's lines by
`gnum`, totals; 9710 / 9810 registration and 9810 overseas warehouse) and released (800) or
rejected (100) with the codes of `EXPORT_REASONS`. Exports pay no tax: there is no tax bill.

Declaration lists already decided (by the key `agentCode + copNo`) are not decided again.
The work is per row in Python over dictionaries built from Arrow tables: a first slice, sized for
the message batches it serves (see docs/decisions.md, "Exports").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from cbec.documents import exports as e

RELEASED = 800
REJECTED = 100
EXPORT_TRADE_MODE = "9610"
# The export supervision modes cleared per list (shared/domain s. 2): retail (GACC 2014 No. 12),
# B2B direct and overseas warehouse (GACC 2020 No. 75).
TRADE_MODES = ("9610", "9710", "9810")
# Companion documents each mode needs (cbec's choice, docs/decisions.md "Issue 7"): a retail
# export has an order, a collection and a waybill; a B2B direct export its order (the contract)
# and waybill; goods sent to an overseas warehouse are not yet sold: the waybill alone.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "9610": ("order", "collection", "waybill"),
    "9710": ("order", "waybill"),
    "9810": ("waybill",),
}
INVT_LETTER = "E"  # invtNo: customs code (4) + year (4) + 'E' + serial (9 digits)


@dataclass(frozen=True)
class ExportReason:
    code: str
    meaning: str


EXPORT_REASONS: tuple[ExportReason, ...] = (
    ExportReason(
        "export_required_field_missing",
        "A field cbec requires is absent or empty in the export declaration list or its lines.",
    ),
    ExportReason("export_not_export", "The declaration list's ieFlag is not E (export)."),
    ExportReason(
        "export_trade_mode",
        "The tradeMode is not an export e-commerce mode cbec clears (9610, 9710, 9810).",
    ),
    ExportReason(
        "export_not_registered",
        "The e-commerce enterprise (ebcCode) is not registered for 9710 or 9810 exports.",
    ),
    ExportReason(
        "export_no_overseas_warehouse",
        "A 9810 list's enterprise has no overseas warehouse filed in the destination country.",
    ),
    ExportReason("export_no_lines", "The export declaration list has no goods lines."),
    ExportReason("export_gcode_invalid", "A line's gcode is not a 10-digit commodity code."),
    ExportReason(
        "export_order_missing",
        "No export order (CEB303, ebpCode + orderNo) was received for the declaration list.",
    ),
    ExportReason(
        "export_collection_missing",
        "No collection receipt (CEB403, orderNo + ebcCode) was received for the order.",
    ),
    ExportReason(
        "export_waybill_missing",
        "No export waybill (CEB505, logisticsCode + logisticsNo) was received for the list.",
    ),
    ExportReason(
        "export_line_not_in_order",
        "A line of the declaration list has no order line with the same gnum, or an order line "
        "is not declared.",
    ),
    ExportReason(
        "export_line_mismatch",
        "A line's goods name or quantity differs from the order line with the same gnum.",
    ),
    ExportReason(
        "export_total_mismatch",
        "The lines' total price differs from the order's goods value.",
    ),
)
# Answers to the messages that follow a list (cbec.exports.manifests, cbec.exports.summary).
EXPORT_REASONS += (
    ExportReason("export_manifest_empty", "The manifest lists no parcels (logisticsNo)."),
    ExportReason(
        "export_manifest_unknown_parcel",
        "A parcel of the manifest (logisticsCode + logisticsNo) is on no released export list "
        "that is still in force; the receipt names the parcels.",
    ),
    ExportReason(
        "export_cancel_unknown",
        "No export list with this agentCode, copNo and invtNo is known.",
    ),
    ExportReason(
        "export_cancel_not_released",
        "The export list was rejected: there is nothing to cancel.",
    ),
    ExportReason("export_cancel_already", "The export list was cancelled before."),
    ExportReason(
        "export_cancel_departed",
        "The goods of the export list have left the country (CEB509): it cannot be cancelled.",
    ),
    ExportReason(
        "export_cancel_summarised",
        "The export list is in a consolidated declaration (CEB701): it cannot be cancelled.",
    ),
    ExportReason(
        "export_summary_empty",
        "The summary application names no released 9610 list of its enterprise not yet summarised.",
    ),
    ExportReason(
        "export_summary_list_invalid",
        "A list of the summary application is unknown, not released, cancelled, summarised "
        "before, not 9610, or of another enterprise; the receipt names the lists.",
    ),
)
EXPORT_REASON_CODES = tuple(r.code for r in EXPORT_REASONS)

EXPORT_DECISION = pa.schema(
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("order_no", pa.string()),
        ("invt_no", pa.string()),
        ("status", pa.int32()),
        ("reasons", pa.list_(pa.string())),
        ("decided_at", pa.timestamp("us")),
        ("customs_code", pa.string()),
        # Added for the consolidation and the statistics (cbec.exports.summary, cbec.stats).
        ("trade_mode", pa.string()),
        ("decl_time", pa.timestamp("us")),  # the list's appTime (CEB603 has no declTime)
        ("total_value", pa.decimal128(18, 2)),  # the lines' totalPrice, in `currency`
        ("currency", pa.string()),
        ("country", pa.string()),  # destination
        ("ebc_code", pa.string()),
        ("ebp_code", pa.string()),
        ("port_code", pa.string()),
        ("logistics_code", pa.string()),
        ("logistics_no", pa.string()),
    ]
)

_HEAD_REQUIRED = (
    "customs_code",
    "ebp_code",
    "order_no",
    "logistics_code",
    "logistics_no",
    "cop_no",
    "ie_flag",
    "agent_code",
    "ebc_code",
    "trade_mode",
)
_LINE_REQUIRED = ("gnum", "gcode", "gname", "qty", "total_price")
# The key of one version of each document family (the latest appTime wins, appType 3 deletes).
KEYS: dict[str, tuple[str, ...]] = {
    "export_orders": ("ebp_code", "order_no"),
    "export_order_lines": ("ebp_code", "order_no", "gnum"),
    "export_collections": ("pay_code", "pay_no"),
    "export_waybills": ("logistics_code", "logistics_no"),
    "export_inventories": ("agent_code", "cop_no"),
    "export_inventory_lines": ("agent_code", "cop_no", "gnum"),
}
EXPORT_STEMS = tuple(KEYS)
_SCHEMAS = {
    d.stem: d.schema
    for d in (
        e.EXPORT_ORDER,
        e.EXPORT_ORDER_LINE,
        e.EXPORT_COLLECTION,
        e.EXPORT_WAYBILL,
        e.EXPORT_INVENTORY,
        e.EXPORT_INVENTORY_LINE,
    )
}


def clear_exports(
    tables: dict[str, pa.Table],
    stored: dict[str, pa.Table],
    decided: set[tuple[str, str]],
    last_serials: dict[tuple[str, int], int],
    as_of: dt.datetime | None = None,
    registered: set[tuple[str, str]] | None = None,
    warehouses: set[tuple[str, str]] | None = None,
) -> pa.Table:
    """Decisions (EXPORT_DECISION) of this run's export declaration lists not decided before.

    `tables` are this run's export documents, `stored` those of earlier runs (companions may come
    first); `last_serials` the last invtNo serial per (customs code, year) already used;
    `registered` the (ebcCode, mode) registered for 9710 / 9810, `warehouses` the (ebcCode,
    country) of their filed overseas warehouses. Joins and aggregates in DuckDB; one version of
    each document (the latest `appTime`, on a tie the last read; deletions removed)."""
    con = duckdb.connect()
    try:
        for stem in EXPORT_STEMS:
            # Companions come from the store and this run; lists only from this run.
            sources = [tables.get(stem)]
            if stem not in ("export_inventories", "export_inventory_lines"):
                sources.insert(0, stored.get(stem))
            con.register(f"raw_{stem}", _read_in_order(stem, sources))
            con.execute(f"CREATE TEMP VIEW {stem} AS {_one_version(stem)}")
        con.register("decided", _pairs(decided, ("agent_code", "cop_no")))
        con.register("registered", _pairs(registered or set(), ("ebc_code", "trade_mode")))
        con.register("warehouses", _pairs(warehouses or set(), ("ebc_code", "country")))
        serials = pa.table(
            {
                "customs_code": pa.array([c for c, _ in last_serials], pa.string()),
                "year": pa.array([y for _, y in last_serials], pa.int64()),
                "last_serial": pa.array(list(last_serials.values()), pa.int64()),
            }
        )
        con.register("serials", serials)
        table = con.sql(_decisions_sql(), params={"as_of": as_of}).to_arrow_table()
    finally:
        con.close()
    return table.cast(EXPORT_DECISION)


def _read_in_order(stem: str, sources: list[pa.Table | None]) -> pa.Table:
    """The rows of `sources`, in reading order (`_seq`), in the family's canonical columns."""
    schema = _SCHEMAS[stem]
    parts = [t.select([c for c in schema.names]).cast(schema) for t in sources if t is not None]
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    return table.append_column("_seq", pa.array(range(table.num_rows), pa.int64()))


def _pairs(pairs: set[tuple[str, str]], names: tuple[str, str]) -> pa.Table:
    ordered = sorted(pairs)
    return pa.table(
        {
            names[0]: pa.array([a for a, _ in ordered], pa.string()),
            names[1]: pa.array([b for _, b in ordered], pa.string()),
        }
    )


def _key(column: str) -> str:
    return column if column == "gnum" else f"trim(coalesce({column}, ''))"


def _one_version(stem: str) -> str:
    keys = ", ".join(_key(c) for c in KEYS[stem])
    has_time = "app_time" in _SCHEMAS[stem].names
    when = "coalesce(app_time, TIMESTAMP '0001-01-01') DESC, " if has_time else ""
    kept = "app_type IS DISTINCT FROM '3'" if "app_type" in _SCHEMAS[stem].names else "true"
    return (
        f"SELECT * EXCLUDE (_rank) FROM (SELECT *, row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY {when}_seq DESC) AS _rank FROM raw_{stem}) WHERE _rank = 1 AND {kept}"
    )


def _blank(column: str, alias: str) -> str:
    """`column` absent, or text that is empty once stripped."""
    return f"({alias}.{column} IS NULL OR trim(CAST({alias}.{column} AS VARCHAR)) = '')"


def _text(expression: str) -> str:
    return f"trim(coalesce(CAST({expression} AS VARCHAR), ''))"


def _decisions_sql() -> str:
    head_missing = " OR ".join(_blank(c, "h") for c in _HEAD_REQUIRED)
    line_missing = " OR ".join(
        _blank(c, "l") if c != "gnum" and c != "qty" and c != "total_price" else f"l.{c} IS NULL"
        for c in _LINE_REQUIRED
    )
    modes = ", ".join(f"'{m}'" for m in TRADE_MODES)
    needs = {
        part: [m for m, parts in COMPANIONS.items() if part in parts]
        for part in ("order", "collection", "waybill")
    }

    def needed(part: str) -> str:
        listed = ", ".join(f"'{m}'" for m in needs[part])
        default = "true" if part in COMPANIONS[EXPORT_TRADE_MODE] else "false"
        return f"(CASE WHEN h.mode IN ({modes}) THEN h.mode IN ({listed}) ELSE {default} END)"

    flags = {
        "export_required_field_missing": f"(({head_missing}) OR coalesce(s.line_missing, false))",
        "export_not_export": "upper(h.ie_flag_text) <> 'E'",
        "export_trade_mode": f"h.mode NOT IN ({modes})",
        "export_no_lines": "coalesce(s.lines, 0) = 0",
        "export_gcode_invalid": "coalesce(s.bad_gcode, false)",
        "export_order_missing": f"{needed('order')} AND o.order_no IS NULL",
        "export_collection_missing": f"{needed('collection')} AND c.order_no IS NULL",
        "export_waybill_missing": "w.logistics_no IS NULL",
        "export_line_not_in_order": f"{needed('order')} AND o.order_no IS NOT NULL "
        "AND coalesce(m.unmatched, 0) > 0",
        "export_line_mismatch": f"{needed('order')} AND o.order_no IS NOT NULL "
        "AND coalesce(m.mismatched, false)",
        "export_total_mismatch": f"{needed('order')} AND o.order_no IS NOT NULL "
        "AND coalesce(s.lines, 0) > 0 AND s.total <> coalesce(o.goods_value, 0)",
        "export_not_registered": "h.mode IN ('9710', '9810') AND r.ebc_code IS NULL",
        "export_no_overseas_warehouse": "h.mode = '9810' AND x.ebc_code IS NULL",
    }
    reasons = ", ".join(
        f"CASE WHEN {flags[code]} THEN '{code}' END"
        for code in EXPORT_REASON_CODES
        if code in flags
    )
    return f"""
    WITH heads AS (
        SELECT i.*, {_text("i.agent_code")} AS agent_key, {_text("i.cop_no")} AS cop_key,
               {_text("i.trade_mode")} AS mode, {_text("i.ie_flag")} AS ie_flag_text,
               coalesce($as_of, i.app_time) AS decided
        FROM export_inventories i
        WHERE {_text("i.cop_no")} <> '' AND NOT EXISTS (
            SELECT 1 FROM decided d WHERE d.agent_code = {_text("i.agent_code")}
            AND d.cop_no = {_text("i.cop_no")})),
    lines AS (
        SELECT l.*, {_text("l.agent_code")} AS agent_key, {_text("l.cop_no")} AS cop_key,
               CASE WHEN l.item_name IS NOT NULL AND l.item_name <> '' THEN l.item_name
                    ELSE l.gname END AS declared_name
        FROM export_inventory_lines l),
    line_summary AS (
        SELECT agent_key, cop_key, count(*) AS lines,
               bool_or({line_missing}) AS line_missing,
               bool_or(NOT regexp_full_match({_text("l.gcode")}, '[0-9]{{10}}')) AS bad_gcode,
               sum(coalesce(l.total_price, 0)) AS total,
               arg_min(trim(l.currency), l._seq) FILTER (WHERE {_text("l.currency")} <> '')
                   AS currency
        FROM lines l GROUP BY agent_key, cop_key),
    orders AS (
        SELECT *, {_text("ebp_code")} AS ebp_key, {_text("order_no")} AS order_key
        FROM export_orders),
    order_lines AS (
        SELECT *, {_text("ebp_code")} AS ebp_key, {_text("order_no")} AS order_key
        FROM export_order_lines),
    gnum_match AS (
        SELECT coalesce(dl.agent_key, ol.agent_key) AS agent_key,
               coalesce(dl.cop_key, ol.cop_key) AS cop_key,
               count(*) FILTER (WHERE dl.gnum IS NULL OR ol.gnum IS NULL) AS unmatched,
               bool_or(dl.gnum IS NOT NULL AND ol.gnum IS NOT NULL AND (
                   {_text("dl.declared_name")} <> {_text("ol.item_name")}
                   OR coalesce(dl.qty, 0) <> coalesce(ol.qty, 0))) AS mismatched
        FROM (SELECT h.agent_key, h.cop_key, d.gnum, d.declared_name, d.qty
              FROM heads h JOIN lines d ON d.agent_key = h.agent_key AND d.cop_key = h.cop_key
              WHERE d.gnum IS NOT NULL AND d.gnum <> 0) dl
        FULL JOIN (SELECT h.agent_key, h.cop_key, x.gnum, x.item_name, x.qty
                   FROM heads h JOIN order_lines x ON x.ebp_key = {_text("h.ebp_code")}
                    AND x.order_key = {_text("h.order_no")}) ol
          ON ol.agent_key = dl.agent_key AND ol.cop_key = dl.cop_key AND ol.gnum = dl.gnum
        GROUP BY 1, 2),
    judged AS (
        SELECT h.*, s.total, s.currency AS line_currency,
               list_filter([{reasons}], lambda x: x IS NOT NULL) AS reasons
        FROM heads h
        LEFT JOIN line_summary s ON s.agent_key = h.agent_key AND s.cop_key = h.cop_key
        LEFT JOIN orders o ON o.ebp_key = {_text("h.ebp_code")}
             AND o.order_key = {_text("h.order_no")}
        LEFT JOIN (SELECT DISTINCT {_text("order_no")} AS order_no, {_text("ebc_code")} AS ebc_code
                   FROM export_collections) c
          ON c.order_no = {_text("h.order_no")} AND c.ebc_code = {_text("h.ebc_code")}
        LEFT JOIN (SELECT DISTINCT {_text("logistics_code")} AS logistics_code,
                          {_text("logistics_no")} AS logistics_no FROM export_waybills) w
          ON w.logistics_code = {_text("h.logistics_code")}
         AND w.logistics_no = {_text("h.logistics_no")}
        LEFT JOIN gnum_match m ON m.agent_key = h.agent_key AND m.cop_key = h.cop_key
        LEFT JOIN registered r ON r.ebc_code = {_text("h.ebc_code")} AND r.trade_mode = h.mode
        LEFT JOIN (SELECT DISTINCT ebc_code, country FROM warehouses) x
          ON x.ebc_code = {_text("h.ebc_code")} AND x.country = {_text("h.country")}),
    numbered AS (
        SELECT j.*,
               regexp_full_match({_text("j.customs_code")}, '[0-9]{{4}}') AND j.decided IS NOT NULL
                   AS numbered,
               row_number() OVER (
                   PARTITION BY {_text("j.customs_code")}, year(j.decided),
                       regexp_full_match({_text("j.customs_code")}, '[0-9]{{4}}')
                       AND j.decided IS NOT NULL
                   ORDER BY coalesce(j.app_time, TIMESTAMP '0001-01-01'), j.agent_key, j.cop_key)
                   AS serial
        FROM judged j)
    SELECT n.agent_key AS agent_code, n.cop_key AS cop_no, n.order_no,
           CASE WHEN n.numbered THEN {_text("n.customs_code")} || CAST(year(n.decided) AS VARCHAR)
               || '{INVT_LETTER}' || lpad(CAST(coalesce(sr.last_serial, 0) + n.serial AS VARCHAR),
               9, '0') END AS invt_no,
           CASE WHEN len(n.reasons) > 0 THEN {REJECTED} ELSE {RELEASED} END AS status,
           n.reasons, n.decided AS decided_at, n.customs_code, n.trade_mode,
           n.app_time AS decl_time, CAST(coalesce(n.total, 0) AS DECIMAL(18, 2)) AS total_value,
           n.line_currency AS currency, n.country, n.ebc_code, n.ebp_code, n.port_code,
           n.logistics_code, n.logistics_no
    FROM numbered n
    LEFT JOIN serials sr ON sr.customs_code = {_text("n.customs_code")}
         AND sr.year = year(n.decided)
    ORDER BY coalesce(n.app_time, TIMESTAMP '0001-01-01'), n.agent_key, n.cop_key
    """
