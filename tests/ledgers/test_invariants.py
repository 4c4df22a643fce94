"""The ledgers always balance: a long seeded sequence of entry lists, declarations (bonded and
direct), returns, cancellations and tax payments, under a guarantee that holds some lists (300),
cleared run after run, with the invariants checked after every run (issue: "These ledgers must
always balance"), and every run replayed (its messages and its payments) changing nothing.

The sequences are long rather than many: RUNS runs a seed, each with a dozen parcels; set
CBEC_PROPERTY_RUNS for longer ones outside CI (docs/ledgers.md, "Invariants, tested").
"""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from builders import declaration, merge, stock_entry, write_jsonl, write_return
from cbec.cli import app
from cbec.pipeline import Policy, clear
from cbec.store import ledgers
from cbec.store.embedded import Store
from ledger_helpers import snapshot, unreconciled

AGENT = "3301960001"  # the builders' assureCode
BUYERS = ("110101199003070011", "110101198512010012", "110101197707070010")
GOODS = ("6111200050", "3304990099")
RUNS = int(os.environ.get("CBEC_PROPERTY_RUNS", "6"))
DAYS_APART = 8  # 6 runs span 40 days: bills fall due (day 31) and are paid within the sequence
START = dt.datetime(2024, 6, 1)
runner = CliRunner()


def _day(rng: random.Random, run: int, root: Path, decided: list[dict[str, Any]]) -> Path:
    """One run's input: stock for a few items, declarations, returns and cancellations of
    earlier ones."""
    folder = root / f"run{run}"
    when = START + dt.timedelta(days=DAYS_APART * run)
    parts = [
        stock_entry(
            {f"R{n}": rng.randint(0, 10) for n in (1, 2)},
            when=f"{when - dt.timedelta(hours=2):%Y-%m-%dT%H:%M:%S}",
            cop_no=f"RK{run}",
        )
    ]
    for k in range(rng.randint(9, 14)):
        lines = [
            {
                "gcode": rng.choice(GOODS),
                "qty": rng.randint(1, 3),
                "price": f"{rng.randint(50, 900)}.00",  # most lists fit the single limit
            }
            for _ in range(rng.randint(1, 2))
        ]
        parts.append(
            declaration(
                f"N{run}x{k}",
                lines,
                when=f"{when + dt.timedelta(minutes=10 * k):%Y-%m-%dT%H:%M:%S}",
                mode=rng.choice(("9610", "9610", "1210", "1239")),
                buyer_id=rng.choice((BUYERS[0], BUYERS[0], BUYERS[1], BUYERS[2])),
            )
        )
    if run == 0:  # the first buyer uses 24,000 of 26,000 at once: the limit binds from here on
        for i in range(6):
            heavy = [{"gcode": GOODS[0], "qty": 1, "price": "4000.00"}]
            at = f"{when - dt.timedelta(minutes=60 - i):%Y-%m-%dT%H:%M:%S}"
            parts.append(declaration(f"H{i}", heavy, when=at, buyer_id=BUYERS[0]))
    write_jsonl(folder / "docs", merge(*parts))
    # Returns (CEB625) of released lists, and of a list of any status now and then (refused).
    released = [d for d in decided if d["status"] == 800]
    picked = rng.sample(released, min(len(released), 3)) + rng.sample(decided, min(len(decided), 1))
    for n, old in enumerate(picked):
        write_return(
            folder / "xml",
            old["cop_no"],
            old["invt_no"] or "X",
            when + dt.timedelta(hours=rng.choice((1, 24 * 40))),  # in time, or too late
            gnums=rng.choice(((), (1,))),
            name=f"R{run}_{n}.xml",
        )
    # Cancellations (CEB623): most of the lists held for the guarantee, and a released one now
    # and then (refused: return it instead).
    held = [d for d in decided if d["status"] == 300]
    others = [d for d in decided if d["status"] != 300]
    cancel = rng.sample(held, (len(held) + 1) // 2) + rng.sample(others, min(len(others), 1))
    for n, old in enumerate(cancel):
        write_return(folder / "xml", old["cop_no"], old["invt_no"] or "X",
                     when + dt.timedelta(hours=2), cancel=True, name=f"C{run}_{n}.xml")  # fmt: skip
    return folder


def _pay(db: Path, run: int) -> None:
    """The agent pays what it owes on the run's day, for the months whose releases are due (day
    31 to 45) or late; bills not yet due are refused, which changes nothing."""
    paid_at = START + dt.timedelta(days=DAYS_APART * run)
    due = {f"{paid_at - dt.timedelta(days=d):%Y-%m}" for d in (31, 45)
           if paid_at - dt.timedelta(days=d) >= START - dt.timedelta(days=30)}  # fmt: skip
    for period in sorted(due):
        runner.invoke(app, ["tax", "pay", "--db", str(db), "--agent", AGENT, "--period", period,
                            "--paid-at", f"{paid_at:%Y-%m-%d}"])  # fmt: skip


def _check_invariants(db: Path, guarantee: Decimal) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        negative = con.execute(
            "SELECT ems_no, item_record_no, sum(qty) FROM stock_ledger GROUP BY ALL "
            "HAVING sum(qty) < 0"
        ).fetchall()
        assert negative == [], negative
        # Allowance used = value of admitted lists (released, or held for inspection or review:
        # they reserve it) less the value of accepted returns; a cancelled list (899) none.
        ledger = dict(
            (tuple(k), v)
            for *k, v in con.execute(
                "SELECT buyer_id_number, year, sum(value) FROM allowance_ledger GROUP BY ALL"
            ).fetchall()
        )
        expected = dict(
            (tuple(k), v)
            for *k, v in con.execute(
                "WITH back AS (SELECT agent_code, cop_no, sum(tax_price) AS part, count(*) AS n "
                "FROM returned_lines GROUP BY ALL), "
                "lines AS (SELECT agent_code, cop_no, count(*) AS n FROM tax_lines GROUP BY ALL) "
                "SELECT d.buyer_id_number, year(d.decl_time), sum(d.dutiable_value - CASE "
                "WHEN b.n IS NULL THEN 0 WHEN b.n = l.n THEN d.dutiable_value ELSE b.part END) "
                "FROM decisions d LEFT JOIN back b USING (agent_code, cop_no) "
                "LEFT JOIN lines l USING (agent_code, cop_no) "
                "WHERE d.status IN (800, 500, 300) GROUP BY ALL"
            ).fetchall()
        )
        assert {k: v for k, v in ledger.items() if v} == {k: v for k, v in expected.items() if v}
        # Tax assessed = the tax lines of admitted lists (held ones included) less returns;
        # rejected and cancelled lists carry none.
        (due, lines, returned, other) = con.execute(
            "SELECT (SELECT coalesce(sum(tax_total), 0) FROM decisions "
            "WHERE status IN (800, 500, 300)) - "
            "(SELECT coalesce(sum(customs_tax + value_added_tax + consumption_tax), 0) "
            "FROM returned_lines), "
            "(SELECT coalesce(sum(t.customs_tax + t.value_added_tax + t.consumption_tax), 0) "
            "FROM tax_lines t JOIN decisions d USING (agent_code, cop_no) "
            "WHERE d.status IN (800, 500, 300)), "
            "(SELECT coalesce(sum(customs_tax + value_added_tax + consumption_tax), 0) "
            "FROM returned_lines), "
            "(SELECT coalesce(sum(tax_total), 0) FROM decisions "
            "WHERE status NOT IN (800, 500, 300))"
        ).fetchall()[0]
        assert due == lines - returned and other == 0
        # A payment pays its released list's bill: its tax less its returned lines' (a return
        # comes within 30 days, payment from day 31), and only a released list is paid.
        wrong = con.execute(
            "WITH back AS (SELECT agent_code, cop_no, "
            "sum(customs_tax + value_added_tax + consumption_tax) AS tax FROM returned_lines "
            "GROUP BY ALL) SELECT p.cop_no, p.tax_paid, d.tax_total, d.status "
            "FROM tax_payments p JOIN decisions d USING (agent_code, cop_no) "
            "LEFT JOIN back b USING (agent_code, cop_no) "
            "WHERE d.status <> 800 OR p.tax_paid <> d.tax_total - coalesce(b.tax, 0)"
        ).fetchall()
        assert wrong == [], wrong
        # Every admitted bonded list took its stock (released or held), a cancelled one nothing.
        taken = con.execute(
            "SELECT count(*) FROM decisions "
            "WHERE status IN (800, 500, 300) AND trade_mode IN ('1210', '1239')"
        ).fetchall()[0][0]
        moves = con.execute(
            "SELECT count(*) FROM (SELECT source_code, cop_no FROM stock_ledger "
            "WHERE kind IN ('release', 'held', 'cancel') GROUP BY ALL HAVING sum(qty) <> 0)"
        ).fetchall()[0][0]
        assert moves == taken
    finally:
        con.close()
    store = Store(db)
    try:
        (agent,) = ledgers.guarantees(store).to_pylist()
    finally:
        store.close()
    # Tax released, not paid nor returned, stays within the guarantee (paid bills restore it).
    assert Decimal(0) <= agent["outstanding"] <= guarantee, agent
    # `cbec warehouse reconcile`: entries - releases + returns, per item, as the documents say.
    assert unreconciled(db) == []


@pytest.mark.parametrize(("seed", "guarantee"), [(1, "4000.00"), (2, "2500.00")])
def test_the_ledgers_balance_after_every_run_and_a_replay_changes_nothing(
    seed: int, guarantee: str, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    policy = Policy.load()
    db = tmp_path / "s.duckdb"
    store = Store(db)
    try:
        ledgers.set_guarantee(store, AGENT, Decimal(guarantee), START)
    finally:
        store.close()
    decided: list[dict[str, Any]] = []
    statuses: set[int] = set()
    for run in range(RUNS):
        folder = _day(rng, run, tmp_path, decided)
        inputs = [p for p in (folder / "docs", folder / "xml") if p.exists()]
        store = Store(db)
        try:
            clear(inputs, store, tmp_path / f"out{run}", policy)
        finally:
            store.close()
        _pay(db, run)
        _check_invariants(db, Decimal(guarantee))
        before = snapshot(db)
        store = Store(db)
        try:  # the same run again: nothing new is decided, booked, returned, cancelled or paid
            clear(inputs, store, tmp_path / f"again{run}", policy)
        finally:
            store.close()
        _pay(db, run)
        assert snapshot(db) == before
        _check_invariants(db, Decimal(guarantee))
        now = pq.read_table(tmp_path / f"out{run}" / "decisions.parquet").to_pylist()
        decided += now
        statuses |= {r["status"] for r in now}
    final = snapshot(db)
    # The sequence did exercise every ledger move: holds, cancellations, returns, payments.
    assert {800, 100, 300} <= statuses
    assert any(row[3] == "cancel" for row in final["stock_ledger"])
    assert final["returned_lines"] and final["tax_payments"]
