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


def _open(db: Path, url: str | None = None, create: bool = False) -> Store:
    from cbec.store import open_store
    from cbec.store.embedded import StoreError

    chosen = target(db, url)
    if isinstance(chosen, Path) and not chosen.exists() and not create:
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
    """Check the stock ledger against the bonded declarations, per item: taken out (released
    + held) must equal the lines of the admitted lists, returned the lines of their accepted
    returns, and on hand = entered - taken + returned. Exit status 1 if any item differs."""
    from cbec.ledgers import stock

    store = _open(db, store_url)
    try:
        table = store.stock_reconciliation()
    finally:
        store.close()
    differing = [(row, found) for row in table.to_pylist() if (found := stock.differences(row))]
    console.print(
        f"{table.num_rows:,} item record(s); "
        f"{len(differing):,} differ between the ledger and the declarations."
    )
    for row, found in differing[:50]:
        console.print(
            f"  {row['ems_no']} {row['item_record_no']}: {'; '.join(found)}", highlight=False
        )
    if differing:
        raise typer.Exit(1)


guarantee_app = typer.Typer(
    help="Guarantees of the withholding agents (assureCode).", no_args_is_help=True
)


@guarantee_app.command("set")
def guarantee_set(
    agent: Annotated[str, typer.Option("--agent", help="The withholding agent (assureCode).")],
    amount: Annotated[str, typer.Option("--amount", help="The guarantee, CNY (2 decimals).")],
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
) -> None:
    """Register (or replace) an agent's guarantee: from the next clearing run, a declaration
    whose tax exceeds what it still covers is held for review (300)."""
    from cbec.enterprises import check_code
    from cbec.store import ledgers

    try:
        check_code(agent)
        value = _money(amount)
    except ValueError as exc:
        raise fail(str(exc)) from None
    store = _open(db, store_url, create=True)
    try:
        ledgers.set_guarantee(store, agent, value, dt.datetime.now().replace(microsecond=0))
    finally:
        store.close()
    console.print(f"guarantee of {agent}: {value:,.2f} CNY")


@guarantee_app.command("remove")
def guarantee_remove(
    agent: Annotated[str, typer.Option("--agent", help="The withholding agent (assureCode).")],
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
) -> None:
    """Remove an agent's guarantee: the agent is no longer limited."""
    from cbec.store import ledgers

    store = _open(db, store_url)
    try:
        removed = ledgers.remove_guarantee(store, agent)
    finally:
        store.close()
    if not removed:
        raise fail(f"{agent} has no registered guarantee")
    console.print(f"guarantee of {agent} removed: no longer limited")


@guarantee_app.command("list")
def guarantee_list(
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or parquet.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="File for csv or parquet.")] = None,
) -> None:
    """Every registered guarantee: amount, tax outstanding (released, not paid nor returned),
    remaining."""
    from cbec.store import ledgers

    if output not in FORMATS or (output != "table" and out is None):
        _write(pa.table({}), output, out)
    store = _open(db, store_url)
    try:
        table = ledgers.guarantees(store)
    finally:
        store.close()
    if _write(table, output, out):
        console.print(f"{table.num_rows:,} guarantee(s) in {out}")
        return
    view = Table(title="Guarantees of the withholding agents (CNY)", title_justify="left")
    for name in table.column_names:
        view.add_column(name, justify="right" if name in ledgers.MONEY_COLUMNS else "left")
    for row in table.to_pylist():
        view.add_row(*(f"{v:,.2f}" if isinstance(v, Decimal) else str(v) for v in row.values()))
    console.print(view)


def _money(text: str) -> Decimal:
    from decimal import InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount (for example 50000.00)") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or value < 0 or (isinstance(exponent, int) and exponent < -2):
        raise ValueError(f"{text!r}: an amount is a number >= 0 with at most two decimals")
    return value


@tax_app.command("pay")
def tax_pay(
    file: Annotated[
        Path | None,
        typer.Argument(help="Payments: CSV or JSON Lines with tax_no, amount, paid_at."),
    ] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Without FILE: pay this agent's bills...")
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="...of the lists released in this period...")
    ] = None,
    paid_at: Annotated[
        str | None, typer.Option("--paid-at", help="...on this day, each for what it owes.")
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
    receipts: Annotated[
        Path | None, typer.Option("--receipts", help="Folder for the CEB818 (paid) receipts.")
    ] = None,
) -> None:
    """Record payments of tax bills: each must pay, in its window or later, exactly the tax due
    plus the late fee of the day. Accepted ones restore the agent's guarantee; refused ones are
    listed with why (exit status 1)."""
    from cbec.ledgers import payments as rules
    from cbec.ledgers.tax_bills import bills
    from cbec.policy.parameters import load_parameters, policy_periods
    from cbec.store import ledgers

    periods = policy_periods(load_parameters())
    try:
        if file is not None:
            wanted, results = rules.read_payments(file)
        elif agent and period and paid_at:
            wanted, results = [], []
            start, end = period_bounds(period)
            when = rules.parse_time(paid_at)
        else:
            raise ValueError("give a payment FILE, or --agent, --period and --paid-at")
    except ValueError as exc:
        raise fail(str(exc)) from None
    store = _open(db, store_url)
    try:
        if file is None:
            assert agent is not None
            owed = bills(store.released_lists(agent, start, end), when.date(), periods)
            wanted = [
                rules.Payment(n, r["tax_no"], r["tax_due"] + r["late_fee"], when)
                for n, r in enumerate(owed.to_pylist(), start=1)
                if r["status"] in ("payable", "overdue")
            ]
        named = ledgers.bills_named(store, [p.tax_no for p in wanted])
        results += rules.judge_payments(wanted, named, periods)
        accepted = [r for r in results if r["result"] == rules.ACCEPTED]
        ledgers.record_payments(store, accepted, dt.datetime.now().replace(microsecond=0))
    finally:
        store.close()
    results.sort(key=lambda r: r["line"])
    for r in results:
        if r["result"] == rules.ACCEPTED:
            console.print(
                f"line {r['line']}: {r['tax_no']} paid {r['amount']:,.2f} "
                f"(tax {r['tax_paid']:,.2f}, late fee {r['late_fee']:,.2f})",
                highlight=False,
            )
        else:
            console.print(
                f"line {r['line']}: {r['tax_no']} refused, {r['reason']}: {r['detail']}",
                highlight=False,
            )
    if receipts is not None:
        _write_818(receipts, [_paid_818(r) for r in accepted])
    refused = len(results) - len(accepted)
    console.print(f"{len(accepted):,} payment(s) recorded, {refused:,} refused")
    if refused:
        raise typer.Exit(1)


@tax_app.command("status")
def tax_status(
    agent: Annotated[str, typer.Option("--agent", help="The withholding agent (assureCode).")],
    period: Annotated[str, typer.Option("--period", help="Releases of a month or a year.")],
    receipts: Annotated[Path, typer.Option("--receipts", help="Folder for the CEB818 files.")],
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Moves up to this date (default today).")
    ] = None,
) -> None:
    """CEB818 tax-bill status receipts: every move of the agent's bills up to the date (issued,
    payable, overdue, paid, returned)."""
    from cbec.ledgers.tax_bills import events
    from cbec.policy.parameters import load_parameters, policy_periods

    try:
        start, end = period_bounds(period)
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError as exc:
        raise fail(str(exc)) from None
    store = _open(db, store_url)
    try:
        released = store.released_lists(agent, start, end)
    finally:
        store.close()
    rows = events(released, day, policy_periods(load_parameters()))
    written = _write_818(receipts, rows)
    console.print(f"{written:,} CEB818 receipt(s) of {agent} for {period} in {receipts}")


def _paid_818(result: dict[str, object]) -> dict[str, object]:
    from cbec.ledgers.tax_bills import STATUS_CODES

    tax_no = str(result["tax_no"])
    return {
        "return_time": result["paid_at"],
        "invt_no": tax_no[:-2],
        "tax_no": tax_no,
        "status": STATUS_CODES["paid"],
        "ent_duty_no": result["cop_no"],
        "assure_code": result["assure_code"],
    }


def _write_818(folder: Path, rows: list[dict[str, object]]) -> int:
    """One CEB818 file per move; the guid is derived from the bill and its status."""
    import uuid

    from cbec.receipts import Receipt, write_receipts

    made = []
    for row in rows:
        key = f"cbec:818:{row['tax_no']}:{row['status']}"
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, key)).upper()
        made.append(Receipt("818", {"guid": guid, **row}, str(row["tax_no"])))
    return write_receipts(folder, made)
