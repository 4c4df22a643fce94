"""Inspection and review outcomes: release, reassess, reject, with receipts; retraining."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from builders import declaration as parcel
from builders import merge, write_messages
from cbec.cli import app
from cbec.messages.parse import parse_message
from cbec.pipeline import Policy, clear
from cbec.risk.rules import load_rules
from cbec.risk.scoring import hash_draw
from cbec.store.embedded import Store
from cbec.store.risk import DEFAULT_SEED

FAR_BELOW = [{"gcode": "6111200050", "qty": 1, "price": "8.00"}]  # inspected (hard rule)
BELOW = [{"gcode": "6111200050", "qty": 2, "price": "30.00"}]  # manual review (REVIEW_RULE)
HELD = ("I1", "I2", "I3", "V1")
REVIEW_RULE = """
rules:
  - name: review_below_a_fifth
    since: 2016-04-08
    when: {price_to_reference: {below: 0.2, at_least: 0.05}}
    outcome: review
    rationale: an operator's own rule
    reference: Customs Law of the PRC, art. 28
"""
runner = CliRunner()


@pytest.fixture
def store_with_held(tmp_path: Path) -> Path:
    assert (hash_draw(pa.array(HELD), DEFAULT_SEED) >= 0.002).all()
    rows = merge(
        parcel("I1", FAR_BELOW),
        parcel("I2", FAR_BELOW, buyer_id="110101198512010012", buyer_name="李四"),
        parcel("I3", FAR_BELOW),
        parcel("V1", BELOW),
    )
    write_messages(tmp_path / "in", rows)
    db = tmp_path / "cbec.duckdb"
    rules = tmp_path / "rules.yaml"
    rules.write_text(REVIEW_RULE, encoding="utf-8")
    shipped = Policy.load()
    policy = dataclasses.replace(shipped, risk_rules=(*shipped.risk_rules, *load_rules(rules)))
    store = Store(db)
    try:
        clear([tmp_path / "in"], store, tmp_path / "out", policy)
    finally:
        store.close()
    return db


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _receipts(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((folder / "receipts").glob("*.xml")):
        message = parse_message(path.read_bytes())
        head = message.clean_tables()[message.type.head.document.stem].to_pylist()[0]
        found.append((message.type.code, head))
    return found


def test_inspection_outcomes_release_reassess_and_reject(
    store_with_held: Path, tmp_path: Path
) -> None:
    db = store_with_held
    outcomes = tmp_path / "inspected.csv"
    outcomes.write_text(
        "cop_no,agent_code,found,finding,action,value_added_tax,note\n"
        "I1,3301980001,false,,,,nothing wrong\n"
        "I2,3301980001,true,undervaluation,reassess,5.20,invoice shows 48.00\n"
        'I3,3301980001,true,goods_mismatch,,,"declared garments, found a phone"\n',
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        ["inspect", "record", str(outcomes), "--db", str(db), "--out", str(tmp_path / "o"),
         "--as-of", "2024-06-16T09:00:00"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 released, 1 reassessed, 1 rejected; revenue recovered 5.20 CNY" in result.output
    status = dict(_query(db, "SELECT cop_no, status FROM decisions"))
    assert status == {"I1": 800, "I2": 800, "I3": 100, "V1": 300}
    taxes = dict(_query(db, "SELECT cop_no, tax_total FROM decisions"))
    # 8.00 of babies' garments at 9.1 % (13 % VAT x 70 %): 0.73; I2 adds 5.20 reassessed.
    assert (str(taxes["I1"]), str(taxes["I2"]), str(taxes["I3"])) == ("0.73", "5.93", "0.00")
    reasons = _query(db, "SELECT reasons FROM decisions WHERE cop_no = 'I3'")
    assert reasons == [(["inspection_finding"],)]
    # The rejected parcel gives its allowance back; the released ones keep theirs.
    used = dict(_query(db, "SELECT cop_no, sum(value) FROM allowance_ledger GROUP BY cop_no"))
    assert (str(used["I1"]), str(used["I3"])) == ("8.00", "0.00")
    assert _query(db, "SELECT count(*) FROM tax_lines WHERE cop_no = 'I3'") == [(0,)]
    receipts = _receipts(tmp_path / "o")
    statuses = sorted((h["cop_no"], h["return_status"]) for c, h in receipts if c == "622")
    assert statuses == [("I1", 800), ("I2", 800), ("I3", 100)]
    bills = sorted((h["tax_no"][-2:], str(h["value_added_tax"])) for c, h in receipts if c == "816")
    assert bills == [("01", "0.73"), ("01", "0.73"), ("02", "5.20")]
    recorded = _query(db, "SELECT cop_no, found, finding, revenue_recovered FROM risk_outcomes")
    assert sorted((c, f, k, str(r)) for c, f, k, r in recorded) == [
        ("I1", False, None, "0.00"),
        ("I2", True, "undervaluation", "5.20"),
        ("I3", True, "goods_mismatch", "0.00"),
    ]


def test_a_bad_outcome_file_changes_nothing(store_with_held: Path, tmp_path: Path) -> None:
    db = store_with_held
    before = _query(db, "SELECT cop_no, status FROM decisions ORDER BY cop_no")
    outcomes = tmp_path / "bad.jsonl"
    outcomes.write_text(
        "\n".join(
            json.dumps(row)
            for row in (
                {"cop_no": "I1", "agent_code": "3301980001", "found": False},
                {"cop_no": "I2", "agent_code": "3301980001", "found": "perhaps"},
                {"cop_no": "V1", "agent_code": "3301980001", "found": False},
            )
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["inspect", "record", str(outcomes), "--db", str(db)])
    assert result.exit_code == 2
    assert "row 2, found: 'perhaps' is not true or false" in result.output
    assert _query(db, "SELECT cop_no, status FROM decisions ORDER BY cop_no") == before
    # V1 is held for review, not inspection: refused, with why.
    fine = tmp_path / "v1.jsonl"
    fine.write_text(json.dumps({"cop_no": "V1", "agent_code": "3301980001", "found": False}))
    result = runner.invoke(app, ["inspect", "record", str(fine), "--db", str(db)])
    assert result.exit_code == 2 and "not held for inspection (its status is 300)" in result.output
    result = runner.invoke(
        app, ["review", "decide", str(fine), "--db", str(db), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert _query(db, "SELECT status FROM decisions WHERE cop_no = 'V1'") == [(800,)]
    assert _query(db, "SELECT count(*) FROM risk_outcomes") == [(1,)]


def test_train_refuses_without_enough_outcomes(store_with_held: Path) -> None:
    result = runner.invoke(app, ["risk", "train", "--db", str(store_with_held)])
    assert result.exit_code == 2
    assert "at least 20 recorded outcomes" in result.output


def test_train_registers_a_version_that_the_next_clearing_uses(tmp_path: Path) -> None:
    from cbec.simulate import simulate_day

    day = tmp_path / "day"
    simulate_day(parcels=1500, seed=5, day=dt.date(2024, 6, 15), out=day)
    db = tmp_path / "cbec.duckdb"
    store = Store(db)
    try:
        clear([day], store, tmp_path / "out", Policy.load())
        # Outcomes for 60 released parcels, a finding for every third (what a trial would give).
        keys = store.con.con.execute(
            "SELECT agent_code, cop_no FROM decisions WHERE status = 800 ORDER BY cop_no LIMIT 60"
        ).fetchall()
        store.con.con.execute("UPDATE decisions SET status = 500 WHERE status = 800")
    finally:
        store.close()
    rows = [
        {"agent_code": a, "cop_no": c, "found": i % 3 == 0,
         "finding": "undervaluation" if i % 3 == 0 else None}
        for i, (a, c) in enumerate(keys)
    ]  # fmt: skip
    outcomes = tmp_path / "o.jsonl"
    outcomes.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["inspect", "record", str(outcomes), "--db", str(db)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["risk", "train", "--db", str(db)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["version"], report["outcomes"], report["findings"]) == ("v1", 60, 20)
    day2 = tmp_path / "day2"
    simulate_day(parcels=300, seed=6, day=dt.date(2024, 6, 16), out=day2)
    store = Store(db)
    try:
        clear([day2], store, tmp_path / "out2", Policy.load())
    finally:
        store.close()
    versions = _query(
        db, "SELECT DISTINCT model_version FROM risk_decisions WHERE cop_no LIKE '%20240616%'"
    )
    assert versions == [("v1",)]


def test_a_rejected_parcel_gives_back_its_yearly_quantity(tmp_path: Path) -> None:
    # 5 kg of rice (20 kg a person a year, positive-list remark) at 4.00 CNY a kg, below 5 % of
    # its line's reference (89.44): inspected. The inspector finds other goods: rejected, and the
    # buyer's 5 kg of the year are given back with the allowance.
    rice = [{"gcode": "1006302000", "qty": 5, "qty1": 5, "unit1": "035", "price": "4.00"}]
    write_messages(tmp_path / "in", merge(parcel("R1", rice)))
    db = tmp_path / "cbec.duckdb"
    store = Store(db)
    try:
        clear([tmp_path / "in"], store, tmp_path / "out", Policy.load())
    finally:
        store.close()
    assert _query(db, "SELECT status FROM decisions") == [(500,)]
    assert _query(db, "SELECT sum(qty) FROM quantity_ledger") == [(5,)]
    outcomes = tmp_path / "inspected.csv"
    outcomes.write_text(
        "cop_no,agent_code,found,finding\nR1,3301980001,true,goods_mismatch\n", encoding="utf-8"
    )
    result = runner.invoke(
        app,
        ["inspect", "record", str(outcomes), "--db", str(db), "--out", str(tmp_path / "o"),
         "--as-of", "2024-06-16T09:00:00"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _query(db, "SELECT status FROM decisions") == [(100,)]
    assert _query(db, "SELECT sum(qty) FROM quantity_ledger") == [(0,)]
    assert _query(db, "SELECT sum(value) FROM allowance_ledger") == [(0,)]
