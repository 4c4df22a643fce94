"""Property tests of the ledgers (issue: "Invariants, tested"): hypothesis draws sequences of runs,
each with entry lists, declarations (bonded and direct, some of rice, which has a yearly quantity
limit), returns (in time or late, goods back in time or not), cancellations and payments, under a
guarantee or none; after every run the ledgers balance, and replaying a run changes nothing.

Examples are few and long (each run clears a small store, the cost is per run): six runs of up to
ten parcels each, the invariants (the stock reconciliation among them) checked after every run,
the last run and its payments replayed. CBEC_PROPERTY_EXAMPLES sets how many examples (3 here;
more outside CI, docs/ledgers.md "Invariants, tested").
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from builders import BUYER_ID, OTHER_ID, declaration, merge, stock_entry, write_jsonl, write_return
from cbec.cli import app
from cbec.pipeline import Policy, clear
from cbec.store import ledgers
from cbec.store.embedded import Store
from ledger_helpers import snapshot, unreconciled

AGENT = "3301960001"  # the builders' assureCode
GOODS = ("6111200050", "3304990099", "1006302000")  # the last: rice, 20 kg a person a year
RICE_LIMIT = Decimal(20)
START = dt.datetime(2024, 6, 1, 8, 0)
DAYS_APART = 12
runner = CliRunner()
POLICY = Policy.load()
EXAMPLES = int(os.environ.get("CBEC_PROPERTY_EXAMPLES", "3"))
RUNS = 6

line = st.fixed_dictionaries(
    {
        "gcode": st.sampled_from(GOODS),
        "qty": st.integers(1, 9),
        "price": st.sampled_from(("10.00", "350.00", "1200.00", "4000.00")),
    }
)
parcel = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(("9610", "9610", "1210", "1239")),
        "buyer": st.sampled_from((BUYER_ID, BUYER_ID, OTHER_ID)),
        "lines": st.lists(line, min_size=1, max_size=2),
    }
)
after = st.fixed_dictionaries(
    {
        "pick": st.integers(0, 10**6),
        "whole": st.booleans(),
        "days": st.sampled_from((2, 9, 40)),  # the last: after the 30-day window
        "back": st.sampled_from((None, 20, 50)),  # goods back (days after release), or not said
        "cancel": st.booleans(),
    }
)
day = st.fixed_dictionaries(
    {
        "stock": st.dictionaries(st.sampled_from(("R1", "R2")), st.integers(0, 8)),
        "parcels": st.lists(parcel, min_size=3, max_size=10),
        "after": st.lists(after, max_size=3),
        "pay": st.booleans(),
    }
)


def _write_day(
    run: int, plan: dict[str, Any], root: Path, decided: list[dict[str, Any]]
) -> list[Path]:
    when = START + dt.timedelta(days=DAYS_APART * run)
    folder = root / f"run{run}"
    parts = [stock_entry(plan["stock"], when=f"{when:%Y-%m-%dT%H:%M:%S}", cop_no=f"E{run}")]
    for k, p in enumerate(plan["parcels"]):
        lines = [
            {**ln, "qty1": ln["qty"], "unit1": "035" if ln["gcode"] == GOODS[2] else "011"}
            for ln in p["lines"]
        ]
        at = when + dt.timedelta(hours=1, minutes=7 * k)
        parts.append(
            declaration(f"P{run}x{k}", lines, when=f"{at:%Y-%m-%dT%H:%M:%S}", mode=p["mode"],
                        buyer_id=p["buyer"])
        )  # fmt: skip
    write_jsonl(folder / "docs", merge(*parts))
    released = [d for d in decided if d["status"] in (800, 300, 500) and d["invt_no"]]
    for n, a in enumerate(plan["after"]):
        if not released:
            break
        old = released[a["pick"] % len(released)]
        # Applied after the previous run (messages arrive in time order) and not after this one.
        applied = min(max(old["decided_at"] + dt.timedelta(days=a["days"]),
                          when - dt.timedelta(days=1)), when)  # fmt: skip
        back = old["decided_at"] + dt.timedelta(days=a["back"]) if a["back"] else None
        write_return(folder / "xml", old["cop_no"], old["invt_no"], applied,
                     gnums=() if a["whole"] else (1,), cancel=a["cancel"], arrival=back,
                     name=f"R{run}_{n}.xml")  # fmt: skip
    return [p for p in (folder / "docs", folder / "xml") if p.exists()]


def _clear(db: Path, inputs: list[Path], out: Path) -> list[dict[str, Any]]:
    store = Store(db)
    try:
        clear(inputs, store, out, POLICY)
    finally:
        store.close()
    return pq.read_table(out / "decisions.parquet").to_pylist()


def _check(db: Path, guarantee: Decimal | None) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        _stock_never_negative(con)
        _allowance_is_admitted_less_returned(con)
        _tax_due_is_released_less_returned(con)
        over = con.execute(
            "SELECT buyer_id_number, year, tariff_line, sum(qty) FROM quantity_ledger "
            "GROUP BY ALL HAVING sum(qty) > ?",
            [RICE_LIMIT],
        ).fetchall()
        assert over == [], over
    finally:
        con.close()
    if guarantee is not None:  # the released tax not paid nor returned stays within it
        store = Store(db)
        try:
            (row,) = ledgers.guarantees(store).to_pylist()
        finally:
            store.close()
        assert Decimal(0) <= row["outstanding"] <= guarantee, row
    assert unreconciled(db) == []  # `cbec warehouse reconcile`: the stock ledger balances


def _stock_never_negative(con: duckdb.DuckDBPyConnection) -> None:
    negative = con.execute(
        "SELECT ems_no, item_record_no, sum(qty) FROM stock_ledger GROUP BY ALL HAVING sum(qty) < 0"
    ).fetchall()
    assert negative == [], negative


def _allowance_is_admitted_less_returned(con: duckdb.DuckDBPyConnection) -> None:
    """Per buyer and year: the ledger = the value of the admitted (released or held) lists less
    what their accepted returns gave back; a cancelled list (closed, 899) counts nothing."""
    ledger = dict(
        ((b, y), v)
        for b, y, v in con.execute(
            "SELECT buyer_id_number, year, sum(value) FROM allowance_ledger GROUP BY ALL"
        ).fetchall()
    )
    expected = dict(
        ((b, y), v)
        for b, y, v in con.execute(
            "WITH back AS (SELECT agent_code, cop_no, sum(tax_price) AS part, count(*) AS n "
            "FROM returned_lines GROUP BY ALL), "
            "lines AS (SELECT agent_code, cop_no, count(*) AS n FROM tax_lines GROUP BY ALL) "
            "SELECT d.buyer_id_number, year(d.decl_time), sum(d.dutiable_value - CASE "
            "WHEN b.n IS NULL THEN 0 WHEN b.n = l.n THEN d.dutiable_value ELSE b.part END) "
            "FROM decisions d LEFT JOIN back b USING (agent_code, cop_no) "
            "LEFT JOIN lines l USING (agent_code, cop_no) WHERE d.status IN (800, 300, 500) "
            "GROUP BY ALL"
        ).fetchall()
    )
    # A buyer whose only lists were cancelled has a ledger summing to zero and no admitted list.
    assert {k: v for k, v in ledger.items() if v} == {k: v for k, v in expected.items() if v}


def _tax_due_is_released_less_returned(con: duckdb.DuckDBPyConnection) -> None:
    """Tax due (the bills of released lists) = the tax lines of released lists less those of
    returned lines; a held list (300, 500) carries its assessed tax, with its lines, but has no
    bill until released; rejected and cancelled lists carry none."""
    due, lines, returned, held, held_lines, other = con.execute(
        "SELECT (SELECT coalesce(sum(tax_total), 0) FROM decisions WHERE status = 800), "
        "(SELECT coalesce(sum(t.customs_tax + t.value_added_tax + t.consumption_tax), 0) "
        "FROM tax_lines t JOIN decisions d USING (agent_code, cop_no) WHERE d.status = 800), "
        "(SELECT coalesce(sum(customs_tax + value_added_tax + consumption_tax), 0) "
        "FROM returned_lines), "
        "(SELECT coalesce(sum(tax_total), 0) FROM decisions WHERE status IN (300, 500)), "
        "(SELECT coalesce(sum(t.customs_tax + t.value_added_tax + t.consumption_tax), 0) "
        "FROM tax_lines t JOIN decisions d USING (agent_code, cop_no) "
        "WHERE d.status IN (300, 500)), "
        "(SELECT coalesce(sum(tax_total), 0) FROM decisions WHERE status NOT IN (300, 500, 800))"
    ).fetchall()[0]
    assert due == lines and held == held_lines and other == 0
    assert returned <= due
    # Payment opens after the return window: a list returned whole is never paid, and a list
    # returned in part is paid the tax of the lines it kept, no more.
    paid = con.execute(
        "WITH back AS (SELECT agent_code, cop_no, count(*) AS n, "
        "  sum(customs_tax + value_added_tax + consumption_tax) AS tax FROM returned_lines "
        "  GROUP BY agent_code, cop_no), "
        "kept AS (SELECT agent_code, cop_no, count(*) AS n, "
        "  sum(customs_tax + value_added_tax + consumption_tax) AS tax FROM tax_lines "
        "  GROUP BY agent_code, cop_no) "
        "SELECT p.cop_no, b.n = k.n, p.tax_paid, k.tax - b.tax FROM tax_payments p "
        "JOIN back b USING (agent_code, cop_no) JOIN kept k USING (agent_code, cop_no)"
    ).fetchall()
    assert all(not whole and tax_paid == owed for _, whole, tax_paid, owed in paid), paid


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    days=st.lists(day, min_size=RUNS, max_size=RUNS),
    guarantee=st.sampled_from((None, Decimal("300.00"), Decimal("2500.00"))),
)
def test_the_ledgers_balance_over_random_sequences(
    days: list[dict[str, Any]], guarantee: Decimal | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        db = root / "s.duckdb"
        if guarantee is not None:
            store = Store(db)
            try:
                ledgers.set_guarantee(store, AGENT, guarantee, START)
            finally:
                store.close()
        decided: list[dict[str, Any]] = []
        for run, plan in enumerate(days):
            inputs = _write_day(run, plan, root, decided)
            decided += _clear(db, inputs, root / f"out{run}")
            if plan["pay"]:
                _pay(db, run)
            _check(db, guarantee)
        before = snapshot(db)
        _clear(db, inputs, root / "again")  # the last run replayed: nothing new anywhere
        if days[-1]["pay"]:  # nor its payments (each bill is paid once)
            _pay(db, len(days) - 1)
        assert snapshot(db) == before
        _check(db, guarantee)


def _pay(db: Path, run: int) -> None:
    when = START + dt.timedelta(days=DAYS_APART * run)
    for period in ("2024-06", "2024-07"):
        runner.invoke(app, ["tax", "pay", "--db", str(db), "--agent", AGENT, "--period", period,
                            "--paid-at", f"{when:%Y-%m-%d}"])  # fmt: skip
