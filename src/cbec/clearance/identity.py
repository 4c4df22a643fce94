"""The resident identity number check (GB 11643-1999) as a columnar expression.

18 characters: 6-digit area, 8-digit birth date, 3-digit sequence, and a check character by
ISO 7064 MOD 11-2 (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; the sum mod 11 maps 0..10 to
`1 0 X 9 8 7 6 5 4 3 2`). python-stdnum's `stdnum.cn.ric` is the oracle in the tests; this form
runs inside the engine, because a Python call per row costs seconds per million.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from cbec.engines.reuse import reused

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def leading_digits(number: ir.StringValue) -> ir.IntegerValue:
    """The first 17 characters as an integer (null unless they are digits).

    Worth a column of its own: `check_character` reads it 34 times, and engines do not always
    share a repeated expression.
    """
    return number.substr(0, 17).try_cast("int64")


def check_character(digits: ir.IntegerValue) -> ir.StringValue:
    """The check character that the 17 leading digits (`leading_digits`) call for.

    Each digit d * 10**k is a difference of two remainders, exact in int64, and its quotient by
    10**k is exact in a DOUBLE (d * 5**k < 2**53): no substring per digit, which costs more.
    """
    total = ibis.literal(0)
    for position, weight in enumerate(WEIGHTS):
        power = 10 ** (16 - position)
        digit = ((digits % (power * 10)) - (digits % power)) / power
        total = total + digit * weight
    return ibis.literal(CHECK_CHARACTERS).substr(total.cast("int64") % 11, 1)


def birth_date(number: ir.StringValue) -> ir.DateValue:
    """The birth date digits as a date, or null when they are not a real calendar date."""
    iso = number.substr(6, 4) + "-" + number.substr(10, 2) + "-" + number.substr(12, 2)
    return iso.try_cast("date")


@reused
def identity_number_valid(
    number: ir.StringValue, on: ir.DateValue, digits: ir.IntegerValue | None = None
) -> ir.BooleanValue:
    """True when `number` is a well-formed identity number of someone born by `on`.

    `digits` is `leading_digits(number)` where the caller has it as a column already.

    The parts are multiplied, not joined with AND: an engine evaluates the later operands of an
    AND row by row under a selection, where it no longer shares the digits' common part, which
    costs ten times more. Evaluate this at the top of a projection (frames.py does).
    """
    parts = (
        number.substr(17, 1)
        == check_character(leading_digits(number) if digits is None else digits),
        number.re_search(r"^[0-9]{17}[0-9X]$"),
        birth_date(number).between(EARLIEST_BIRTH, on),
    )
    product = ibis.literal(1)
    for part in parts:
        product = product * part.fill_null(False).cast("int8")
    return product == 1
