"""Bonded stock (1210, 1239): entry lists put goods in, released declaration lists take them out.

Stock is kept per bonded account book (`emsNo`) and item record (`itemRecordNo`), in the legal
unit: a CEB711 entry list line's `qty`, a declaration list line's `qty1` (its `qty` when `qty1` is
absent). A bonded declaration list is admitted only if the stock covers every one of its lines
(DESIGN.md, "Sequential ledgers", step 2): judged after the stateless checks and the single limit,
before the annual allowance, in declaration-time order. Most items have more stock than the day
asks for, which one aggregate proves; only the declarations touching the other items are judged
one by one, and a declaration refused for one item takes nothing from any item.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from cbec.engines.reuse import reused

BONDED_MODES = ("1210", "1239")
ITEM = ("ems_no", "item_record_no")
ORDER = ("decl_time", "app_time", "agent_code", "cop_no")
QTY = "decimal(38, 5)"


@reused
def demand(lines: ir.Table, heads: ir.Table) -> ir.Table:
    """What each line of a bonded declaration takes from stock: one row per line."""
    bonded = lines.filter(lines.trade_mode.isin(BONDED_MODES))
    keyed = bonded.inner_join(
        heads.select("agent_code", "cop_no", "ems_no", "decl_time", "app_time"),
        ["agent_code", "cop_no"],
    )
    return keyed.select(
        "agent_code",
        "cop_no",
        "gnum",
        "ems_no",
        "item_record_no",
        "decl_time",
        "app_time",
        qty=keyed.qty1.fill_null(keyed.qty).cast(QTY),
    )


@reused
def entries(deliveries: ir.Table, delivery_lines: ir.Table) -> ir.Table:
    """The stock an entry list puts in, one row per line (its `emsNo` comes from the head)."""
    heads = deliveries.select("operator_code", "cop_no", "ems_no", "app_time")
    lines = delivery_lines.inner_join(heads, ["operator_code", "cop_no"])
    lines = lines.filter(lines.ems_no.notnull() & lines.item_record_no.notnull())
    return lines.select(
        "ems_no",
        "item_record_no",
        qty=lines.qty.cast(QTY),
        kind=ibis.literal("entry"),
        source_code=lines.operator_code,
        cop_no=lines.cop_no,
        gnum=lines.gnum,
        entry_time=lines.app_time,
    )


@reused
def contested(wanted: ir.Table, on_hand: ir.Table) -> ir.Table:
    """The demand rows of declarations touching an item whose stock cannot serve everyone,
    restricted to those items, in the order of judgement, with the item's stock."""
    totals = wanted.group_by(list(ITEM)).aggregate(total=wanted.qty.sum())
    totals = totals.left_join(on_hand, list(ITEM))
    short = totals.filter(totals.total > totals.stock.fill_null(0).cast(QTY)).select(
        "ems_no", "item_record_no", stock=totals.stock.fill_null(0).cast(QTY)
    )
    rows = wanted.inner_join(short, list(ITEM))
    return rows.mutate(pass_key=ibis.literal(0)).order_by([*ORDER, *ITEM])


def judge_stock(rows: Mapping[str, list[Any]]) -> list[bool]:
    """The contested rows in order of judgement: each declaration takes its lines' quantities
    if the stock of every item it touches covers them, else it is refused and takes nothing."""
    stock: dict[tuple[Any, Any], Decimal] = {}
    for ems, item, level in zip(rows["ems_no"], rows["item_record_no"], rows["stock"], strict=True):
        stock.setdefault((ems, item), level)
    keys = list(zip(rows["agent_code"], rows["cop_no"], strict=True))
    verdicts: list[bool] = []
    start = 0
    while start < len(keys):
        end = start
        need: dict[tuple[Any, Any], Decimal] = {}
        while end < len(keys) and keys[end] == keys[start]:
            item = (rows["ems_no"][end], rows["item_record_no"][end])
            need[item] = need.get(item, Decimal(0)) + rows["qty"][end]
            end += 1
        covered = all(stock[item] >= qty for item, qty in need.items())
        if covered:
            for item, qty in need.items():
                stock[item] -= qty
        verdicts.extend([covered] * (end - start))
        start = end
    return verdicts


@reused
def releases(wanted: ir.Table, released: ir.Table, kind: str = "release") -> ir.Table:
    """Stock taken out by the released bonded declarations, one negative row per line (kind
    `held`: kept for a declaration held for review, which keeps its stock while held)."""
    out = wanted.semi_join(released, ["agent_code", "cop_no"])
    return out.select(
        "ems_no",
        "item_record_no",
        qty=(-out.qty).cast(QTY),
        kind=ibis.literal(kind),
        source_code=out.agent_code,
        cop_no=out.cop_no,
        gnum=out.gnum,
        entry_time=out.decl_time,
    )


def differences(row: Mapping[str, Any]) -> list[str]:
    """What does not reconcile for one item of `Store.stock_reconciliation` (empty: it does).

    The issue's balance: on hand = entries - releases + returns, where releases are what the
    admitted bonded lists declared (released, or held: a held list keeps its stock) and returns
    what their accepted returns gave back."""
    found = []
    taken = row["released"] + row["held"]
    if taken != row["declared_taken"]:
        found.append(
            f"taken out {_q(taken)} (released + held), declared {_q(row['declared_taken'])}"
        )
    if row["returned"] != row["declared_returned"]:
        found.append(f"returned {_q(row['returned'])}, declared {_q(row['declared_returned'])}")
    balance = row["entered"] - taken + row["returned"]
    if row["on_hand"] != balance:
        found.append(f"on hand {_q(row['on_hand'])}, entered - taken + returned = {_q(balance)}")
    return found


def _q(qty: Decimal) -> str:
    return f"{qty.normalize():f}"  # 4.00000 -> 4, 0.50000 -> 0.5
