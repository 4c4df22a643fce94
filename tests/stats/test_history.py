"""The simulated history: seasons and sales peaks, scaled to an average, one folder per day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from cbec.cli import app
from cbec.simulate.history import daily_volumes, simulate_history

YEAR = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))


def test_a_year_peaks_on_double_11_and_618_and_averages_the_volume() -> None:
    volumes = daily_volumes(*YEAR, parcels_per_day=1000, seed=1)
    assert len(volumes) == 366
    assert max(volumes, key=lambda d: volumes[d]) == dt.date(2024, 11, 11)
    june = {d: n for d, n in volumes.items() if d.month == 6}
    assert max(june, key=lambda d: june[d]) == dt.date(2024, 6, 18)
    assert abs(sum(volumes.values()) / 366 - 1000) < 1

    def month(m: int) -> float:
        days = [n for d, n in volumes.items() if d.month == m]
        return sum(days) / len(days)

    assert month(2) < month(1) < month(6) < month(11)
    assert volumes == daily_volumes(*YEAR, parcels_per_day=1000, seed=1)


def test_growth_makes_later_years_larger() -> None:
    volumes = daily_volumes(
        dt.date(2023, 1, 1), dt.date(2024, 12, 31), 500, seed=2, yearly_growth=0.2
    )
    by_year = {year: sum(n for d, n in volumes.items() if d.year == year) for year in (2023, 2024)}
    assert 1.1 < by_year[2024] / by_year[2023] < 1.3


def test_one_folder_per_day(tmp_path: Path) -> None:
    summary = simulate_history(dt.date(2024, 6, 17), dt.date(2024, 6, 18), 20, seed=3, out=tmp_path)
    assert summary.days == 2 and summary.busiest[0] == dt.date(2024, 6, 18)
    for day, parcels in summary.by_day.items():
        truth = pq.read_table(tmp_path / day.isoformat() / "truth.parquet")
        assert truth.num_rows == parcels
        times = pq.read_table(tmp_path / day.isoformat() / "inventories.parquet")["decl_time"]
        assert {t.as_py().date() for t in times} == {day}


def test_the_command_refuses_a_bad_range(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "h")
    for args, message in (
        (["--from", "2024-13-01", "--to", "2024-12-31"], "YYYY-MM-DD"),
        (["--from", "2024-06-02", "--to", "2024-06-01"], "ends (2024-06-01) before it starts"),
    ):
        result = runner.invoke(app, ["simulate-history", *args, "--out", out])
        assert result.exit_code == 1, result.output
        assert message in result.output
    one_day = ["--from", "2024-06-18", "--to", "2024-06-18", "--parcels-per-day", "5"]
    result = runner.invoke(app, ["simulate-history", *one_day, "--out", out])
    assert result.exit_code == 0, result.output
    assert "Wrote 5 parcels over 1 days" in result.output
