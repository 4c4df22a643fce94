"""Per-person yearly quantity limits from the positive list's remarks (rice 20 kg, sugar 2 kg).

The positive list's remarks include per-person yearly quantity limits (domain digest section 4;
the 2016 list, 11 departments 2016 No. 40, and its later editions). cbec reads the limit from a
`quantity_limit` row's remark ("20 kg per person per year", "每人每年20千克") and keeps a ledger
per buyer identity number, calendar year and tariff line (8 digits): the legal quantity (`qty1`,
else `qty`) of the buyer's admitted lines. A declaration whose lines would take the buyer beyond
a limit is rejected with `over_quantity_limit` and takes nothing; returns give the quantity back.

Judged like the allowance (DESIGN.md, "Sequential ledgers", with step 3, before the value): per
buyer and year, in declaration-time order, over what passed the checks and the stock. Only the
buyers whose year could go over a limit are judged one declaration at a time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cbec.engines.reuse import reused
from cbec.policy.errors import PolicyDataError

QTY = "decimal(38, 5)"
ORDER = ("decl_time", "app_time", "agent_code", "cop_no")
KEY = ("buyer_id_number", "year")
# "20 kg", "2.5 kg", "20千克", "20公斤", "6 pieces", "6件": a number, then its unit.
_LIMIT = re.compile(
    r"(\d+(?:\.\d+)?)\s*(kg|千克|公斤|g|克|l|升|ml|毫升|pieces?|件|瓶|bottles?)", re.IGNORECASE
)
LIMITS = pa.schema(
    [
        ("code", pa.string()),
        ("limit_qty", pa.decimal128(18, 5)),
        ("limit_unit", pa.string()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),
    ]
)


class RemarkError(PolicyDataError):
    """A quantity_limit remark that names no quantity: the message says which row."""


def limits(positive_list: pa.Table) -> pa.Table:
    """The quantity limits of the positive list's `quantity_limit` rows, read from the remark.
    Raises RemarkError for a remark with no readable quantity (an operator's list must say it)."""
    rows = []
    for row in positive_list.to_pylist():
        if row["remark_kind"] != "quantity_limit":
            continue
        found = _LIMIT.search(row["remark"] or "")
        if found is None:
            raise RemarkError(
                f"positive list, {row['code']}: the quantity_limit remark {row['remark']!r} "
                "names no quantity; write it as '20 kg per person per year'"
            )
        rows.append(
            {
                "code": row["code"],
                "limit_qty": Decimal(found.group(1)),
                "limit_unit": found.group(2).lower(),
                "valid_from": row["valid_from"],
                "valid_to": row["valid_to"],
            }
        )
    return pa.Table.from_pylist(rows, schema=LIMITS)


@reused
def demand(lines: ir.Table, heads: ir.Table, limit_rows: ir.Table) -> ir.Table:
    """The lines of limited goods, one row per line, with the buyer, the year and the limit in
    force on the declaration date."""
    keyed = lines.select(
        "agent_code",
        "cop_no",
        "gnum",
        "decl_date",
        tariff_line=lines.gcode.substr(0, 8),
        qty=lines.qty1.fill_null(lines.qty).cast(QTY),
    )
    rows = limit_rows
    valid = (rows.valid_from.isnull() | (rows.valid_from <= keyed.decl_date)) & (
        rows.valid_to.isnull() | (keyed.decl_date < rows.valid_to)
    )
    limited = keyed.inner_join(rows, [keyed.tariff_line == rows.code, valid])
    limited = limited.inner_join(
        heads.select("agent_code", "cop_no", "buyer_id_number", "decl_time", "app_time"),
        ["agent_code", "cop_no"],
    )
    return limited.select(
        "agent_code",
        "cop_no",
        "gnum",
        "buyer_id_number",
        "tariff_line",
        "qty",
        "decl_time",
        "app_time",
        year=limited.decl_time.year(),
        limit_qty=limited.limit_qty.cast(QTY),
    )


@reused
def contested(wanted: ir.Table, used: ir.Table) -> ir.Table:
    """The limited lines of buyer-years that could go over a limit, in the order of judgement,
    with what each buyer used of each line before (`used`: buyer_id_number, year, tariff_line,
    used)."""
    group = [*KEY, "tariff_line"]
    totals = wanted.group_by(group).aggregate(
        total=wanted.qty.sum(), tightest=wanted.limit_qty.min()
    )
    totals = totals.left_join(used, group)
    going_over = totals.used.fill_null(0).cast(QTY) + totals.total > totals.tightest
    keys = totals.filter(going_over).select(*KEY).distinct()
    rows = wanted.inner_join(keys, list(KEY)).left_join(used, group)
    rows = rows.drop(*[c for c in rows.columns if c.endswith("_right")])
    rows = rows.mutate(used=rows.used.fill_null(0).cast(QTY))
    return rows.order_by([*KEY, *ORDER, "gnum"])


def judge_quantity(rows: Mapping[str, list[Any]]) -> list[bool]:
    """One buyer-year's limited lines in order: a declaration is admitted if every limited line
    it declares fits (used + its quantity within the limit), and then takes its quantities; else
    it takes nothing."""
    used: dict[str, Decimal] = {}
    for line, before in zip(rows["tariff_line"], rows["used"], strict=True):
        used.setdefault(line, before)
    keys = list(zip(rows["agent_code"], rows["cop_no"], strict=True))
    verdicts: list[bool] = []
    start = 0
    while start < len(keys):
        end = start
        need: dict[str, Decimal] = {}
        limit: dict[str, Decimal] = {}
        while end < len(keys) and keys[end] == keys[start]:
            line = rows["tariff_line"][end]
            need[line] = need.get(line, Decimal(0)) + rows["qty"][end]
            limit[line] = rows["limit_qty"][end]
            end += 1
        fits = all(used[line] + qty <= limit[line] for line, qty in need.items())
        if fits:
            for line, qty in need.items():
                used[line] += qty
        verdicts.extend([fits] * (end - start))
        start = end
    return verdicts


@reused
def admitted(wanted: ir.Table, decided: ir.Table) -> ir.Table:
    """Ledger rows of the limited lines of the `decided` declarations (released or held)."""
    rows = wanted.semi_join(decided, ["agent_code", "cop_no"])
    return rows.select(
        "buyer_id_number",
        "year",
        "tariff_line",
        "agent_code",
        "cop_no",
        "gnum",
        qty=rows.qty,
        entry_time=rows.decl_time,
        kind=ibis.literal("admitted"),
    )
