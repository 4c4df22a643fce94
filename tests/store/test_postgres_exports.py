"""The export commands on PostgreSQL (issue 11): the 9810 registry, an overseas warehouse's
arrivals, sales and stock, and the consolidated declaration of a month's 9610 lists give the
same results as on the embedded store, and a second process reads what the first recorded."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cbec.cli import app
from export_builders import AGENT, EBC, parcel, write

runner = CliRunner()


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _flows(root: Path, store: list[str]) -> dict[str, str]:
    """The same export commands on one store; what each printed."""
    _cli("exports", "register", EBC, "--mode", "9810", *store)
    _cli(
        "exports", "warehouse-add", "W502000001", "--name", "LA warehouse", "--country", "502",
        "--ebc", EBC, *store,
    )  # fmt: skip
    shipment = parcel(3, trade_mode="9810")
    write(root / "in", [parcel(1), parcel(2), {k: shipment[k] for k in ("505", "603")}])
    _cli("clear", str(root / "in"), "--out", str(root / "out"), *store)
    arrivals = root / "arrivals.csv"
    arrivals.write_text(
        "warehouse_code,agent_code,cop_no,arrived_at\n"
        f"W502000001,{AGENT},EC000003,2024-06-20 10:00:00\n"
    )
    sales = root / "sales.csv"
    sales.write_text(
        "warehouse_code,item_no,qty,ordered_at,dispatched_at,reference\n"
        "W502000001,6109100022,1,2024-06-24 08:00:00,2024-06-25 10:00:00,S1\n"
    )
    printed = {
        "arrivals": _cli("exports", "arrivals", str(arrivals), *store),
        "sales": _cli("exports", "sales", str(sales), *store),
        "summarize": _cli(
            "exports", "summarize", "--period", "2024-06", "--out", str(root / "sum"), *store
        ),
    }
    # Recorded once: the same arrival again is refused whole, and nothing is added.
    again = runner.invoke(app, ["exports", "arrivals", str(arrivals), *store])
    assert again.exit_code == 2 and "row 2: the list has already arrived" in again.output
    printed["stock"] = _cli("exports", "stock", "--as-of", "2024-07-10T10:00:00", *store)
    return {name: text.replace(str(root), "ROOT") for name, text in printed.items()}


def test_the_export_commands_agree_on_both_stores(tmp_path: Path, pg_url: str) -> None:
    # Folders of the same length, so that the paths printed wrap alike.
    embedded = _flows(tmp_path / "e", ["--db", str(tmp_path / "e.duckdb")])
    postgres = _flows(tmp_path / "p", ["--store", pg_url])
    assert postgres == embedded
    assert "2 list line(s)" in postgres["arrivals"]
    assert "6109100022" in postgres["stock"] and "W502000001" in postgres["stock"]
    assert "51412024S000000001" in postgres["summarize"]
