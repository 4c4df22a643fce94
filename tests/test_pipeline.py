"""The batch path end to end: history across runs, idempotence, bad input, atomic commits."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders import OTHER_ID, declaration, merge, write_jsonl
from cbec.documents.schemas import INVENTORY_LINE
from cbec.pipeline import Policy, clear
from cbec.store.embedded import Batch, Store

LINE = [{"gcode": "6111200050", "qty": 1, "price": "100.00"}]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def _clear(folder: Path, db: Path, out: Path, policy: Policy, **kwargs: object):  # type: ignore[no-untyped-def]
    store = Store(db)
    try:
        return clear([folder], store, out, policy, **kwargs)  # type: ignore[arg-type]
    finally:
        store.close()


def _decisions(out: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["cop_no"]: r for r in pq.read_table(out / "decisions.parquet").to_pylist()}


def _store_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = ("decisions", "tax_lines", "allowance_ledger", "document_files", "batches")
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]
    finally:
        con.close()


def test_clearing_the_same_input_twice_changes_nothing(tmp_path: Path, policy: Policy) -> None:
    rows = merge(declaration("C1", LINE), declaration("C2", LINE, omit=("waybills",)))
    folder = write_jsonl(tmp_path / "in", rows)
    db = tmp_path / "cbec.duckdb"
    first = _clear(folder, db, tmp_path / "out1", policy)
    counts = _store_counts(db)
    files = sorted(p.name for p in db.with_name(db.name + ".documents").rglob("*"))
    second = _clear(folder, db, tmp_path / "out2", policy)
    assert (first.new_declarations, second.new_declarations) == (2, 0)
    assert _store_counts(db) == counts
    assert sorted(p.name for p in db.with_name(db.name + ".documents").rglob("*")) == files
    a = pq.read_table(tmp_path / "out1" / "decisions.parquet")
    b = pq.read_table(tmp_path / "out2" / "decisions.parquet")
    assert a.equals(b)
    assert pq.read_table(tmp_path / "out1" / "tax_lines.parquet").equals(
        pq.read_table(tmp_path / "out2" / "tax_lines.parquet")
    )


def test_day_two_sees_day_one_documents_and_allowance(tmp_path: Path, policy: Policy) -> None:
    db = tmp_path / "cbec.duckdb"
    # Day 1: five admitted declarations of 5,000 (25,000 of the 26,000 allowance), and the
    # order, payment and waybill of a parcel whose declaration comes on day 2.
    day1 = [
        declaration(
            f"D{i}",
            [{"gcode": "6111200050", "qty": 5, "price": "1000.00"}],
            when=f"2024-06-1{i}T10:00:00",
        )
        for i in range(1, 6)
    ]
    late = declaration("L1", LINE, when="2024-06-16T09:00:00")
    early_documents = {k: v for k, v in late.items() if not k.startswith("inventor")}
    _clear(
        write_jsonl(tmp_path / "day1", merge(*day1, early_documents)), db, tmp_path / "o1", policy
    )
    # Day 2: the late declaration alone (its companions came on day 1), then 1,000 more,
    # which would take the buyer to 26,100.
    late_inventory = {k: v for k, v in late.items() if k.startswith("inventor")}
    over = declaration(
        "X1", [{"gcode": "6111200050", "qty": 1, "price": "1000.00"}], when="2024-06-17T10:00:00"
    )
    result = _clear(
        write_jsonl(tmp_path / "day2", merge(late_inventory, over)), db, tmp_path / "o2", policy
    )
    decisions = _decisions(tmp_path / "o2")
    assert result.declarations == 2
    assert decisions["L1"]["status"] == 800, decisions["L1"]
    assert decisions["X1"]["reasons"] == ["over_annual_limit"]


def test_a_bad_value_is_reported_and_the_rest_is_cleared(tmp_path: Path, policy: Policy) -> None:
    rows = merge(declaration("C1", LINE), declaration("C2", LINE))
    rows["inventory_lines"][1]["qty"] = "two"  # C2's only line
    folder = write_jsonl(tmp_path / "in", rows)
    with (folder / "payments.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    result = _clear(folder, tmp_path / "cbec.duckdb", tmp_path / "out", policy)
    messages = [str(e) for e in result.errors]
    assert any("inventory_lines.jsonl, row 2, qty" in m and "'two'" in m for m in messages)
    assert any("payments.jsonl, row 3" in m and "not JSON" in m for m in messages)
    decisions = _decisions(tmp_path / "out")
    assert decisions["C1"]["status"] == 800
    assert decisions["C2"]["status"] == 100
    assert "unreadable_document" in decisions["C2"]["reasons"]


def test_a_parquet_column_of_the_wrong_type_is_reported_by_row(
    tmp_path: Path, policy: Policy
) -> None:
    rows = merge(declaration("C1", LINE), declaration("C2", LINE))
    folder = write_jsonl(tmp_path / "in", rows)
    lines_file = folder / "inventory_lines.jsonl"
    records = [json.loads(line) for line in lines_file.read_text(encoding="utf-8").splitlines()]
    lines_file.unlink()
    records[0]["price"] = "100.00"
    records[1]["price"] = "abc"
    table = pa.Table.from_pylist(records)  # every column as text
    pq.write_table(table, folder / "inventory_lines.parquet")
    result = _clear(folder, tmp_path / "cbec.duckdb", tmp_path / "out", policy)
    assert [str(e) for e in result.errors] == [
        f"{folder / 'inventory_lines.parquet'}, row 2, price: 'abc' is not a number"
    ]
    decisions = _decisions(tmp_path / "out")
    assert decisions["C1"]["status"] == 800
    assert decisions["C2"]["reasons"] == ["unreadable_document"]
    assert set(INVENTORY_LINE.schema.names) >= {"price", "qty"}


def test_as_of_moves_the_decision_time_not_the_policy_date(tmp_path: Path, policy: Policy) -> None:
    import datetime as dt

    rows = declaration(
        "C1", [{"gcode": "6111200050", "qty": 1, "price": "2500.00"}], when="2018-06-01T10:00:00"
    )
    folder = write_jsonl(tmp_path / "in", rows)
    as_of = dt.datetime(2024, 6, 15, 18, 0)
    _clear(folder, tmp_path / "cbec.duckdb", tmp_path / "out", policy, as_of=as_of)
    decision = _decisions(tmp_path / "out")["C1"]
    assert decision["decided_at"] == as_of
    assert decision["reasons"] == ["over_single_limit"]  # 2018 limit, 2,000


def test_invt_no_follows_the_standard_format(tmp_path: Path, policy: Policy) -> None:
    rows = merge(declaration("C1", LINE), declaration("C2", LINE, buyer_id=OTHER_ID))
    _clear(write_jsonl(tmp_path / "in", rows), tmp_path / "db.duckdb", tmp_path / "out", policy)
    numbers = sorted(d["invt_no"] for d in _decisions(tmp_path / "out").values())
    assert numbers == ["29912024I000000001", "29912024I000000002"]


def test_a_failed_commit_leaves_the_store_as_it_was(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_jsonl(tmp_path / "in", declaration("C1", LINE))
    db = tmp_path / "cbec.duckdb"
    Store(db).close()
    before = _store_counts(db)
    original = Store.commit

    def failing_commit(self: Store, batch: Batch) -> None:
        # A real failure half-way: decisions and tax lines are inserted, then the ledger
        # insert reads a table that is not there.
        original(self, dataclasses.replace(batch, ledger="table_that_vanished"))

    monkeypatch.setattr(Store, "commit", failing_commit)
    with pytest.raises(duckdb.CatalogException):
        _clear(folder, db, tmp_path / "out", policy)
    assert _store_counts(db) == before
    stored = db.with_name(db.name + ".documents")
    assert not [p for p in stored.rglob("*") if p.is_file()]


def test_a_declaration_without_its_key_is_reported_not_lost(tmp_path: Path, policy: Policy) -> None:
    rows = merge(declaration("C1", LINE), declaration("C2", LINE))
    rows["inventories"][1]["cop_no"] = "  "
    result = _clear(
        write_jsonl(tmp_path / "in", rows), tmp_path / "db.duckdb", tmp_path / "out", policy
    )
    assert any("inventories.jsonl, row 2, cop_no" in str(e) for e in result.errors), result.errors
    assert list(_decisions(tmp_path / "out")) == ["C1"]


def test_a_resent_declaration_is_judged_in_its_latest_version(
    tmp_path: Path, policy: Policy
) -> None:
    first = declaration("C1", LINE, alter={"inventories": {"currency": "502"}})
    resent = declaration("C1", LINE, alter={"inventories": {"app_time": "2024-06-15T11:00:00"}})
    rows = merge(first, {"inventories": resent["inventories"]})
    _clear(write_jsonl(tmp_path / "in", rows), tmp_path / "db.duckdb", tmp_path / "out", policy)
    decision = _decisions(tmp_path / "out")["C1"]
    assert decision["status"] == 800, decision


def test_an_absent_agent_code_keys_as_empty_and_is_answered(tmp_path: Path, policy: Policy) -> None:
    rows = declaration("C1", LINE)
    for stem in ("inventories", "inventory_lines"):
        for row in rows[stem]:
            del row["agent_code"]
    _clear(write_jsonl(tmp_path / "in", rows), tmp_path / "db.duckdb", tmp_path / "out", policy)
    decision = _decisions(tmp_path / "out")["C1"]
    assert (decision["agent_code"], decision["status"]) == ("", 800), decision
