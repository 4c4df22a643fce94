"""`cbec stats` and `cbec report` as a user runs them: files, columns, the report, clear errors."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from stats_world import StatsStore
from typer.testing import CliRunner

from cbec.cli import app

runner = CliRunner()
MEASURES = ["declarations", "admitted", "rejected", "value", "tax_total"]


def cbec(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_csv_has_one_row_per_group_and_no_total(stats_store: StatsStore, tmp_path: Path) -> None:
    out = tmp_path / "by_month_mode.csv"
    code, output = cbec(
        "stats", "--db", str(stats_store.db), "--by", "month,mode", "--out", str(out)
    )
    assert code == 0, output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["month", "mode", *MEASURES]
    assert rows[1:] == [
        ["2023-06", "1239", "1", "0", "1", "0.00", "0.00"],
        ["2023-06", "9610", "2", "1", "1", "100.00", "9.10"],
        ["2024-01", "9610", "1", "1", "0", "100.00", "9.10"],
        ["2024-06", "9610", "4", "2", "2", "600.00", "96.48"],
        ["2024-11", "9610", "1", "1", "0", "50.00", "4.55"],
    ]


def test_half_year_is_another_name_for_half(stats_store: StatsStore, tmp_path: Path) -> None:
    out = tmp_path / "by_half_year.csv"
    code, output = cbec(
        "stats", "--db", str(stats_store.db), "--by", "half-year", "--out", str(out)
    )
    assert code == 0, output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    # 2024-H1: B4 100.00 (9.10), B1 200.00 (18.20), B2 400.00 (78.28); B3 and B5 rejected.
    assert rows == [
        ["half", *MEASURES],
        ["2023-H1", "3", "1", "2", "100.00", "9.10"],
        ["2024-H1", "5", "3", "2", "700.00", "105.58"],
        ["2024-H2", "1", "1", "0", "50.00", "4.55"],
    ]


def test_parquet_columns_are_the_groups_their_names_and_the_measures(
    stats_store: StatsStore, tmp_path: Path
) -> None:
    out = tmp_path / "stats.parquet"
    code, output = cbec(
        "stats",
        "--db",
        str(stats_store.db),
        "--by",
        "quarter,province",
        "--from",
        "2024-01",
        "--to",
        "2024-H1",
        "--format",
        "parquet",
        "--out",
        str(out),
    )
    assert code == 0, output
    table = pq.read_table(out)
    assert table.column_names == ["quarter", "province", "province_name", *MEASURES]
    assert table.to_pylist() == [
        {
            "quarter": "2024-Q1",
            "province": "31",
            "province_name": "Shanghai",
            "declarations": 1,
            "admitted": 1,
            "rejected": 0,
            "value": table["value"][0].as_py(),
            "tax_total": table["tax_total"][0].as_py(),
        },
        {
            "quarter": "2024-Q2",
            "province": "33",
            "province_name": "Zhejiang",
            "declarations": 4,
            "admitted": 2,
            "rejected": 2,
            "value": table["value"][1].as_py(),
            "tax_total": table["tax_total"][1].as_py(),
        },
    ]
    assert [str(v) for v in table["value"].to_pylist()] == ["100.00", "600.00"]


def test_csv_on_screen_with_growth_and_a_benchmark(stats_store: StatsStore, tmp_path: Path) -> None:
    series = tmp_path / "trade.csv"
    series.write_text("period,value\n2023,1000\n2024,1044\n", encoding="utf-8")
    code, output = cbec(
        "stats",
        "--db",
        str(stats_store.db),
        "--by",
        "year",
        "--format",
        "csv",
        "--benchmark",
        str(series),
    )
    assert code == 0, output
    rows = list(csv.DictReader(output.splitlines()))
    assert list(rows[0]) == [
        "year",
        *MEASURES,
        "value_year_before",
        "growth_pct",
        "benchmark_growth_pct",
        "points_vs_benchmark",
    ]
    assert rows[0]["growth_pct"] == ""  # n/a: nothing in 2022
    assert rows[1]["value_year_before"] == "100.00"
    assert float(rows[1]["growth_pct"]) == 650.0
    assert round(float(rows[1]["points_vs_benchmark"]), 6) == 645.6


def test_table_on_screen(stats_store: StatsStore) -> None:
    code, output = cbec("stats", "--db", str(stats_store.db), "--by", "chapter", "--from", "2024")
    assert code == 0, output
    assert "Declarations by chapter" in output
    assert "69.18" in output and "450.00" in output


def test_an_operator_zone_registry_replaces_the_shipped_one(
    stats_store: StatsStore, tmp_path: Path
) -> None:
    zones = tmp_path / "zones.csv"
    zones.write_text(
        "code,name,province,batch,year\n3301960002,Xiasha bonded area,Zhejiang,1,2015\n",
        encoding="utf-8",
    )
    code, output = cbec(
        "stats",
        "--db",
        str(stats_store.db),
        "--by",
        "zone",
        "--format",
        "csv",
        "--zones",
        str(zones),
    )
    assert code == 0, output
    assert "3301960002,Xiasha bonded area,2,1,1,400.00,78.28" in output


def test_bad_input_is_one_line_and_status_1(stats_store: StatsStore, tmp_path: Path) -> None:
    db = str(stats_store.db)
    zones = tmp_path / "zones.csv"
    zones.write_text("code,name,province,batch,year\n33,Somewhere,Atlantis,1,2015\n")
    cases = [
        (["stats", "--db", db, "--by", "month,colour"], "'colour' is not a dimension"),
        (["stats", "--db", db, "--from", "2024-13"], "--from '2024-13' is not a period"),
        (["stats", "--db", db, "--to", "June"], "write 2024, 2024-H1, 2024-Q2, 2024-06"),
        (["stats", "--db", db, "--from", "2024-06", "--to", "2024-01"], "comes after"),
        (["stats", "--db", db, "--format", "xlsx"], "not a format"),
        (["stats", "--db", db, "--by", "mode", "--growth"], "exactly one of day"),
        (["stats", "--db", db, "--zones", str(zones)], "line 2, province: 'Atlantis'"),
        (["stats", "--db", str(tmp_path / "none.duckdb")], "no store there"),
        (["report", "--db", db, "--period", "2024-Q5"], "'2024-Q5' is not a period"),
        (["report", "--db", db, "--period", "2024-06-05"], "a year, half, quarter or month"),
    ]
    for args, message in cases:
        code, output = cbec(*args)
        assert code == 1, (args, output)
        assert message in output, (args, output)
        assert "Traceback" not in output
    assert not (tmp_path / "none.duckdb").exists()


def test_a_missing_store_says_so_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cbec.cli", "report", "--db", "x.duckdb", "--period", "2024"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        timeout=120,
    )
    assert done.returncode == 1
    assert "no store there" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_report_is_one_standalone_file_with_the_headline(
    stats_store: StatsStore, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    code, output = cbec(
        "report", "--db", str(stats_store.db), "--period", "2024-Q2", "--out", str(out)
    )
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    assert "Imports reached 600.00 CNY in 2024-Q2, up 500.0% on the year." in text
    assert "Exports: none recorded in 2024-Q2" in text
    assert not re.search(r"<script[^>]*\bsrc=", text)  # plotly.js is inline, nothing fetched
    assert not re.search(r"<link[^>]*\bhref=[\"']https?:", text)
    assert text.count("Plotly.newPlot") >= 6
    assert "payment_missing" in text and "waybill_missing" in text


def test_report_growth_is_n_a_without_the_year_before(
    stats_store: StatsStore, tmp_path: Path
) -> None:
    out = tmp_path / "q1.html"
    code, output = cbec(
        "report", "--db", str(stats_store.db), "--period", "2024-Q1", "--out", str(out)
    )
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    assert (
        "Imports reached 100.00 CNY in 2024-Q1, growth on the year n/a "
        "(no declarations in 2023-Q1)." in text
    )
