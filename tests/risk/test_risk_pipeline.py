"""Risk selection in the clearance pipeline: admitted declarations become 800, 500 or 300."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders import declaration as parcel
from builders import merge, write_messages
from cbec.messages.parse import parse_message
from cbec.pipeline import Policy, clear
from cbec.risk.rules import load_rules
from cbec.risk.scoring import hash_draw
from cbec.store.embedded import Store
from cbec.store.risk import DEFAULT_SEED, set_credit_grade

# Line 61112000 (babies' garments) has the reference price 200.00 in the shipped sample.
FAIR = [{"gcode": "6111200050", "qty": 1, "price": "100.00"}]  # 0.5 of the reference
FAR_BELOW = [{"gcode": "6111200050", "qty": 1, "price": "8.00"}]  # 0.04: hard rule, inspect
BELOW = [{"gcode": "6111200050", "qty": 1, "price": "30.00"}]  # 0.15: review (REVIEW_RULE)
REVIEW_RULE = """
rules:
  - name: review_below_a_fifth
    since: 2016-04-08
    when: {price_to_reference: {below: 0.2, at_least: 0.05}}
    outcome: review
    rationale: an operator's own rule, to show that rules are data
    reference: Customs Law of the PRC, art. 28
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """The shipped rules and one of an operator's: below a fifth of the reference, review."""
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(REVIEW_RULE, encoding="utf-8")
    shipped = Policy.load()
    return dataclasses.replace(shipped, risk_rules=(*shipped.risk_rules, *load_rules(path)))


def _not_explored(*cop_numbers: str) -> None:
    draws = hash_draw(pa.array(cop_numbers), DEFAULT_SEED)
    assert (draws >= 0.002).all(), "pick cop numbers the exploration draw leaves alone"


def _clear(tmp_path: Path, policy: Policy, rows: Any, db: Path | None = None) -> Path:
    folder = tmp_path / "in"
    write_messages(folder, rows)
    store = Store(db or tmp_path / "cbec.duckdb")
    try:
        set_credit_grade(store, "3301964J31", "general")
        clear([folder], store, tmp_path / "out", policy)
    finally:
        store.close()
    return tmp_path / "out"


def test_rules_send_parcels_to_inspection_and_review_with_their_receipts(
    tmp_path: Path, policy: Policy
) -> None:
    _not_explored("R1", "R2", "R3")
    rows = merge(parcel("R1", FAIR), parcel("R2", FAR_BELOW), parcel("R3", BELOW))
    out = _clear(tmp_path, policy, rows)
    decisions = {r["cop_no"]: r for r in pq.read_table(out / "decisions.parquet").to_pylist()}
    assert {k: d["status"] for k, d in decisions.items()} == {"R1": 800, "R2": 500, "R3": 300}
    # A held declaration carries the tax assessed; its CEB816 waits for the release.
    assert decisions["R2"]["tax_total"] > 0 and decisions["R2"]["reasons"] == []
    statuses: dict[str, list[int]] = {}
    bills = set()
    for path in sorted((out / "receipts").glob("*.xml")):
        message = parse_message(path.read_bytes())
        head = message.clean_tables()[message.type.head.document.stem].to_pylist()[0]
        if message.type.code == "622":
            statuses.setdefault(head["cop_no"], []).append(head["return_status"])
        if message.type.code == "816":
            bills.add(head["ent_duty_no"])
    assert statuses == {"R1": [120, 800], "R2": [120, 500], "R3": [120, 300]}
    assert bills == {"R1"}


def test_a_held_declaration_reserves_the_allowance_and_records_why(
    tmp_path: Path, policy: Policy
) -> None:
    _not_explored("R2")
    _clear(tmp_path, policy, parcel("R2", FAR_BELOW))
    con = duckdb.connect(str(tmp_path / "cbec.duckdb"), read_only=True)
    try:
        ledger = con.execute("SELECT cop_no, value FROM allowance_ledger").fetchall()
        risk = con.execute(
            "SELECT status, selection, model_version, fired_rules FROM risk_decisions"
        ).fetchall()
    finally:
        con.close()
    assert [(c, str(v)) for c, v in ledger] == [("R2", "8.00")]
    assert risk == [(500, "rule", "rules", ["undervalued_unit_price", "far_below_reference"])]


def test_a_dishonest_platform_sends_most_parcels_to_inspection(
    tmp_path: Path, policy: Policy
) -> None:
    db = tmp_path / "cbec.duckdb"
    store = Store(db)
    set_credit_grade(store, "3301964J31", "dishonest")  # the builders' platform
    store.close()
    numbers = [f"D{i}" for i in range(40)]
    rows = merge(*(parcel(n, FAIR) for n in numbers))
    folder = tmp_path / "in"
    write_messages(folder, rows)
    store = Store(db)
    try:
        clear([folder], store, tmp_path / "out", policy)
    finally:
        store.close()
    decisions = pq.read_table(tmp_path / "out" / "decisions.parquet")
    draws = hash_draw(decisions["cop_no"], DEFAULT_SEED)
    expected = [500 if d < 0.8 else 800 for d in draws]
    assert decisions["status"].to_pylist() == expected
    assert 20 < expected.count(500) < 40
