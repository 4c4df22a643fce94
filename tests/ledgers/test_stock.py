"""Bonded stock through the messages: CEB711 entry lists in, 1210 releases out, the ledger
balancing with the declarations (GACC Announcement 2018 No. 194: bonded goods stocked first)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from builders import declaration, merge, stock_entry, write_messages, write_return
from cbec.cli import app
from cbec.documents.reading import conform
from cbec.documents.schemas import DELIVERY, DELIVERY_LINE
from cbec.messages.build import build_tables
from cbec.messages.catalog import MESSAGES
from cbec.messages.parse import parse_message
from cbec.pipeline import Policy, clear
from cbec.store.embedded import Store

runner = CliRunner()
LINE = [{"gcode": "6111200050", "qty": 4, "price": "50.00"}]


def _entry_message(folder: Path, items: dict[str, Any], cop_no: str) -> Path:
    rows = stock_entry(items, when="2024-06-14T20:00:00", cop_no=cop_no)
    tables = {}
    for document in (DELIVERY, DELIVERY_LINE):
        data = rows[document.stem]
        columns = {c: [r.get(c) for r in data] for c in document.schema.names}
        table, errors, _, _ = conform(columns, len(data), document, "entry", [1] * len(data))
        assert not errors
        tables[document.stem] = table
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"00_CEB711_{cop_no}.xml"
    path.write_bytes(build_tables(MESSAGES["711"], tables, guid=f"MSG-{cop_no}"))
    return path


@pytest.fixture(scope="module")
def cleared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stock R1 = 10 entered (the entry list sent twice); three 1210 lists of 4 declared in turn:
    two take 8, the third is refused; a 9610 list draws nothing."""
    root = tmp_path_factory.mktemp("stock")
    _entry_message(root / "in", {"R1": 10}, "RK1")
    _entry_message(root / "again", {"R1": 10}, "RK1")
    write_messages(
        root / "in",
        merge(
            declaration("B1", LINE, mode="1210", when="2024-06-15T09:00:00"),
            declaration("B2", LINE, mode="1210", when="2024-06-15T10:00:00"),
            declaration("B3", LINE, mode="1210", when="2024-06-15T11:00:00"),
            declaration("D1", LINE, when="2024-06-15T12:00:00"),
        ),
    )
    store = Store(root / "s.duckdb")
    try:
        clear([root / "in"], store, root / "out", Policy.load())
        clear([root / "again"], store, root / "out2", Policy.load())
    finally:
        store.close()
    return root


def _receipts(out: Path, code: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((out / "receipts").glob(f"CEB{code}_*.xml")):
        message = parse_message(path.read_bytes())
        rows.extend(message.clean_tables()[message.type.head.document.stem].to_pylist())
    return rows


def test_an_entry_list_is_accepted_and_stock_is_taken_in_declaration_order(cleared: Path) -> None:
    (entry,) = _receipts(cleared / "out", "712")
    assert (entry["cop_no"], entry["return_status"]) == ("RK1", 120)
    finals = {}
    for row in _receipts(cleared / "out", "622"):
        finals[row["cop_no"]] = row
    assert {k: v["return_status"] for k, v in finals.items()} == {
        "B1": 800, "B2": 800, "B3": 100, "D1": 800
    }  # fmt: skip
    assert "[Code:stock_insufficient;" in finals["B3"]["return_info"]


def test_stock_on_hand_and_the_reconciliation(cleared: Path, tmp_path: Path) -> None:
    out = tmp_path / "stock.csv"
    db = str(cleared / "s.duckdb")
    done = runner.invoke(
        app, ["warehouse", "stock", "--db", db, "--format", "csv", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    with out.open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    # Entered once although sent twice: 10 in, 8 out, 2 on hand.
    assert (row["ems_no"], row["item_record_no"]) == ("T2991W000001", "R1")
    assert (row["entered"], row["released"], row["on_hand"]) == ("10.00000", "8.00000", "2.00000")
    reconciled = runner.invoke(app, ["warehouse", "reconcile", "--db", db])
    assert reconciled.exit_code == 0, reconciled.output
    assert "0 differ" in reconciled.output


def test_returned_bonded_goods_go_back_into_stock(tmp_path: Path) -> None:
    root = tmp_path
    _entry_message(root / "in", {"R1": 10}, "RK9")
    write_messages(root / "in", declaration("Q1", LINE, mode="1210", when="2024-06-15T09:00:00"))
    store = Store(root / "s.duckdb")
    try:
        clear([root / "in"], store, root / "out", Policy.load())
        invt_no = _receipts(root / "out", "622")[-1]["invt_no"]
        write_return(root / "back", "Q1", invt_no, dt.datetime(2024, 6, 20, 9, 0))
        clear([root / "back"], store, root / "out2", Policy.load())
        (row,) = store.stock().to_pylist()
    finally:
        store.close()
    assert [str(row[k]) for k in ("entered", "released", "returned", "on_hand")] == [
        "10.00000", "4.00000", "4.00000", "10.00000"
    ]  # fmt: skip
