"""`cbec tax bills`: a withholding agent's tax bills of a period, with their payment window.

Bad input (a period that is not `YYYY` or `YYYY-MM`, a missing store) is one line on stderr and
exit status 1, as for `cbec clear`.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

tax_app = typer.Typer(help="Tax bills of the withholding agents.", no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
FORMATS = ("table", "csv", "parquet")


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


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
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Status and late fees on this date (default today)."),
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or parquet.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="File for csv or parquet.")] = None,
) -> None:
    """The agent's bills for the lists released in the period: due from day 31 to day 45 after
    release unless returned, then a late fee of 0.05 % a day."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from cbec.ledgers.tax_bills import bills
    from cbec.policy.parameters import load_parameters, policy_periods
    from cbec.store.embedded import Store, StoreError

    try:
        start, end = period_bounds(period)
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if output not in FORMATS:
        raise _fail(f"--format {output!r}: write table, csv or parquet")
    if output != "table" and out is None:
        raise _fail(f"--format {output} needs --out FILE")
    if not db.exists():
        raise _fail(f"{db}: no such store; clear some declarations first (cbec clear)")
    try:
        store = Store(db)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    try:
        table = bills(
            store.released_lists(agent, start, end), day, policy_periods(load_parameters())
        )
    finally:
        store.close()
    if output == "csv":
        assert out is not None
        pcsv.write_csv(table, out)
    elif output == "parquet":
        assert out is not None
        pq.write_table(table, out)
    else:
        _print(table, agent, period, day)
        return
    console.print(f"{table.num_rows:,} bill(s) of {agent} for {period} in {out}")


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
