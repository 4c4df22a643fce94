"""9610 retail exports through `cbec clear`: CEB303/403/505/603 messages from hand-made rows are
matched, checked and released (CEB604 120 then 800) or rejected (100) with their reasons."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from cbec.exports.clearance import EXPORT_REASONS
from cbec.pipeline import Policy
from cbec.store.embedded import Store
from export_builders import LINES
from export_builders import clear_into as _clear
from export_builders import parcel as _parcel
from export_builders import receipts as _receipts
from export_builders import write as _write


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


def test_every_export_decision_column_is_documented() -> None:
    from cbec.exports.clearance import EXPORT_DECISION

    doc = (Path(__file__).parent.parent.parent / "docs" / "exports.md").read_text("utf-8")
    section = doc.split("## The decisions file", 1)[1].split("\n## ", 1)[0]
    for name in EXPORT_DECISION.names:
        assert name in section, name
