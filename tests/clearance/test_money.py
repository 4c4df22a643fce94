"""Exact half-up rounding of a ratio, against Python's exact fractions."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cbec.clearance.money import fen_to_money, ratio_half_up

NUM = pa.decimal128(38, 10)
DEN = pa.decimal128(38, 8)


def _half_up(value: Fraction) -> int:
    """round_half_up for a non-negative fraction, in integers."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


numerators = st.decimals(min_value=0, max_value=Decimal("999999999999"), places=10)
# Within the contract of ratio_half_up: quotients below 2**53 (tax amounts in fen are far below).
denominators = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("9999999"), places=8)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(numerators, denominators), min_size=1, max_size=200))
def test_ratio_half_up_is_exact(pairs: list[tuple[Decimal, Decimal]]) -> None:
    table = ibis.memtable(
        pa.table(
            {"n": pa.array([p[0] for p in pairs], NUM), "d": pa.array([p[1] for p in pairs], DEN)}
        )
    )
    got = table.select(q=ratio_half_up(table.n, table.d)).to_pyarrow()["q"].to_pylist()
    expected = [_half_up(Fraction(n) / Fraction(d)) for n, d in pairs]
    assert got == expected


def test_exact_ties_round_up() -> None:
    # 1.365 fen-hundredths: 136.5 / 1 -> 137; 0.5 -> 1; 2.5 -> 3 (never to even)
    pairs = [
        (Decimal("136.5"), Decimal(1)),
        (Decimal("0.5"), Decimal(1)),
        (Decimal("5"), Decimal(2)),
    ]
    table = ibis.memtable(
        pa.table(
            {"n": pa.array([p[0] for p in pairs], NUM), "d": pa.array([p[1] for p in pairs], DEN)}
        )
    )
    assert table.select(q=ratio_half_up(table.n, table.d)).to_pyarrow()["q"].to_pylist() == [
        137,
        1,
        3,
    ]


def test_fen_to_money() -> None:
    table = ibis.memtable(pa.table({"fen": [0, 5, 12345, 999999999]}))
    got = table.select(m=fen_to_money(table.fen)).to_pyarrow()["m"].to_pylist()
    assert got == [Decimal("0.00"), Decimal("0.05"), Decimal("123.45"), Decimal("9999999.99")]
    assert Decimal("1.365").quantize(Decimal("0.01"), ROUND_HALF_UP) == Decimal("1.37")
