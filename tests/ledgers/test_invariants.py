"""The ledgers always balance: a long seeded sequence of entry lists, declarations (bonded and
direct), returns and cancellations, cleared run after run, with the invariants checked after
every run (issue: "These ledgers must always balance")."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from builders import declaration, merge, stock_entry, write_jsonl, write_return
from cbec.pipeline import Policy, clear
from cbec.store.embedded import Store

BUYERS = ("110101199003070011", "110101198512010012")
GOODS = ("6111200050", "3304990099")
RUNS = 6


def _day(rng: random.Random, run: int, root: Path, decided: list[dict[str, Any]]) -> Path:
    """One run's input: stock for a few items, some declarations, returns of earlier ones."""
    folder = root / f"run{run}"
    when = dt.datetime(2024, 6, 1) + dt.timedelta(days=3 * run)
    parts = [
        stock_entry(
            {f"R{n}": rng.randint(0, 3) for n in (1, 2)},
            when=f"{when - dt.timedelta(hours=2):%Y-%m-%dT%H:%M:%S}",
            cop_no=f"RK{run}",
        )
    ]
    for k in range(rng.randint(4, 7)):
        lines = [
            {
                "gcode": rng.choice(GOODS),
                "qty": rng.randint(1, 3),
                "price": f"{rng.randint(500, 1600)}.00",
            }
            for _ in range(rng.randint(1, 2))
        ]
        parts.append(
            declaration(
                f"N{run}{k}",
                lines,
                when=f"{when + dt.timedelta(minutes=10 * k):%Y-%m-%dT%H:%M:%S}",
                mode=rng.choice(("9610", "1210", "1239")),
                buyer_id=rng.choice((BUYERS[0], BUYERS[0], BUYERS[0], BUYERS[1])),
            )
        )
    if run == 0:  # the first buyer uses 24,000 of 26,000 at once: the limit binds from here on
        for i in range(6):
            heavy = [{"gcode": GOODS[0], "qty": 1, "price": "4000.00"}]
            at = f"{when - dt.timedelta(minutes=60 - i):%Y-%m-%dT%H:%M:%S}"
            parts.append(declaration(f"H{i}", heavy, when=at, buyer_id=BUYERS[0]))
    write_jsonl(folder / "docs", merge(*parts))
    for old in rng.sample(decided, min(len(decided), 2)):
        write_return(
            folder / "xml",
            old["cop_no"],
            old["invt_no"] or "X",
            when + dt.timedelta(hours=rng.choice((1, 24 * 40))),  # in time, or too late
            gnums=rng.choice(((), (1,))),
        )
    return folder


def _check_invariants(db: Path) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        negative = con.execute(
            "SELECT ems_no, item_record_no, sum(qty) FROM stock_ledger GROUP BY ALL "
            "HAVING sum(qty) < 0"
        ).fetchall()
        assert negative == [], negative
        # Allowance used = value of admitted lists (released, or held for inspection or review:
        # they reserve it) less the value of accepted returns.
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
        assert ledger == expected
        # Tax assessed = the tax lines of admitted lists (held ones included) less returns.
        (due, lines, returned) = con.execute(
            "SELECT (SELECT coalesce(sum(tax_total), 0) FROM decisions "
            "WHERE status IN (800, 500, 300)) - "
            "(SELECT coalesce(sum(customs_tax + value_added_tax + consumption_tax), 0) "
            "FROM returned_lines), "
            "(SELECT coalesce(sum(customs_tax + value_added_tax + consumption_tax), 0) "
            "FROM tax_lines), "
            "(SELECT coalesce(sum(customs_tax + value_added_tax + consumption_tax), 0) "
            "FROM returned_lines)"
        ).fetchall()[0]
        assert due == lines - returned
        # Every release is backed by stock entered: entries + returns >= releases, per item.
        released = con.execute(
            "SELECT count(*) FROM decisions "
            "WHERE status IN (800, 500, 300) AND trade_mode IN ('1210', '1239')"
        ).fetchall()[0][0]
        moves = con.execute(
            "SELECT count(DISTINCT cop_no) FROM stock_ledger WHERE kind = 'release'"
        ).fetchall()[0][0]
        assert moves == released
    finally:
        con.close()


def _counts(db: Path) -> dict[str, Any]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = ("decisions", "tax_lines", "allowance_ledger", "stock_ledger", "returned_lines")
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
    finally:
        con.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_ledgers_balance_after_every_run_and_a_replay_changes_nothing(
    seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    policy = Policy.load()
    db = tmp_path / "s.duckdb"
    decided: list[dict[str, Any]] = []
    for run in range(RUNS):
        folder = _day(rng, run, tmp_path, decided)
        inputs = [p for p in (folder / "docs", folder / "xml") if p.exists()]
        store = Store(db)
        try:
            clear(inputs, store, tmp_path / f"out{run}", policy)
        finally:
            store.close()
        _check_invariants(db)
        before = _counts(db)
        store = Store(db)
        try:  # the same run again: nothing new is decided, booked or returned
            clear(inputs, store, tmp_path / f"again{run}", policy)
        finally:
            store.close()
        assert _counts(db) == before
        _check_invariants(db)
        decided += [
            r for r in pq.read_table(tmp_path / f"out{run}" / "decisions.parquet").to_pylist()
        ]
