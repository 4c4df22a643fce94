"""After release: arrival (507), master waybill (607), departure (509) and cancellation (605) of
9610 export lists, answered per node and kept as the lists' events."""

from __future__ import annotations

from pathlib import Path

from cbec.pipeline import Policy
from cbec.store.embedded import Store
from export_builders import cancellation, clear_into, manifest, parcel, receipts, write


def _info(found: dict[str, list[tuple[str, dict]]], code: str, key: str) -> list[tuple[int, str]]:
    return [
        (r["return_status"], r["return_info"]) for name, r in found.get(code, []) if key in name
    ]


def test_manifests_and_cancellations_follow_the_list(tmp_path: Path, policy: Policy) -> None:
    db = tmp_path / "s.duckdb"
    write(tmp_path / "lists", [parcel(1), parcel(2), parcel(3)])
    clear_into(tmp_path / "lists", db, tmp_path / "one", policy)
    # invtNo serials follow the list order: EC000001 -> ...001, and so on.
    after = [
        manifest("507", 1, [1, 2]),
        manifest("607", 2, [1]),
        manifest("509", 3, [1]),
        manifest("509", 4, [9]),  # no list carries LN000009
        cancellation(2, "51412024E000000002"),
        cancellation(1, "51412024E000000001"),  # its goods left with departure 3
        cancellation(3, "51412024E000000099"),  # not its invtNo
    ]
    write(tmp_path / "after", after)
    clear_into(tmp_path / "after", db, tmp_path / "two", policy)
    found = receipts(tmp_path / "two")

    assert [s for s, _ in _info(found, "508", "M50700001")] == [120]
    assert [s for s, _ in _info(found, "608", "M60700002")] == [120]
    assert [s for s, _ in _info(found, "510", "M50900003")] == [120]
    refused = _info(found, "510", "M50900004")
    assert refused[0][0] == 100
    assert "export_manifest_unknown_parcel" in refused[0][1] and "LN000009" in refused[0][1]
    assert [s for s, _ in _info(found, "606", "EC000002")] == [120]
    departed = _info(found, "606", "EC000001")
    assert departed[0][0] == 100 and "export_cancel_departed" in departed[0][1]
    unknown = _info(found, "606", "EC000003")
    assert unknown[0][0] == 100 and "export_cancel_unknown" in unknown[0][1]
    # The lists concluded and cancelled get a CEB604 with their new status.
    assert [s for s, _ in _info(found, "604", "EC000001")] == [399]
    assert [s for s, _ in _info(found, "604", "EC000002")] == [899]

    store = Store(db)
    try:
        events = store.con.con.execute(
            "SELECT cop_no, event, status FROM export_events ORDER BY cop_no, event"
        ).fetchall()
    finally:
        store.close()
    assert events == [
        ("EC000001", "arrived", None),
        ("EC000001", "departed", 399),
        ("EC000001", "waybill_listed", None),
        ("EC000002", "arrived", None),
        ("EC000002", "cancelled", 899),
    ]

    # The same messages again: the same answers, no second event.
    clear_into(tmp_path / "after", db, tmp_path / "three", policy)
    again = receipts(tmp_path / "three")
    assert _info(again, "606", "EC000002") == _info(found, "606", "EC000002")
    assert _info(again, "510", "M50900003") == _info(found, "510", "M50900003")
    store = Store(db)
    try:
        count = store.con.con.execute("SELECT count(*) FROM export_events").fetchall()
    finally:
        store.close()
    assert count == [(5,)]
    assert _info(again, "604", "EC000001") == _info(found, "604", "EC000001")
