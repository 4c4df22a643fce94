"""Exports in the statistics: a store with three 9610 export lists whose figures a hand can check.

| cop_no | declared (appTime)  | destination | lines (CNY)                      | outcome         |
|--------|---------------------|-------------|----------------------------------|-----------------|
| EX1    | 2024-06-15 10:30:05 | 502 (USA)   | T-shirts 2 x 50.00 (chapter 61)  | released        |
| EX2    | 2024-06-16 11:00:00 | 303 (UK)    | T-shirt 50.00 + shoes 30.00 (64) | released        |
| EX3    | 2024-06-16 12:00:00 | 502 (USA)   | T-shirts 2 x 50.00               | waybill missing |

Value of exports in 2024-06: 100.00 + 80.00 = 180.00 CNY (the rejected list counts as a
declaration, not as value); by country: 502 two lists, 100.00; 303 one list, 80.00.
By chapter: 61 holds 100.00 + 50.00 = 150.00, 64 holds 30.00. Exports pay no tax.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from cbec.cli import app
from cbec.documents import exports as e
from cbec.messages import catalog
from cbec.messages.build import build_tables

EBP, EBC, LOGISTICS, AGENT, CUSTOMS = (
    "4401966ABC",
    "4401960123",
    "4401980456",
    "4401980789",
    "5141",
)
TRANSFER = {"copCode": AGENT, "copName": "agent", "dxpMode": "DXP", "dxpId": "DXPENT0000012345"}
T_SHIRT, SHOES = "6109100022", "6404110000"

Line = tuple[str, str, Decimal, Decimal]  # name, gcode, qty, unit price


def _table(document: Any, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=document.schema)


def _parcel(n: int, sent: dt.datetime, country: str, lines: list[Line]) -> dict[str, Any]:
    """The CEB303, 403, 505 and 603 tables of one consistent export parcel."""

    def head(prefix: str) -> dict[str, Any]:
        guid = f"{prefix}0000000-0000-4000-8000-{n:012d}"
        return {"guid": guid, "app_type": "1", "app_time": sent, "app_status": "2"}

    order_no, logistics_no, cop_no = f"EO{n}", f"LN{n}", f"EX{n}"
    totals = [(name, gcode, qty, qty * price) for name, gcode, qty, price in lines]
    total = sum((t for *_, t in totals), Decimal(0))
    seller = {"ebp_code": EBP, "ebp_name": "platform", "ebc_code": EBC, "ebc_name": "seller"}
    return {
        "303": {
            "export_orders": _table(
                e.EXPORT_ORDER,
                [
                    {
                        **head("A"),
                        **seller,
                        "order_type": "E",
                        "order_no": order_no,
                        "goods_value": total,
                        "freight": Decimal(0),
                        "currency": "142",
                    }
                ],
            ),
            "export_order_lines": _table(
                e.EXPORT_ORDER_LINE,
                [
                    {
                        "ebp_code": EBP,
                        "order_no": order_no,
                        "gnum": g,
                        "item_name": name,
                        "unit": "011",
                        "currency": "142",
                        "qty": qty,
                        "price": value / qty,
                        "total_price": value,
                    }
                    for g, (name, _, qty, value) in enumerate(totals, 1)
                ],
            ),
        },
        "403": {
            "export_collections": _table(
                e.EXPORT_COLLECTION,
                [
                    {
                        **head("B"),
                        **seller,
                        "order_no": order_no,
                        "pay_code": "4403169D3W",
                        "pay_name": "payer",
                        "pay_no": f"PAY{n}",
                        "charge": total,
                        "currency": "142",
                        "accounting_date": sent,
                    }
                ],
            )
        },
        "505": {
            "export_waybills": _table(
                e.EXPORT_WAYBILL,
                [
                    {
                        **head("C"),
                        "logistics_code": LOGISTICS,
                        "logistics_name": "express",
                        "logistics_no": logistics_no,
                        "freight": Decimal("10.00"),
                        "currency": "142",
                        "gross_weight": Decimal("1.2"),
                        "pack_no": 1,
                    }
                ],
            )
        },
        "603": {
            "export_inventories": _table(
                e.EXPORT_INVENTORY,
                [
                    {
                        **head("D"),
                        **seller,
                        "customs_code": CUSTOMS,
                        "order_no": order_no,
                        "logistics_code": LOGISTICS,
                        "logistics_name": "express",
                        "logistics_no": logistics_no,
                        "cop_no": cop_no,
                        "ie_flag": "E",
                        "port_code": CUSTOMS,
                        "ie_date": dt.datetime(sent.year, sent.month, sent.day),
                        "agent_code": AGENT,
                        "agent_name": "agent",
                        "trade_mode": "9610",
                        "country": country,
                        "gross_weight": Decimal("1.2"),
                    }
                ],
            ),
            "export_inventory_lines": _table(
                e.EXPORT_INVENTORY_LINE,
                [
                    {
                        "agent_code": AGENT,
                        "cop_no": cop_no,
                        "gnum": g,
                        "item_name": name,
                        "gcode": gcode,
                        "gname": name,
                        "currency": "142",
                        "qty": qty,
                        "qty1": qty,
                        "unit": "011",
                        "unit1": "011",
                        "price": value / qty,
                        "total_price": value,
                    }
                    for g, (name, gcode, qty, value) in enumerate(totals, 1)
                ],
            ),
        },
    }


@pytest.fixture(scope="module")
def export_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cbec.pipeline import Policy, clear
    from cbec.store.embedded import Store

    root = tmp_path_factory.mktemp("export_stats")
    shirts = [("T-shirt", T_SHIRT, Decimal(2), Decimal("50.00"))]
    parcels = {
        1: _parcel(1, dt.datetime(2024, 6, 15, 10, 30, 5), "502", shirts),
        2: _parcel(
            2,
            dt.datetime(2024, 6, 16, 11),
            "303",
            [
                ("T-shirt", T_SHIRT, Decimal(1), Decimal("50.00")),
                ("Shoes", SHOES, Decimal(1), Decimal("30.00")),
            ],
        ),
        3: _parcel(3, dt.datetime(2024, 6, 16, 12), "502", shirts),
    }
    folder = root / "in"
    folder.mkdir()
    for n, parcel in parcels.items():
        for code, tables in parcel.items():
            if (n, code) == (3, "505"):
                continue  # EX3's waybill never comes
            data = build_tables(
                catalog.MESSAGES[code],
                tables,
                guid=f"F0000000-0000-4000-8000-{n:08d}{code}0",
                transfer=TRANSFER,
            )
            (folder / f"CEB{code}_{n}.xml").write_bytes(data)
    db = root / "store.duckdb"
    store = Store(db)
    try:
        result = clear([folder], store, root / "out", Policy.load())
    finally:
        store.close()
    assert result.export_declarations == 3
    return db


def _stats(db: Path, tmp_path: Path, by: str) -> list[list[str]]:
    out = tmp_path / "stats.csv"
    result = CliRunner().invoke(app, ["stats", "--db", str(db), "--by", by, "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_exports_are_counted_by_direction_and_mode(export_store: Path, tmp_path: Path) -> None:
    rows = _stats(export_store, tmp_path, "month,direction,mode")
    measures = ["declarations", "admitted", "rejected", "value", "tax_total"]
    assert rows[0] == ["month", "direction", "mode", *measures]
    assert rows[1:] == [["2024-06", "export", "9610", "3", "2", "1", "180.00", "0.00"]]


def test_exports_by_destination_country(export_store: Path, tmp_path: Path) -> None:
    rows = _stats(export_store, tmp_path, "country")
    assert rows[1:] == [
        ["303", "1", "1", "0", "80.00", "0.00"],
        ["502", "2", "1", "1", "100.00", "0.00"],
    ]


def test_export_chapters_share_the_value_of_their_lines(export_store: Path, tmp_path: Path) -> None:
    rows = _stats(export_store, tmp_path, "chapter")
    values = {r[0]: r[-2] for r in rows[1:]}
    assert values == {"61": "150.00", "64": "30.00"}


def test_the_report_states_the_exports(export_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["report", "--db", str(export_store), "--period", "2024-06", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Exports reached 180.00" in html
    assert "none recorded" not in html
