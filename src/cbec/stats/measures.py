"""The statistics: counts, value and tax by any grouping, growth on the year, operations.

Measures (docs/statistics.md explains each):
- `declarations`: every decided declaration, rejected ones included;
- `admitted`: those whose final status is released (`facts.ADMITTED_STATUSES`);
- `rejected`: those rejected (100);
- `value`: the dutiable value of the admitted ones, CNY;
- `tax_total`: the tax assessed on the admitted ones (duty + VAT + consumption tax), CNY.

Everything is an Ibis expression over the store's DuckDB connection: the engine aggregates, and
Python only sees the aggregated rows.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cbec.stats import facts
from cbec.stats.facts import Facts
from cbec.stats.periods import PERIOD_DIMENSIONS, Period, PeriodError, within

MEASURES = ("declarations", "admitted", "rejected", "value", "tax_total")
GROWTH_COLUMNS = ("value_year_before", "growth_pct")
BENCHMARK_COLUMNS = ("benchmark_growth_pct", "points_vs_benchmark")


# Other names a dimension goes by in --by: the issue and the publications say "half-year".
ALIASES = {"half-year": "half", "halfyear": "half"}


class StatisticsError(ValueError):
    """A request the statistics cannot answer; the message says what to write instead."""


def dimensions(text: str) -> list[str]:
    """`month,mode` -> ["month", "mode"], each checked against `facts.DIMENSIONS` (an alias
    such as `half-year` is its dimension's name, `half`)."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    names = [ALIASES.get(name, name) for name in names]
    if not names:
        raise StatisticsError(f"--by is empty; write one or more of {', '.join(facts.DIMENSIONS)}")
    for name in names:
        if name not in facts.DIMENSIONS:
            raise StatisticsError(
                f"--by {name!r} is not a dimension; write one or more of "
                f"{', '.join(facts.DIMENSIONS)}, separated by commas"
            )
    if len(set(names)) != len(names):
        raise StatisticsError(f"--by {text!r} names a dimension twice")
    return names


def output_columns(by: Sequence[str]) -> list[str]:
    """The columns of a statistics table: each group column (with its name column where the
    reference data names it), then the measures."""
    columns: list[str] = []
    for name in by:
        columns.append(name)
        if name in facts.NAMED:
            columns.append(facts.NAMED[name])
    return [*columns, *MEASURES]


def statistics(
    source: Facts,
    by: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> ir.Table:
    """One row per group of `by`, over the declarations declared from `start` up to `end`."""
    rows = source.chapters() if "chapter" in by else source.declarations()
    rows = rows.filter(within(rows.decl_time, start, end))
    groups: dict[str, ir.Value] = {}
    for name in by:
        groups[name] = rows[facts.DIMENSIONS[name]]
        if name in facts.NAMED:
            groups[facts.NAMED[name]] = rows[facts.NAMED[name]]
    table = rows.group_by(**groups).aggregate(
        declarations=rows.count(),
        admitted=rows.admitted.cast("int64").sum(),
        rejected=rows.rejected.cast("int64").sum(),
        value=rows.value.sum(),
        tax_total=rows.assessed_tax.sum(),
    )
    return table.select(*output_columns(by)).order_by(list(by))


def with_growth(
    source: Facts,
    by: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
    benchmark: Benchmark | None = None,
) -> pa.Table:
    """`statistics` with, per group, the value of the same period a year before and the growth
    on it in percent (empty where the year before has no value); with a benchmark, its growth
    and the difference in percentage points. `by` must hold exactly one period dimension."""
    periods = [name for name in by if name in PERIOD_DIMENSIONS]
    if len(periods) != 1:
        raise StatisticsError(
            "growth compares each period with the same period a year before: give exactly "
            f"one of {', '.join(PERIOD_DIMENSIONS)} in --by"
        )
    (period,) = periods
    now = statistics(source, by, start, end)
    before = statistics(source, by, _year_earlier(start), _year_earlier(end))
    shifted = before.select(
        *[before[name] for name in by if name != period],
        **{period: shift_year(before[period], 1), "_before": before.value},
    )
    others = [name for name in by if name != period]
    joined = now.left_join(shifted, [period, *others])
    joined = joined.select(
        *[joined[name] for name in now.columns], value_year_before=joined._before
    )
    result = joined.mutate(
        growth_pct=ibis.ifelse(
            joined.value_year_before > 0,
            (joined.value.cast("float64") / joined.value_year_before.cast("float64") - 1) * 100,
            ibis.null("float64"),
        )
    ).order_by(list(by))
    table = result.to_pyarrow()
    if benchmark is not None:
        table = benchmark.compare(table, period)
    return table


def shift_year(labels: ir.StringValue, years: int) -> ir.StringValue:
    """Period labels moved by `years`: shift_year('2023-Q2', 1) == '2024-Q2'."""
    return (labels.left(4).cast("int32") + years).cast("string").lpad(4, "0") + labels.substr(4)


def _year_earlier(day: dt.date | None) -> dt.date | None:
    if day is None:
        return None
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def growth(now: Decimal | None, before: Decimal | None) -> float | None:
    """Growth of `now` on `before` in percent; None (n/a) when `before` is absent or zero."""
    if before is None or before == 0 or now is None:
        return None
    return float((Decimal(now) / Decimal(before) - 1) * 100)


def format_growth(percent: float | None) -> str:
    return "n/a" if percent is None else f"{percent:+.1f}%"


@dataclass(frozen=True)
class Benchmark:
    """A series to compare growth with, e.g. total foreign trade: value per period label."""

    values: dict[str, Decimal]
    source: str = ""

    @classmethod
    def read(cls, path: Path) -> Benchmark:
        """A CSV file with a header `period,value`, one row per period (`2024-06`, `2024-Q2`,
        ...)."""
        values: dict[str, Decimal] = {}
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                if not {"period", "value"} <= set(reader.fieldnames or []):
                    raise StatisticsError(f"{path}: line 1: the header must be period,value")
                for row in reader:
                    line = reader.line_num
                    try:
                        period = Period.parse(row["period"] or "")
                    except PeriodError as exc:
                        raise StatisticsError(f"{path}: line {line}, period: {exc}") from None
                    try:
                        value = Decimal((row["value"] or "").strip().replace(",", ""))
                    except InvalidOperation:
                        raise StatisticsError(
                            f"{path}: line {line}, value: {row['value']!r} is not a number"
                        ) from None
                    if not value.is_finite():
                        raise StatisticsError(f"{path}: line {line}, value: not a number")
                    values[period.label] = value
        except OSError as exc:
            raise StatisticsError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise StatisticsError(f"{path}: not a UTF-8 CSV file ({exc})") from None
        return cls(values, str(path))

    def growth(self, period: str) -> float | None:
        """The benchmark's growth in `period` on the same period a year before, percent."""
        before = Period.parse(period).year_before()
        if before is None:
            return None
        return growth(self.values.get(period), self.values.get(before.label))

    def compare(self, table: pa.Table, period: str) -> pa.Table:
        """Adds `benchmark_growth_pct` and `points_vs_benchmark` (growth minus the benchmark's,
        in percentage points) to a table with `growth_pct` and the period column `period`."""
        labels = table[period].to_pylist()
        bench = [self.growth(label) if label else None for label in labels]
        points = [
            None if own is None or other is None else own - other
            for own, other in zip(table["growth_pct"].to_pylist(), bench, strict=True)
        ]
        table = table.append_column("benchmark_growth_pct", pa.array(bench, pa.float64()))
        return table.append_column("points_vs_benchmark", pa.array(points, pa.float64()))


@dataclass(frozen=True)
class Operations:
    """How the clearance ran over a period (docs/statistics.md, "Operations")."""

    declarations: int
    admitted: int
    rejected: int
    days: int  # days with at least one declaration
    busiest_day: dt.date | None
    busiest_day_declarations: int
    peak_minute: dt.datetime | None
    peak_minute_declarations: int
    decision_seconds: dict[str, float | None]  # p50, p95, p99 of decided_at - decl_time
    customs_tax: Decimal
    value_added_tax: Decimal
    consumption_tax: Decimal
    tax_total: Decimal
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    inspected: int = 0  # held for inspection now (status 500)
    selected: int = 0  # selected for inspection by the risk selection, whatever came of it
    inspections_recorded: int = 0  # selected declarations whose inspection result is recorded
    inspections_found: int = 0  # ... of which the inspection found something
    tax_collected: Decimal = Decimal("0.00")  # paid on the bills of these declarations
    late_fees: Decimal = Decimal("0.00")  # late fees paid with it

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.declarations if self.declarations else None

    @property
    def inspection_rate(self) -> float | None:
        """Share of declarations the risk selection sent to inspection (500)."""
        return self.selected / self.declarations if self.declarations else None

    @property
    def inspection_hit_rate(self) -> float | None:
        """Share of the recorded inspections that found something (n/a while none is)."""
        if not self.inspections_recorded:
            return None
        return self.inspections_found / self.inspections_recorded

    @property
    def parcels_per_day(self) -> float | None:
        return self.declarations / self.days if self.days else None


def operations(
    source: Facts,
    start: dt.date | None = None,
    end: dt.date | None = None,
    top: int = 10,
) -> Operations:
    """Counts, rates, the busiest day and minute, decision times and the tax assessed."""
    rows = source.declarations()
    rows = rows.filter(within(rows.decl_time, start, end))
    seconds = rows.decided_at.epoch_seconds() - rows.decl_time.epoch_seconds()
    zero = ibis.literal(0).cast(facts.MONEY)

    def taxed(column: ir.DecimalValue) -> ir.DecimalValue:
        return ibis.ifelse(rows.admitted, column.fill_null(zero), zero).sum()

    totals = (
        rows.aggregate(
            declarations=rows.count(),
            admitted=rows.admitted.cast("int64").sum(),
            rejected=rows.rejected.cast("int64").sum(),
            inspected=(rows.status == facts.INSPECTION).cast("int64").sum(),
            selected=rows.selected_for_inspection.cast("int64").sum(),
            recorded=rows.inspection_found.notnull().cast("int64").sum(),
            found=rows.inspection_found.fill_null(False).cast("int64").sum(),
            tax_collected=rows.tax_collected.sum(),
            late_fees=rows.late_fees.sum(),
            p50=seconds.quantile(0.50),
            p95=seconds.quantile(0.95),
            p99=seconds.quantile(0.99),
            customs_tax=taxed(rows.customs_tax),
            value_added_tax=taxed(rows.value_added_tax),
            consumption_tax=taxed(rows.consumption_tax),
            tax_total=taxed(rows.tax_total),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    by_day = rows.group_by(day=rows.decl_time.date()).aggregate(n=rows.count())
    busiest = by_day.order_by([ibis.desc("n"), "day"]).limit(1).to_pyarrow().to_pylist()
    day_count = by_day.count().to_pyarrow().as_py()
    by_minute = rows.group_by(minute=rows.decl_time.truncate("m")).aggregate(n=rows.count())
    peak = by_minute.order_by([ibis.desc("n"), "minute"]).limit(1).to_pyarrow().to_pylist()
    rejected = rows.filter(rows.rejected)
    reasons = rejected.select(reason=rejected.reasons.unnest())
    reason_counts = (
        reasons.group_by("reason")
        .aggregate(n=reasons.count())
        .order_by([ibis.desc("n"), "reason"])
        .limit(top)
        .to_pyarrow()
        .to_pylist()
    )
    money = Decimal("0.00")
    return Operations(
        declarations=int(totals["declarations"]),
        admitted=int(totals["admitted"] or 0),
        rejected=int(totals["rejected"] or 0),
        days=int(day_count),
        busiest_day=busiest[0]["day"] if busiest else None,
        busiest_day_declarations=int(busiest[0]["n"]) if busiest else 0,
        peak_minute=peak[0]["minute"] if peak else None,
        peak_minute_declarations=int(peak[0]["n"]) if peak else 0,
        decision_seconds={name: totals[name] for name in ("p50", "p95", "p99")},
        customs_tax=totals["customs_tax"] or money,
        value_added_tax=totals["value_added_tax"] or money,
        consumption_tax=totals["consumption_tax"] or money,
        tax_total=totals["tax_total"] or money,
        top_reasons=[(row["reason"], int(row["n"])) for row in reason_counts],
        inspected=int(totals["inspected"] or 0),
        selected=int(totals["selected"] or 0),
        inspections_recorded=int(totals["recorded"] or 0),
        inspections_found=int(totals["found"] or 0),
        tax_collected=totals["tax_collected"] or money,
        late_fees=totals["late_fees"] or money,
    )


def per_minute(
    source: Facts, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[dt.date | None, pa.Table]:
    """Declarations a minute on the last day of [start, end) that has any (today, while the
    period runs): that day and a table of `minute` and `declarations`, minutes without a
    declaration left out."""
    rows = source.declarations()
    rows = rows.filter(within(rows.decl_time, start, end))
    last = rows.aggregate(day=rows.decl_time.max().date()).to_pyarrow().to_pylist()[0]["day"]
    if last is None:
        return None, pa.table({"minute": pa.array([], pa.timestamp("us")), "declarations": []})
    day = rows.filter(rows.decl_time.date() == last)
    table = (
        day.group_by(minute=day.decl_time.truncate("m"))
        .aggregate(declarations=day.count())
        .order_by("minute")
        .to_pyarrow()
    )
    return last, table


@dataclass(frozen=True)
class Headline:
    """Value of a direction (None: imports and exports together) in a period and a year
    before, and the growth on it."""

    direction: str | None
    period: Period
    value: Decimal
    declarations: int
    value_year_before: Decimal | None  # None: no declarations in that period
    growth_pct: float | None
    benchmark_growth_pct: float | None = None

    @property
    def points_vs_benchmark(self) -> float | None:
        if self.growth_pct is None or self.benchmark_growth_pct is None:
            return None
        return self.growth_pct - self.benchmark_growth_pct


def headline(
    source: Facts,
    period: Period,
    direction: str | None = "import",
    benchmark: Benchmark | None = None,
) -> Headline:
    """The value of `direction` (None: imports and exports together) in `period`, and its
    growth on the same period a year before (n/a when that period has no declarations)."""
    rows = source.declarations()
    if direction is not None:
        rows = rows.filter(rows.direction == direction)

    def total(p: Period) -> tuple[Decimal, int]:
        within_p = rows.filter(within(rows.decl_time, p.start, p.end))
        found = (
            within_p.aggregate(value=within_p.value.sum(), n=within_p.count())
            .to_pyarrow()
            .to_pylist()[0]
        )
        return Decimal(found["value"] or 0), int(found["n"])

    value, declarations = total(period)
    earlier = period.year_before()
    before: Decimal | None = None
    if earlier is not None:
        before_value, before_count = total(earlier)
        before = before_value if before_count else None
    return Headline(
        direction=direction,
        period=period,
        value=value,
        declarations=declarations,
        value_year_before=before,
        growth_pct=growth(value, before),
        benchmark_growth_pct=benchmark.growth(period.label) if benchmark else None,
    )
