"""`cbec report`: one standalone HTML file for a period: headlines, charts, operations.

The file embeds plotly.js once, inline, so it opens with no internet; nothing is loaded from
elsewhere. Figures come from `measures` (docs/statistics.md defines each).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import plotly.io as pio

from cbec.stats.facts import Facts
from cbec.stats.measures import (
    Benchmark,
    Headline,
    Operations,
    format_growth,
    headline,
    operations,
    shift_year,
    statistics,
)
from cbec.stats.periods import Period
from cbec.stats.reference import Reference

if TYPE_CHECKING:
    from cbec.store.embedded import Store

TOP = 10


def money(value: Decimal | float | int | None) -> str:
    return "n/a" if value is None else f"{Decimal(value):,.2f}"


def headline_sentence(figures: Headline) -> str:
    """ "Imports reached 1,234.00 CNY in 2024-Q2, up 12.3% on the year." with n/a when the same
    period a year before has no declarations; "Imports and exports reached ..." for both."""
    nouns = {None: "Imports and exports", "import": "Imports", "export": "Exports"}
    noun = nouns.get(figures.direction, str(figures.direction))
    growth = figures.growth_pct
    if growth is None:
        before = figures.period.year_before()
        why = f"no declarations in {before}" if before else "no earlier period"
        trend = f"growth on the year n/a ({why})"
    elif growth >= 0:
        trend = f"up {growth:.1f}% on the year"
    else:
        trend = f"down {-growth:.1f}% on the year"
    sentence = f"{noun} reached {money(figures.value)} CNY in {figures.period}, {trend}"
    points = figures.points_vs_benchmark
    if points is not None:
        side = "above" if points >= 0 else "below"
        sentence += (
            f", {abs(points):.1f} points {side} the benchmark "
            f"({format_growth(figures.benchmark_growth_pct)})"
        )
    return sentence + "."


def build_report(
    store: Store,
    period: Period,
    reference: Reference | None = None,
    benchmark: Benchmark | None = None,
) -> str:
    """The report of `period` as one HTML document."""
    source = Facts(store, reference, cache=True)
    try:
        return _report(source, period, benchmark)
    finally:
        source.close()


def _report(source: Facts, period: Period, benchmark: Benchmark | None) -> str:
    both = headline(source, period, None, benchmark)
    imports = headline(source, period, "import", benchmark)
    exports = headline(source, period, "export", benchmark)
    ops = operations(source, period.start, period.end)
    sentences = [headline_sentence(both), headline_sentence(imports)]
    if exports.declarations:
        sentences.append(headline_sentence(exports))
    else:
        sentences.append(f"Exports: none recorded in {period}.")
    if ops.declarations:
        sentences.append(
            f"{ops.declarations:,} declarations were decided, {ops.admitted:,} admitted and "
            f"{ops.rejected:,} rejected ({_percent(ops.rejection_rate)}); tax assessed "
            f"{money(ops.tax_total)} CNY."
        )
    charts = _charts(source, period)
    parts = [_figure_html(figure, first=index == 0) for index, figure in enumerate(charts)]
    return _page(period, sentences, parts, ops, source.reference)


def write_report(
    store: Store,
    period: Period,
    out: Path,
    reference: Reference | None = None,
    benchmark: Benchmark | None = None,
) -> None:
    text = build_report(store, period, reference, benchmark)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)


def _charts(source: Facts, period: Period) -> list[go.Figure]:
    """The trend, then one chart per breakdown with imports and exports as separate bars (the
    top of each): a country is an origin for imports and a destination for exports."""
    figures = [trend_figure(source, period)]
    for by, title, label_column, measure in (
        ("mode", "Value by customs supervision mode (CNY)", "mode", "value"),
        ("province", "Value by province (CNY)", "province_name", "value"),
        (
            "country",
            f"Value by country of origin (imports) and destination (exports), top {TOP} (CNY)",
            "country",
            "value",
        ),
        ("chapter", f"Value by tariff chapter, top {TOP} (CNY)", "chapter", "value"),
        ("platform", f"Declarations by platform, top {TOP}", "platform", "declarations"),
    ):
        table = statistics(source, ["direction", by], period.start, period.end)
        figure = go.Figure()
        for direction, noun in DIRECTIONS:
            mine = table.filter(table.direction == direction)
            top = mine.order_by([mine[measure].desc(), by]).limit(TOP).to_pyarrow().to_pylist()
            if top:
                figure.add_bar(
                    x=[_label(row, by, label_column) for row in top],
                    y=[float(row[measure]) for row in top],
                    name=noun,
                )
        _layout(figure, title)
        figure.update_layout(barmode="group")
        figures.append(figure)
    return figures


DIRECTIONS = (("import", "imports"), ("export", "exports"))


def trend_figure(source: Facts, period: Period) -> go.Figure:
    """Value admitted by month (or day) of `period`, imports and exports apart, each beside
    the same months of the year before when the store holds them."""
    sub = period.subperiods()
    earlier = period.year_before()
    figure = go.Figure()
    now = statistics(source, ["direction", sub], period.start, period.end)
    rows = now.to_pyarrow().to_pylist()
    rows_before: list[dict[str, Any]] = []
    if earlier is not None:
        before = statistics(source, ["direction", sub], earlier.start, earlier.end)
        before = before.mutate(**{sub: shift_year(before[sub], 1)})
        rows_before = before.to_pyarrow().to_pylist()
    for direction, noun in DIRECTIONS:
        mine = [row for row in rows if row["direction"] == direction]
        if mine:
            figure.add_bar(
                x=[row[sub] for row in mine],
                y=[float(row["value"]) for row in mine],
                name=f"{noun}, {period}",
            )
        theirs = [row for row in rows_before if row["direction"] == direction]
        if theirs:
            figure.add_scatter(
                x=[row[sub] for row in theirs],
                y=[float(row["value"]) for row in theirs],
                name=f"{noun}, {earlier} (same {sub}s, a year before)",
                mode="lines+markers",
            )
    _layout(figure, f"Imports and exports by {sub}: value admitted (CNY)")
    figure.update_layout(barmode="group")
    return figure


def _label(row: dict[str, Any], by: str, column: str) -> str:
    value = row.get(column) or row.get(by)
    return str(value) if value not in (None, "") else "unknown"


def _layout(figure: go.Figure, title: str) -> None:
    figure.update_layout(
        title=title,
        height=360,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        template="plotly_white",
    )
    figure.update_xaxes(type="category")


def _figure_html(figure: go.Figure, first: bool) -> str:
    # plotly.js goes inline once, with the first chart; the others use it.
    return str(
        pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=first,
            include_mathjax=False,
            config={"displaylogo": False},
        )
    )


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} s"


def _when(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _operations_rows(ops: Operations) -> list[tuple[str, str]]:
    per_day = "n/a" if ops.parcels_per_day is None else f"{ops.parcels_per_day:,.0f}"
    return [
        ("declarations decided", f"{ops.declarations:,}"),
        ("admitted (released)", f"{ops.admitted:,}"),
        ("rejected", f"{ops.rejected:,}"),
        ("rejection rate", _percent(ops.rejection_rate)),
        ("days with declarations", f"{ops.days:,}"),
        ("parcels a day (average over those days)", per_day),
        (
            "busiest day",
            f"{_when(ops.busiest_day)}: {ops.busiest_day_declarations:,} declarations",
        ),
        (
            "peak minute",
            f"{_when(ops.peak_minute)}: {ops.peak_minute_declarations:,} declarations",
        ),
        ("declaration to decision, p50", _seconds(ops.decision_seconds["p50"])),
        ("declaration to decision, p95", _seconds(ops.decision_seconds["p95"])),
        ("declaration to decision, p99", _seconds(ops.decision_seconds["p99"])),
        ("customs duty assessed (CNY)", money(ops.customs_tax)),
        ("VAT assessed (CNY)", money(ops.value_added_tax)),
        ("consumption tax assessed (CNY)", money(ops.consumption_tax)),
        ("tax assessed, total (CNY)", money(ops.tax_total)),
        (
            "inspection rate",
            f"{_percent(ops.inspection_rate)} ({ops.selected:,} selected for inspection)",
        ),
        (
            "inspection hit rate",
            f"{_percent(ops.inspection_hit_rate)} ({ops.inspections_found:,} found in "
            f"{ops.inspections_recorded:,} inspections recorded)",
        ),
        (
            "tax collected (CNY)",
            f"{money(ops.tax_collected)} (and {money(ops.late_fees)} in late fees)",
        ),
    ]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(
    period: Period,
    sentences: Sequence[str],
    charts: Sequence[str],
    ops: Operations,
    reference: Reference,
) -> str:
    illustrative = sum(
        1 for source in reference.customs["source"].to_pylist() if source == "illustrative"
    )
    zones = reference.zones.num_rows
    reasons = [
        (code, f"{count:,}", _percent(count / ops.rejected if ops.rejected else None))
        for code, count in ops.top_reasons
    ]
    headlines = "".join(f"<p class='headline'>{html.escape(s)}</p>" for s in sentences)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cross-border e-commerce {html.escape(str(period))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
.headline {{ font-size: 1.25em; margin: 0.4em 0; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }}
.note {{ color: #666; font-size: 0.9em; }}
</style>
</head>
<body>
<h1>Cross-border e-commerce, {html.escape(str(period))}</h1>
{headlines}
<h2>Charts</h2>
<div class="charts">
{"".join(f"<div>{chart}</div>" for chart in charts)}
</div>
<h2>Operations</h2>
{_table(("measure", "value"), _operations_rows(ops))}
<h2>Top rejection reasons</h2>
{_table(("reason", "declarations", "share of rejected"), reasons) if reasons else "<p>None.</p>"}
<p class="note">Value is the dutiable value (goods, freight and insurance, CNY) of the admitted
(released) declarations, by declaration time in China Standard Time; declarations count every
decided declaration, rejected ones included. Growth compares with the same period a year before,
as the store holds the two. Provinces follow GB/T 2260; {illustrative} rows of the customs table
are illustrative (the simulator's offices), not official codes; the pilot-zone registry has
{zones} zones. Definitions: docs/statistics.md.</p>
</body>
</html>
"""
