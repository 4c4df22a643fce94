"""Inspection and review outcomes on the PostgreSQL store: the same rows and receipts as on
DuckDB, seen by every process, applied once however many processes try, nothing written for a
bad file. Against a real server (conftest.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from builders import OTHER_ID, declaration, merge, stock_entry, write_jsonl, write_return
from cbec.cli import app
from cbec.outcomes import OutcomeError, apply_outcomes, outcomes_from_rows
from cbec.pipeline import Policy, clear
from cbec.risk.rules import load_rules
from cbec.store.embedded import Store
from cbec.store.migrations import MIGRATIONS, upgrade_duckdb
from cbec.store.postgres import PostgresStore, StoreConflict, migrate_connection, retrying
from pg_helpers import stale_once as _stale_once

runner = CliRunner()
FAR_BELOW = [{"gcode": "6111200050", "qty": 1, "price": "8.00"}]  # inspected (hard rule)
BELOW = [{"gcode": "6111200050", "qty": 2, "price": "30.00"}]  # manual review (the rule below)
BIG = [{"gcode": "6111200050", "qty": 5, "price": "1000.00"}]  # 5,000: the single limit
RICE = [{"gcode": "1006302000", "qty": 5, "qty1": 5, "unit1": "035", "price": "4.00"}]
REVIEW_RULE = """
rules:
  - name: review_below_a_fifth
    since: 2016-04-08
    when: {price_to_reference: {below: 0.2, at_least: 0.05}}
    outcome: review
    rationale: an operator's own rule
    reference: Customs Law of the PRC, art. 28
"""
# What the tables hold after outcomes (every column but the batch id, which differs).
TABLES = ("decisions", "tax_lines", "allowance_ledger", "quantity_ledger", "stock_ledger",
          "risk_outcomes")  # fmt: skip
AS_OF = ["--as-of", "2024-06-16T09:00:00"]
INSPECTED = (
    "cop_no,agent_code,found,finding,action,value_added_tax,note\n"
    "I1,3301980001,false,,,,nothing wrong\n"
    "I2,3301980001,true,undervaluation,reassess,5.20,invoice shows 48.00\n"
    "I3,3301980001,true,goods_mismatch,,,a phone\n"
    "R1,3301980001,true,goods_mismatch,,,not rice\n"
    "B1,3301980001,true,goods_mismatch,,,not garments\n"
    "Y9,3301980001,true,goods_mismatch,,,empty box\n"
)
REVIEWED = "cop_no,agent_code,found\nV1,3301980001,false\n"


def _policy(tmp_path: Path) -> Policy:
    rules = tmp_path / "rules.yaml"
    rules.write_text(REVIEW_RULE, encoding="utf-8")
    shipped = Policy.load()
    return dataclasses.replace(shipped, risk_rules=(*shipped.risk_rules, *load_rules(rules)))


def _held_day(folder: Path) -> Path:
    # Held for inspection (500): garments at 8.00 (a twentieth of the reference), 5 kg of rice
    # at 4.00 a kg (yearly quantity), a bonded list taking stock R1, and OTHER_ID's 8.00 parcel
    # after her 25,000 of the year; held for review (300): garments at 30.00.
    rows = merge(
        stock_entry({"R1": 10}, when="2024-06-14T20:00:00"),
        declaration("I1", FAR_BELOW),
        declaration("I2", FAR_BELOW, buyer_id=OTHER_ID, buyer_name="李四"),
        declaration("I3", FAR_BELOW),
        declaration("R1", RICE),
        declaration("B1", FAR_BELOW, mode="1210"),
        declaration("V1", BELOW),
        *(
            declaration(f"Y{d}", BIG, when=f"2024-06-{d:02d}T10:00:00", buyer_id=OTHER_ID)
            for d in range(1, 6)
        ),
        declaration("Y9", FAR_BELOW, when="2024-06-15T11:00:00", buyer_id=OTHER_ID),
    )
    return write_jsonl(folder, rows)


def _day_two(folder: Path) -> Path:
    # 991.00 more for OTHER_ID (Y1-Y5 25,000, I2 8.00): 25,999.00 is within the 26,000 only if
    # Y9's 8.00 was given back (else 26,007.00).
    lines = [{"gcode": "6111200050", "qty": 1, "price": "991.00"}]
    return write_jsonl(
        folder, declaration("Z1", lines, when="2024-06-20T10:00:00", buyer_id=OTHER_ID)
    )


def _rows(query: Callable[[str], Sequence[tuple[Any, ...]]]) -> dict[str, list[tuple[str, ...]]]:
    """Every row of TABLES, each value as text, sorted; on any store's connection."""
    found = {}
    for table in TABLES:
        columns = [
            name
            for (name,) in query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                f"'{table}' AND column_name <> 'batch_id' ORDER BY ordinal_position"
            )
        ]
        rows = query(f"SELECT {', '.join(columns)} FROM {table}")
        found[table] = sorted(tuple(str(value) for value in row) for row in rows)
    return found


def _duck(db: Path) -> dict[str, list[tuple[str, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return _rows(lambda sql: con.execute(sql).fetchall())


def _pg(url: str) -> dict[str, list[tuple[str, ...]]]:
    with psycopg.connect(url) as con:
        return _rows(lambda sql: con.execute(sql).fetchall())


def _copy(store: PostgresStore) -> dict[str, list[tuple[str, ...]]]:
    return _rows(lambda sql: store.con.con.execute(sql).fetchall())


def _batches(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as con:
        return con.execute("SELECT declarations FROM batches ORDER BY committed_at").fetchall()


def _receipts(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (folder / "receipts").glob("*.xml")}


def _cleared_on_both(tmp_path: Path, pg_url: str) -> Path:
    """The held day cleared on a DuckDB store and on the PostgreSQL store; the DuckDB file."""
    db = tmp_path / "cbec.duckdb"
    day = _held_day(tmp_path / "day1")
    for store in (Store(db), PostgresStore(pg_url)):
        try:
            clear([day], store, tmp_path / "cleared", _policy(tmp_path))
        finally:
            store.close()
    return db


def _invoke(command: str, file: Path, *store: str, out: Path) -> str:
    result = runner.invoke(app, [*command.split(), str(file), *store, "--out", str(out), *AS_OF])
    assert result.exit_code == 0, result.output
    return result.output


def test_outcomes_on_postgresql_give_the_rows_and_receipts_of_duckdb_in_every_process(
    tmp_path: Path, pg_url: str
) -> None:
    db = _cleared_on_both(tmp_path, pg_url)
    held = _duck(db)
    assert held == _pg(pg_url)
    status = {row[1]: row[4] for row in held["decisions"]}
    assert status == {**dict.fromkeys(("I1", "I2", "I3", "R1", "B1", "Y9"), "500"), "V1": "300",
                      **dict.fromkeys(("Y1", "Y2", "Y3", "Y4", "Y5"), "800")}  # fmt: skip
    other = PostgresStore(pg_url)  # another process, opened before the outcomes
    try:
        inspected, reviewed = tmp_path / "inspected.csv", tmp_path / "reviewed.csv"
        inspected.write_text(INSPECTED, encoding="utf-8")
        reviewed.write_text(REVIEWED, encoding="utf-8")
        stores = {"duck": ["--db", str(db)], "pg": ["--store", pg_url]}
        for name, store in stores.items():
            said = _invoke("inspect record", inspected, *store, out=tmp_path / name)
            assert "1 released, 1 reassessed, 4 rejected; revenue recovered 5.20 CNY" in said
            _invoke("review decide", reviewed, *store, out=tmp_path / f"{name}-review")
        after = _duck(db)
        assert after == _pg(pg_url)
        for folder in ("", "-review"):
            assert _receipts(tmp_path / f"duck{folder}") == _receipts(tmp_path / f"pg{folder}")
        # CEB622 for each; CEB816 for I1, I2's 01 and 02 (reassessed); then V1's 622 and 816.
        assert (len(_receipts(tmp_path / "pg")), len(_receipts(tmp_path / "pg-review"))) == (9, 2)
        status = {row[1]: (row[4], row[10]) for row in after["decisions"]}  # tax_total
        # 8.00 of garments at 9.1 % (13 % VAT x 70 %): 0.73; I2 adds 5.20 reassessed.
        assert status["I1"] == ("800", "0.73") and status["I2"] == ("800", "5.93")
        assert {status[k] for k in ("I3", "R1", "B1", "Y9")} == {("100", "0.00")}
        assert status["V1"][0] == "800"
        # The rejected give back their allowance, rice and stock (B1's release reversed).
        given = [r for r in after["allowance_ledger"] if r[6] == "inspection_rejected"]
        expected = [("B1", "-8.00"), ("I3", "-8.00"), ("R1", "-20.00"), ("Y9", "-8.00")]
        assert sorted((r[3], r[4]) for r in given) == expected
        assert [(r[6], r[8]) for r in after["quantity_ledger"]] == [
            ("-5.00000", "inspection_rejected"),
            ("5.00000", "admitted"),
        ]
        assert sorted(r[2] for r in after["stock_ledger"] if r[5] == "B1") == [
            "-1.00000",
            "1.00000",
        ]
        # The process opened before sees the same, once it reads what was committed.
        assert _copy(other) != after
        other.refresh()
        assert _copy(other) == after
        # Outcome batches hold no declarations: the batches table counts the clearing's.
        assert [n for (n,) in _batches(pg_url)] == [12, 0, 0]
        # So its next clearing judges OTHER_ID's allowance with Y9's 8.00 given back.
        day_two = _day_two(tmp_path / "day2")
        clear([day_two], other, tmp_path / "pg2", Policy.load())
        duck = Store(db)
        try:
            clear([day_two], duck, tmp_path / "duck2", Policy.load())
        finally:
            duck.close()
        assert _duck(db) == _pg(pg_url) == _copy(other)
        z1 = [row for row in _pg(pg_url)["decisions"] if row[1] == "Z1"]
        # Admitted, not rejected over_annual_limit (the risk rules hold it for review, 300).
        assert (z1[0][4], z1[0][5]) == ("300", "[]")
    finally:
        other.close()


def _outcomes(text: str) -> list[Any]:
    import csv

    rows = [{"_row": n, **r} for n, r in enumerate(csv.DictReader(text.splitlines()), start=2)]
    return outcomes_from_rows(rows, "test")


def test_the_same_outcomes_from_two_processes_are_applied_once(tmp_path: Path, pg_url: str) -> None:
    _cleared_on_both(tmp_path, pg_url)
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        applied = apply_outcomes(first, _outcomes(INSPECTED), 500, tmp_path / "first")
        assert (applied.released, applied.reassessed, applied.rejected) == (1, 1, 4)
        after = _pg(pg_url)
        _stale_once(second)  # it still sees I1... held: the store's own check refuses
        with pytest.raises(OutcomeError) as refused:
            apply_outcomes(second, _outcomes(INSPECTED), 500, tmp_path / "second")
        assert "I1: not held for inspection (its status is 800)" in refused.value.problems
        assert "I3: not held for inspection (its status is 100)" in refused.value.problems
        assert len(refused.value.problems) == 6
        assert _pg(pg_url) == after  # nothing written: no second reversal, no second outcome row
        assert [n for (n,) in _batches(pg_url)] == [12, 0]
        assert _copy(second) == after  # and its copy now holds what the first decided
        assert not (tmp_path / "second").exists()
    finally:
        first.close()
        second.close()


def test_a_bad_outcome_file_on_postgresql_changes_nothing(tmp_path: Path, pg_url: str) -> None:
    _cleared_on_both(tmp_path, pg_url)
    before = _pg(pg_url)
    bad = tmp_path / "bad.csv"
    bad.write_text("cop_no,agent_code,found\nI1,3301980001,false\nI2,3301980001,perhaps\n")
    result = runner.invoke(app, ["inspect", "record", str(bad), "--store", pg_url])
    assert result.exit_code == 2
    assert "row 3, found: 'perhaps' is not true or false" in result.output
    # V1 is held for review, not inspection: refused with why, I1 with it.
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("cop_no,agent_code,found\nI1,3301980001,false\nV1,3301980001,false\n")
    result = runner.invoke(app, ["inspect", "record", str(wrong), "--store", pg_url])
    assert result.exit_code == 2 and "not held for inspection (its status is 300)" in result.output
    assert _pg(pg_url) == before
    assert [n for (n,) in _batches(pg_url)] == [12]


def test_outcomes_recorded_before_version_5_are_kept(tmp_path: Path, pg_url: str) -> None:
    # A version-4 store (either kind) with an outcome recorded: upgraded, the row stays, with no
    # batch; a PostgreSQL copy reads it once, however often it refreshes.
    row = (
        "INSERT INTO risk_outcomes VALUES ('A1', 'C1', 500, true, 'undervaluation', 'reject', "
        "0, 0, 0, 0, 100, TIMESTAMP '2024-06-16 09:00:00', NULL, 'B1', 'E1', 'L1', 'old.csv')"
    )
    kept = [("C1", "undervaluation", None)]
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:
        assert upgrade_duckdb(con, target=4) == (0, 4)
        con.execute(row)
    store = Store(db)
    try:
        rows = store.con.con.execute("SELECT cop_no, finding, batch_id FROM risk_outcomes")
        assert rows.fetchall() == kept
    finally:
        store.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:
        assert migrate_connection(pg, target=4) == (0, 4)
        pg.execute(row)
    result = runner.invoke(app, ["store", "migrate", "--store", pg_url])
    assert (
        result.exit_code == 0 and f"schema version 4 -> {MIGRATIONS[-1].version}" in result.output
    )
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT cop_no, finding, batch_id FROM risk_outcomes").fetchall() == kept
        indexes = {r[0] for r in pg.execute("SELECT indexname FROM pg_indexes").fetchall()}
        assert "risk_outcomes_batch" in indexes
    copy = PostgresStore(pg_url)
    try:
        copy.refresh()
        copy.refresh()
        rows = copy.con.con.execute("SELECT cop_no, finding, batch_id FROM risk_outcomes")
        assert rows.fetchall() == kept
    finally:
        copy.close()


def test_two_processes_racing_on_the_same_outcomes_apply_them_once(
    tmp_path: Path, pg_url: str
) -> None:
    # Both read the declarations held; whichever commits second waits on the first's locks and
    # finds them resolved (or reads them resolved): one application, the other refused whole.
    _cleared_on_both(tmp_path, pg_url)
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    start = threading.Barrier(2)
    results: list[object] = [None, None]

    def apply(n: int) -> None:
        start.wait()
        try:
            results[n] = apply_outcomes(stores[n], _outcomes(INSPECTED), 500, tmp_path / f"o{n}")
        except OutcomeError as error:
            results[n] = error

    try:
        threads = [threading.Thread(target=apply, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refused = [r for r in results if isinstance(r, OutcomeError)]
        assert len(refused) == 1, results
        assert "I1: not held for inspection (its status is 800)" in refused[0].problems
        with psycopg.connect(pg_url) as pg:
            counts = pg.execute(
                "SELECT (SELECT count(*) FROM risk_outcomes), (SELECT count(*) FROM "
                "allowance_ledger WHERE kind = 'inspection_rejected')"
            ).fetchall()
        assert counts == [(6, 4)]
        assert [n for (n,) in _batches(pg_url)] == [12, 0]
        for store in stores:
            store.refresh()
            assert _copy(store) == _pg(pg_url)
    finally:
        for store in stores:
            store.close()


def test_a_cancellation_of_a_list_another_process_resolved_is_judged_again(
    tmp_path: Path, pg_url: str
) -> None:
    # V1 (300) is released by review in one process; another, which read it held, clears its
    # declarant's cancellation (CEB623): the commit finds V1 resolved and nothing is written;
    # cleared again on fresh history, the cancellation is refused (released: return instead).
    _cleared_on_both(tmp_path, pg_url)
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        invt_no = next(r[3] for r in _copy(second)["decisions"] if r[1] == "V1")
        cancel = write_return(
            tmp_path / "cancel", "V1", invt_no, dt.datetime(2024, 6, 16, 10), cancel=True
        )
        apply_outcomes(first, _outcomes(REVIEWED), 300, tmp_path / "reviewed")
        after = _pg(pg_url)
        _stale_once(second)
        with pytest.raises(StoreConflict, match="resolved the held list V1"):
            clear([cancel.parent], second, tmp_path / "c1", Policy.load())
        assert _pg(pg_url) == after
        retrying(second, lambda: clear([cancel.parent], second, tmp_path / "c2", Policy.load()))
        v1 = [r for r in _pg(pg_url)["decisions"] if r[1] == "V1"]
        assert v1[0][4] == "800"
        given = [r for r in _pg(pg_url)["allowance_ledger"] if r[3] == "V1"]
        assert [r[6] for r in given] == ["admitted"]  # nothing given back
    finally:
        first.close()
        second.close()
