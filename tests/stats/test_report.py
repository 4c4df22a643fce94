"""`cbec report` over imports and exports together: the combined headline and the first chart,
imports and exports apart, against values a hand can check.

| copNo    | direction | declared         | lines (CNY)                          | value  |
|----------|-----------|------------------|--------------------------------------|--------|
| I1       | import    | 2023-06-10 10:00 | clothing 100                         | 100.00 |
| I2       | import    | 2024-06-10 10:00 | clothing 2 x 100                     | 200.00 |
| I3       | import    | 2024-06-20 10:00 | clothing 100                         | 100.00 |
| EC000001 | export    | 2023-06-12 10:00 | T-shirts 2 x 50.00, cap 20.00        | 120.00 |
| EC000002 | export    | 2024-06-12 10:00 | the same                             | 120.00 |
| EC000003 | export    | 2024-06-20 10:00 | the same                             | 120.00 |

All six are released. In 2024-06 imports reach 300.00 (100.00 a year before: +200.0%), exports
240.00 (120.00: +100.0%), both 540.00 (220.00: 540 / 220 - 1 = +145.5%). 2024-05 holds nothing,
nor does 2023-05.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from builders import declaration, merge, write_jsonl
from cbec.stats.facts import Facts
from cbec.stats.periods import Period
from cbec.stats.report import build_report, trend_figure
from cbec.store.embedded import Store
from export_builders import parcel
from export_builders import write as write_exports

CLOTHING = "6111200050"


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cbec.pipeline import Policy, clear

    root = tmp_path_factory.mktemp("report")
    clothes = [{"gcode": CLOTHING, "qty": 1, "price": "100"}]
    imports = merge(
        declaration("I1", clothes, when="2023-06-10T10:00:00"),
        declaration("I2", [{**clothes[0], "qty": 2}], when="2024-06-10T10:00:00"),
        declaration("I3", clothes, when="2024-06-20T10:00:00"),
    )
    write_exports(
        root / "exports",
        [
            parcel(1, when=dt.datetime(2023, 6, 12, 10)),
            parcel(2, when=dt.datetime(2024, 6, 12, 10)),
            parcel(3, when=dt.datetime(2024, 6, 20, 10)),
        ],
    )
    db = root / "cbec.duckdb"
    store = Store(db)
    try:
        result = clear(
            [write_jsonl(root / "imports", imports), root / "exports"],
            store,
            root / "out",
            Policy.load(),
        )
    finally:
        store.close()
    assert result.export_declarations == 3
    return db


def test_the_report_opens_with_imports_and_exports_together(both_ways: Path) -> None:
    store = Store(both_ways)
    try:
        june = build_report(store, Period.parse("2024-06"))
        may = build_report(store, Period.parse("2024-05"))
    finally:
        store.close()
    assert "Imports and exports reached 540.00 CNY in 2024-06, up 145.5% on the year." in june
    assert "Imports reached 300.00 CNY in 2024-06, up 200.0% on the year." in june
    assert "Exports reached 240.00 CNY in 2024-06, up 100.0% on the year." in june
    assert june.index("Imports and exports reached") < june.index("Imports reached")
    assert (
        "Imports and exports reached 0.00 CNY in 2024-05, growth on the year n/a "
        "(no declarations in 2023-05)." in may
    )


def test_the_first_chart_shows_imports_and_exports_apart(both_ways: Path) -> None:
    store = Store(both_ways)
    source = Facts(store)
    try:
        figure = trend_figure(source, Period.parse("2024-06"))
    finally:
        source.close()
        store.close()
    assert figure.layout.title.text == "Imports and exports by day: value admitted (CNY)"
    traces = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in figure.data}
    assert traces == {
        "imports, 2024-06": {"2024-06-10": 200.0, "2024-06-20": 100.0},
        "imports, 2023-06 (same days, a year before)": {"2024-06-10": 100.0},
        "exports, 2024-06": {"2024-06-12": 120.0, "2024-06-20": 120.0},
        "exports, 2023-06 (same days, a year before)": {"2024-06-12": 120.0},
    }


def test_the_country_chart_keeps_origins_and_destinations_apart(both_ways: Path) -> None:
    """Exports go to the United States (502); the imports' lists name no country of their own
    (their lines do): the chart has one bar series for each direction, never one sum."""
    from cbec.stats.report import _charts

    store = Store(both_ways)
    source = Facts(store)
    try:
        figures = _charts(source, Period.parse("2024-06"))
    finally:
        source.close()
        store.close()
    country = next(f for f in figures if f.layout.title.text.startswith("Value by country"))
    traces = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in country.data}
    assert traces == {"imports": {"unknown": 300.0}, "exports": {"502": 240.0}}
