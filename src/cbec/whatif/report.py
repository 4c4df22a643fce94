"""The comparison of the scenarios of a replay: what each admits, rejects and taxes, and where.

Every figure is an aggregate over the scenarios' decision and tax-line files, computed by the
engine (Ibis on DuckDB); Python only reshapes the few result rows into the report.

Definitions (docs/whatif.md):
- admitted: as the statistics count it (`cbec.stats.facts.admitted`: released, 800); rejected:
  status 100;
- tax: the sums of the declarations' assessed taxes (rejected declarations bear none), by chapter
  from the tax lines, the chapter being the first two digits of `gcode`;
- to general trade: rejected for `over_single_limit` or `over_annual_limit` (such a parcel is not
  admissible as a cross-border retail import and must be declared as general trade);
- buyers at the annual limit: distinct buyers with at least one declaration rejected for
  `over_annual_limit` in the period;
- province: the first two digits of the buyer's identity number (GB/T 2260 province code).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cbec.clearance.decide import REJECTED
from cbec.documents.schemas import DECISION, TAX_LINE, Document
from cbec.stats.facts import admitted
from cbec.stats.reference import Reference
from cbec.whatif.replay import Replay

GENERAL_TRADE_REASONS = ("over_single_limit", "over_annual_limit")
TAXES = ("customs_tax", "value_added_tax", "consumption_tax", "tax_total")

# The groups of the breakdowns: the column of the decision frame each is keyed by.
BREAKDOWNS = {"mode": "trade_mode", "platform": "ebp_code", "province": "province"}

Figures = dict[str, Any]  # counts as int, money as Decimal


@dataclass(frozen=True)
class ReformInfo:
    name: str
    description: str
    file: str


@dataclass(frozen=True)
class Report:
    period_label: str
    period_start: dt.date
    period_end: dt.date
    reforms: list[ReformInfo]
    scenarios: list[str]  # the baseline first
    declarations: int
    recorded: Figures
    totals: dict[str, Figures]  # per scenario
    changes: Figures
    rejected_by_reason: list[dict[str, Any]]  # {"reason", scenario: count, ...}
    tax_by_chapter: list[dict[str, Any]]  # {"chapter", scenario: {tax: money}, ...}
    # "mode" -> [{"mode": "9610", scenario: Figures, ...}, ...]; likewise platform, province
    breakdowns: dict[str, list[dict[str, Any]]]
    baseline: str = "re-cleared"  # or "recorded": the store's decisions, not re-cleared
    recorded_runs: int = 0  # clearing runs that recorded the period's decisions


def build_report(replay: Replay, reforms: Sequence[ReformInfo]) -> Report:
    """Compare the scenarios of `replay` (the first is the baseline)."""
    con = ibis.duckdb.connect()
    try:
        return _report(con, replay, list(reforms))
    finally:
        con.disconnect()


def _report(con: Any, replay: Replay, reforms: list[ReformInfo]) -> Report:
    names = list(replay.scenarios)
    platforms = _platforms(con.read_parquet(str(replay.inputs / "inventories.parquet")))
    frames = {
        name: _frame(_read(con, s.decisions, DECISION), platforms)
        for name, s in replay.scenarios.items()
    }
    # Every figure reads this frame: joined once, then aggregated many ways.
    decisions = con.create_table(
        "whatif_decisions",
        _union([frame.mutate(scenario=ibis.literal(name)) for name, frame in frames.items()]),
        temp=True,
    )
    lines = _union(
        [
            _read(con, s.tax_lines, TAX_LINE).mutate(scenario=ibis.literal(name))
            for name, s in replay.scenarios.items()
        ]
    )
    totals = _by(decisions, ["scenario"], _figures)
    stored = con.read_parquet(str(replay.recorded))
    recorded = _rows(
        stored.aggregate(
            declarations=stored.count(),
            admitted=admitted(stored.status).sum(),
            rejected=(stored.status == REJECTED).sum(),
            tax_total=stored.tax_total.sum(),
        )
    )[0]
    breakdowns = {
        label: _pivot(_by(decisions, ["scenario", column], _group_figures), column, label, names)
        for label, column in BREAKDOWNS.items()
    }
    reference = Reference.load()
    breakdowns["province"] = [
        {"province": row["province"], "name": reference.province_name(row["province"]), **row}
        for row in breakdowns["province"]
    ]
    return Report(
        period_label=replay.period.label,
        period_start=replay.period.start,
        period_end=replay.period.end,
        reforms=reforms,
        scenarios=names,
        declarations=replay.declarations,
        recorded=_clean(recorded),
        totals={row.pop("scenario"): _clean(row) for row in totals},
        changes=_changes(frames[names[0]], frames[names[-1]]),
        rejected_by_reason=_reasons(decisions, names),
        tax_by_chapter=_chapters(lines, names),
        breakdowns=breakdowns,
        baseline="recorded" if replay.recorded_scenario == names[0] else "re-cleared",
        recorded_runs=replay.runs,
    )


def _read(con: Any, path: Path, document: Document) -> ir.Table:
    """A scenario's output file in its document's columns and types (a re-clearing writes some
    columns as never null, the store's records do not: the scenarios must union)."""
    table = con.read_parquet(str(path))
    schema = ibis.Schema.from_pyarrow(document.schema)
    return table.select(**{name: table[name].cast(dtype) for name, dtype in schema.items()})


def _platforms(inventories: ir.Table) -> ir.Table:
    """The platform (`ebp_code`) of each declaration, from its latest version."""
    return inventories.group_by(["agent_code", "cop_no"]).aggregate(
        ebp_code=inventories.ebp_code.argmax(inventories.app_time)
    )


def _frame(decisions: ir.Table, platforms: ir.Table) -> ir.Table:
    joined = decisions.left_join(platforms, ["agent_code", "cop_no"])
    joined = joined.drop(*[c for c in joined.columns if c.endswith("_right")])
    return joined.mutate(
        province=joined.buyer_id_number.left(2),
        admitted=admitted(joined.status),
        rejected=joined.status == REJECTED,
        general_trade=_has_any(joined.reasons, GENERAL_TRADE_REASONS),
        at_annual_limit=joined.reasons.contains("over_annual_limit").fill_null(False),
    )


def _has_any(reasons: ir.ArrayValue, codes: Iterable[str]) -> ir.BooleanValue:
    found = ibis.literal(False)
    for code in codes:
        found = found | reasons.contains(code).fill_null(False)
    return found


def _union(tables: list[ir.Table]) -> ir.Table:
    union = tables[0]
    for table in tables[1:]:
        union = union.union(table, distinct=False)
    return union


def _group_figures(d: ir.Table) -> dict[str, ir.Value]:
    return {
        "declarations": d.count(),
        "admitted": d.admitted.sum(),
        "rejected": d.rejected.sum(),
        "to_general_trade": d.general_trade.sum(),
        "buyers_at_annual_limit": d.buyer_id_number.nunique(where=d.at_annual_limit),
        "tax_total": d.tax_total.sum(),
    }


def _figures(d: ir.Table) -> dict[str, ir.Value]:
    return {
        **_group_figures(d),
        "over_single_limit": d.reasons.contains("over_single_limit").fill_null(False).sum(),
        "over_annual_limit": d.at_annual_limit.sum(),
        "admitted_value": d.dutiable_value.sum(where=d.admitted),
        "to_general_trade_value": d.dutiable_value.sum(where=d.general_trade),
        **{tax: d[tax].sum() for tax in TAXES},
    }


def _by(table: ir.Table, keys: list[str], figures: Any) -> list[dict[str, Any]]:
    return _rows(table.group_by(keys).aggregate(**figures(table)).order_by(keys))


def _rows(table: ir.Table) -> list[dict[str, Any]]:
    return list(table.to_pyarrow().to_pylist())


MONEY = frozenset({*TAXES, "admitted_value", "to_general_trade_value", "tax_difference"})


def _clean(figures: Figures) -> Figures:
    """Money as Decimal with two places and counts as int, none left null (an empty sum is 0)."""
    return {
        key: Decimal(value or 0).quantize(Decimal("0.01")) if key in MONEY else int(value or 0)
        for key, value in figures.items()
    }


def _pivot(
    rows: list[dict[str, Any]], column: str, label: str, names: list[str], by_size: bool = True
) -> list[dict[str, Any]]:
    """Rows per (scenario, `column`) as one row per value, named `label`, with the figures of
    each scenario; the largest in the baseline first (`by_size`), else by value."""
    keyed: dict[Any, dict[str, Any]] = {}
    for row in rows:
        key = row.pop(column)
        scenario = row.pop("scenario")
        keyed.setdefault(key, {label: key})[scenario] = _clean(row)
    empty = _clean(dict.fromkeys(rows[0] if rows else {}, 0))
    pivoted = []
    for entry in keyed.values():
        for name in names:
            entry.setdefault(name, empty)
        pivoted.append(entry)
    if by_size:
        pivoted.sort(key=lambda e: (-e[names[0]]["declarations"], str(e[label])))
    else:
        pivoted.sort(key=lambda e: str(e[label]))
    return pivoted


def _reasons(decisions: ir.Table, names: list[str]) -> list[dict[str, Any]]:
    reasons = decisions.select("scenario", reason=decisions.reasons.unnest())
    counts = _rows(reasons.group_by(["scenario", "reason"]).aggregate(n=reasons.count()))
    table: dict[str, dict[str, Any]] = {}
    for row in counts:
        table.setdefault(row["reason"], {"reason": row["reason"], **dict.fromkeys(names, 0)})
        table[row["reason"]][row["scenario"]] = int(row["n"])
    return sorted(table.values(), key=lambda r: (-max(r[n] for n in names), r["reason"]))


def _chapters(lines: ir.Table, names: list[str]) -> list[dict[str, Any]]:
    chapter = lines.mutate(chapter=lines.gcode.left(2))
    sums = chapter.group_by(["scenario", "chapter"]).aggregate(
        customs_tax=chapter.customs_tax.sum(),
        value_added_tax=chapter.value_added_tax.sum(),
        consumption_tax=chapter.consumption_tax.sum(),
    )
    sums = sums.mutate(tax_total=sums.customs_tax + sums.value_added_tax + sums.consumption_tax)
    return _pivot(_rows(sums), "chapter", "chapter", names, by_size=False)


def _changes(baseline: ir.Table, reform: ir.Table) -> Figures:
    """Declarations whose outcome or tax differs between the baseline and the reform."""
    b = baseline.select(
        "agent_code", "cop_no", b_admitted="admitted", b_rejected="rejected", b_tax="tax_total"
    )
    r = reform.select(
        "agent_code", "cop_no", r_admitted="admitted", r_rejected="rejected", r_tax="tax_total"
    )
    both = b.inner_join(r, ["agent_code", "cop_no"])
    row = _rows(
        both.aggregate(
            newly_admitted=(~both.b_admitted & both.r_admitted).sum(),
            newly_rejected=(~both.b_rejected & both.r_rejected).sum(),
            tax_changed=(both.b_tax != both.r_tax).sum(),
            tax_difference=(both.r_tax - both.b_tax).sum(),
        )
    )[0]
    return _clean(row)
