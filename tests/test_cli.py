"""The `cbec` command as a user runs it: exit codes, one clear message, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from builders import declaration, merge, write_jsonl
from cbec.cli import app

runner = CliRunner()
LINE = [{"gcode": "6111200050", "qty": 1, "price": "100.00"}]


def _cbec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user would run it."""
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "cbec.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_clear_prints_a_summary_and_writes_results(tmp_path: Path) -> None:
    folder = write_jsonl(
        tmp_path / "in", merge(declaration("C1", LINE), declaration("C2", LINE, omit=("payments",)))
    )
    done = _cbec("clear", str(folder), "--db", "s.duckdb", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "released" in done.stdout and "rejected" in done.stdout
    assert "payment_missing" in done.stdout
    assert "parcels per second" in done.stdout
    decisions = pq.read_table(tmp_path / "out" / "decisions.parquet")
    assert decisions.num_rows == 2


def test_a_missing_folder_is_one_clear_message(tmp_path: Path) -> None:
    done = _cbec("clear", "nowhere", "--db", "s.duckdb", cwd=tmp_path)
    assert done.returncode == 1
    assert "nowhere: no such file or folder" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "s.duckdb").exists()


def test_no_declarations_at_all_is_an_error(tmp_path: Path) -> None:
    only_orders = {"orders": declaration("C1", LINE)["orders"]}
    folder = write_jsonl(tmp_path / "in", only_orders)
    result = runner.invoke(
        app,
        ["clear", str(folder), "--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 1
    assert "no declarations" in result.output
    assert not (tmp_path / "out" / "decisions.parquet").exists()


def test_an_unwritable_store_is_one_clear_message(tmp_path: Path) -> None:
    folder = write_jsonl(tmp_path / "in", declaration("C1", LINE))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = _cbec("clear", str(folder), "--db", str(blocker / "s.duckdb"), cwd=tmp_path)
    assert done.returncode == 1
    assert "cannot open the store" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_tariff_file_names_file_line_and_column(tmp_path: Path) -> None:
    folder = write_jsonl(tmp_path / "in", declaration("C1", LINE))
    tariff = tmp_path / "tariff.csv"
    tariff.write_text("code,name,mfn_rate,vat_rate\n6111200050,clothes,0.1,13%\n", encoding="utf-8")
    result = runner.invoke(
        app, ["clear", str(folder), "--tariff", str(tariff), "--db", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code == 1
    assert "line 2, vat_rate" in result.output


def test_policy_show_prints_the_rules_of_a_date() -> None:
    result = runner.invoke(app, ["policy", "show", "--date", "2018-06-01"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2000" in result.output and "20000" in result.output
    assert "Cai Guan Shui [2016] No. 18" in result.output
    later = runner.invoke(app, ["policy", "show", "--date", "2024-06-15"], env={"COLUMNS": "200"})
    assert "5000" in later.output and "26000" in later.output
    assert "[2018] No. 49" in later.output


def test_a_bad_date_is_explained() -> None:
    result = runner.invoke(app, ["policy", "show", "--date", "15/06/2024"])
    assert result.exit_code == 1
    assert "YYYY-MM-DD" in result.output


def test_simulate_writes_the_documents_and_their_truth(tmp_path: Path) -> None:
    done = _cbec(
        "simulate",
        "--parcels",
        "300",
        "--seed",
        "3",
        "--date",
        "2024-06-15",
        "--out",
        "day",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    for stem in (
        "orders",
        "order_lines",
        "payments",
        "waybills",
        "inventories",
        "inventory_lines",
        "truth",
    ):
        assert (tmp_path / "day" / f"{stem}.parquet").exists(), stem
    truth = pq.read_table(tmp_path / "day" / "truth.parquet")
    assert truth.num_rows == 300
    assert truth.column_names == ["agent_code", "cop_no", "defects"]


def test_an_operator_tariff_replaces_the_shipped_sample(tmp_path: Path) -> None:
    # 100.00 of clothing: 9.10 VAT at the usual 13 %; an operator's file saying 9 % gives 6.30.
    folder = write_jsonl(tmp_path / "in", declaration("C1", LINE))
    tariff = tmp_path / "tariff.csv"
    tariff.write_text(
        "code,name,mfn_rate,vat_rate\n61112000,baby clothing,0.10,0.09\n", encoding="utf-8"
    )
    plist = tmp_path / "list.csv"
    plist.write_text(
        "code,name,remark_kind,valid_from\n61112000,baby clothing,none,2016-04-08\n",
        encoding="utf-8",
    )
    done = _cbec(
        "clear",
        str(folder),
        "--db",
        "s.duckdb",
        "--out",
        "out",
        "--tariff",
        str(tariff),
        "--positive-list",
        str(plist),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    decision = pq.read_table(tmp_path / "out" / "decisions.parquet").to_pylist()[0]
    assert (decision["status"], str(decision["value_added_tax"])) == (800, "6.30")


def test_money_as_numbers_and_times_as_in_the_messages(tmp_path: Path) -> None:
    rows = declaration("C1", [{"gcode": "6111200050", "qty": 1, "price": "300.00"}])
    rows["inventory_lines"][0].update(price=300, total_price=300.0, qty=1)
    rows["inventories"][0]["decl_time"] = "20240615100000"
    folder = write_jsonl(tmp_path / "in", rows)
    result = runner.invoke(
        app,
        ["clear", str(folder), "--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    decision = pq.read_table(tmp_path / "out" / "decisions.parquet").to_pylist()[0]
    # 300.00 of clothing at 13 % VAT and the 70 % factor: 27.30
    assert (decision["status"], str(decision["value_added_tax"])) == (800, "27.30")
