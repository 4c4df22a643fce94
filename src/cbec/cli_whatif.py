"""`cbec policy diff` and `cbec whatif`: what a reform changes in the rules, and in a period.

`policy diff BASE REFORM...` prints the parameters, positive-list rows and tariff rows that differ
between BASE (`current`, or a reform file applied to the current rules) and BASE with the REFORM
files applied in turn. `whatif` re-clears a period's recorded declarations under the current rules
and under the reforms, in scratch stores (the store is only read), and compares the two.
A bad reform file, period or store is one line on stderr and exit status 1 (docs/whatif.md).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cbec.cli_options import MasterOption
from cbec.cli_output import console, errors, fail
from cbec.cli_store import StoreOption, target
from cbec.policy.errors import PolicyDataError
from cbec.store import DEFAULT_MEMORY_LIMIT

if TYPE_CHECKING:
    from cbec.policy.reforms import Reform, RowChanges, Rules
    from cbec.stats.periods import Period
    from cbec.whatif.replay import EngineFor
    from cbec.whatif.report import Report


FORMATS = ("table", "json", "html")
BASELINES = ("re-clear", "recorded")
ENGINES = ("duckdb", "spark")


def _rules(
    tariff: Path | None, positive_list: Path | None, reforms: list[Path]
) -> tuple[Rules, list[Reform]]:
    """The current rules and the reform files, read and checked."""
    from cbec.policy.reforms import current_rules, load_reform

    try:
        current = current_rules(tariff=tariff, positive_list=positive_list)
        return current, [load_reform(path, current.parameters) for path in reforms]
    except PolicyDataError as exc:
        raise fail(str(exc)) from None


def _applied(rules: Rules, reforms: list[Reform]) -> Rules:
    from cbec.policy.reforms import apply_reforms

    try:
        return apply_reforms(rules, reforms)
    except PolicyDataError as exc:  # a file a reform names, a tariff row it cannot complete
        raise fail(str(exc)) from None


# cbec policy diff ------------------------------------------------------------------------------


def policy_diff(
    base: Annotated[
        str, typer.Argument(help="`current` (the rules cbec applies), or a reform file.")
    ],
    reforms: Annotated[
        list[Path], typer.Argument(help="Reform file(s) applied on top of BASE, in order.")
    ],
    rows: Annotated[
        int, typer.Option("--rows", min=0, help="List and tariff rows shown per table; 0: all.")
    ] = 50,
) -> None:
    """Show what REFORM changes from BASE: parameters, positive-list rows, tariff rows."""
    from cbec.policy.reforms import CURRENT, diff

    given = [] if base == CURRENT else [Path(base)]
    current, loaded = _rules(None, None, [*given, *reforms])
    before = _applied(current, loaded[: len(given)])
    after = _applied(before, loaded[len(given) :])
    found = diff(before, after)
    title = " + ".join(r.name for r in loaded[len(given) :])
    console.print(f"[bold]{escape(title)}[/] compared with {escape(base)}", highlight=False)
    if found.empty:
        console.print("No difference.")
        return
    if found.parameters:
        table = Table(title="Parameters (value from each date)", title_justify="left")
        for column in ("parameter", "unit", "before", "after"):
            table.add_column(column)
        for change in found.parameters:
            table.add_row(change.name, change.unit, _dated(change.before), _dated(change.after))
        console.print(table)
    _print_rows(
        "Positive list",
        found.positive_list,
        ("code", "name", "remark_kind", "valid_from", "valid_to"),
        rows,
    )
    _print_rows(
        "Tariff",
        found.tariff,
        (
            "code",
            "name",
            "mfn_rate",
            "provisional_rate",
            "vat_rate",
            "consumption_rate",
            "consumption_min_unit_price",
            "consumption_specific",
            "valid_from",
            "valid_to",
        ),
        rows,
    )


def _dated(values: Any) -> str:
    return "\n".join(f"{v.since}  {v.value:f}" for v in values) or "-"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"  # 0.090000 as 0.09
    return escape(str(value))


def _print_rows(title: str, changes: RowChanges, columns: tuple[str, ...], limit: int) -> None:
    rows = [("removed", r) for r in changes.removed] + [("added", r) for r in changes.added]
    if not rows:
        return
    rows.sort(key=lambda item: (item[1]["code"], item[0] != "removed", str(item[1]["valid_from"])))
    table = Table(
        title=f"{title}: {len(changes.removed):,} row(s) removed, {len(changes.added):,} added "
        f"({len(changes.codes):,} code(s))",
        title_justify="left",
    )
    table.add_column("")
    for column in columns:
        table.add_column(column.replace("consumption_", "ct_"))
    shown = rows if limit == 0 else rows[:limit]
    for change, row in shown:
        style = "red" if change == "removed" else "green"
        cells = [_cell(row[c]) for c in columns]
        table.add_row(f"[{style}]{change}[/]", *cells)
    if len(shown) < len(rows):
        table.caption = f"… and {len(rows) - len(shown):,} more (--rows 0 shows all)"
        table.caption_justify = "left"
    console.print(table)


# cbec whatif -----------------------------------------------------------------------------------


def whatif(
    period: Annotated[
        str,
        typer.Option("--period", help="Declarations of: 2024, 2024-H1, 2024-Q2, 2024-06, a day."),
    ],
    reform: Annotated[
        list[Path],
        typer.Option("--reform", help="Reform file; repeat to combine (later ones win)."),
    ],
    output_format: Annotated[
        str, typer.Option("--format", help="table (default), json, or html (with charts).")
    ] = "table",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (json, html); default: stdout, whatif.html."),
    ] = None,
    tariff: Annotated[
        Path | None, typer.Option("--tariff", help="Tariff CSV of the current rules, as in clear.")
    ] = None,
    positive_list: Annotated[
        Path | None,
        typer.Option("--positive-list", help="Positive-list CSV of the current rules."),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir",
            help="Keep the scratch runs (inputs, both scenarios' decisions) here; default: a "
            "temporary folder, removed afterwards.",
        ),
    ] = None,
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit", envvar="CBEC_MEMORY_LIMIT", help="Engine memory before spilling."
        ),
    ] = DEFAULT_MEMORY_LIMIT,
    db: Annotated[
        Path | None, typer.Option("--db", help="The store whose declarations are replayed.")
    ] = None,
    store_url: StoreOption = None,
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            help="re-clear (default): re-clear the period under the current rules; recorded: "
            "take the store's decisions as they are (one re-clearing instead of two; the same "
            "when the period was cleared in one run under the current rules).",
        ),
    ] = "re-clear",
    by_day: Annotated[
        bool,
        typer.Option(
            "--by-day",
            help="Clear the period one day at a time, in date order, into the same scratch "
            "stores: the same report, with a clearing run that holds one day (a long period).",
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="duckdb: in this process (the default); spark: each clearing run on the Spark "
            "cluster of --master (--work-dir on a path every worker reads).",
        ),
    ] = "duckdb",
    master: MasterOption = "local[2]",
) -> None:
    """Re-clear a period's recorded declarations under reformed rules, beside the current rules,
    without touching the store; report what changes."""
    from cbec.engines.spark import SparkError
    from cbec.stats.periods import Period, PeriodError
    from cbec.whatif.replay import ReplayError

    output_format = output_format.lower()
    if output_format not in FORMATS:
        raise fail(f"--format {output_format!r} is not a format; write table, json or html")
    if output_format == "html" and out is None:
        out = Path("whatif.html")
    baseline = baseline.lower()
    if baseline not in BASELINES:
        raise fail(f"--baseline {baseline!r} is not a baseline; write re-clear or recorded")
    recorded = baseline == "recorded"
    engine = engine.lower()
    if engine not in ENGINES:
        raise fail(f"--engine {engine!r}: choose duckdb or spark")
    try:
        span = Period.parse(period)
    except PeriodError as exc:
        raise fail(f"--period {exc}") from None
    source = target(db or Path(), store_url) if store_url else db
    if source is None:
        raise fail("give the store: --db FILE or --store postgresql://USER@HOST/DB", 2)
    if isinstance(source, Path) and not source.is_file():
        raise fail(f"--db {source}: no store there")
    current, loaded = _rules(tariff, positive_list, reform)
    reformed = _applied(current, loaded)
    how = _How(memory_limit, recorded, by_day, _engine_for(engine, master))
    try:
        if work_dir is not None:
            report = _run(source, span, current, reformed, loaded, work_dir, how)
        else:
            with tempfile.TemporaryDirectory(prefix="cbec-whatif-") as scratch:
                report = _run(source, span, current, reformed, loaded, Path(scratch), how)
    except (ReplayError, SparkError) as exc:
        raise fail(str(exc)) from None
    try:
        _write(report, output_format, out)
    except OSError as exc:
        raise fail(f"--out {out}: cannot write ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class _How:
    """How the replay runs: engine memory, which baseline, by day or not, on which engine."""

    memory_limit: str
    recorded: bool
    by_day: bool
    engine: EngineFor | None


def _engine_for(engine: str, master: str) -> EngineFor | None:
    """Each clearing run's engine: None for the scratch store's DuckDB, else Spark on `master`."""
    if engine == "duckdb":
        return None
    from cbec.engines.spark import spark_engine

    return lambda store: spark_engine(store, master)


def _run(
    db: Path | str,
    span: Period,
    current: Rules,
    reformed: Rules,
    reforms: list[Reform],
    workdir: Path,
    how: _How,
) -> Report:
    from cbec.whatif.replay import policy_of, replay
    from cbec.whatif.report import ReformInfo, build_report

    policies = {"baseline": policy_of(current), "reform": policy_of(reformed)}
    # A re-clearing reports 7 steps a run (a run a day with --by-day); the recorded baseline 1.
    runs = (span.end - span.start).days if how.by_day else 1
    cleared = len(policies) - how.recorded
    steps = 1 + 7 * runs * cleared + how.recorded + 1
    with Progress(
        TextColumn("[bold]{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,  # the report follows; an error leaves its one line alone
    ) as bar:
        task = bar.add_task("whatif", total=steps)

        def advance(label: str) -> None:
            bar.update(task, description=label, advance=1)

        with _store_file(db) as path:
            replayed = replay(
                path,
                span,
                policies,
                workdir,
                how.memory_limit,
                progress=advance,
                recorded_scenario="baseline" if how.recorded else None,
                by_day=how.by_day,
                engine=how.engine,
            )
        advance("comparing")
        infos = [ReformInfo(r.name, r.description, str(r.path)) for r in reforms]
        report = build_report(replayed, infos)
        bar.update(task, completed=steps, description="done")
    return report


def _write(report: Report, output_format: str, out: Path | None) -> None:
    from cbec.whatif import render

    if output_format == "json":
        text = render.to_json(report)
        if out is None:
            sys.stdout.write(text)
            return
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}.", highlight=False)
        return
    console.print(escape(render.headline(report)), highlight=False)
    for table in render.tables(report):
        console.print(table)
    if output_format == "html" and out is not None:
        out.write_text(render.to_html(report), encoding="utf-8")
        console.print(f"Wrote {out} (charts; opens without a network).", highlight=False)
    elif out is not None:
        with out.open("w", encoding="utf-8") as handle:
            plain = Console(file=handle, width=160)
            plain.print(escape(render.headline(report)), highlight=False)
            for table in render.tables(report):
                plain.print(table)
        console.print(f"Wrote {out}.", highlight=False)


@contextlib.contextmanager
def _store_file(db: Path | str) -> Iterator[Path]:
    """The replay reads a store file: a PostgreSQL store is snapshot into a temporary one."""
    if isinstance(db, Path):
        yield db
        return
    from cbec.store.embedded import StoreError
    from cbec.store.postgres import PostgresStore
    from cbec.whatif.replay import ReplayError

    with tempfile.TemporaryDirectory(prefix="cbec-whatif-store-") as folder:
        try:
            store = PostgresStore(db)
        except StoreError as exc:
            raise ReplayError(str(exc)) from None
        try:
            yield store.snapshot(Path(folder) / "store.duckdb")
        finally:
            store.close()
