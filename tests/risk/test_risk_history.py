"""The risk features see the store's whole history, batch after batch, without reading it all.

Each batch keeps the first sightings of its declarations (a telephone with a buyer, an
e-commerce enterprise); split orders read only the day before. These cases are the shipped rules
an officer can check by hand: twenty identity numbers behind one telephone are reviewed, and
three parcels of one buyer within 24 hours near the single limit add to the score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from stdnum.cn import ric

from builders import declaration as parcel
from builders import merge, write_messages
from cbec.pipeline import Policy, clear
from cbec.risk.scoring import hash_draw
from cbec.store.embedded import Store
from cbec.store.risk import DEFAULT_SEED

FAIR = [{"gcode": "6111200050", "qty": 1, "price": "100.00"}]  # half the line's reference
NEAR_LIMIT = [{"gcode": "6111200050", "qty": 1, "price": "4500.00"}]  # 0.9 of 5,000
PHONE = "13911112222"


def _buyer(n: int) -> str:
    """A valid identity number (GB 11643-1999), a different one for each n."""
    leading = f"11010119900307{n:03d}"
    return leading + ric.calc_check_digit(leading + "?")  # it reads the first 17 characters


def _parcel(cop_no: str, n: int, when: str, lines: list[dict[str, Any]] = FAIR) -> Any:
    phone = {"buyer_telephone": PHONE}
    alter = {"orders": phone, "inventories": phone}
    return parcel(cop_no, lines, when=when, buyer_id=_buyer(n), alter=alter)


def _clear_batches(tmp_path: Path, batches: list[Any], forget_after_first: bool = False) -> Path:
    """Clears each batch into one store, in turn; the store's file. With `forget_after_first`
    the first batch's sightings are removed, as in a store written before they were kept."""
    db = tmp_path / "cbec.duckdb"
    for number, rows in enumerate(batches):
        folder = tmp_path / f"in{number}"
        write_messages(folder, rows)
        store = Store(db)
        try:
            clear([folder], store, tmp_path / f"out{number}", Policy.load())
            if forget_after_first and number == 0:
                for table in ("risk_contacts", "risk_enterprises", "risk_sighted_batches"):
                    store.con.con.execute(f"DELETE FROM {table}")
        finally:
            store.close()
    return db


def _risk(db: Path, cop_no: str) -> tuple[int, list[str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT d.status, r.fired_rules FROM decisions d JOIN risk_decisions r "
            "USING (agent_code, cop_no) WHERE cop_no = ?",
            [cop_no],
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == 1, rows
    return rows[0][0], list(rows[0][1])


def _not_explored(*cop_numbers: str) -> None:
    draws = hash_draw(pa.array(cop_numbers), DEFAULT_SEED)
    assert (draws >= 0.002).all(), "pick cop numbers the exploration draw leaves alone"


NINETEEN = [_parcel(f"P{n:02d}", n, "2024-06-15T10:00:00") for n in range(1, 20)]


@pytest.mark.parametrize("forget", [False, True], ids=["sightings", "older-store"])
def test_the_twentieth_identity_behind_a_telephone_a_day_later_is_reviewed(
    tmp_path: Path, forget: bool
) -> None:
    _not_explored("P20", "P21")
    later = merge(
        _parcel("P20", 20, "2024-06-16T09:00:00"),
        _parcel("P21", 5, "2024-06-16T09:30:00"),  # the fifth buyer again: still 20 behind it
    )
    db = _clear_batches(tmp_path, [merge(*NINETEEN), later], forget_after_first=forget)
    assert _risk(db, "P20") == (300, ["identity_borrowing", "identity_borrowing_massive"])
    assert _risk(db, "P21") == (300, ["identity_borrowing", "identity_borrowing_massive"])
    # The nineteenth buyer, in the first batch, had nineteen behind the telephone: one rule's
    # weight (0.6), below the review score (1.0).
    assert _risk(db, "P19") == (800, ["identity_borrowing"])


def test_the_same_parcels_in_one_batch_give_the_same_decisions(tmp_path: Path) -> None:
    _not_explored("P20")
    db = _clear_batches(tmp_path, [merge(*NINETEEN, _parcel("P20", 20, "2024-06-16T09:00:00"))])
    assert _risk(db, "P20") == (300, ["identity_borrowing", "identity_borrowing_massive"])


@pytest.mark.parametrize(
    ("third_at", "expected"),
    [
        # 3 parcels within 24 hours at 0.9 of the limit (0.6) and 5 identities behind the
        # telephone (0.6): 1.2, reviewed.
        ("2024-06-16T01:00:00", (300, ["split_order_near_single_limit", "identity_borrowing"])),
        # 25.5 hours after the first and 24.5 after the second: one parcel in the window.
        ("2024-06-16T23:30:00", (800, ["identity_borrowing"])),
    ],
    ids=["within-a-day", "a-day-later"],
)
def test_a_split_order_across_two_batches_is_seen(
    tmp_path: Path, third_at: str, expected: tuple[int, list[str]]
) -> None:
    _not_explored("S3")
    first = merge(
        *(_parcel(f"O{n}", n, "2024-06-15T08:00:00") for n in range(2, 6)),  # 4 other buyers
        _parcel("S1", 1, "2024-06-15T22:00:00", NEAR_LIMIT),
        _parcel("S2", 1, "2024-06-15T23:00:00", NEAR_LIMIT),
    )
    db = _clear_batches(tmp_path, [first, _parcel("S3", 1, third_at, NEAR_LIMIT)])
    assert _risk(db, "S3") == expected


def test_a_batch_keeps_only_sightings_the_store_lacks(tmp_path: Path) -> None:
    db = _clear_batches(
        tmp_path,
        [merge(*NINETEEN[:3]), merge(*NINETEEN[1:4])],  # buyers 1-3, then 2-4
    )
    con = duckdb.connect(str(db), read_only=True)
    try:
        per_batch = con.execute(
            "SELECT count(*) FILTER (WHERE kind = 'buyer_telephone') FROM risk_contacts "
            "GROUP BY batch_id ORDER BY 1"
        ).fetchall()
        enterprises = con.execute("SELECT count(*) FROM risk_enterprises").fetchall()
        sighted = con.execute("SELECT count(*) FROM risk_sighted_batches").fetchall()
    finally:
        con.close()
    assert per_batch == [(1,), (3,)]  # the second batch adds only buyer 4 with the telephone
    assert enterprises == [(1,)] and sighted == [(2,)]
