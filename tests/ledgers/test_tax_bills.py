"""`cbec tax bills`: each released list's tax, its payment window (day 31 to 45 after release,
GACC Announcement 2018 No. 194) and the late fee of 0.05 % a day after it."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from builders import declaration, merge, write_messages, write_return
from cbec.cli import app
from cbec.pipeline import Policy, clear
from cbec.store.embedded import Store

AGENT = "3301960001"  # the builders' assureCode
FOUR_THOUSAND = [{"gcode": "6111200050", "qty": 1, "price": "4000.00"}]
runner = CliRunner()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two lists released on 2024-06-15 (VAT 4,000 x 13 % x 70 % = 364.00 each); the second is
    returned whole on 2024-06-20; a third is rejected."""
    root = tmp_path_factory.mktemp("bills")
    db = root / "s.duckdb"
    policy = Policy.load()
    write_messages(
        root / "day1",
        merge(
            declaration("T1", FOUR_THOUSAND, when="2024-06-15T10:00:00"),
            declaration("T2", FOUR_THOUSAND, when="2024-06-15T11:00:00"),
            declaration("T3", FOUR_THOUSAND, alter={"payments": {"amount_paid": "1.00"}}),
        ),
    )
    store = Store(db)
    try:
        clear([root / "day1"], store, root / "out1", policy)
        invt_no = next(
            r["invt_no"]
            for r in pq.read_table(root / "out1" / "decisions.parquet").to_pylist()
            if r["cop_no"] == "T2"
        )
        write_return(root / "day2", "T2", invt_no, dt.datetime(2024, 6, 20, 9, 0))
        clear([root / "day2"], store, root / "out2", policy)
    finally:
        store.close()
    return db


def _bills(db: Path, tmp_path: Path, as_of: str) -> dict[str, dict[str, str]]:
    out = tmp_path / f"bills-{as_of}.csv"
    done = runner.invoke(
        app,
        ["tax", "bills", "--db", str(db), "--agent", AGENT, "--period", "2024-06",
         "--as-of", as_of, "--format", "csv", "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    with out.open(encoding="utf-8") as handle:
        return {row["cop_no"]: row for row in csv.DictReader(handle)}


def test_a_bill_is_open_then_payable_then_overdue_with_its_late_fee(
    store_path: Path, tmp_path: Path
) -> None:
    before = _bills(store_path, tmp_path, "2024-07-15")
    assert set(before) == {"T1", "T2"}  # the rejected list has no bill
    t1 = before["T1"]
    assert (t1["tax_assessed"], t1["tax_due"], t1["status"]) == ("364.00", "364.00", "open")
    assert (t1["payable_from"], t1["payable_until"]) == ("2024-07-16", "2024-07-30")
    assert _bills(store_path, tmp_path, "2024-07-30")["T1"]["status"] == "payable"
    late = _bills(store_path, tmp_path, "2024-08-05")["T1"]
    # Six days after 2024-07-30: 364.00 x 0.05 % x 6 = 1.092 -> 1.09.
    assert (late["status"], late["days_overdue"], late["late_fee"]) == ("overdue", "6", "1.09")


def test_a_returned_list_owes_nothing(store_path: Path, tmp_path: Path) -> None:
    t2 = _bills(store_path, tmp_path, "2024-08-05")["T2"]
    assert (t2["tax_assessed"], t2["tax_returned"], t2["tax_due"]) == ("364.00", "364.00", "0.00")
    assert (t2["status"], t2["late_fee"]) == ("returned", "0.00")


def test_the_table_shows_the_total_and_bad_input_is_one_line(store_path: Path) -> None:
    done = runner.invoke(
        app,
        ["tax", "bills", "--db", str(store_path), "--agent", AGENT, "--period", "2024-06",
         "--as-of", "2024-08-05"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "total" in done.output and "364.00" in done.output
    bad = runner.invoke(
        app, ["tax", "bills", "--db", str(store_path), "--agent", AGENT, "--period", "June"]
    )
    assert bad.exit_code == 1
    assert "is not a month (2024-06) or a year (2024)" in bad.output
    assert "Traceback" not in bad.output
