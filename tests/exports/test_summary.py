"""The consolidated declaration: hand-checked months (tests/exports/cases/summary.yaml), the
command, and a CEB701 application answered with CEB702 and CEB792."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from cbec.exports.summarize import summarize
from cbec.messages.parse import parse_message
from cbec.pipeline import Policy
from cbec.store.embedded import Store
from export_builders import cancellation, clear_into, parcel, receipts, summary_application, write

CASES = Path(__file__).parent / "cases" / "summary.yaml"


def _cases() -> list[Any]:
    found = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in found]


def _month(folder: Path, case: dict[str, Any], policy: Policy) -> Path:
    """Clear the case's lists (and cancel those it says) into a new store."""
    db = folder / "s.duckdb"
    parcels, omit, cancels = [], {}, []
    for i, spec in enumerate(case["lists"]):
        when = spec.get("released") or dt.datetime(2024, 6, 10 + i, 9, 0, 0)
        parcels.append(
            parcel(
                spec["n"],
                country=spec["country"],
                gcodes=tuple(spec.get("gcodes", ("6109100022", "6505009900"))),
                when=when,
            )
        )
        if "omit" in spec:
            omit[i] = spec["omit"]
        if spec.get("cancel"):
            cancels.append(spec["n"])
    write(folder / "lists", parcels, omit)
    clear_into(folder / "lists", db, folder / "one", policy)
    if cancels:
        decisions = pq.read_table(folder / "one" / "export_decisions.parquet").to_pylist()
        invt = {d["cop_no"]: d["invt_no"] for d in decisions}
        later = dt.datetime(2024, 6, 28, 9, 0, 0)
        write(folder / "cancel", [cancellation(n, invt[f"EC{n:06d}"], later) for n in cancels])
        clear_into(folder / "cancel", db, folder / "two", policy)
    return db


@pytest.mark.parametrize("case", _cases())
def test_hand_checked_month(tmp_path: Path, policy: Policy, case: dict[str, Any]) -> None:
    db = _month(tmp_path, case, policy)
    period = case["period"]
    start = dt.date.fromisoformat(f"{period}-01")
    end = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    store = Store(db)
    try:
        done = summarize(store, period, start, end, tmp_path / "out", hs_digits=case["hs_digits"])
        again = summarize(
            store, period, start, end, tmp_path / "again", hs_digits=case["hs_digits"]
        )
    finally:
        store.close()
    summaries = done.summaries.to_pylist()
    assert [{k: s[k] for k in ("lists", "items")} for s in summaries] == case["expect"]["summaries"]
    assert summaries[0]["sum_no"] == "51412024S000000001"
    items = [
        [i["hs_code"], i["country"], i["qty"], i["value"], i["lists"]]
        for i in done.items.to_pylist()
    ]
    expected = [[h, c, Decimal(q), Decimal(v), n] for h, c, q, v, n in case["expect"]["items"]]
    assert items == expected
    assert {i["currency"] for i in done.items.to_pylist()} == {"142"}
    # Summarised once: the second run makes nothing new and writes the same summaries.
    assert again.new == 0 and again.summaries.equals(done.summaries)
    result = parse_message(
        (tmp_path / "out" / "receipts" / "CEB792_51412024S000000001_1_120.xml").read_bytes()
    )
    assert not result.problems
    tables = result.clean_tables()
    assert tables["export_summary_results"].to_pylist()[0]["sum_no"] == "51412024S000000001"
    # One SummaryResultList row per goods line of the summarised lists (two lines each).
    assert tables["export_summary_result_lines"].num_rows == 2 * summaries[0]["lists"]


def test_a_summary_application_is_answered_with_its_sum_no(tmp_path: Path, policy: Policy) -> None:
    db = tmp_path / "s.duckdb"
    write(tmp_path / "lists", [parcel(1), parcel(2), parcel(3)])
    clear_into(tmp_path / "lists", db, tmp_path / "one", policy)
    applied = dt.datetime(2024, 7, 3, 9, 0, 0)
    write(
        tmp_path / "apply",
        [
            summary_application(1, ["51412024E000000001", "51412024E000000002"], applied),
            summary_application(2, ["51412024E000000003", "51412024E000000077"], applied),
            summary_application(3, ["51412024E000000002"], applied),  # taken by application 1
        ],
    )
    clear_into(tmp_path / "apply", db, tmp_path / "two", policy)
    found = receipts(tmp_path / "two")
    answers = {name.split("_")[1]: row for name, row in found["702"]}
    assert answers["SA000001"]["return_status"] == 120
    assert answers["SA000001"]["sum_no"] == "51412024S000000001"
    assert answers["SA000002"]["return_status"] == 100
    assert "export_summary_list_invalid" in answers["SA000002"]["return_info"]
    assert "51412024E000000077" in answers["SA000002"]["return_info"]
    assert answers["SA000003"]["return_status"] == 100  # list 2 is summarised by SA000001
    assert [row["sum_no"] for _, row in found["792"]] == ["51412024S000000001"]

    # The same application again: the same answers, no second summary.
    clear_into(tmp_path / "apply", db, tmp_path / "three", policy)
    for path in (tmp_path / "two" / "receipts").glob("CEB7*.xml"):
        assert (tmp_path / "three" / "receipts" / path.name).read_bytes() == path.read_bytes()
    store = Store(db)
    try:
        rows = store.con.con.execute(
            "SELECT sum_no, period, lists FROM export_summaries ORDER BY sum_no"
        ).fetchall()
    finally:
        store.close()
    assert rows == [("51412024S000000001", "2024-07", 2)]
