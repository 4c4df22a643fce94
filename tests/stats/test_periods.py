"""Periods are written as customs publishes them and cover whole calendar units."""

from __future__ import annotations

import datetime as dt

import pytest

from cbec.stats.periods import Period, PeriodError


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2024", "year", dt.date(2024, 1, 1), dt.date(2025, 1, 1)),
        ("2024-H2", "half", dt.date(2024, 7, 1), dt.date(2025, 1, 1)),
        ("2024-Q1", "quarter", dt.date(2024, 1, 1), dt.date(2024, 4, 1)),
        ("2024-12", "month", dt.date(2024, 12, 1), dt.date(2025, 1, 1)),
        ("2024-02-29", "day", dt.date(2024, 2, 29), dt.date(2024, 3, 1)),
    ],
)
def test_forms(text: str, kind: str, start: dt.date, end: dt.date) -> None:
    period = Period.parse(text)
    assert (period.kind, period.label, period.start, period.end) == (kind, text, start, end)


@pytest.mark.parametrize(
    "text", ["24", "2024-H3", "2024-Q0", "2024-13", "2023-02-29", "Q2 2024", ""]
)
def test_other_text_is_refused_with_the_forms(text: str) -> None:
    with pytest.raises(PeriodError, match="write 2024, 2024-H1, 2024-Q2, 2024-06"):
        Period.parse(text)


def test_the_same_period_a_year_before() -> None:
    assert str(Period.parse("2024-Q2").year_before()) == "2023-Q2"
    assert str(Period.parse("2024-06").year_before()) == "2023-06"
    assert Period.parse("2024-02-29").year_before() is None
