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
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

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
        # Added for the consolidation and the statistics (cbec.exports.tables).
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
_GCODE = re.compile(r"^[0-9]{10}$")
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

Row = dict[str, Any]


def latest(rows: Iterable[Row], stem: str) -> list[Row]:
    """One row per key: the latest `appTime` (lines: the last one read); deletions removed."""
    key = KEYS[stem]
    kept: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        k = tuple(_text(row.get(c)) if c != "gnum" else row.get(c) for c in key)
        old = kept.get(k)
        if old is None or (row.get("app_time") or dt.datetime.min) >= (
            old.get("app_time") or dt.datetime.min
        ):
            kept[k] = row
    return [r for r in kept.values() if r.get("app_type") != "3"]


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
    country) of their filed overseas warehouses."""

    def rows(stem: str) -> list[Row]:
        found: list[Row] = []
        for source in (stored.get(stem), tables.get(stem)):
            if source is not None:
                found.extend(source.to_pylist())
        return latest(found, stem)

    orders = {(_text(r["ebp_code"]), _text(r["order_no"])): r for r in rows("export_orders")}
    order_lines: dict[tuple[str, str], dict[int, Row]] = {}
    for r in rows("export_order_lines"):
        order_lines.setdefault((_text(r["ebp_code"]), _text(r["order_no"])), {})[r["gnum"]] = r
    collections = {(_text(r["order_no"]), _text(r["ebc_code"])) for r in rows("export_collections")}
    waybills = {
        (_text(r["logistics_code"]), _text(r["logistics_no"])) for r in rows("export_waybills")
    }
    current = tables.get("export_inventories")
    heads = latest(current.to_pylist() if current is not None else [], "export_inventories")
    lines: dict[tuple[str, str], list[Row]] = {}
    current_lines = tables.get("export_inventory_lines")
    for r in latest(
        current_lines.to_pylist() if current_lines is not None else [], "export_inventory_lines"
    ):
        lines.setdefault((_text(r["agent_code"]), _text(r["cop_no"])), []).append(r)

    decisions: list[Row] = []
    serials = dict(last_serials)
    heads = [h for h in heads if (_text(h["agent_code"]), _text(h["cop_no"])) not in decided]
    heads.sort(
        key=lambda h: (
            h.get("app_time") or dt.datetime.min,
            _text(h["agent_code"]),
            _text(h["cop_no"]),
        )
    )
    for head in heads:
        key = (_text(head["agent_code"]), _text(head["cop_no"]))
        if not key[1]:
            continue  # no copNo: answered from its format problems
        listed = lines.get(key, [])
        reasons = _reasons(head, listed, orders, order_lines, collections, waybills)
        reasons = _mode_reasons(head, reasons, registered or set(), warehouses or set())
        when = as_of or head.get("app_time")
        customs = _text(head.get("customs_code"))
        invt_no = None
        if re.fullmatch(r"[0-9]{4}", customs) and when is not None:
            serial = serials.get((customs, when.year), 0) + 1
            serials[(customs, when.year)] = serial
            invt_no = f"{customs}{when.year}{INVT_LETTER}{serial:09d}"
        decisions.append(
            {
                "agent_code": key[0],
                "cop_no": key[1],
                "order_no": head.get("order_no"),
                "invt_no": invt_no,
                "status": REJECTED if reasons else RELEASED,
                "reasons": reasons,
                "decided_at": when,
                "customs_code": head.get("customs_code"),
                "trade_mode": head.get("trade_mode"),
                "decl_time": head.get("app_time"),
                "total_value": sum((_number(r.get("total_price")) for r in listed), Decimal(0)),
                "currency": _currency(listed),
                "country": head.get("country"),
                "ebc_code": head.get("ebc_code"),
                "ebp_code": head.get("ebp_code"),
                "port_code": head.get("port_code"),
                "logistics_code": head.get("logistics_code"),
                "logistics_no": head.get("logistics_no"),
            }
        )
    return pa.Table.from_pylist(decisions, schema=EXPORT_DECISION)


def _reasons(
    head: Row,
    lines: list[Row],
    orders: dict[tuple[str, str], Row],
    order_lines: dict[tuple[str, str], dict[int, Row]],
    collections: set[tuple[str, str]],
    waybills: set[tuple[str, str]],
) -> list[str]:
    found: set[str] = set()
    if any(_blank(head.get(c)) for c in _HEAD_REQUIRED) or any(
        _blank(line.get(c)) for line in lines for c in _LINE_REQUIRED
    ):
        found.add("export_required_field_missing")
    if _text(head.get("ie_flag")).upper() != "E":
        found.add("export_not_export")
    mode = _text(head.get("trade_mode"))
    if mode not in TRADE_MODES:
        found.add("export_trade_mode")
    needs = COMPANIONS.get(mode, COMPANIONS[EXPORT_TRADE_MODE])
    if not lines:
        found.add("export_no_lines")
    if any(not _GCODE.match(_text(line.get("gcode"))) for line in lines):
        found.add("export_gcode_invalid")
    order_key = (_text(head.get("ebp_code")), _text(head.get("order_no")))
    order = orders.get(order_key)
    if "order" not in needs:
        order = None  # 9810: no sale yet, nothing to match the lines against
    elif order is None:
        found.add("export_order_missing")
    collected = (_text(head.get("order_no")), _text(head.get("ebc_code"))) in collections
    if "collection" in needs and not collected:
        found.add("export_collection_missing")
    if (_text(head.get("logistics_code")), _text(head.get("logistics_no"))) not in waybills:
        found.add("export_waybill_missing")
    if order is not None:
        ordered = order_lines.get(order_key, {})
        declared: dict[int, Row] = {line["gnum"]: line for line in lines if line.get("gnum")}
        if set(declared) != set(ordered):
            found.add("export_line_not_in_order")
        for gnum, line in declared.items():
            wanted = ordered.get(gnum)
            if wanted is not None and (
                _text(line.get("item_name") or line.get("gname")) != _text(wanted.get("item_name"))
                or _number(line.get("qty")) != _number(wanted.get("qty"))
            ):
                found.add("export_line_mismatch")
        total = sum((_number(line.get("total_price")) for line in lines), Decimal(0))
        if lines and total != _number(order.get("goods_value")):
            found.add("export_total_mismatch")
    return [code for code in EXPORT_REASON_CODES if code in found]


def _mode_reasons(
    head: Row,
    reasons: list[str],
    registered: set[tuple[str, str]],
    warehouses: set[tuple[str, str]],
) -> list[str]:
    """9710 and 9810 need the enterprise registered for the mode; 9810 a warehouse filed in the
    destination country (GACC 2020 No. 75, art. 2)."""
    mode, ebc = _text(head.get("trade_mode")), _text(head.get("ebc_code"))
    found = set(reasons)
    if mode in ("9710", "9810") and (ebc, mode) not in registered:
        found.add("export_not_registered")
    if mode == "9810" and (ebc, _text(head.get("country"))) not in warehouses:
        found.add("export_no_overseas_warehouse")
    return [code for code in EXPORT_REASON_CODES if code in found]


def _currency(lines: list[Row]) -> str | None:
    """The lines' currency (the one of the first line naming one)."""
    return next((_text(r.get("currency")) for r in lines if _text(r.get("currency"))), None)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)
