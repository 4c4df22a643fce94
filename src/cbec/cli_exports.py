"""`cbec exports`: consolidated declarations, 9710/9810 registration, overseas warehouses and
their stock, export returns.

Bad input (a period or date that cannot be read, an unknown mode, a missing store or file) is one
line on stderr and exit status 2; a store that cannot be opened is exit status 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cbec.cli_output import console, fail
from cbec.cli_store import StoreOption, target

if TYPE_CHECKING:
    from cbec.store.embedded import Store

exports_app = typer.Typer(
    help="Exports: consolidated declarations, 9710/9810, overseas warehouses, returns.",
    no_args_is_help=True,
)
BAD_INPUT = 2
STORE_FAILED = 1
DbOption = Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")]
DEFAULT_DB = Path("cbec.duckdb")


@contextmanager
def _store(db: Path, store_url: str | None, create: bool = False) -> Iterator[Store]:
    """The store, held for this command alone (`Store.exclusive`): the overseas stock a sale is
    judged on is the stock as every process left it."""
    from cbec.store import open_store
    from cbec.store.embedded import StoreError

    chosen = target(db, store_url)
    if not create and isinstance(chosen, Path) and not chosen.exists():
        raise fail(f"--db {chosen}: no store there; `cbec clear` creates one", BAD_INPUT)
    try:
        store = open_store(chosen)
    except StoreError as exc:
        raise fail(str(exc), STORE_FAILED) from None
    try:
        with store.exclusive():
            yield store
    except StoreError as exc:
        raise fail(str(exc), STORE_FAILED) from None
    finally:
        store.close()


def _time(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"{option} {text!r} is not a time; write YYYY-MM-DD[THH:MM:SS]", BAD_INPUT
        ) from None


@exports_app.command("summarize")
def summarize(
    period: Annotated[str, typer.Option("--period", help="A month (2024-06), or 2024, 2024-Q2.")],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the summaries and CEB792.")] = Path(
        "out"
    ),
    ebc: Annotated[
        str | None, typer.Option("--ebc", help="Only this exporting enterprise.")
    ] = None,
    hs_digits: Annotated[
        int,
        typer.Option(
            "--hs-digits",
            help="Digits of the commodity code items are merged by: 10 "
            "(the rule) down to 4 (simplified declaration).",
        ),
    ] = 10,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Time of the summaries (default: period end).")
    ] = None,
) -> None:
    """Consolidate the period's released 9610 lists per customs code, agent and exporting
    enterprise into summaries (CEB792 results), once: lists summarised stay summarised."""
    from cbec.exports.summarize import summarize as run
    from cbec.stats.periods import Period, PeriodError

    try:
        chosen = Period.parse(period)
    except PeriodError as exc:
        raise fail(f"--period: {exc}", BAD_INPUT) from None
    if not 4 <= hs_digits <= 10:
        raise fail(f"--hs-digits {hs_digits}: write a number from 4 to 10", BAD_INPUT)
    when = _time(as_of, "--as-of")
    with _store(db, store_url) as store:
        done = run(store, chosen.label, chosen.start, chosen.end, out, when, ebc, hs_digits)
    table = Table(title=f"Export summaries {chosen.label} ({done.new} new)")
    for column in ("sumNo", "customs", "agent", "ebc", "lists", "items"):
        table.add_column(column)
    for row in done.summaries.to_pylist():
        table.add_row(
            row["sum_no"],
            row["customs_code"],
            row["agent_code"],
            row["ebc_code"],
            str(row["lists"]),
            str(row["items"]),
        )
    console.print(table)
    console.print(
        f"written to {out}: export_summaries.parquet, export_summary_items.parquet, "
        "export_summary_lists.parquet, receipts/CEB792_*.xml"
    )


@exports_app.command("register")
def register(
    ebc: Annotated[str, typer.Argument(help="The e-commerce enterprise (ebcCode).")],
    mode: Annotated[str, typer.Option("--mode", help="9710 or 9810.")],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    since: Annotated[str | None, typer.Option("--since", help="Registration time.")] = None,
) -> None:
    """Register an exporting enterprise for 9710 (B2B direct) or 9810 (overseas warehouse)."""
    from cbec.exports.overseas import register_enterprise

    when = _time(since, "--since")
    with _store(db, store_url, create=True) as store:
        try:
            register_enterprise(store, ebc, mode, when)
        except ValueError as exc:
            raise fail(str(exc), BAD_INPUT) from None
    console.print(f"{ebc} registered for {mode}")


@exports_app.command("warehouse-add")
def warehouse_add(
    code: Annotated[str, typer.Argument(help="The warehouse's code, as filed with customs.")],
    name: Annotated[str, typer.Option("--name", help="Its name.")],
    country: Annotated[str, typer.Option("--country", help="GACC 3-digit country code.")],
    ebc: Annotated[str, typer.Option("--ebc", help="The enterprise that filed it (ebcCode).")],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    since: Annotated[str | None, typer.Option("--since", help="Filing time.")] = None,
) -> None:
    """File an overseas warehouse of a 9810 exporter (GACC 2020 No. 75)."""
    from cbec.exports.overseas import add_warehouse

    when = _time(since, "--since")
    with _store(db, store_url, create=True) as store:
        try:
            add_warehouse(store, code, name, country, ebc, when)
        except ValueError as exc:
            raise fail(str(exc), BAD_INPUT) from None
    console.print(f"overseas warehouse {code} ({country}) filed for {ebc}")


def _moves(kind: str, path: Path, db: Path, store_url: str | None) -> int:
    from cbec.exports import overseas

    columns = overseas.ARRIVAL_COLUMNS if kind == "arrivals" else overseas.SALE_COLUMNS
    record = overseas.record_arrivals if kind == "arrivals" else overseas.record_sales
    with _store(db, store_url) as store:
        try:
            return record(store, overseas.read_moves(path, columns))
        except overseas.MovesError as exc:
            raise fail(str(exc), BAD_INPUT) from None


@exports_app.command("arrivals")
def arrivals(
    path: Annotated[
        Path, typer.Argument(help="CSV or Parquet: warehouse_code, agent_code, cop_no, arrived_at.")
    ],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
) -> None:
    """Released 9810 lists arrived at their overseas warehouse: their lines enter its stock."""
    count = _moves("arrivals", path, db, store_url)
    console.print(f"{count} list line(s) entered overseas stock")


@exports_app.command("sales")
def sales(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet: warehouse_code, item_no, qty, "
            "ordered_at, dispatched_at, reference."
        ),
    ],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
) -> None:
    """Sales dispatched out of overseas warehouses, recorded against their stock."""
    count = _moves("sales", path, db, store_url)
    console.print(f"{count} sale(s) recorded")


def _shown(value: object) -> str:
    """A cell; a quantity as declared, without the store's trailing zeros (960, not
    960.00000: pieces are whole, a weight keeps the decimals it was declared with)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


@exports_app.command("stock")
def stock(
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    warehouse: Annotated[str | None, typer.Option("--warehouse", help="Only this one.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Stock at this time (default now).")
    ] = None,
    promise_days: Annotated[
        int, typer.Option("--promise-days", help="Dispatch promise, days from arrival.")
    ] = 7,
) -> None:
    """Stock per overseas warehouse and item with its age, and the time from arrival at the
    warehouse to dispatch (first-in first-out) against the promise."""
    from cbec.exports import overseas

    when = _time(as_of, "--as-of") or dt.datetime.now().replace(microsecond=0)
    with _store(db, store_url) as store:
        on_hand = overseas.stock(store, when, warehouse)
        times = overseas.dispatch_times(store, promise_days)
    table = Table(title=f"Overseas stock at {when:%Y-%m-%d %H:%M}")
    for column in on_hand.column_names:
        table.add_column(column)
    for row in on_hand.to_pylist():
        table.add_row(*(_shown(v) for v in row.values()))
    console.print(table)
    dispatch = Table(title=f"Arrival to dispatch (promise: {promise_days} days)")
    for column in times.column_names:
        dispatch.add_column(column)
    for row in times.to_pylist():
        if warehouse is None or row["warehouse_code"] == warehouse:
            dispatch.add_row(*(_shown(v) for v in row.values()))
    console.print(dispatch)


@exports_app.command("returns")
def export_returns(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet: agent_code, cop_no, gnum, returned_at, unchanged; for a 1210 "
            "export also trade_mode, exported_at, gcode, export_no."
        ),
    ],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for export_returns.parquet.")] = Path(
        "out"
    ),
) -> None:
    """Returned export lines judged for the import relief of MOF/GACC/STA 2026 No. 16: exported
    2026-01-01..2027-12-31, back unchanged within 6 months, no duty, VAT or consumption tax
    (food still pays the duty). A 1210 export, cleared outside cbec, is judged from the data of
    its export carried on the returned line."""
    import pyarrow.parquet as pq

    from cbec.exports import overseas, returns

    try:
        moves = overseas.read_moves(path, returns.RETURN_COLUMNS, returns.DECLARED_COLUMNS)
        returned = returns.parse_returns(moves)
    except overseas.MovesError as exc:
        raise fail(f"{path}: {exc}", BAD_INPUT) from None
    with _store(db, store_url) as store:
        judged = returns.judge_stored(store, returned)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "export_returns.parquet.partial"
    pq.write_table(judged, partial)
    partial.replace(out / "export_returns.parquet")
    table = Table(title=f"Export returns ({sum(judged['relieved'].to_pylist())} relieved)")
    shown = (
        "cop_no",
        "gnum",
        "gcode",
        "exported_at",
        "returned_at",
        "relieved",
        "reason",
        "duty_exempt",
        "vat_exempt",
        "consumption_tax_exempt",
        "export_source",
    )
    for column in shown:
        table.add_column(column)
    for row in judged.to_pylist():
        table.add_row(*("" if row[c] is None else str(row[c]) for c in shown))
    console.print(table)


@exports_app.command("registry")
def registry(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder with registrations.csv and "
            "warehouses.csv (as `cbec simulate --exports` writes)."
        ),
    ],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
) -> None:
    """Register 9710/9810 enterprises and file overseas warehouses from two CSV files."""
    from cbec.exports import overseas

    with _store(db, store_url, create=True) as store:
        try:
            enterprises, warehouses = overseas.load_registry(store, folder)
        except (overseas.MovesError, ValueError) as exc:
            raise fail(str(exc), BAD_INPUT) from None
    console.print(f"{enterprises} registration(s), {warehouses} overseas warehouse(s) recorded")


def simulate_exports(lists: int, seed: int, day: dt.date, out: Path, nodes: int) -> None:
    """`cbec simulate --exports N`: the export day under OUT/exports (cbec.simulate.exports)."""
    from cbec.simulate.exports import simulate_exports as run

    written = run(lists, seed, day, out, nodes)
    counts = ", ".join(f"{n:,} CEB{code}" for code, n in written.messages.items())
    console.print(
        f"Wrote {lists:,} export lists for {day} to {written.folder}: {written.files:,} messages "
        f"({counts}); registry/ and moves/ for `cbec exports registry`, `arrivals`, `sales`, "
        "`returns`."
    )
