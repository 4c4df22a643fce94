"""A what-if report as Rich tables, as JSON, or as a standalone HTML page with Plotly charts.

The JSON shape is documented in docs/whatif.md: counts are integers, money is a string with two
decimals (exact), dates are ISO. The HTML page carries plotly.js inline, so it opens without a
network (DESIGN.md: dashboards work with no internet).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from decimal import Decimal
from typing import Any

from rich.table import Table

from cbec.whatif.report import Report

# Rows of a breakdown shown in a table (JSON and HTML carry them all).
TABLE_ROWS = 15

SUMMARY = (
    ("declarations", "declarations"),
    ("admitted", "admitted"),
    ("rejected", "rejected"),
    ("to_general_trade", "to general trade (over a limit)"),
    ("over_single_limit", "  over the single limit"),
    ("over_annual_limit", "  over the annual limit"),
    ("buyers_at_annual_limit", "buyers at the annual limit"),
    ("admitted_value", "admitted dutiable value, CNY"),
    ("to_general_trade_value", "value to general trade, CNY"),
    ("customs_tax", "customs duty, CNY"),
    ("value_added_tax", "VAT, CNY"),
    ("consumption_tax", "consumption tax, CNY"),
    ("tax_total", "tax total, CNY"),
)
BREAKDOWN_TITLES = {
    "mode": "By customs mode (tradeMode)",
    "platform": "By platform (ebpCode)",
    "province": "By buyer's province (identity number)",
}


def _number(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def _change(before: Any, after: Any) -> str:
    difference = after - before
    if difference == 0:
        return "="
    text = _number(difference)
    return text if text.startswith("-") else f"+{text}"


def _reform_names(report: Report) -> str:
    return " + ".join(r.name for r in report.reforms)


def _period(report: Report) -> str:
    last = report.period_end - dt.timedelta(days=1)
    return f"{report.period_label} ({report.period_start} to {last})"


def headline(report: Report) -> str:
    if report.baseline == "recorded":
        runs = f"{report.recorded_runs:,} run{'s' if report.recorded_runs != 1 else ''}"
        return (
            f"What if: {_reform_names(report)}. {report.declarations:,} declarations of "
            f"{_period(report)} as the store recorded them ({runs}; baseline) and re-cleared "
            "under the reform."
        )
    return (
        f"What if: {_reform_names(report)}. {report.declarations:,} declarations of "
        f"{_period(report)} re-cleared under the current rules (baseline) and under the reform."
    )


def _key(row: dict[str, Any], label: str) -> str:
    """A breakdown row's value, with the province's name."""
    key = str(row[label]) if row[label] is not None else "(none)"
    return f"{key} {row['name']}" if label == "province" else key


# Rich ------------------------------------------------------------------------------------------


def tables(report: Report) -> list[Table]:
    """The report as Rich tables: summary, reasons, tax by chapter, then the breakdowns."""
    base, reform = report.scenarios[0], report.scenarios[-1]
    found: list[Table] = []
    summary = Table(title="Summary", title_justify="left")
    for column in ("", base, reform, "change"):
        summary.add_column(column, justify="right" if column else "left")
    for key, label in SUMMARY:
        b, r = report.totals[base][key], report.totals[reform][key]
        summary.add_row(label, _number(b), _number(r), _change(b, r))
    changes = report.changes
    summary.caption = (
        f"{changes['newly_admitted']:,} declarations admitted only under the reform, "
        f"{changes['newly_rejected']:,} rejected only under it; "
        f"{changes['tax_changed']:,} pay a different tax. "
        f"As recorded in the store: {report.recorded['admitted']:,} admitted, "
        f"{report.recorded['rejected']:,} rejected, tax {_number(report.recorded['tax_total'])}."
    )
    summary.caption_justify = "left"
    found.append(summary)

    reasons = Table(title="Rejected, by reason (a declaration may have several)")
    reasons.title_justify = "left"
    for column in ("reason", base, reform, "change"):
        reasons.add_column(column, justify="left" if column == "reason" else "right")
    for row in report.rejected_by_reason:
        reasons.add_row(
            row["reason"], _number(row[base]), _number(row[reform]), _change(row[base], row[reform])
        )
    found.append(reasons)

    chapters = Table(title="Tax by tariff chapter (first 2 digits of gcode), CNY")
    chapters.title_justify = "left"
    for column in ("chapter", f"{base} duty", f"{base} VAT", f"{base} CT", f"{base} total"):
        chapters.add_column(column, justify="left" if column == "chapter" else "right")
    chapters.add_column(f"{reform} total", justify="right")
    chapters.add_column("change", justify="right")
    for row in report.tax_by_chapter:
        b, r = row[base], row[reform]
        chapters.add_row(
            row["chapter"],
            _number(b["customs_tax"]),
            _number(b["value_added_tax"]),
            _number(b["consumption_tax"]),
            _number(b["tax_total"]),
            _number(r["tax_total"]),
            _change(b["tax_total"], r["tax_total"]),
        )
    found.append(chapters)

    for label, rows in report.breakdowns.items():
        table = Table(title=BREAKDOWN_TITLES[label], title_justify="left")
        table.add_column(label)
        for column in ("admitted", "to general trade", "buyers at limit", "tax total"):
            table.add_column(f"{column}\n{base}", justify="right")
            table.add_column(f"\n{reform}", justify="right")
        table.add_column("tax\nchange", justify="right")
        for row in rows[:TABLE_ROWS]:
            b, r = row[base], row[reform]
            cells = [_key(row, label)]
            for key in ("admitted", "to_general_trade", "buyers_at_annual_limit", "tax_total"):
                cells += [_number(b[key]), _number(r[key])]
            table.add_row(*cells, _change(b["tax_total"], r["tax_total"]))
        if len(rows) > TABLE_ROWS:
            table.caption = f"… and {len(rows) - TABLE_ROWS:,} more (all in --format json)"
            table.caption_justify = "left"
        found.append(table)
    return found


# JSON ------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def as_dict(report: Report) -> dict[str, Any]:
    """The report in its documented JSON shape (money as strings with two decimals)."""
    return _plain(
        {
            "period": {
                "label": report.period_label,
                "from": report.period_start,
                "to": report.period_end,  # exclusive
            },
            "reforms": [
                {"name": r.name, "description": r.description, "file": r.file}
                for r in report.reforms
            ],
            "scenarios": report.scenarios,
            "baseline": report.baseline,
            "recorded_runs": report.recorded_runs,
            "declarations": report.declarations,
            "recorded": report.recorded,
            "totals": report.totals,
            "changes": report.changes,
            "rejected_by_reason": report.rejected_by_reason,
            "tax_by_chapter": report.tax_by_chapter,
            **{f"by_{label}": rows for label, rows in report.breakdowns.items()},
        }
    )


def to_json(report: Report) -> str:
    return json.dumps(as_dict(report), ensure_ascii=False, indent=2) + "\n"


# HTML ------------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.up { color: #1a7f37; } .down { color: #b3261e; } .note { color: #666; font-size: 0.9em; }
"""


def to_html(report: Report) -> str:
    """A standalone page: the summary as a table, then a chart per comparison."""
    from plotly.offline import get_plotlyjs

    base, reform = report.scenarios[0], report.scenarios[-1]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>What if: {html.escape(_reform_names(report))}</title>",
        f"<style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>What if: {html.escape(_reform_names(report))}</h1>",
        f"<p>{html.escape(headline(report))}</p>",
    ]
    for info in report.reforms:
        parts.append(
            f"<p><b>{html.escape(info.name)}</b> ({html.escape(info.file)}): "
            f"{html.escape(info.description)}</p>"
        )
    parts.append("<h2>Summary</h2>")
    rows = [(label, report.totals[base][key], report.totals[reform][key]) for key, label in SUMMARY]
    parts.append(_html_table(["", base, reform, "change"], rows))
    changes = report.changes
    parts.append(
        f'<p class="note">{changes["newly_admitted"]:,} declarations are admitted only under the '
        f"reform and {changes['newly_rejected']:,} rejected only under it; "
        f"{changes['tax_changed']:,} pay a different tax. As recorded in the store: "
        f"{report.recorded['admitted']:,} admitted, {report.recorded['rejected']:,} rejected.</p>"
    )
    for title, figure in _figures(report):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(
            figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(header: list[str], rows: list[tuple[str, Any, Any]]) -> str:
    cells = ["<table><tr>"]
    cells += [f'<th class="{"n" if i else ""}">{html.escape(h)}</th>' for i, h in enumerate(header)]
    cells.append("</tr>")
    for label, before, after in rows:
        change = _change(before, after)
        style = "up" if change.startswith("+") else "down" if change.startswith("-") else ""
        cells.append(
            f"<tr><td>{html.escape(label.strip())}</td><td class='n'>{_number(before)}</td>"
            f"<td class='n'>{_number(after)}</td><td class='n {style}'>{change}</td></tr>"
        )
    cells.append("</table>")
    return "".join(cells)


def _figures(report: Report) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    base, reform = report.scenarios[0], report.scenarios[-1]

    def grouped(
        labels: list[str], before: list[Any], after: list[Any], axis: str, horizontal: bool = False
    ) -> Any:
        figure = go.Figure()
        for name, values in ((base, before), (reform, after)):
            numbers = [float(v) for v in values]
            if horizontal:
                figure.add_trace(go.Bar(name=name, y=labels, x=numbers, orientation="h"))
            else:
                figure.add_trace(go.Bar(name=name, x=labels, y=numbers))
        figure.update_layout(barmode="group", template="plotly_white", height=420)
        if horizontal:
            figure.update_layout(
                xaxis_title=axis, yaxis={"autorange": "reversed", "type": "category"}
            )
        else:
            figure.update_layout(yaxis_title=axis, xaxis={"type": "category"})
        return figure

    before, after = report.totals[base], report.totals[reform]
    counts = ("admitted", "rejected", "to_general_trade", "buyers_at_annual_limit")
    taxes = ("customs_tax", "value_added_tax", "consumption_tax", "tax_total")
    found = [
        (
            "Admitted, rejected, sent to general trade; buyers at the annual limit",
            grouped(
                ["admitted", "rejected", "to general trade", "buyers at annual limit"],
                [before[k] for k in counts],
                [after[k] for k in counts],
                axis="declarations (buyers)",
            ),
        ),
        (
            "Rejected, by reason",
            grouped(
                [r["reason"] for r in report.rejected_by_reason],
                [r[base] for r in report.rejected_by_reason],
                [r[reform] for r in report.rejected_by_reason],
                axis="declarations",
                horizontal=True,
            ),
        ),
        (
            "Tax assessed, by tax (CNY)",
            grouped(
                ["customs duty", "VAT", "consumption tax", "total"],
                [before[k] for k in taxes],
                [after[k] for k in taxes],
                axis="CNY",
            ),
        ),
        (
            "Tax assessed, by tariff chapter (CNY)",
            grouped(
                [r["chapter"] for r in report.tax_by_chapter],
                [r[base]["tax_total"] for r in report.tax_by_chapter],
                [r[reform]["tax_total"] for r in report.tax_by_chapter],
                axis="CNY",
            ),
        ),
    ]
    for label, rows in report.breakdowns.items():
        shown = rows[:30]
        names = [_key(r, label) for r in shown]
        part = f" (largest {len(shown)} of {len(rows)})" if len(rows) > len(shown) else ""
        found.append(
            (
                f"{BREAKDOWN_TITLES[label]}: parcels to general trade{part}",
                grouped(
                    names,
                    [r[base]["to_general_trade"] for r in shown],
                    [r[reform]["to_general_trade"] for r in shown],
                    axis="declarations",
                ),
            )
        )
        change = go.Figure(
            go.Bar(
                x=names,
                y=[float(r[reform]["tax_total"] - r[base]["tax_total"]) for r in shown],
                name=f"{reform} - {base}",
            )
        )
        change.update_layout(
            template="plotly_white", height=420, yaxis_title="CNY", xaxis={"type": "category"}
        )
        found.append((f"{BREAKDOWN_TITLES[label]}: change in tax (CNY){part}", change))
    return found
