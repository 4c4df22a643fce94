"""From simulated exports through CEB XML to the CEB792 summary result: `cbec simulate
--exports`, `cbec exports registry`, `cbec clear`, `cbec exports summarize`."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from cbec.cli import app
from cbec.messages.parse import parse_message
from cbec.simulate.exports import simulate_exports

runner = CliRunner()


def _cli(*args: str) -> None:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output


def test_simulated_exports_reach_their_summary_results(tmp_path: Path) -> None:
    sim, db, out = tmp_path / "sim", str(tmp_path / "s.duckdb"), tmp_path / "out"
    _cli("simulate", "--out", str(sim), "--parcels", "20", "--exports", "60", "--format", "xml")
    _cli("exports", "registry", str(sim / "exports" / "registry"), "--db", db)
    _cli("clear", str(sim), "--db", db, "--out", str(out))
    decisions = pq.read_table(out / "export_decisions.parquet").to_pylist()
    assert len(decisions) == 60
    assert {d["status"] for d in decisions} == {800}  # the simulator sends consistent lists
    assert {d["trade_mode"] for d in decisions} == {"9610", "9710", "9810"}
    _cli("exports", "summarize", "--period", "2024-06", "--db", db, "--out", str(tmp_path / "s"))

    retail = [d for d in decisions if d["trade_mode"] == "9610"]
    expected: Counter[str] = Counter()
    for d in retail:
        expected[d["currency"]] += d["total_value"]
    items = pq.read_table(tmp_path / "s" / "export_summary_items.parquet").to_pylist()
    summed: Counter[str] = Counter()
    for item in items:
        summed[item["currency"]] += item["value"]
    assert summed == expected  # every released retail list, once, and nothing else
    results = sorted((tmp_path / "s" / "receipts").glob("CEB792_*.xml"))
    summaries = pq.read_table(tmp_path / "s" / "export_summaries.parquet").to_pylist()
    assert len(results) == len(summaries) > 0
    summarised = set()
    for path in results:
        message = parse_message(path.read_bytes())
        assert not message.problems, path.name
        tables = message.clean_tables()
        summarised |= {r["invt_no"] for r in tables["export_summary_result_lines"].to_pylist()}
    assert summarised == {d["invt_no"] for d in retail}


def test_the_same_seed_gives_the_same_export_day(tmp_path: Path) -> None:
    day = dt.date(2026, 3, 2)
    one = simulate_exports(30, 5, day, tmp_path / "one")
    two = simulate_exports(30, 5, day, tmp_path / "two")
    assert one.files == two.files and one.messages == two.messages
    for path in sorted((tmp_path / "one" / "exports").rglob("*.*")):
        twin = tmp_path / "two" / "exports" / path.relative_to(tmp_path / "one" / "exports")
        assert twin.read_bytes() == path.read_bytes(), path.name
