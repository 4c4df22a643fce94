"""A simulated export day of 2026, cleared, then its overseas-warehouse moves and its returns
loaded with `cbec exports arrivals`, `sales`, `stock` and `returns`. The expected figures are
worked out from the simulated files themselves (the CEB603 lists, `moves/*.csv`), as an officer
would from the paper: what arrived is what was released, stock is arrivals less sales, and a
return is relieved when it comes back unchanged within 6 months of a 2026 export."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cbec.cli import app
from cbec.exports import overseas
from cbec.messages.parse import parse_message
from cbec.simulate.exports import DESTINATIONS, GOODS, MODES, ZONES, simulate_exports
from cbec.store.embedded import Store

runner = CliRunner()
DAY = dt.date(2026, 3, 2)  # in the relief period of MOF/GACC/STA 2026 No. 16
LAST_RETURN_DAY = dt.date(2026, 9, 2)  # 6 months after the export day, inclusive
LATER = "2027-12-31T00:00:00"  # after every simulated move: the whole stock history


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _lines(folder: Path) -> list[dict[str, object]]:
    """The export list lines of the simulated CEB603 messages, with their list's trade mode."""
    found: list[dict[str, object]] = []
    for path in sorted(folder.glob("*_CEB603.xml")):
        tables = parse_message(path.read_bytes()).clean_tables()
        modes = {
            (h["agent_code"], h["cop_no"]): h["trade_mode"]
            for h in tables["export_inventories"].to_pylist()
        }
        for line in tables["export_inventory_lines"].to_pylist():
            found.append({**line, "trade_mode": modes[(line["agent_code"], line["cop_no"])]})
    return found


@pytest.fixture(scope="module")
def cleared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    """(simulated exports folder, store, clearance output) of 120 lists on DAY, seed 1."""
    base = tmp_path_factory.mktemp("sim")
    sim, db, out = base / "sim", base / "s.duckdb", base / "out"
    _cli("simulate", "--out", str(sim), "--parcels", "1", "--exports", "120", "--date", str(DAY))
    _cli("exports", "registry", str(sim / "exports" / "registry"), "--db", str(db))
    shown = _cli("clear", str(sim / "exports"), "--db", str(db), "--out", str(out))
    (out / "clear.txt").write_text(shown, encoding="utf-8")
    yield sim / "exports", db, out


def test_clear_prints_the_export_lists_by_mode(cleared: tuple[Path, Path, Path]) -> None:
    _, _, out = cleared
    decisions = pq.read_table(out / "export_decisions.parquet").to_pylist()
    shown = (out / "clear.txt").read_text(encoding="utf-8").split("Export lists", 1)[1]
    rows = {r.split()[0]: r.split()[1:] for r in re.findall(r"│ (9[0-9]{3} .+?)\n", shown)}
    rows = {m: [c for c in cells if c != "│"] for m, cells in rows.items()}
    for mode in ("9610", "9710", "9810"):
        mine = [d for d in decisions if d["trade_mode"] == mode]
        released = sum(d["status"] == 800 for d in mine)
        rejected = sum(d["status"] == 100 for d in mine)
        assert rows[mode] == [str(released), str(rejected), str(len(mine))], mode


def test_simulated_moves_load_and_stock_is_arrivals_less_sales(
    cleared: tuple[Path, Path, Path],
) -> None:
    exports, db, out = cleared
    decisions = pq.read_table(out / "export_decisions.parquet").to_pylist()
    released = {(d["agent_code"], d["cop_no"]) for d in decisions if d["status"] == 800}
    arrivals = _rows(exports / "moves" / "arrivals.csv")
    warehouse_of = {(a["agent_code"], a["cop_no"]): a["warehouse_code"] for a in arrivals}
    lines = _lines(exports)
    # every released 9810 list arrives at a warehouse, and nothing else does
    assert set(warehouse_of) == {
        (str(line["agent_code"]), str(line["cop_no"]))
        for line in lines
        if line["trade_mode"] == "9810" and (line["agent_code"], line["cop_no"]) in released
    }
    entered: Counter[tuple[str, str]] = Counter()
    for line in lines:
        warehouse = warehouse_of.get((str(line["agent_code"]), str(line["cop_no"])))
        if warehouse:
            entered[(warehouse, str(line["gcode"]))] += Decimal(str(line["qty"]))
    sold: Counter[tuple[str, str]] = Counter()
    sales = _rows(exports / "moves" / "sales.csv")
    for sale in sales:
        sold[(sale["warehouse_code"], sale["item_no"])] += Decimal(sale["qty"])

    assert "list line(s) entered" in _cli(
        "exports", "arrivals", str(exports / "moves" / "arrivals.csv"), "--db", str(db)
    )
    assert f"{len(sales)} sale(s)" in _cli(
        "exports", "sales", str(exports / "moves" / "sales.csv"), "--db", str(db)
    )
    shown = _cli("exports", "stock", "--db", str(db), "--as-of", LATER)
    assert all(w in shown for w, _ in entered)
    assert ".00000" not in shown  # pieces are shown whole, not with the store's 5 decimals

    store = Store(db)
    try:
        stock = overseas.stock(store, dt.datetime.fromisoformat(LATER)).to_pylist()
        times = overseas.dispatch_times(store).to_pylist()
    finally:
        store.close()
    assert {(r["warehouse_code"], r["item_no"]): r["entered"] for r in stock} == entered
    for row in stock:
        key = (row["warehouse_code"], row["item_no"])
        assert row["sold"] == sold[key] and row["on_hand"] == entered[key] - sold[key], key

    # dispatch times stay within what the files allow: after the warehouse's first arrival of
    # the item, no later than its last sale; order to dispatch 0 to 30 hours as simulated
    first = {}
    for a in arrivals:
        at = dt.datetime.fromisoformat(a["arrived_at"])
        first[a["warehouse_code"]] = min(first.get(a["warehouse_code"], at), at)
    units: Counter[str] = Counter()
    longest: dict[str, float] = {}
    for sale in sales:
        w = sale["warehouse_code"]
        units[w] += Decimal(sale["qty"])
        days = (dt.datetime.fromisoformat(sale["dispatched_at"]) - first[w]).total_seconds()
        longest[w] = max(longest.get(w, 0.0), days / 86400)
    assert {t["warehouse_code"]: t["units"] for t in times} == units
    for t in times:
        assert 0 <= t["mean_days"] <= t["max_days"] <= round(longest[t["warehouse_code"]], 2) + 0.01
        assert 0 <= t["mean_order_to_dispatch_hours"] <= 30
        assert 0 <= t["within_promise"] <= 1


def test_simulated_returns_of_a_2026_day_are_relieved_within_six_months(
    cleared: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    exports, db, _ = cleared
    returned = _rows(exports / "moves" / "returns.csv")
    expected = {}
    for r in returned:
        back = dt.datetime.fromisoformat(r["returned_at"]).date()
        reason = "too_late" if back > LAST_RETURN_DAY else None
        reason = reason or (None if r["unchanged"] == "true" else "changed")
        expected[(r["cop_no"], int(r["gnum"]))] = reason
    assert None in expected.values() and "too_late" in expected.values()  # seed 1 has both

    _cli(
        "exports",
        "returns",
        str(exports / "moves" / "returns.csv"),
        "--db",
        str(db),
        "--out",
        str(tmp_path),
    )
    judged = pq.read_table(tmp_path / "export_returns.parquet").to_pylist()
    assert {(j["cop_no"], j["gnum"]): j["reason"] for j in judged} == expected
    for j in judged:
        assert j["relieved"] == (j["reason"] is None) == j["vat_exempt"]
        assert j["trade_mode"] == "9610" and j["last_return_day"] == LAST_RETURN_DAY


def test_simulated_lists_span_zones_destinations_goods_and_modes(tmp_path: Path) -> None:
    simulate_exports(400, 1, DAY, tmp_path)
    lines = _lines(tmp_path / "exports")
    heads = []
    for path in sorted((tmp_path / "exports").glob("*_CEB603.xml")):
        heads += parse_message(path.read_bytes()).clean_tables()["export_inventories"].to_pylist()
    zones = {z[1]: z[0] for z in ZONES}  # area code -> zone; sellers' codes start with it
    assert len({zones[str(h["ebc_code"])[:4]] for h in heads}) >= 5
    assert len({str(h["ebc_code"])[:2] for h in heads}) >= 3  # provinces
    # direct lists go where DESTINATIONS sends them; 9810 lists to the sellers' warehouses
    direct = Counter(h["country"] for h in heads if h["trade_mode"] != "9810")
    assert len(direct) >= 10
    assert direct.most_common(1)[0][0] == max(DESTINATIONS, key=lambda d: d[2])[0]
    category = {g[1]: g[0] for g in GOODS}
    assert {category[str(line["gcode"])] for line in lines} == {g[0] for g in GOODS}
    assert {h["trade_mode"] for h in heads} == {m for m, _ in MODES}
