"""Calendar periods as customs publishes them: a year, a half, a quarter, a month or a day.

A period is written `2024`, `2024-H1`, `2024-Q2`, `2024-06` or `2024-06-15`, and covers the
declarations whose `decl_time` (China Standard Time, as declared) falls from its first instant up
to, not including, the first instant of the next period. The same labels name the period columns of
the statistics, computed from `decl_time` in the engine.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

# Dimension name -> the kind of period it groups by.
PERIOD_DIMENSIONS = ("day", "month", "quarter", "half", "year")

_FORMS = (
    ("year", re.compile(r"^(\d{4})$")),
    ("half", re.compile(r"^(\d{4})-H([12])$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("day", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
)
FORMS_HELP = "2024, 2024-H1, 2024-Q2, 2024-06 or 2024-06-15"


class PeriodError(ValueError):
    """A period that is not one of the written forms; the message says which forms are."""


@dataclass(frozen=True)
class Period:
    """A calendar period: `kind` (year, half, quarter, month, day), its label and its bounds."""

    kind: str
    label: str
    start: dt.date
    end: dt.date  # first day after the period

    @classmethod
    def parse(cls, text: str) -> Period:
        text = text.strip()
        for kind, pattern in _FORMS:
            match = pattern.match(text)
            if not match:
                continue
            parts = [int(group) for group in match.groups()]
            try:
                return cls.of(kind, *parts)
            except ValueError:
                break
        raise PeriodError(f"{text!r} is not a period; write {FORMS_HELP}")

    @classmethod
    def of(cls, kind: str, year: int, number: int = 1, day: int = 1) -> Period:
        """The period of `kind` in `year`: half, quarter or month `number`, or day `day`."""
        if kind == "year":
            return cls(kind, f"{year:04d}", dt.date(year, 1, 1), dt.date(year + 1, 1, 1))
        if kind == "half":
            start = dt.date(year, 6 * (number - 1) + 1, 1)
            return cls(kind, f"{year:04d}-H{number}", start, _add_months(start, 6))
        if kind == "quarter":
            start = dt.date(year, 3 * (number - 1) + 1, 1)
            return cls(kind, f"{year:04d}-Q{number}", start, _add_months(start, 3))
        if kind == "month":
            start = dt.date(year, number, 1)
            return cls(kind, f"{year:04d}-{number:02d}", start, _add_months(start, 1))
        if kind == "day":
            start = dt.date(year, number, day)
            return cls(kind, start.isoformat(), start, start + dt.timedelta(days=1))
        raise PeriodError(f"{kind!r} is not a kind of period; write one of {PERIOD_DIMENSIONS}")

    def year_before(self) -> Period | None:
        """The same period of the previous year (None for 29 February)."""
        try:
            return Period.parse(f"{self.start.year - 1:04d}{self.label[4:]}")
        except PeriodError:
            return None

    def subperiods(self) -> str:
        """The kind of period a chart of this period is drawn by: months of a year, days of a
        month."""
        return {"year": "month", "half": "month", "quarter": "month", "month": "day"}.get(
            self.kind, "day"
        )

    def __str__(self) -> str:
        return self.label


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def label(kind: str, time: ir.TimestampValue) -> ir.StringValue:
    """The label of the period of `kind` that `time` falls in, as the engine computes it."""
    year = time.strftime("%Y")
    if kind == "year":
        return year
    if kind == "half":
        return year + ibis.ifelse(time.month() <= 6, "-H1", "-H2")
    if kind == "quarter":
        return year + "-Q" + time.quarter().cast("string")
    if kind == "month":
        return time.strftime("%Y-%m")
    if kind == "day":
        return time.strftime("%Y-%m-%d")
    raise PeriodError(f"{kind!r} is not a kind of period; write one of {PERIOD_DIMENSIONS}")


def label_year_before(labels: ir.StringValue) -> ir.StringValue:
    """The label of the same period one year earlier: `2024-Q2` -> `2023-Q2`."""
    return (labels.left(4).cast("int32") - 1).cast("string").lpad(4, "0") + labels.substr(4)


def within(time: ir.TimestampValue, start: dt.date | None, end: dt.date | None) -> ir.BooleanValue:
    """`start` <= `time` < `end`, either bound optional."""
    condition: ir.BooleanValue = ibis.literal(True)
    if start is not None:
        condition = condition & (time >= ibis.timestamp(dt.datetime.combine(start, dt.time())))
    if end is not None:
        condition = condition & (time < ibis.timestamp(dt.datetime.combine(end, dt.time())))
    return condition
