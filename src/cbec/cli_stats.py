"""`cbec stats` and `cbec report`: the statistics of the store, on screen, as files, as a report.

Bad input (a period not in one of the written forms, an unknown --by dimension, a store that is
not there, an unusable reference or benchmark file) is one line on stderr and exit status 1.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cbec.cli_output import console, errors, fail
from cbec.cli_store import StoreOption, target

if TYPE_CHECKING:
    import pyarrow as pa

    from cbec.stats.periods import Period
    from cbec.stats.reference import Reference
    from cbec.store.embedded import Store


FORMATS = ("table", "csv", "parquet")

DbOption = Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")]
ZonesOption = Annotated[
    Path | None,
    typer.Option(
        "--zones",
        help="Pilot-zone registry CSV (code,name,name_en,province,batch,year,source) replacing "
        "the shipped one.",
    ),
]
CustomsOption = Annotated[
    Path | None,
    typer.Option(
        "--customs",
        help="Customs-office CSV (code,name,name_en,province,kind,source) replacing the "
        "shipped one.",
    ),
]
BenchmarkOption = Annotated[
    Path | None,
    typer.Option(
        "--benchmark",
        help="CSV period,value of a series to compare growth with (e.g. total foreign trade).",
    ),
]


@contextmanager
def _store(db: Path, url: str | None = None) -> Iterator[Store]:
    """The store at `db` (or `--store`); statistics never create one (a mistyped path is not an
    empty store)."""
    from cbec.store import open_store
    from cbec.store.embedded import StoreError

    chosen = target(db, url)
    if isinstance(chosen, Path) and not chosen.is_file():
        raise fail(f"--db {db}: no store there; `cbec clear` creates one")
    try:
        store = open_store(chosen)
    except StoreError as exc:
        raise fail(str(exc)) from None
    try:
        yield store
    finally:
        store.close()


def _reference(customs: Path | None, zones: Path | None) -> Reference:
    from cbec.stats.reference import Reference, ReferenceDataError

    try:
        return Reference.load(customs=customs, zones=zones)
    except ReferenceDataError as exc:
        raise fail(str(exc)) from None


def _period(text: str, option: str) -> Period:
    from cbec.stats.periods import Period, PeriodError

    try:
        return Period.parse(text)
    except PeriodError as exc:
        raise fail(f"{option} {exc}") from None


def stats(
    db: DbOption = Path("cbec.duckdb"),
    store_url: StoreOption = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Group by, comma-separated: day, month, quarter, half, year, direction, mode, "
            "customs, port, zone, province, country, enterprise, platform, chapter.",
        ),
    ] = "month",
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="First period included: 2024, 2024-H1, 2024-Q2, 2024-06, 2024-06-15."
        ),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last period included.")] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table (on screen), csv or parquet; default: from --out's suffix, else table.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (csv: default the screen).")
    ] = None,
    growth: Annotated[
        bool,
        typer.Option(
            "--growth",
            help="Add value_year_before and growth_pct (needs one period dimension in --by).",
        ),
    ] = False,
    benchmark: BenchmarkOption = None,
    zones: ZonesOption = None,
    customs: CustomsOption = None,
) -> None:
    """Declarations, admitted, rejected, value and tax by any grouping: one row per group."""
    from cbec.stats.facts import Facts
    from cbec.stats.measures import (
        Benchmark,
        StatisticsError,
        dimensions,
        statistics,
        with_growth,
    )

    try:
        groups = dimensions(by)
    except StatisticsError as exc:
        raise fail(str(exc)) from None
    chosen = _format(output_format, out)
    first = _period(start, "--from") if start else None
    last = _period(end, "--to") if end else None
    if first and last and first.start >= last.end:
        raise fail(f"--from {first} comes after --to {last}")
    bench = None
    if benchmark is not None:
        try:
            bench = Benchmark.read(benchmark)
        except StatisticsError as exc:
            raise fail(str(exc)) from None
    reference = _reference(customs, zones)
    with _store(db, store_url) as store:
        source = Facts(store, reference)
        window = (first.start if first else None, last.end if last else None)
        try:
            if growth or bench is not None:
                table = with_growth(source, groups, *window, benchmark=bench)
            else:
                table = statistics(source, groups, *window).to_pyarrow()
        except StatisticsError as exc:
            raise fail(str(exc)) from None
    if chosen == "table":
        _print_table(table, groups)
    elif chosen == "csv":
        _write_csv(table, out)
    else:
        assert out is not None
        _write_parquet(table, out)
    if out is not None:
        errors.print(f"Wrote {table.num_rows:,} group(s) to {out}.", highlight=False)


def _format(output_format: str | None, out: Path | None) -> str:
    if output_format is None:
        suffix = out.suffix.lower().lstrip(".") if out is not None else ""
        if out is not None and suffix not in ("csv", "parquet"):
            raise fail(f"--out {out}: give --format csv or parquet, or a .csv/.parquet name")
        return suffix or "table"
    chosen = output_format.lower()
    if chosen not in FORMATS:
        raise fail(f"--format {output_format!r} is not a format; write table, csv or parquet")
    if chosen == "parquet" and out is None:
        raise fail("--format parquet needs --out FILE")
    if chosen == "table" and out is not None:
        raise fail("--out writes a file: give --format csv or parquet")
    return chosen


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write_csv(table: pa.Table, out: Path | None) -> None:
    rows = table.to_pylist()
    if out is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(table.column_names)
        writer.writerows([[_cell(row[name]) for name in table.column_names] for row in rows])
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(table.column_names)
        writer.writerows([[_cell(row[name]) for name in table.column_names] for row in rows])


def _write_parquet(table: pa.Table, out: Path) -> None:
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)


def _shown(value: Any, name: str, numeric: set[str]) -> str:
    if value is None:
        return "n/a" if name in numeric else "unknown"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:+.1f}" if name.endswith("_pct") or name.startswith("points") else f"{value}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _print_table(table: pa.Table, groups: list[str]) -> None:
    from cbec.stats.measures import MEASURES

    view = Table(title=f"Declarations by {', '.join(groups)}", title_justify="left")
    numeric = set(MEASURES) | {
        "value_year_before",
        "growth_pct",
        "benchmark_growth_pct",
        "points_vs_benchmark",
    }
    for name in table.column_names:
        view.add_column(name, justify="right" if name in numeric else "left")
    for row in table.to_pylist():
        view.add_row(*[_shown(row[name], name, numeric) for name in table.column_names])
    console.print(view)
    if not table.num_rows:
        console.print("No declarations in that range.")


def report(
    period: Annotated[str, typer.Option("--period", help="2024, 2024-H1, 2024-Q2 or 2024-06.")],
    db: DbOption = Path("cbec.duckdb"),
    store_url: StoreOption = None,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    benchmark: BenchmarkOption = None,
    zones: ZonesOption = None,
    customs: CustomsOption = None,
) -> None:
    """Write a standalone HTML report of a period: headlines, charts, operations."""
    from cbec.stats.measures import Benchmark, StatisticsError
    from cbec.stats.report import write_report

    chosen = _period(period, "--period")
    if chosen.kind == "day":
        raise fail(f"--period {period!r}: a report covers a year, half, quarter or month")
    bench = None
    if benchmark is not None:
        try:
            bench = Benchmark.read(benchmark)
        except StatisticsError as exc:
            raise fail(str(exc)) from None
    reference = _reference(customs, zones)
    with _store(db, store_url) as store:
        try:
            write_report(store, chosen, out, reference, bench)
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    console.print(f"Wrote the report of {chosen} to {out}.", highlight=False)


def simulate_history(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (included).")],
    out: Annotated[Path, typer.Option("--out", help="Folder: one sub-folder per day.")],
    parcels_per_day: Annotated[
        int, typer.Option("--parcels-per-day", min=1, help="Average parcels a day.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same days.")] = 1,
    defect_rate: Annotated[
        float, typer.Option("--defect-rate", min=0.0, max=1.0, help="Share of defective parcels.")
    ] = 0.05,
    yearly_growth: Annotated[
        float,
        typer.Option("--yearly-growth", min=-0.9, max=10.0, help="Growth a year, e.g. 0.1."),
    ] = 0.0,
    export_share: Annotated[
        float,
        typer.Option(
            "--export-share",
            min=0.0,
            max=1.0,
            help="9610 export lists a day, as a share of the day's parcels (0: none).",
        ),
    ] = 0.05,
) -> None:
    """Write a history of days (scaled down) with seasons and the 618 and Double 11 peaks, one
    folder per day; clear them with `cbec clear OUT/*`."""
    import datetime as dt

    from rich.progress import BarColumn, Progress, TextColumn

    from cbec.simulate.history import daily_volumes, simulate_history

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise fail(f"--from {start!r} / --to {end!r}: write days as YYYY-MM-DD") from None
    try:
        volumes = daily_volumes(first, last, parcels_per_day, seed, yearly_growth)
    except ValueError as exc:
        raise fail(str(exc)) from None
    bar = Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} parcels"),
        console=errors,
    )
    with bar:
        task = bar.add_task("simulating", total=sum(volumes.values()))

        def advance(day: dt.date, parcels: int) -> None:
            bar.update(task, description=day.isoformat(), advance=parcels)

        try:
            summary = simulate_history(
                first,
                last,
                parcels_per_day,
                seed,
                out,
                defect_rate=defect_rate,
                yearly_growth=yearly_growth,
                progress=advance,
                export_share=export_share,
            )
        except ValueError as exc:  # a day before cbec's policy starts
            raise fail(str(exc)) from None
    busiest, most = summary.busiest
    console.print(
        f"Wrote {summary.parcels:,} parcels over {summary.days:,} days to {out}/YYYY-MM-DD "
        f"(busiest: {busiest}, {most:,} parcels), and {summary.exports:,} export lists.",
        highlight=False,
    )
