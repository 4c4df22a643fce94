"""The simulated history: seasons and sales peaks, scaled to an average, one folder per day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from cbec.cli import app
from cbec.simulate.history import daily_volumes, day_draws, simulate_history

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
    summary = simulate_history(
        dt.date(2024, 6, 17), dt.date(2024, 6, 18), 20, seed=3, out=tmp_path, export_share=0.2
    )
    assert summary.days == 2 and summary.busiest[0] == dt.date(2024, 6, 18)
    for day, parcels in summary.by_day.items():
        truth = pq.read_table(tmp_path / day.isoformat() / "truth.parquet")
        assert truth.num_rows == parcels
        # The drawn defects, and perhaps a luxury parcel over the single limit besides.
        defective = sum(1 for found in truth["defects"].to_pylist() if found)
        assert defective >= summary.defects_by_day[day]
        times = pq.read_table(tmp_path / day.isoformat() / "inventories.parquet")["decl_time"]
        assert {t.as_py().date() for t in times} == {day}
    assert summary.exports > 0
    # Cleared, the history holds the export lists too: 9610 only, so all released.
    from cbec.pipeline import Policy, clear
    from cbec.stats import statistics
    from cbec.stats.facts import Facts
    from cbec.store.embedded import Store

    store = Store(tmp_path / "cbec.duckdb")
    try:
        days = sorted(p for p in tmp_path.iterdir() if p.is_dir())
        clear(days, store, tmp_path / "out", Policy.load())
        rows = statistics(Facts(store), ["direction", "mode"]).to_pyarrow().to_pylist()
    finally:
        store.close()
    exported = [
        (r["mode"], r["declarations"], r["admitted"]) for r in rows if r["direction"] == "export"
    ]
    assert exported == [("9610", summary.exports, summary.exports)]


def test_a_day_of_a_few_parcels_still_has_defects_and_exports() -> None:
    """round(4 x 5 %) is 0: a draw per parcel gives some days a defect, about 5 % in all."""
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(366)]
    draws = [day_draws(4, day, seed=1, defect_rate=0.05, export_share=0.05) for day in days]
    defects = sum(d for d, _ in draws)
    exports = sum(e for _, e in draws)
    assert 0.03 < defects / (4 * 366) < 0.07
    assert 0.03 < exports / (4 * 366) < 0.07
    assert draws == [day_draws(4, day, 1, 0.05, 0.05) for day in days]


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
