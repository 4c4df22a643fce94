"""9710 B2B direct and 9810 overseas-warehouse exports: registration, the companions each mode
needs, the overseas warehouse's stock, its age and the time from arrival to dispatch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from cbec.cli import app
from cbec.exports import overseas
from cbec.pipeline import Policy
from cbec.store.embedded import Store
from export_builders import AGENT, EBC, clear_into, parcel, write

runner = CliRunner()


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _decisions(out: Path) -> dict[str, dict]:
    rows = pq.read_table(out / "export_decisions.parquet").to_pylist()
    return {r["cop_no"]: r for r in rows}


def test_modes_need_registration_and_their_companions(tmp_path: Path, policy: Policy) -> None:
    db = tmp_path / "s.duckdb"
    _cli("exports", "register", EBC, "--mode", "9710", "--db", str(db))
    _cli("exports", "register", EBC, "--mode", "9810", "--db", str(db))
    _cli(
        "exports",
        "warehouse-add",
        "W502000001",
        "--name",
        "LA warehouse",
        "--country",
        "502",
        "--ebc",
        EBC,
        "--db",
        str(db),
    )
    b2b = parcel(1, trade_mode="9710")
    no_collection = parcel(2, trade_mode="9710")
    to_warehouse = parcel(3, trade_mode="9810")
    wrong_country = parcel(4, trade_mode="9810", country="303")
    parcels = [
        b2b,
        {k: v for k, v in no_collection.items() if k != "403"},  # B2B: no collection needed
        {k: v for k, v in to_warehouse.items() if k in ("505", "603")},  # not sold yet
        {k: v for k, v in wrong_country.items() if k in ("505", "603")},
    ]
    write(tmp_path / "in", parcels)
    clear_into(tmp_path / "in", db, tmp_path / "out", policy)
    decided = _decisions(tmp_path / "out")
    assert [decided[f"EC00000{n}"]["status"] for n in (1, 2, 3)] == [800, 800, 800]
    assert decided["EC000004"]["reasons"] == ["export_no_overseas_warehouse"]
    assert decided["EC000003"]["trade_mode"] == "9810"
    assert decided["EC000001"]["total_value"] == Decimal("120.00")
    assert decided["EC000001"]["country"] == "502"

    # Another store where nobody registered: 9710 is refused.
    write(tmp_path / "in2", [parcel(5, trade_mode="9710")])
    clear_into(tmp_path / "in2", tmp_path / "t.duckdb", tmp_path / "out2", policy)
    assert _decisions(tmp_path / "out2")["EC000005"]["reasons"] == ["export_not_registered"]


def test_overseas_stock_age_and_dispatch(tmp_path: Path, policy: Policy) -> None:
    db = tmp_path / "s.duckdb"
    store = Store(db)
    try:
        overseas.register_enterprise(store, EBC, "9810")
        overseas.add_warehouse(store, "W502000001", "LA warehouse", "502", EBC)
    finally:
        store.close()
    shipment = parcel(3, trade_mode="9810")
    write(tmp_path / "in", [{k: v for k, v in shipment.items() if k in ("505", "603")}])
    clear_into(tmp_path / "in", db, tmp_path / "out", policy)  # released 2024-06-15 10:30:05

    arrivals = tmp_path / "arrivals.csv"
    arrivals.write_text(
        "warehouse_code,agent_code,cop_no,arrived_at\n"
        f"W502000001,{AGENT},EC000003,2024-06-20 10:00:00\n"
    )
    assert "2 list line(s)" in _cli("exports", "arrivals", str(arrivals), "--db", str(db))
    # The same arrival again is refused whole, with the row named.
    again = runner.invoke(app, ["exports", "arrivals", str(arrivals), "--db", str(db)])
    assert again.exit_code == 2 and "row 2: the list has already arrived" in again.output

    sales = tmp_path / "sales.csv"
    sales.write_text(
        "warehouse_code,item_no,qty,ordered_at,dispatched_at,reference\n"
        "W502000001,6109100022,1,2024-06-24 08:00:00,2024-06-25 10:00:00,S1\n"  # 5 days
        "W502000001,6109100022,1,2024-07-01 08:00:00,2024-07-02 10:00:00,S2\n"  # 12 days
    )
    _cli("exports", "sales", str(sales), "--db", str(db))
    too_many = tmp_path / "too_many.csv"
    too_many.write_text(
        "warehouse_code,item_no,qty,ordered_at,dispatched_at,reference\n"
        "W502000001,6505009900,5,2024-07-01 08:00:00,2024-07-02 10:00:00,S3\n"
    )
    refused = runner.invoke(app, ["exports", "sales", str(too_many), "--db", str(db)])
    assert refused.exit_code == 2 and "more than the stock on hand" in refused.output

    store = Store(db)
    try:
        on_hand = overseas.stock(store, dt.datetime(2024, 7, 10, 10, 0, 0)).to_pylist()
        times = overseas.dispatch_times(store, 7).to_pylist()
    finally:
        store.close()
    by_item = {r["item_no"]: r for r in on_hand}
    assert by_item["6109100022"]["entered"] == 2 and by_item["6109100022"]["on_hand"] == 0
    assert by_item["6505009900"]["on_hand"] == 1
    assert by_item["6505009900"]["oldest_days"] == 20  # 2024-06-20 10:00 to 2024-07-10 10:00
    assert by_item["6109100022"]["oldest_days"] is None  # nothing left
    assert times == [
        {
            "warehouse_code": "W502000001",
            "units": 2,
            "mean_days": 8.5,  # (5 + 12) / 2
            "max_days": 12.0,
            "within_promise": 0.5,  # one unit of two within 7 days
            "mean_order_to_dispatch_hours": 26.0,
        }
    ]
