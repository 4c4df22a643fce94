"""Returns (CEB625) and cancellations (CEB623): hand-checked cases after GACC 2018 No. 194."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from builders import declaration, merge, write_messages, write_return
from cbec.messages.parse import parse_message
from cbec.pipeline import Policy, clear
from cbec.store.embedded import Store

REFERENCE = "GACC Announcement 2018 No. 194 (returns within 30 days of release)"
FOUR_THOUSAND = [{"gcode": "6111200050", "qty": 1, "price": "4000.00"}]
TWO_LINES = [
    {"gcode": "6111200050", "qty": 1, "price": "300.00"},
    {"gcode": "6111200050", "qty": 2, "price": "100.00"},
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def _clear(inputs: list[Path], db: Path, out: Path, policy: Policy) -> None:
    store = Store(db)
    try:
        clear(inputs, store, out, policy)
    finally:
        store.close()


def _answers(out: Path, code: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((out / "receipts").glob(f"CEB{code}_*.xml")):
        message = parse_message(path.read_bytes())
        rows.extend(message.clean_tables()[message.type.head.document.stem].to_pylist())
    return rows


def _invt_no(out: Path, cop_no: str) -> str:
    rows = pq.read_table(out / "decisions.parquet").to_pylist()
    return next(r["invt_no"] for r in rows if r["cop_no"] == cop_no)


def _used(db: Path, buyer: str, year: int) -> Any:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT sum(value) FROM allowance_ledger WHERE buyer_id_number = ? AND year = ?",
            [buyer, year],
        ).fetchall()[0][0]
    finally:
        con.close()


def _six_of_four_thousand(folder: Path) -> None:
    """24,000 CNY of the buyer's 26,000 used on 2024-06-15."""
    write_messages(
        folder,
        merge(
            *(declaration(f"A{i}", FOUR_THOUSAND, when=f"2024-06-15T1{i}:00:00") for i in range(6))
        ),
    )


def test_a_return_within_30_days_gives_the_allowance_back(tmp_path: Path, policy: Policy) -> None:
    # Reference: GACC 2018 No. 194. Six lists of 4,000 use 24,000 of 26,000; returning one
    # within 30 days brings the use down to 20,000, so a later 4,500 fits (24,500).
    db = tmp_path / "s.duckdb"
    _six_of_four_thousand(tmp_path / "day1")
    _clear([tmp_path / "day1"], db, tmp_path / "out1", policy)
    assert str(_used(db, "110101199003070011", 2024)) == "24000.00"
    invt_no = _invt_no(tmp_path / "out1", "A0")
    write_return(tmp_path / "day2", "A0", invt_no, dt.datetime(2024, 7, 14, 12, 0))
    _clear([tmp_path / "day2"], db, tmp_path / "out2", policy)
    (answer,) = _answers(tmp_path / "out2", "626")
    assert answer["return_status"] == 120
    assert "[Code:return_accepted;" in answer["return_info"]
    assert "4000.00 CNY of allowance given back" in answer["return_info"]
    assert str(_used(db, "110101199003070011", 2024)) == "20000.00"
    later = [{"gcode": "6111200050", "qty": 1, "price": "4500.00"}]
    write_messages(tmp_path / "day3", declaration("B1", later, when="2024-07-20T10:00:00"))
    _clear([tmp_path / "day3"], db, tmp_path / "out3", policy)
    assert [r["return_status"] for r in _answers(tmp_path / "out3", "622")] == [120, 800]


def test_a_return_after_30_days_is_refused_and_changes_nothing(
    tmp_path: Path, policy: Policy
) -> None:
    db = tmp_path / "s.duckdb"
    write_messages(tmp_path / "day1", declaration("L1", FOUR_THOUSAND, when="2024-06-15T10:00:00"))
    _clear([tmp_path / "day1"], db, tmp_path / "out1", policy)
    invt_no = _invt_no(tmp_path / "out1", "L1")
    # Released 2024-06-15 10:00 (the batch clock: its declaration time); 30 days end 07-15 10:00.
    write_return(tmp_path / "day2", "L1", invt_no, dt.datetime(2024, 7, 15, 10, 1))
    _clear([tmp_path / "day2"], db, tmp_path / "out2", policy)
    (answer,) = _answers(tmp_path / "out2", "626")
    assert answer["return_status"] == 100
    assert (
        "[Code:return_too_late;Desc:applied more than 30 days after the release"
        in (answer["return_info"])
    )
    assert str(_used(db, "110101199003070011", 2024)) == "4000.00"


def test_a_partial_return_gives_back_its_lines_and_not_twice(
    tmp_path: Path, policy: Policy
) -> None:
    db = tmp_path / "s.duckdb"
    write_messages(tmp_path / "day1", declaration("P1", TWO_LINES, when="2024-06-15T10:00:00"))
    _clear([tmp_path / "day1"], db, tmp_path / "out1", policy)
    invt_no = _invt_no(tmp_path / "out1", "P1")
    write_return(tmp_path / "day2", "P1", invt_no, dt.datetime(2024, 6, 20, 9, 0), gnums=(2,))
    write_return(
        tmp_path / "day2", "P1", invt_no, dt.datetime(2024, 6, 21, 9, 0), gnums=(2,), name="x.xml"
    )
    _clear([tmp_path / "day2"], db, tmp_path / "out2", policy)
    first, second = sorted(_answers(tmp_path / "out2", "626"), key=lambda r: r["return_time"])
    assert (
        first["return_status"] == 120
        and "line(s) 2: no tax due, 200.00 CNY" in (first["return_info"])
    )
    assert second["return_status"] == 100 and "[Code:already_returned;" in second["return_info"]
    # Line 2 (2 x 100.00, no freight) pays VAT 200 x 13 % x 70 % = 18.20, now not due.
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT gnum, tax_price, value_added_tax FROM returned_lines WHERE cop_no = 'P1'"
        ).fetchall()
    finally:
        con.close()
    assert [(g, str(p), str(v)) for g, p, v in rows] == [(2, "200.00", "18.20")]
    assert str(_used(db, "110101199003070011", 2024)) == "300.00"


def test_only_a_released_list_returns_and_a_cancellation_after_release_is_refused(
    tmp_path: Path, policy: Policy
) -> None:
    db = tmp_path / "s.duckdb"
    write_messages(
        tmp_path / "day1",
        merge(
            declaration("R1", FOUR_THOUSAND),
            declaration("R2", FOUR_THOUSAND, alter={"payments": {"amount_paid": "1.00"}}),
        ),
    )
    _clear([tmp_path / "day1"], db, tmp_path / "out1", policy)
    when = dt.datetime(2024, 6, 16, 9, 0)
    write_return(tmp_path / "day2", "R2", "X", when)
    write_return(tmp_path / "day2", "R1", _invt_no(tmp_path / "out1", "R1"), when, cancel=True)
    write_return(tmp_path / "day2", "R2", "X", when, cancel=True)
    write_return(tmp_path / "day2", "NOPE", "X", when, cancel=True)
    _clear([tmp_path / "day2"], db, tmp_path / "out2", policy)
    (returned,) = _answers(tmp_path / "out2", "626")
    assert returned["return_status"] == 100 and "[Code:not_released;" in returned["return_info"]
    cancels = {r["cop_no"]: r for r in _answers(tmp_path / "out2", "624")}
    assert all(r["return_status"] == 100 for r in cancels.values())
    assert "[Code:released_use_return;" in cancels["R1"]["return_info"]
    assert "[Code:already_rejected;" in cancels["R2"]["return_info"]
    assert "[Code:unknown_declaration;" in cancels["NOPE"]["return_info"]
    assert str(_used(db, "110101199003070011", 2024)) == "4000.00"


def test_goods_back_after_45_days_refuse_the_return(tmp_path: Path, policy: Policy) -> None:
    # GACC 2018 No. 194: applied for within 30 days, goods back at the supervision site within
    # 45 days of the release. Released 2024-06-15 10:00: day 45 ends 2024-07-30 10:00.
    db = tmp_path / "s.duckdb"
    lists = merge(
        *(declaration(c, FOUR_THOUSAND, when="2024-06-15T10:00:00") for c in ("G1", "G2"))
    )
    write_messages(tmp_path / "day1", lists)
    _clear([tmp_path / "day1"], db, tmp_path / "out1", policy)
    applied = dt.datetime(2024, 7, 10, 9, 0)
    for cop_no, back in (("G1", dt.datetime(2024, 7, 30, 10, 0)), ("G2", dt.datetime(2024, 8, 2))):
        invt_no = _invt_no(tmp_path / "out1", cop_no)
        write_return(tmp_path / "day2", cop_no, invt_no, applied, arrival=back)
    _clear([tmp_path / "day2"], db, tmp_path / "out2", policy)
    answers = {a["cop_no"]: a for a in _answers(tmp_path / "out2", "626")}
    assert answers["G1"]["return_status"] == 120
    assert answers["G2"]["return_status"] == 100
    assert (
        "[Code:goods_back_too_late;Desc:the goods were back on 2024-08-02 00:00, more than 45"
        in (answers["G2"]["return_info"])
    )
    assert str(_used(db, "110101199003070011", 2024)) == "4000.00"  # only G1 gave it back


def test_a_list_held_for_inspection_cannot_be_withdrawn(tmp_path: Path, policy: Policy) -> None:
    # 8.00 CNY a garment is far below its tariff line's reference price: the shipped hard rule
    # sends it to inspection (500). Its declarant's cancellation the next day is refused with
    # why; the list stays held, keeping its 8.00 of the buyer's allowance.
    far_below = [{"gcode": "6111200050", "qty": 1, "price": "8.00"}]
    write_messages(tmp_path / "day1", merge(declaration("S1", far_below)))
    db = tmp_path / "cbec.duckdb"
    _clear([tmp_path / "day1"], db, tmp_path / "out1", policy)
    held = pq.read_table(tmp_path / "out1" / "decisions.parquet").to_pylist()
    assert [(r["cop_no"], r["status"]) for r in held] == [("S1", 500)]
    when = dt.datetime(2024, 6, 16, 9, 0)
    write_return(tmp_path / "day2", "S1", _invt_no(tmp_path / "out1", "S1"), when, cancel=True)
    _clear([tmp_path / "day2"], db, tmp_path / "out2", policy)
    (answer,) = _answers(tmp_path / "out2", "624")
    assert answer["return_status"] == 100
    assert "[Code:under_inspection;" in answer["return_info"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT status FROM decisions").fetchall() == [(500,)]
    finally:
        con.close()
    assert str(_used(db, "110101199003070011", 2024)) == "8.00"
