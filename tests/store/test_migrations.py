"""Versioned migrations: the same for both stores, and an old store keeps its data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from cbec.cli import app
from cbec.store.embedded import Store, StoreError
from cbec.store.migrations import LATEST, MIGRATIONS, upgrade_duckdb
from cbec.store.postgres import PostgresStore

runner = CliRunner()

# Rows a version-1 store may hold, one per kind of column (text array, money, time).
_V1_ROWS = (
    "INSERT INTO decisions VALUES ('A1', 'C1', 'O1', '514120240000000001', 800, "
    "['over_annual_limit'], 100.50, 0, 9.15, 0, 9.15, 'B1', TIMESTAMP '2024-06-15 10:00:00', "
    "TIMESTAMP '2024-06-15 10:00:00', '9610', '5141', 'b1')",
    "INSERT INTO allowance_ledger VALUES ('B1', 2024, 'A1', 'C1', 100.50, "
    "TIMESTAMP '2024-06-15 10:00:00', 'admitted', 'b1')",
    "INSERT INTO invt_serials VALUES ('5141', 2024, 1)",
    "INSERT INTO enterprises VALUES ('3301960001', 'Shop', ['ecommerce'], NULL, NULL, false, "
    "TIMESTAMP '2024-01-01 00:00:00')",
    "INSERT INTO batches VALUES ('b1', 1, TIMESTAMP '2024-06-15 10:00:01')",
)
_PG_ROWS = tuple(
    row.replace("['over_annual_limit']", "ARRAY['over_annual_limit']").replace(
        "['ecommerce']", "ARRAY['ecommerce']"
    )
    for row in _V1_ROWS
)


def _v1_duckdb(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        assert upgrade_duckdb(con, target=1) == (0, 1)
        for row in _V1_ROWS:
            con.execute(row)


def _kept(rows: list[tuple[object, ...]]) -> None:
    assert rows == [
        ("C1", ["over_annual_limit"], Decimal("100.50"), dt.datetime(2024, 6, 15, 10), "b1")
    ]


def test_version_one_is_the_schema_before_migrations() -> None:
    # A v1 store made by an older cbec ran exactly these statements and recorded version 1.
    assert MIGRATIONS[0].version == 1
    assert len(MIGRATIONS[0].statements) == 11
    assert LATEST == 6


def test_an_old_duckdb_store_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    _v1_duckdb(db)
    result = runner.invoke(app, ["store", "migrate", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"schema version 1 -> {LATEST}" in result.output
    with duckdb.connect(str(db)) as con:
        _kept(
            con.execute(
                "SELECT cop_no, reasons, dutiable_value, decl_time, batch_id FROM decisions"
            ).fetchall()
        )
        assert con.execute(
            "SELECT value FROM store_meta WHERE key = 'schema_version'"
        ).fetchall() == [(str(LATEST),)]
        assert [
            v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        ] == list(range(1, LATEST + 1))
        assert con.execute("SELECT count(*) FROM allowance_ledger").fetchall() == [(1,)]
    again = runner.invoke(app, ["store", "migrate", "--db", str(db)])
    assert again.exit_code == 0 and f"schema version {LATEST}, up to date" in again.output


def test_opening_an_old_embedded_store_upgrades_it(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    _v1_duckdb(db)
    store = Store(db)
    try:
        assert store.con.con.execute("SELECT count(*) FROM decisions").fetchall() == [(1,)]
        version = store.con.con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'")
        assert version.fetchall() == [(str(LATEST),)]
    finally:
        store.close()


def test_a_store_newer_than_this_cbec_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    with duckdb.connect(str(db)) as con:
        upgrade_duckdb(con)
        con.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    result = runner.invoke(app, ["store", "migrate", "--db", str(db)])
    assert result.exit_code == 1
    assert (
        f"schema version 99, newer than this cbec knows ({LATEST}); upgrade cbec" in result.output
    )
    with pytest.raises(StoreError, match="newer than this cbec"):
        Store(db)


def test_an_old_postgresql_store_is_upgraded_and_keeps_its_data(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as pg, pg.transaction():
        for statement in MIGRATIONS[0].statements:
            pg.execute(statement.sql)
        pg.execute("INSERT INTO store_meta VALUES ('schema_version', '1')")
        for row in _PG_ROWS:
            pg.execute(row)
    with pytest.raises(StoreError, match="run `cbec store migrate --store"):
        PostgresStore(pg_url)  # several processes share it: the operator upgrades it
    result = runner.invoke(app, ["store", "migrate", "--store", pg_url])
    assert result.exit_code == 0, result.output
    assert f"schema version 1 -> {LATEST}" in result.output
    with psycopg.connect(pg_url) as pg:
        _kept(
            pg.execute(
                "SELECT cop_no, reasons, dutiable_value, decl_time, batch_id FROM decisions"
            ).fetchall()
        )
        indexes = {r[0] for r in pg.execute("SELECT indexname FROM pg_indexes").fetchall()}
        assert {"decisions_key", "allowance_buyer", "stock_item"} <= indexes
    store = PostgresStore(pg_url)  # now it opens, and its copy holds the old rows
    try:
        rows = store.con.con.execute(
            "SELECT cop_no, reasons, dutiable_value, decl_time, batch_id FROM decisions"
        ).fetchall()
        _kept(rows)
        assert [e.code for e in store.enterprises()] == ["3301960001"]
        assert store.enterprises()[0].roles == ("ecommerce",)
    finally:
        store.close()


def test_a_new_postgresql_database_gets_the_latest_schema(pg_url: str) -> None:
    result = runner.invoke(app, ["store", "migrate", "--store", pg_url])
    assert result.exit_code == 0 and f"schema version 0 -> {LATEST}" in result.output
    with psycopg.connect(pg_url) as pg:
        tables = {r[0] for r in pg.execute("SELECT tablename FROM pg_tables").fetchall()}
    assert {"decisions", "allowance_ledger", "enterprises", "schema_migrations"} <= tables
    # Version 3: the ledgers after the decision, the risk engine's and the export flows' tables.
    assert {"quantity_ledger", "guarantees", "tax_payments", "risk_decisions", "risk_outcomes",
            "export_events", "overseas_stock", "export_summaries"} <= tables  # fmt: skip


def test_a_store_made_before_migrations_with_later_tables_keeps_them(tmp_path: Path) -> None:
    # An embedded store of the releases that created the ledger and risk tables at open, and
    # recorded version 1: version 3 finds them there and keeps their rows.
    db = tmp_path / "old.duckdb"
    _v1_duckdb(db)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE quantity_ledger (buyer_id_number VARCHAR, year INTEGER, "
            "tariff_line VARCHAR, agent_code VARCHAR, cop_no VARCHAR, gnum INTEGER, "
            "qty DECIMAL(18,5), entry_time TIMESTAMP, kind VARCHAR, batch_id VARCHAR)"
        )
        con.execute(
            "INSERT INTO quantity_ledger VALUES ('B1', 2024, '10063020', 'A1', 'C1', 1, 5, "
            "TIMESTAMP '2024-06-15 10:00:00', 'admitted', 'b1')"
        )
    store = Store(db)
    try:
        raw = store.con.con
        assert raw.execute("SELECT sum(qty) FROM quantity_ledger").fetchall() == [(Decimal(5),)]
        assert raw.execute("SELECT count(*) FROM risk_decisions").fetchall() == [(0,)]
        columns = {r[0] for r in raw.execute("DESCRIBE export_decisions").fetchall()}
        assert {"trade_mode", "country", "logistics_no"} <= columns
    finally:
        store.close()


def test_an_unreachable_postgresql_store_is_one_clear_line(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/cbec"
    result = runner.invoke(app, ["store", "migrate", "--store", url])
    assert result.exit_code == 1
    assert "cannot migrate postgresql://nobody@127.0.0.1:1/cbec" in result.output
    assert "Traceback" not in result.output


def test_a_service_store_made_before_version_6_keeps_its_intake_and_receipts(
    tmp_path: Path,
) -> None:
    """The service's logs, as the first `cbec serve` made them (without the companion needs and
    the acknowledgement time), survive the upgrade and gain the later columns."""
    db = tmp_path / "served.duckdb"
    with duckdb.connect(str(db)) as con:
        upgrade_duckdb(con, target=5)
        con.execute("CREATE SEQUENCE service_intake_ids START 1")
        con.execute(
            "CREATE TABLE service_intake (id BIGINT PRIMARY KEY DEFAULT "
            "nextval('service_intake_ids'), sender VARCHAR NOT NULL, guid VARCHAR NOT NULL, "
            "message_code VARCHAR NOT NULL, node_guids VARCHAR[] NOT NULL, body BLOB NOT NULL, "
            "received_at TIMESTAMP NOT NULL, processed_at TIMESTAMP, failure VARCHAR, "
            "UNIQUE (sender, guid))"
        )
        con.execute(
            "INSERT INTO service_intake (sender, guid, message_code, node_guids, body, "
            "received_at) VALUES ('3301980001', 'G1', '621', ['N1'], 'x'::BLOB, "
            "TIMESTAMP '2024-06-15 10:00:00')"
        )
    store = Store(db)
    try:
        rows = store.con.con.execute(
            "SELECT id, guid, needs, acknowledged_at FROM service_intake"
        ).fetchall()
        assert rows == [(1, "G1", None, None)]
        assert store.con.con.execute("SELECT count(*) FROM service_receipts").fetchall() == [(0,)]
    finally:
        store.close()
