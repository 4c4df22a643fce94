"""The single-transaction limit and the buyer's annual allowance.

Cai Guan Shui [2016] No. 18 and [2018] No. 49: a declaration's dutiable value (its lines' totals
plus freight and insured fee) must not exceed the single limit, except one indivisible item (one
line, quantity 1) from 2019-01-01, which pays full tax; and the buyer's admitted value in the
calendar year plus this one must not exceed the annual limit. Both limits are inclusive.

The annual allowance is sequential (DESIGN.md, "The annual allowance, precisely"): per buyer and
year, in declaration-time order (then app time, then declaration number), a declaration is admitted
if it fits and then consumes its value; a rejected one consumes nothing. A bulk sum proves most
buyers never come near the limit; `judge_allowance` runs over the few that might.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import ibis.expr.types as ir

from cbec.engines.reuse import reused


def _exact(value: ir.Value) -> ir.DecimalValue:
    """Money and limits compared at one type (engines compare decimals of one scale)."""
    return value.cast("decimal(38, 6)")


ORDER = ("buyer_id_number", "year", "decl_time", "app_time", "cop_no", "agent_code")


@reused
def single_limit(declarations: ir.Table, judged: ir.BooleanValue) -> ir.Table:
    """Adds `full_tax` and `r_over_single_limit` for the `judged` declarations."""
    d = declarations
    over = (_exact(d.dutiable_value) > _exact(d.single_limit)).fill_null(False)
    indivisible = (
        (d.line_count == 1) & (d.qty_total == 1) & (d.indivisible_item_exception == 1)
    ).fill_null(False)
    return d.mutate(
        full_tax=judged & over & indivisible,
        r_over_single_limit=judged & over & ~indivisible,
    )


@reused
def allowance_candidates(declarations: ir.Table, passed: ir.BooleanValue) -> ir.Table:
    """The declarations the annual allowance judges, with their buyer, year, value and limit."""
    d = declarations.filter(passed)
    return d.select(
        "agent_code",
        "cop_no",
        "buyer_id_number",
        "decl_time",
        "app_time",
        "annual_limit",
        year=d.decl_time.year(),
        value=d.dutiable_value,
    )


@reused
def used_allowance(ledger: ir.Table) -> ir.Table:
    """(`buyer_id_number`, `year`, `used`) from the allowance ledger: admitted value less the
    value returned (returns are negative entries)."""
    return ledger.group_by(["buyer_id_number", "year"]).aggregate(used=ledger.value.sum())


@reused
def contested(candidates: ir.Table, used_before: ir.Table) -> ir.Table:
    """The candidates of buyers whose year could go over the limit: the only ones judged in turn.

    `used_before` holds (`buyer_id_number`, `year`, `used`): value admitted in earlier runs.
    """
    totals = candidates.group_by(["buyer_id_number", "year"]).aggregate(
        total=candidates.value.sum(), tightest=candidates.annual_limit.min()
    )
    totals = totals.left_join(used_before, ["buyer_id_number", "year"])
    going_over = _exact(totals.used.fill_null(0) + totals.total) > _exact(totals.tightest)
    keys = totals.filter(going_over).select(
        "buyer_id_number", "year", used=totals.used.fill_null(0)
    )
    return candidates.inner_join(keys, ["buyer_id_number", "year"]).order_by(list(ORDER))


def judge_allowance(rows: Iterable[tuple[Decimal, Decimal]], used: Decimal) -> list[bool]:
    """One buyer-year's declarations in order, as (value, limit): admitted or not, in turn."""
    verdicts = []
    for value, limit in rows:
        admitted = used + value <= limit
        if admitted:
            used += value
        verdicts.append(admitted)
    return verdicts
