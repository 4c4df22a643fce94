"""9610 retail exports through `cbec clear`: CEB303/403/505/603 messages from hand-made rows are
matched, checked and released (CEB604 120 then 800) or rejected (100) with their reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cbec.documents import exports as e
from cbec.documents.schemas import Document
from cbec.exports.clearance import EXPORT_REASONS
from cbec.messages import catalog
from cbec.messages.build import build_tables
from cbec.messages.parse import parse_message
from cbec.pipeline import ClearResult, Policy, clear
from cbec.store.embedded import Store

Row = dict[str, Any]
EBP = "4401966ABC"
EBC = "4401960123"
LOGISTICS = "4401980456"
AGENT = "4401980789"
CUSTOMS = "5141"
SENT = dt.datetime(2024, 6, 15, 10, 30, 5)
TRANSFER = {"copCode": AGENT, "copName": "agent", "dxpMode": "DXP", "dxpId": "DXPENT0000012345"}
LINES = [
    ("T-shirt, cotton", Decimal("2"), Decimal("50.00")),
    ("Cap", Decimal("1"), Decimal("20.00")),
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def _head(n: int, guid: str) -> Row:
    return {"guid": f"{guid}-{n:04d}", "app_type": "1", "app_time": SENT, "app_status": "2"}


def _table(document: Document, rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=document.schema)


def _parcel(n: int, lines: list[tuple[str, Decimal, Decimal]] | None = None) -> dict[str, Any]:
    """The four messages' tables of one parcel, consistent unless `lines` says otherwise."""
    order_no, pay_no, logistics_no, cop_no = (
        f"EO{n:06d}",
        f"PAY{n:06d}",
        f"LN{n:06d}",
        f"EC{n:06d}",
    )
    ordered = [(name, qty, qty * price) for name, qty, price in LINES]
    total = sum((t for _, _, t in ordered), Decimal(0))
    order = {
        "export_orders": _table(
            e.EXPORT_ORDER,
            [
                {
                    **_head(n, "A0000000-0000-4000-8000-00000000"),
                    "order_type": "E",
                    "order_no": order_no,
                    "ebp_code": EBP,
                    "ebp_name": "platform",
                    "ebc_code": EBC,
                    "ebc_name": "seller",
                    "goods_value": total,
                    "freight": Decimal("0"),
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
                    "price": LINES[g - 1][2],
                    "total_price": line_total,
                }
                for g, (name, qty, line_total) in enumerate(ordered, 1)
            ],
        ),
    }
    collection = {
        "export_collections": _table(
            e.EXPORT_COLLECTION,
            [
                {
                    **_head(n, "B0000000-0000-4000-8000-00000000"),
                    "ebp_code": EBP,
                    "ebp_name": "platform",
                    "ebc_code": EBC,
                    "ebc_name": "seller",
                    "order_no": order_no,
                    "pay_code": "4403169D3W",
                    "pay_name": "payer",
                    "pay_no": pay_no,
                    "charge": total,
                    "currency": "142",
                    "accounting_date": SENT,
                }
            ],
        )
    }
    waybill = {
        "export_waybills": _table(
            e.EXPORT_WAYBILL,
            [
                {
                    **_head(n, "C0000000-0000-4000-8000-00000000"),
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
    }
    declared = [(name, qty, qty * price) for name, qty, price in (lines or LINES)]
    inventory = {
        "export_inventories": _table(
            e.EXPORT_INVENTORY,
            [
                {
                    **_head(n, "D0000000-0000-4000-8000-00000000"),
                    "customs_code": CUSTOMS,
                    "ebp_code": EBP,
                    "ebp_name": "platform",
                    "order_no": order_no,
                    "logistics_code": LOGISTICS,
                    "logistics_name": "express",
                    "logistics_no": logistics_no,
                    "cop_no": cop_no,
                    "ie_flag": "E",
                    "port_code": CUSTOMS,
                    "ie_date": dt.datetime(2024, 6, 15),
                    "agent_code": AGENT,
                    "agent_name": "agent",
                    "ebc_code": EBC,
                    "ebc_name": "seller",
                    "trade_mode": "9610",
                    "country": "502",
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
                    "gcode": "6109100022",
                    "gname": name,
                    "currency": "142",
                    "qty": qty,
                    "qty1": qty,
                    "unit": "011",
                    "unit1": "011",
                    "price": line_total / qty,
                    "total_price": line_total,
                }
                for g, (name, qty, line_total) in enumerate(declared, 1)
            ],
        ),
    }
    return {"303": order, "403": collection, "505": waybill, "603": inventory}


def _write(folder: Path, parcels: list[dict[str, Any]], omit: dict[int, str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, parcel in enumerate(parcels):
        for code, tables in parcel.items():
            if (omit or {}).get(n) == code:
                continue
            message = catalog.MESSAGES[code]
            data = build_tables(
                message, tables, guid=f"F0000000-0000-4000-8000-{n:08d}{code}0", transfer=TRANSFER
            )
            (folder / f"CEB{code}_{n}.xml").write_bytes(data)


def _clear(inputs: Path, db: Path, out: Path, policy: Policy) -> ClearResult:
    store = Store(db)
    try:
        return clear([inputs], store, out, policy)
    finally:
        store.close()


def _receipts(out: Path) -> dict[str, list[tuple[str, Row]]]:
    """Receipts by file name prefix: (code, head row) of each file, in name order."""
    found: dict[str, list[tuple[str, Row]]] = {}
    for path in sorted((out / "receipts").glob("*.xml")):
        message = parse_message(path.read_bytes())
        assert not message.problems, path.name
        head = message.clean_tables()[message.type.head.document.stem].to_pylist()
        found.setdefault(message.type.code, []).append((path.name, head[0]))
    return found


def test_export_parcels_are_released_or_rejected_with_their_reasons(
    tmp_path: Path, policy: Policy
) -> None:
    mismatched = [("T-shirt, cotton", Decimal("3"), Decimal("50.00")), LINES[1]]
    parcels = [_parcel(1), _parcel(2), _parcel(3), _parcel(4), _parcel(5, mismatched)]
    _write(tmp_path / "in", parcels, omit={1: "303", 2: "403", 3: "505"})
    result = _clear(tmp_path / "in", tmp_path / "s.duckdb", tmp_path / "out", policy)
    assert result.export_declarations == 5

    decisions = pq.read_table(tmp_path / "out" / "export_decisions.parquet").to_pylist()
    by_cop = {d["cop_no"]: d for d in decisions}
    assert by_cop["EC000001"]["status"] == 800
    assert by_cop["EC000001"]["reasons"] == []
    assert by_cop["EC000001"]["invt_no"] == "51412024E000000001"
    assert by_cop["EC000002"]["reasons"] == ["export_order_missing"]
    assert by_cop["EC000003"]["reasons"] == ["export_collection_missing"]
    assert by_cop["EC000004"]["reasons"] == ["export_waybill_missing"]
    assert by_cop["EC000005"]["reasons"] == ["export_line_mismatch", "export_total_mismatch"]
    assert [by_cop[c]["status"] for c in sorted(by_cop)][1:] == [100] * 4
    assert {d["invt_no"] for d in decisions} == {f"51412024E{n:09d}" for n in range(1, 6)}

    receipts = _receipts(tmp_path / "out")
    released = [row["return_status"] for name, row in receipts["604"] if "EC000001" in name]
    assert released == [120, 800]
    rejected = [row for name, row in receipts["604"] if "EC000002" in name]
    assert [r["return_status"] for r in rejected] == [100]
    assert "export_order_missing" in rejected[0]["return_info"]
    for code in ("304", "404", "506"):
        assert {row["return_status"] for _, row in receipts[code]} == {120}
    assert "816" not in receipts  # exports pay no tax
    assert not (tmp_path / "out" / "decisions.parquet").exists() or (
        pq.read_table(tmp_path / "out" / "decisions.parquet").num_rows == 0
    )


def test_reclearing_the_same_messages_changes_nothing(tmp_path: Path, policy: Policy) -> None:
    _write(tmp_path / "in", [_parcel(1), _parcel(2)], omit={1: "505"})
    db = tmp_path / "s.duckdb"
    _clear(tmp_path / "in", db, tmp_path / "one", policy)
    _clear(tmp_path / "in", db, tmp_path / "two", policy)
    first = pq.read_table(tmp_path / "one" / "export_decisions.parquet")
    assert first.equals(pq.read_table(tmp_path / "two" / "export_decisions.parquet"))
    for path in (tmp_path / "one" / "receipts").iterdir():
        assert (tmp_path / "two" / "receipts" / path.name).read_bytes() == path.read_bytes()
    store = Store(db)
    try:
        count = store.con.con.execute("SELECT count(*) FROM export_decisions").fetchall()
    finally:
        store.close()
    assert count == [(2,)]


def test_a_companion_stored_by_an_earlier_run_is_found(tmp_path: Path, policy: Policy) -> None:
    parcel = _parcel(7)
    _write(tmp_path / "first", [{k: v for k, v in parcel.items() if k != "603"}])
    _write(tmp_path / "second", [{"603": parcel["603"]}])
    db = tmp_path / "s.duckdb"
    _clear(tmp_path / "first", db, tmp_path / "one", policy)
    _clear(tmp_path / "second", db, tmp_path / "two", policy)
    decisions = pq.read_table(tmp_path / "two" / "export_decisions.parquet").to_pylist()
    assert [(d["cop_no"], d["status"]) for d in decisions] == [("EC000007", 800)]


def test_every_export_reason_is_documented() -> None:
    doc = (Path(__file__).parent.parent.parent / "docs" / "messages.md").read_text("utf-8")
    for reason in EXPORT_REASONS:
        assert f"| `{reason.code}` |" in doc, reason.code
