"""The first slice's row-by-row export clearance, kept as the oracle of the columnar one
(`cbec.exports.clearance.clear_exports`): the same inputs must give the same decisions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cbec.exports.clearance import (
    COMPANIONS,
    EXPORT_DECISION,
    EXPORT_REASON_CODES,
    EXPORT_TRADE_MODE,
    INVT_LETTER,
    KEYS,
    REJECTED,
    RELEASED,
    TRADE_MODES,
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
