"""The PostgreSQL store: the same decisions as DuckDB, history shared between processes, no
second decision and no allowance passed when two processes commit at once, nothing half
written. Against a real server (conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from builders import OTHER_ID, declaration, merge, stock_entry, write_jsonl, write_return
from cbec.cli import app
from cbec.pipeline import Policy, clear
from cbec.store.embedded import StoreError
from cbec.store.postgres import PostgresStore, StoreConflict, retrying
from pg_helpers import stale_once as _stale_once

runner = CliRunner()
PLAIN = [{"gcode": "6111200050", "qty": 1, "price": "100.00"}]
COSMETICS = [{"gcode": "3304990099", "qty": 1, "price": "300.00"}]


def _big(cop_no: str, day: int, buyer: str = OTHER_ID) -> dict[str, list[dict[str, Any]]]:
    """A 5,000 CNY declaration of `buyer` (the single limit) on 2024-06-`day`."""
    lines = [{"gcode": "6111200050", "qty": 5, "price": "1000.00"}]
    return declaration(cop_no, lines, when=f"2024-06-{day:02d}T10:00:00", buyer_id=buyer)


def _day_one(folder: Path) -> Path:
    # Released plain goods; cosmetics with consumption tax (37.06 + 32.12 = 69.18, tax.yaml);
    # a list without its waybill (rejected); OTHER_ID's 6 x 5,000 = 30,000: the sixth passes the
    # 26,000 annual limit (Cai Guan Shui [2018] No. 49) and is rejected.
    rows = merge(
        declaration("P1", PLAIN),
        declaration("K1", COSMETICS),
        declaration("W1", PLAIN, omit=("waybills",)),
        *(_big(f"Y{day}", day) for day in range(1, 7)),
    )
    return write_jsonl(folder, rows)


def _day_two(folder: Path) -> Path:
    # Day two: OTHER_ID has 25,000 used; 1,000 more is admitted (26,000 is within), then no more.
    small = [{"gcode": "6111200050", "qty": 1, "price": "1000.00"}]
    rows = merge(
        declaration("Z1", small, when="2024-06-20T10:00:00", buyer_id=OTHER_ID),
        declaration("Z2", small, when="2024-06-20T11:00:00", buyer_id=OTHER_ID),
        declaration("P2", PLAIN, when="2024-06-20T12:00:00"),
    )
    return write_jsonl(folder, rows)


def _clear_cli(folder: Path, out: Path, *store: str) -> None:
    result = runner.invoke(app, ["clear", str(folder), "--out", str(out), *store])
    assert result.exit_code == 0, result.output


def _decisions(out: Path) -> dict[str, dict[str, Any]]:
    return {r["cop_no"]: r for r in pq.read_table(out / "decisions.parquet").to_pylist()}


def test_the_same_input_gives_identical_decisions_on_duckdb_and_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    db = ["--db", str(tmp_path / "cbec.duckdb")]
    pg = ["--store", pg_url]
    days = (_day_one(tmp_path / "day1"), _day_two(tmp_path / "day2"))
    for n, folder in enumerate(days, start=1):
        _clear_cli(folder, tmp_path / f"duck{n}", *db)
        _clear_cli(folder, tmp_path / f"pg{n}", *pg)
        for name in ("decisions", "tax_lines"):  # status, reasons, every amount, same order
            duck = pq.read_table(tmp_path / f"duck{n}" / f"{name}.parquet")
            assert duck.equals(pq.read_table(tmp_path / f"pg{n}" / f"{name}.parquet")), name
    one, two = _decisions(tmp_path / "pg1"), _decisions(tmp_path / "pg2")
    assert one["K1"]["status"] == 800 and one["K1"]["tax_total"] == Decimal("69.18")
    assert one["K1"]["consumption_tax"] == Decimal("37.06")
    assert one["W1"]["status"] == 100 and one["W1"]["reasons"] == ["waybill_missing"]
    assert [one[f"Y{d}"]["status"] for d in range(1, 7)] == [800] * 5 + [100]
    assert one["Y6"]["reasons"] == ["over_annual_limit"]
    # Day two's history came from PostgreSQL: 25,000 used, so Z1 fits and Z2 does not.
    assert (two["Z1"]["status"], two["Z2"]["reasons"]) == (800, ["over_annual_limit"])
    with psycopg.connect(pg_url) as con:
        used = con.execute(
            "SELECT sum(value) FROM allowance_ledger WHERE buyer_id_number = %s", [OTHER_ID]
        ).fetchall()
        assert used == [(Decimal("26000.00"),)]
        assert con.execute("SELECT count(*) FROM batches").fetchall() == [(2,)]


def _clear_on(store: PostgresStore, folder: Path, out: Path) -> int:
    policy = Policy.load()
    return retrying(store, lambda: clear([folder], store, out, policy)).new_declarations


def test_two_processes_cannot_pass_the_allowance(tmp_path: Path, pg_url: str) -> None:
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        used = write_jsonl(tmp_path / "a", merge(*(_big(f"A{d}", d) for d in range(1, 6))))
        small = [{"gcode": "6111200050", "qty": 1, "price": "1000.00"}]
        more = write_jsonl(
            tmp_path / "b",
            merge(
                declaration("B1", small, when="2024-06-10T10:00:00", buyer_id=OTHER_ID),
                declaration("B2", small, when="2024-06-10T11:00:00", buyer_id=OTHER_ID),
            ),
        )
        _stale_once(second)  # `second` read an empty history before `first` committed
        assert _clear_on(first, used, tmp_path / "o1") == 5
        with pytest.raises(
            StoreConflict,
            match=r"another process committed to (allowance_ledger|decisions|invt_serials)",
        ):
            clear([more], second, tmp_path / "o2", Policy.load())
        assert _clear_on(second, more, tmp_path / "o2") == 2  # again, on fresh history
    finally:
        first.close()
        second.close()
    decided = _decisions(tmp_path / "o2")
    assert decided["B1"]["status"] == 800
    assert decided["B2"]["reasons"] == ["over_annual_limit"]
    with psycopg.connect(pg_url) as con:
        used_total = con.execute(
            "SELECT sum(value) FROM allowance_ledger WHERE buyer_id_number = %s", [OTHER_ID]
        ).fetchall()
        numbers = con.execute(
            "SELECT count(invt_no), count(DISTINCT invt_no) FROM decisions"
        ).fetchall()
    assert used_total == [(Decimal("26000.00"),)]
    assert numbers == [(7, 7)]  # seven lists numbered, seven different invtNo


def test_a_declaration_is_never_decided_twice(tmp_path: Path, pg_url: str) -> None:
    folder = write_jsonl(tmp_path / "in", merge(declaration("C1", PLAIN), declaration("C2", PLAIN)))
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        _stale_once(second)
        assert _clear_on(first, folder, tmp_path / "o1") == 2
        assert _clear_on(second, folder, tmp_path / "o2") == 0  # answered from the store
    finally:
        first.close()
        second.close()
    assert pq.read_table(tmp_path / "o1" / "decisions.parquet").equals(
        pq.read_table(tmp_path / "o2" / "decisions.parquet")
    )
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT count(*) FROM decisions").fetchall() == [(2,)]


def test_two_clear_processes_at_once_stay_within_the_allowance(tmp_path: Path, pg_url: str) -> None:
    # Two OS processes, each with 3 x 5,000 of one buyer: whichever order the server sees, at
    # most 26,000 is admitted (five lists), and every list is decided exactly once.
    runner.invoke(app, ["store", "migrate", "--store", pg_url])
    folders = [
        write_jsonl(tmp_path / name, merge(*(_big(f"{name}{d}", d + offset) for d in range(1, 4))))
        for name, offset in (("E", 0), ("F", 10))
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", "from cbec.cli import app; app()"]
    processes = [
        subprocess.Popen(
            [*command, "clear", str(f), "--store", pg_url, "--out", str(tmp_path / f"out{n}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n, f in enumerate(folders)
    ]
    for process in processes:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output.decode()
    with psycopg.connect(pg_url) as con:
        used = con.execute("SELECT sum(value) FROM allowance_ledger").fetchall()
        statuses = con.execute(
            "SELECT status, count(*), count(DISTINCT cop_no) FROM decisions GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert used == [(Decimal("25000.00"),)]
    assert statuses == [(100, 1, 1), (800, 5, 5)]


def test_a_batch_that_fails_writes_nothing(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_jsonl(tmp_path / "in", merge(declaration("C1", PLAIN)))

    def broken(self: PostgresStore, rows: str) -> None:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(PostgresStore, "_upsert_serials", broken)
    store = PostgresStore(pg_url)
    try:
        with pytest.raises(StoreError, match=r"refused the batch: server closed .* nothing was"):
            clear([folder], store, tmp_path / "out", Policy.load())
        assert store.con.con.execute("SELECT count(*) FROM decisions").fetchall() == [(0,)]
    finally:
        store.close()
    with psycopg.connect(pg_url) as con:
        for table in ("decisions", "tax_lines", "allowance_ledger", "document_files", "batches"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table
    assert not [p for p in (tmp_path / "documents").rglob("*") if p.is_file()]
    monkeypatch.undo()
    _clear_cli(folder, tmp_path / "again", "--store", pg_url)  # and the next try commits
    assert _decisions(tmp_path / "again")["C1"]["status"] == 800


def test_stats_read_a_postgresql_store_as_they_read_duckdb(tmp_path: Path, pg_url: str) -> None:
    folder = _day_one(tmp_path / "day1")
    _clear_cli(folder, tmp_path / "o1", "--db", str(tmp_path / "cbec.duckdb"))
    _clear_cli(folder, tmp_path / "o2", "--store", pg_url)
    outputs = []
    for store in (["--db", str(tmp_path / "cbec.duckdb")], ["--store", pg_url]):
        out = tmp_path / f"stats{len(outputs)}.csv"
        result = runner.invoke(app, ["stats", *store, "--by", "day,customs", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    assert "2024-06-15" in outputs[1]
    report = tmp_path / "report.html"
    result = runner.invoke(
        app, ["report", "--period", "2024-06", "--store", pg_url, "--out", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "2024-06" in report.read_text(encoding="utf-8")


def test_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    folder = write_jsonl(tmp_path / "in", merge(declaration("C1", PLAIN)))
    url = "postgresql://cbec@127.0.0.1:1/cbec"
    result = runner.invoke(app, ["clear", str(folder), "--store", url])
    assert result.exit_code == 1
    assert "cannot connect to the store postgresql://cbec@127.0.0.1:1/cbec" in result.output
    assert "Traceback" not in result.output


def test_ledgers_and_registry_on_postgresql_match_duckdb(tmp_path: Path, pg_url: str) -> None:
    # Bonded stock R1 = 10 entered; three 1210 lists of 4: two released, the third refused
    # (stock_insufficient); then B1 is returned whole (its stock and tax given back).
    line = [{"gcode": "6111200050", "qty": 4, "price": "50.00"}]
    day1 = write_jsonl(
        tmp_path / "day1",
        merge(
            stock_entry({"R1": 10}, when="2024-06-14T20:00:00"),
            *(
                declaration(f"B{n}", line, mode="1210", when=f"2024-06-15T0{n}:00:00")
                for n in (1, 2, 3)
            ),
        ),
    )
    stores = {"duck": ["--db", str(tmp_path / "cbec.duckdb")], "pg": ["--store", pg_url]}
    for name, store in stores.items():
        _clear_cli(day1, tmp_path / f"{name}1", *store)
        invt_no = _decisions(tmp_path / f"{name}1")["B1"]["invt_no"]
        write_return(tmp_path / f"{name}-return", "B1", invt_no, dt.datetime(2024, 6, 20, 9))
        _clear_cli(tmp_path / f"{name}-return", tmp_path / f"{name}2", *store)
    assert _decisions(tmp_path / "pg1")["B3"]["reasons"] == ["stock_insufficient"]
    shown = {}
    for name, store in stores.items():
        commands = {
            "stock": ["warehouse", "stock", *store, "--format", "csv"],
            "bills": ["tax", "bills", *store, "--agent", "3301960001", "--period", "2024-06",
                      "--as-of", "2024-07-20", "--format", "csv"],
        }  # fmt: skip
        for label, command in commands.items():
            out = tmp_path / f"{name}-{label}.csv"
            result = runner.invoke(app, [*command, "--out", str(out)])
            assert result.exit_code == 0, result.output
            shown[name, label] = out.read_text(encoding="utf-8")
        reconciled = runner.invoke(app, ["warehouse", "reconcile", *store], env={"COLUMNS": "200"})
        assert reconciled.exit_code == 0, reconciled.output
        shown[name, "reconcile"] = reconciled.output
    for label in ("stock", "reconcile", "bills"):
        assert shown["duck", label] == shown["pg", label], label
    # 10 in, 8 out (B1, B2), B1's 4 back: 6 on hand.
    assert '"R1",10.00000,8.00000,4.00000,,6.00000' in shown["pg", "stock"]
    pg = ["--store", pg_url]
    added = runner.invoke(
        app,
        [
            "enterprise",
            "add",
            "3301960009",
            "--name",
            "Shop",
            "--role",
            "ecommerce",
            "--issue-key",
            *pg,
        ],
    )
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["enterprise", "disable", "3301960009", *pg]).exit_code == 0
    with psycopg.connect(pg_url) as con:
        rows = con.execute("SELECT roles, disabled, api_key_sha256 FROM enterprises").fetchall()
        returned = con.execute("SELECT count(*) FROM returned_lines").fetchall()
    assert [(r[0], r[1], len(r[2])) for r in rows] == [(["ecommerce"], True, 64)]
    assert returned == [(1,)]


def test_whatif_replays_a_postgresql_store_as_it_replays_duckdb(
    tmp_path: Path, pg_url: str
) -> None:
    folder = _day_one(tmp_path / "day1")
    reform = Path(__file__).parents[2] / "docs" / "examples" / "reform-2019-limits.yaml"
    reports = []
    for n, store in enumerate((["--db", str(tmp_path / "cbec.duckdb")], ["--store", pg_url])):
        _clear_cli(folder, tmp_path / f"o{n}", *store)
        out = tmp_path / f"whatif{n}.json"
        result = runner.invoke(
            app,
            ["whatif", *store, "--period", "2024-06", "--reform", str(reform), "--format", "json",
             "--out", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        reports.append(_canonical(json.loads(out.read_text(encoding="utf-8"))))
    # Lists compared as sets of rows: the report does not order rows that tie (whatif/report.py).
    assert reports[0] == reports[1]
    assert '"declarations": 9' in json.dumps(reports[1])


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(item) for item in value), key=json.dumps)
    return value


def test_a_held_list_cancelled_on_postgresql_is_closed_as_on_duckdb(
    tmp_path: Path, pg_url: str
) -> None:
    # The agent's guarantee (50.00) covers less than the cosmetics' tax (69.18): the list is held
    # for review (300) and keeps its allowance; the next day its declarant cancels it (CEB623):
    # it is closed (899), owes nothing, and the allowance is given back.
    stores = {"duck": ["--db", str(tmp_path / "cbec.duckdb")], "pg": ["--store", pg_url]}
    day_one = write_jsonl(tmp_path / "day1", merge(declaration("K1", COSMETICS)))
    for name, store in stores.items():
        agent = ["--agent", "3301960001"]
        result = runner.invoke(app, ["guarantee", "set", *agent, "--amount", "50.00", *store])
        assert result.exit_code == 0, result.output
        _clear_cli(day_one, tmp_path / f"{name}1", *store)
    held = _decisions(tmp_path / "pg1")["K1"]
    assert (held["status"], held["reasons"]) == (300, ["guarantee_insufficient"])
    applied = dt.datetime(2024, 6, 16, 9, 0)
    day_two = write_return(tmp_path / "day2", "K1", held["invt_no"], applied, cancel=True)
    for name, store in stores.items():
        _clear_cli(day_two.parent, tmp_path / f"{name}2", *store)
    listed = {  # the same table, but for the time each guarantee was registered
        name: re.sub(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
            "T",
            runner.invoke(app, ["guarantee", "list", *store], env={"COLUMNS": "200"}).output,
        )
        for name, store in stores.items()
    }
    assert listed["duck"] == listed["pg"] and "50.00" in listed["pg"]
    with psycopg.connect(pg_url) as pg:
        closed = pg.execute("SELECT status, tax_total FROM decisions WHERE cop_no = 'K1'")
        assert closed.fetchall() == [(899, Decimal("0.00"))]
        used = pg.execute("SELECT sum(value) FROM allowance_ledger WHERE cop_no = 'K1'")
        assert used.fetchall() == [(Decimal("0.00"),)]
    other = PostgresStore(pg_url)  # another process's copy sees the list closed too
    try:
        rows = other.con.con.execute(
            "SELECT status, tax_total FROM decisions WHERE cop_no = 'K1'"
        ).fetchall()
        assert rows == [(899, Decimal("0.00"))]
    finally:
        other.close()
    duck = duckdb_rows(tmp_path / "cbec.duckdb", "SELECT status, tax_total FROM decisions")
    assert duck == [(899, Decimal("0.00"))]


def duckdb_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_credit_grade_set_on_postgresql_selects_as_on_duckdb(tmp_path: Path, pg_url: str) -> None:
    # The builders' platform graded dishonest (GACC Order 251: inspection rate of 80 % or more):
    # on both stores the same parcels go to inspection, and a second process reads the grade.
    stores = {"duck": ["--db", str(tmp_path / "cbec.duckdb")], "pg": ["--store", pg_url]}
    day = write_jsonl(tmp_path / "day", merge(*(declaration(f"D{i}", PLAIN) for i in range(20))))
    for name, store in stores.items():
        made = runner.invoke(app, ["store", "migrate", *store])  # a new, empty store
        assert made.exit_code == 0, made.output
        graded = runner.invoke(app, ["enterprise", "credit", "3301964J31", "dishonest", *store])
        assert graded.exit_code == 0, graded.output
        seeded = runner.invoke(app, ["risk", "seed", "--value", "7", *store])
        assert seeded.exit_code == 0, seeded.output
        _clear_cli(day, tmp_path / name, *store)
    duck = pq.read_table(tmp_path / "duck" / "decisions.parquet")
    assert duck.equals(pq.read_table(tmp_path / "pg" / "decisions.parquet"))
    inspected = [r for r in duck.to_pylist() if r["status"] == 500]
    assert len(inspected) >= 10  # 80 % of 20, drawn from a hash of copNo and the seed
    other = PostgresStore(pg_url)
    try:
        raw = other.con.con
        assert raw.execute("SELECT code, grade FROM enterprise_credit").fetchall() == [
            ("3301964J31", "dishonest")
        ]
        seed = raw.execute("SELECT value FROM store_meta WHERE key = 'risk_seed'").fetchall()
        assert seed == [("7",)]
    finally:
        other.close()
