"""The columnar identity-number check agrees with python-stdnum on many generated numbers."""

from __future__ import annotations

import datetime as dt
import random

import ibis
import pyarrow as pa
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from cbec.clearance.identity import identity_number_valid

ON = dt.date(2024, 6, 15)


def _oracle(number: str) -> bool:
    """stdnum's check character and birth date (not its birthplace table, which cbec leaves out)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = ric.get_birth_date(number)
    except (ValidationError, ValueError):
        return False
    return number[-1] == ric.calc_check_digit(number) and dt.date(1900, 1, 1) <= born <= ON


def _numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    numbers = []
    for _ in range(count):
        area = f"{rng.randint(110000, 659004):06d}"
        year = rng.choice([rng.randint(1900, 2024), rng.randint(1890, 2030)])
        month = rng.choice([rng.randint(1, 12), rng.randint(0, 13)])
        day = rng.choice([rng.randint(1, 28), rng.randint(0, 32)])
        body = f"{area}{year:04d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
        check = ric.calc_check_digit(body + "0")
        if rng.random() < 0.3:  # a wrong check character
            check = rng.choice([c for c in "0123456789X" if c != check])
        numbers.append(body + check)
    numbers += ["", "12345", "11010119900307001x", "1101011990030700 1", "A10101199003070011"]
    return numbers


def test_agrees_with_stdnum_on_generated_numbers() -> None:
    numbers = _numbers(20_000, seed=7)
    table = ibis.memtable(pa.table({"number": numbers}))
    result = table.select(ok=identity_number_valid(table.number, ibis.literal(ON))).to_pyarrow()
    got = result["ok"].to_pylist()
    expected = [_oracle(n) for n in numbers]
    mismatches = [(n, g) for n, g, e in zip(numbers, got, expected, strict=True) if g != e]
    assert not mismatches, mismatches[:10]
    assert 0.3 < sum(expected) / len(expected) < 0.8  # both kinds well represented


def test_a_birth_date_after_the_declaration_is_invalid() -> None:
    body = "11010120250101001"
    number = body + ric.calc_check_digit(body + "0")
    table = ibis.memtable(pa.table({"number": [number]}))
    result = table.select(ok=identity_number_valid(table.number, ibis.literal(ON))).to_pyarrow()
    assert result["ok"].to_pylist() == [False]
