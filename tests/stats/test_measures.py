"""The statistics equal the figures worked out by hand from the table in conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from stats_world import OTHER_PLATFORM, StatsStore

from cbec.stats import ADMITTED_STATUSES, Benchmark, Period, operations, statistics, with_growth
from cbec.stats.facts import Facts
from cbec.stats.measures import growth, headline
from cbec.store.embedded import Store

D = Decimal


@pytest.fixture(scope="module")
def source(stats_store: StatsStore) -> Iterator[Facts]:
    """The facts computed once for the module (`cache`); the last test compares with uncached."""
    store = Store(stats_store.db)
    facts = Facts(store, cache=True)
    try:
        yield facts
    finally:
        facts.close()
        store.close()


def rows(source: Facts, by: list[str], start: str | None = None, end: str | None = None):
    first = Period.parse(start).start if start else None
    last = Period.parse(end).end if end else None
    return statistics(source, by, first, last).to_pyarrow().to_pylist()


def test_admitted_means_released() -> None:
    assert ADMITTED_STATUSES == (800,)


def test_by_year_counts_every_declaration_and_values_the_admitted(source: Facts) -> None:
    assert rows(source, ["year"]) == [
        {
            "year": "2023",
            "declarations": 3,
            "admitted": 1,
            "rejected": 2,
            "value": D("100.00"),
            "tax_total": D("9.10"),
        },
        {
            "year": "2024",
            "declarations": 6,
            "admitted": 4,
            "rejected": 2,
            "value": D("750.00"),  # 200 + 400 + 100 + 50
            "tax_total": D("110.13"),  # 18.20 + 78.28 + 9.10 + 4.55
        },
    ]


def test_periods_are_labelled_as_published(source: Facts) -> None:
    assert [r["month"] for r in rows(source, ["month"])] == [
        "2023-06",
        "2024-01",
        "2024-06",
        "2024-11",
    ]
    assert [(r["quarter"], r["value"]) for r in rows(source, ["quarter"])] == [
        ("2023-Q2", D("100.00")),
        ("2024-Q1", D("100.00")),
        ("2024-Q2", D("600.00")),
        ("2024-Q4", D("50.00")),
    ]
    assert [(r["half"], r["declarations"]) for r in rows(source, ["half"])] == [
        ("2023-H1", 3),
        ("2024-H1", 5),
        ("2024-H2", 1),
    ]
    assert [(r["day"], r["declarations"]) for r in rows(source, ["day"], "2024-06", "2024-06")] == [
        ("2024-06-05", 3),
        ("2024-06-06", 1),
    ]


def test_from_and_to_bound_the_declaration_time(source: Facts) -> None:
    assert rows(source, ["year"], "2024-Q2", "2024-06") == [
        {
            "year": "2024",
            "declarations": 4,
            "admitted": 2,
            "rejected": 2,
            "value": D("600.00"),
            "tax_total": D("96.48"),
        }
    ]
    assert rows(source, ["year"], "2025") == []


def test_by_mode_and_month(source: Facts) -> None:
    found = {(r["month"], r["mode"]): r for r in rows(source, ["month", "mode"])}
    assert set(found) == {
        ("2023-06", "1239"),
        ("2023-06", "9610"),
        ("2024-01", "9610"),
        ("2024-06", "9610"),
        ("2024-11", "9610"),
    }
    bonded = found["2023-06", "1239"]
    assert (bonded["declarations"], bonded["admitted"], bonded["value"]) == (1, 0, D("0.00"))
    direct = found["2024-06", "9610"]
    assert (direct["declarations"], direct["admitted"], direct["value"]) == (4, 2, D("600.00"))
    assert direct["tax_total"] == D("96.48")


def test_province_comes_from_the_zone_then_the_customs_office(source: Facts) -> None:
    # Area 3301960002 is in the Hangzhou zone (33); 2991 is a (simulated) Hangzhou office;
    # 2244 a Shanghai one (31); 4211 has no row of its own, its district 4200 is Qingdao (37).
    assert [
        (r["province"], r["province_name"], r["declarations"], r["value"])
        for r in rows(source, ["province"])
    ] == [
        ("31", "Shanghai", 1, D("100.00")),
        ("33", "Zhejiang", 7, D("700.00")),
        ("37", "Shandong", 1, D("50.00")),
    ]


def test_zone_customs_port_country_enterprise_platform(source: Facts) -> None:
    zones = {r["zone"]: (r["zone_name"], r["declarations"]) for r in rows(source, ["zone"])}
    assert zones == {"3301": ("Hangzhou", 2), None: (None, 7)}
    customs = {r["customs"]: r["customs_name"] for r in rows(source, ["customs"])}
    assert customs["4211"] == "Qingdao customs district"
    assert set(customs) == {"2244", "2991", "4211"}
    countries = {r["country"]: r["declarations"] for r in rows(source, ["country"])}
    assert countries == {"116": 8, "502": 1}
    platforms = {r["platform"]: r["value"] for r in rows(source, ["platform"])}
    assert platforms == {"3301964J31": D("800.00"), OTHER_PLATFORM: D("50.00")}
    assert [r["enterprise"] for r in rows(source, ["enterprise"])] == ["3301960001"]
    assert [r["direction"] for r in rows(source, ["direction"])] == ["import"]


def test_chapters_value_lines_and_count_a_declaration_in_each_of_its_chapters(
    source: Facts,
) -> None:
    assert rows(source, ["chapter"], "2024") == [
        {
            "chapter": "33",
            "declarations": 1,
            "admitted": 1,
            "rejected": 0,
            "value": D("300.00"),
            "tax_total": D("69.18"),
        },
        {
            "chapter": "61",
            "declarations": 6,  # B2 too: one of its lines is clothing
            "admitted": 4,
            "rejected": 2,
            "value": D("450.00"),  # 200 + 100 (B2's clothing) + 100 + 50
            "tax_total": D("40.95"),  # 18.20 + 9.10 + 9.10 + 4.55
        },
    ]


def test_growth_on_the_same_period_a_year_before(source: Facts) -> None:
    table = with_growth(source, ["month"]).to_pylist()
    by_month = {r["month"]: (r["value_year_before"], r["growth_pct"]) for r in table}
    assert by_month["2023-06"] == (None, None)
    assert by_month["2024-01"] == (None, None)  # n/a: nothing in 2023-01
    before, percent = by_month["2024-06"]
    assert before == D("100.00")
    assert percent == pytest.approx(500.0)  # 600 on 100


def test_growth_within_a_range_looks_outside_it(source: Facts) -> None:
    start = Period.parse("2024-Q2")
    table = with_growth(source, ["quarter", "mode"], start.start, start.end).to_pylist()
    found = {(r["quarter"], r["mode"]): r["growth_pct"] for r in table}
    assert found == {("2024-Q2", "9610"): pytest.approx(500.0)}


def test_points_against_a_benchmark(source: Facts, tmp_path: Path) -> None:
    series = tmp_path / "trade.csv"
    series.write_text("period,value\n2023-06,1000\n2024-06,1100\n", encoding="utf-8")
    table = with_growth(source, ["month"], benchmark=Benchmark.read(series)).to_pylist()
    june = next(r for r in table if r["month"] == "2024-06")
    assert june["benchmark_growth_pct"] == pytest.approx(10.0)
    assert june["points_vs_benchmark"] == pytest.approx(490.0)
    january = next(r for r in table if r["month"] == "2024-01")
    assert january["benchmark_growth_pct"] is None and january["points_vs_benchmark"] is None


def test_headline_growth_and_n_a(source: Facts) -> None:
    year = headline(source, Period.parse("2024"))
    assert (year.value, year.value_year_before) == (D("750.00"), D("100.00"))
    assert year.growth_pct == pytest.approx(650.0)
    half = headline(source, Period.parse("2024-H1"))
    assert half.growth_pct == pytest.approx(600.0)  # 700 on 100
    first_quarter = headline(source, Period.parse("2024-Q1"))
    assert first_quarter.value == D("100.00") and first_quarter.value_year_before is None
    assert first_quarter.growth_pct is None
    exports = headline(source, Period.parse("2024"), direction="export")
    assert (exports.value, exports.declarations, exports.growth_pct) == (D("0"), 0, None)


def test_growth_is_n_a_without_an_earlier_value() -> None:
    assert growth(D("5"), None) is None
    assert growth(D("5"), D("0")) is None
    assert growth(D("150"), D("100")) == pytest.approx(50.0)
    assert growth(D("50"), D("100")) == pytest.approx(-50.0)


def test_operations_of_june_2024(source: Facts) -> None:
    june = Period.parse("2024-06")
    ops = operations(source, june.start, june.end)
    assert (ops.declarations, ops.admitted, ops.rejected) == (4, 2, 2)
    assert ops.rejection_rate == pytest.approx(0.5)
    assert (ops.days, ops.parcels_per_day) == (2, pytest.approx(2.0))
    assert (str(ops.busiest_day), ops.busiest_day_declarations) == ("2024-06-05", 3)
    assert (str(ops.peak_minute), ops.peak_minute_declarations) == ("2024-06-05 09:00:00", 3)
    # decided 60, 40, 20 (B1-B3, --as-of 09:01) and 0 (B5) seconds after declaration;
    # percentiles interpolate linearly between ranks: p50 = 30, p95 = 40 + 0.85 * 20, ...
    assert ops.decision_seconds == {
        "p50": pytest.approx(30.0),
        "p95": pytest.approx(57.0),
        "p99": pytest.approx(59.4),
    }
    assert (ops.customs_tax, ops.consumption_tax, ops.tax_total) == (
        D("0.00"),
        D("37.06"),
        D("96.48"),
    )
    assert ops.value_added_tax == D("59.42")  # 18.20 + 32.12 + 9.10
    assert ops.top_reasons == [("payment_missing", 1), ("waybill_missing", 1)]
    assert ops.inspection_rate == 0.0 and ops.inspection_hit_rate is None


def test_operations_over_everything(source: Facts) -> None:
    ops = operations(source)
    assert ops.top_reasons == [("payment_missing", 3), ("waybill_missing", 1)]
    assert ops.days == 5


def test_uncached_facts_give_the_same_answers(source: Facts) -> None:
    plain = Facts(source.store)
    for by in (["month", "chapter"], ["province", "zone"]):
        assert statistics(plain, by).to_pyarrow().equals(statistics(source, by).to_pyarrow())
