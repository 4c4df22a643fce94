"""`cbec tax bills`: a withholding agent's tax bills of a period, with their payment window.

Bad input (a period that is not `YYYY` or `YYYY-MM`, a missing store) is one line on stderr and
exit status 1, as for `cbec clear`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pyarrow as pa
import typer
from rich.table import Table

from cbec.cli_output import console, fail
from cbec.cli_store import StoreOption, target

if TYPE_CHECKING:
    from cbec.store.embedded import Store

tax_app = typer.Typer(help="Tax bills of the withholding agents.", no_args_is_help=True)
warehouse_app = typer.Typer(help="Bonded stock (1210, 1239).", no_args_is_help=True)
FORMATS = ("table", "csv", "parquet")


def period_bounds(text: str) -> tuple[dt.date, dt.date]:
    """`2024-06` -> [2024-06-01, 2024-07-01); `2024` -> the year."""
    try:
        if len(text) == 4:
            year = int(text)
            return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
        start = dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"--period {text!r} is not a month (2024-06) or a year (2024)") from None
    end = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


@tax_app.command("bills")
def tax_bills(
    agent: Annotated[str, typer.Option("--agent", help="The withholding agent (assureCode).")],
    period: Annotated[str, typer.Option("--period", help="Releases of a month or a year.")],
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Status and late fees on this date (default today)."),
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or parquet.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="File for csv or parquet.")] = None,
) -> None:
    """The agent's bills for the lists released in the period: due from day 31 to day 45 after
    release unless returned, then a late fee of 0.05 % a day."""
    from cbec.ledgers.tax_bills import bills
    from cbec.policy.parameters import load_parameters, policy_periods

    try:
        start, end = period_bounds(period)
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError as exc:
        raise fail(str(exc)) from None
    if output not in FORMATS or (output != "table" and out is None):
        _write(pa.table({}), output, out)  # the same clear error as the other commands
    store = _open(db, store_url)
    try:
        released = store.released_lists(agent, start, end)
    finally:
        store.close()
    table = bills(released, day, policy_periods(load_parameters()))
    if _write(table, output, out):
        console.print(f"{table.num_rows:,} bill(s) of {agent} for {period} in {out}")
        return
    _print(table, agent, period, day)


def _print(table: object, agent: str, period: str, day: dt.date) -> None:
    import pyarrow as pa

    assert isinstance(table, pa.Table)
    view = Table(
        title=f"Tax bills of {agent}, releases of {period}, as of {day}", title_justify="left"
    )
    for name in (
        "tax_no",
        "cop_no",
        "released",
        "assessed",
        "returned",
        "due",
        "payable",
        "status",
        "late fee",
    ):
        view.add_column(
            name, justify="right" if name in ("assessed", "returned", "due", "late fee") else "left"
        )
    totals = {"due": Decimal(0), "fee": Decimal(0)}
    for row in table.to_pylist():
        window = f"{row['payable_from']} to {row['payable_until']}" if row["payable_from"] else "-"
        view.add_row(
            row["tax_no"],
            row["cop_no"],
            f"{row['released_at']:%Y-%m-%d}",
            f"{row['tax_assessed']:,.2f}",
            f"{row['tax_returned']:,.2f}",
            f"{row['tax_due']:,.2f}",
            window,
            row["status"],
            f"{row['late_fee']:,.2f}",
        )
        totals["due"] += row["tax_due"]
        totals["fee"] += row["late_fee"]
    view.add_section()
    view.add_row(
        "total",
        f"{table.num_rows:,} bills",
        "",
        "",
        "",
        f"{totals['due']:,.2f}",
        "",
        "",
        f"{totals['fee']:,.2f}",
    )
    console.print(view)


def _open(db: Path, url: str | None = None) -> Store:
    from cbec.store import open_store
    from cbec.store.embedded import StoreError

    chosen = target(db, url)
    if isinstance(chosen, Path) and not chosen.exists():
        raise fail(f"{chosen}: no such store; clear some declarations first (cbec clear)")
    try:
        return open_store(chosen)
    except StoreError as exc:
        raise fail(str(exc)) from None


def _write(table: pa.Table, output: str, out: Path | None) -> bool:
    """Write csv or parquet to `out`; False for the screen table."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if output not in FORMATS:
        raise fail(f"--format {output!r}: write table, csv or parquet")
    if output == "table":
        return False
    if out is None:
        raise fail(f"--format {output} needs --out FILE")
    if output == "csv":
        pcsv.write_csv(table, out)
    else:
        pq.write_table(table, out)
    return True


@warehouse_app.command("stock")
def warehouse_stock(
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
    ems_no: Annotated[
        str | None, typer.Option("--ems-no", help="One bonded account book only.")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or parquet.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="File for csv or parquet.")] = None,
) -> None:
    """Stock per account book and item record: entered (CEB711), released, returned, on hand."""
    store = _open(db, store_url)
    try:
        table = store.stock(ems_no)
    finally:
        store.close()
    if _write(table, output, out):
        console.print(f"{table.num_rows:,} item record(s) in {out}")
        return
    view = Table(title="Bonded stock (legal unit)", title_justify="left")
    for name in table.column_names:
        view.add_column(name, justify="left" if name in ("ems_no", "item_record_no") else "right")
    for row in table.to_pylist():
        view.add_row(*("" if v is None else f"{v:,}" if isinstance(v, Decimal) else str(v)
                       for v in row.values()))  # fmt: skip
    console.print(view)


@warehouse_app.command("reconcile")
def warehouse_reconcile(
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
) -> None:
    """Check the stock ledger against the released bonded declarations: the quantity released
    per item must equal what their lines declared. Exit status 1 if any item differs."""
    store = _open(db, store_url)
    try:
        table = store.stock_reconciliation()
    finally:
        store.close()
    differing = [
        row
        for row in table.to_pylist()
        if (row["ledger_released"] or 0) != (row["declared_released"] or 0)
    ]
    console.print(
        f"{table.num_rows:,} item record(s) released; "
        f"{len(differing):,} differ between the ledger and the declarations."
    )
    for row in differing[:50]:
        console.print(
            f"  {row['ems_no']} {row['item_record_no']}: ledger {row['ledger_released']}, "
            f"declarations {row['declared_released']}",
            highlight=False,
        )
    if differing:
        raise typer.Exit(1)
