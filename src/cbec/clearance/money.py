"""Exact money arithmetic in columnar expressions.

Taxes are rational numbers (a pro-rata share of freight divided by a line total, a rate divided by
`1 - c`), rounded once per line to 0.01 CNY half-up. Engines turn DECIMAL division into DOUBLE,
which gets most half-fen amounts wrong, so cbec never divides money: a tax is written as an exact
numerator over an exact denominator (products of DECIMAL(38, s), which engines multiply exactly),
and `ratio_half_up` rounds the quotient using only the exact remainder `num % den`. The one
division left, `(num - remainder) / den`, has an integer result below 2**53 fen, which a DOUBLE
holds exactly.

Budget: numerators carry up to 23 decimals in DECIMAL(38, 23), leaving 15 integer digits of fen.
That holds for declarations up to 1,000,000 CNY with rates below 100 % (checks reject larger
values as `value_out_of_range`; the pipeline never feeds them to these formulas).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

WORKING_SCALE = 23
MONEY_TYPE = "decimal(18, 2)"


def wide(value: ir.NumericValue, scale: int) -> ir.DecimalValue:
    """`value` as DECIMAL(38, scale), so that products keep every digit instead of overflowing."""
    return value.cast(f"decimal(38, {scale})")


def ratio_half_up(num: ir.NumericValue, den: ir.NumericValue) -> ir.IntegerValue:
    """round_half_up(num / den) as an integer, exactly, for num >= 0, den > 0 and a quotient
    below 2**53 (9e15: tax in fen never comes near)."""
    n = wide(num, WORKING_SCALE)
    d = wide(den, WORKING_SCALE)
    remainder = n % d
    whole = ((n - remainder) / d).round().cast("int64")
    return whole + (remainder * 2 >= d).cast("int64")


def fen_to_money(fen: ir.IntegerValue) -> ir.DecimalValue:
    """Integer fen as DECIMAL(18,2) CNY, by exact multiplication."""
    cents = ibis.literal("0.01").cast("decimal(38, 2)")
    return (fen.cast("decimal(38, 0)") * cents).cast(MONEY_TYPE)
