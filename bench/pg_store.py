"""The PostgreSQL store against the embedded one: moving rows, keeping documents, clearing days.

    .venv/bin/python bench/pg_store.py [--rows 1000000] [--parcels 100000] [--seed 1]

Starts a throwaway PostgreSQL server (the installed binaries, fsync on, as a production server
runs) and measures, on this machine:
- moving `--rows` decision rows between DuckDB and PostgreSQL the way the store does (COPY as
  CSV through psycopg, DuckDB writing and reading the CSV), and through ADBC's Arrow driver when
  `adbc-driver-postgresql` is installed (the alternative weighed);
- keeping a simulated day's documents (`--parcels`): the Parquet files copied into the store's
  folder (what a batch does) against COPY of the same rows into PostgreSQL tables;
- clearing two simulated days (`--parcels` each, the second on the first's history) into a DuckDB
  store and into a PostgreSQL store, and opening the PostgreSQL store afterwards (the copy of its
  tables read at open), with the row counts and database size.
Prints one JSON object and writes it to bench/results/pg_store_<parcels>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clear_day import machine  # bench/ is on the path from here on

RESULTS = Path(__file__).resolve().parent / "results"

_SYNTHETIC = """
SELECT 'A' || (i % 100) AS agent_code, 'C' || i AS cop_no, 'O' || i AS order_no,
       '5141' || lpad(i::VARCHAR, 13, '0') AS invt_no,
       (CASE WHEN i % 10 = 0 THEN 100 ELSE 800 END)::INTEGER AS status,
       CASE WHEN i % 10 = 0 THEN ['over_annual_limit'] ELSE []::VARCHAR[] END AS reasons,
       (i % 5000)::DECIMAL(18,2) AS dutiable_value, 0::DECIMAL(18,2) AS customs_tax,
       (i % 300)::DECIMAL(18,2) AS value_added_tax, 0::DECIMAL(18,2) AS consumption_tax,
       (i % 300)::DECIMAL(18,2) AS tax_total, 'B' || (i % 300000) AS buyer_id_number,
       TIMESTAMP '2024-01-01' + to_seconds(i) AS decl_time,
       TIMESTAMP '2024-01-01' + to_seconds(i) AS decided_at, '9610' AS trade_mode,
       '5141' AS customs_code, 'bench' AS batch_id
FROM range({rows}) r(i)
"""


def _seconds(since: float) -> float:
    return round(time.perf_counter() - since, 2)


def transfer(url: str, rows: int) -> dict[str, Any]:
    from cbec.store.postgres import PostgresStore

    store = PostgresStore(url)
    try:
        store.pg.execute("CREATE TABLE bench_decisions (LIKE decisions)")
        store.con.con.execute("CREATE TABLE bench_decisions AS SELECT * FROM decisions LIMIT 0")
        store.con.con.execute(f"CREATE TEMP TABLE synthetic AS {_SYNTHETIC.format(rows=rows)}")
        columns = [name for name, _ in store._columns("bench_decisions")]
        started = time.perf_counter()
        store._push("SELECT * FROM synthetic", "bench_decisions", columns)
        result: dict[str, Any] = {"rows": rows, "write_copy_csv_s": _seconds(started)}
        started = time.perf_counter()
        store._pull("bench_decisions")
        result["read_copy_csv_s"] = _seconds(started)
        count = store.con.con.execute("SELECT count(*) FROM bench_decisions").fetchall()[0][0]
        assert count == rows, count
        synthetic = store.con.con.sql("SELECT * FROM synthetic").to_arrow_table()
    finally:
        store.close()
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        result["adbc"] = "adbc-driver-postgresql not installed"
        return result
    with adbc.connect(url) as con, con.cursor() as cursor:
        started = time.perf_counter()
        cursor.adbc_ingest("bench_adbc", synthetic, mode="create")
        con.commit()
        result["write_adbc_s"] = _seconds(started)
        started = time.perf_counter()
        cursor.execute("SELECT * FROM bench_decisions")
        result["read_adbc_rows"] = cursor.fetch_arrow_table().num_rows
        result["read_adbc_s"] = _seconds(started)
    return result


def documents(url: str, day: Path, work: Path) -> dict[str, Any]:
    """The day's document files copied as the store keeps them, against COPY into PostgreSQL."""
    import duckdb
    import psycopg

    files = sorted(day.glob("*.parquet"))
    files = [f for f in files if f.stem != "truth"]
    started = time.perf_counter()
    for file in files:
        shutil.copyfile(file, work / f"copy-{file.name}")
    result: dict[str, Any] = {"parquet_copy_s": _seconds(started)}
    result["parquet_bytes"] = sum(f.stat().st_size for f in files)
    rows = 0
    started = time.perf_counter()
    with psycopg.connect(url) as pg, duckdb.connect() as con:
        for file in files:
            relation = con.read_parquet(str(file))
            columns = ", ".join(
                f"{name} {_pg_type(str(kind))}"
                for name, kind in zip(relation.columns, relation.types, strict=True)
            )
            pg.execute(f"CREATE TABLE doc_{file.stem} ({columns})")
            csv = work / f"{file.stem}.csv"
            con.execute(f"COPY (SELECT * FROM '{file}') TO '{csv}' (FORMAT csv, HEADER false)")
            statement = f"COPY doc_{file.stem} FROM STDIN (FORMAT csv)"
            with pg.cursor() as cursor, cursor.copy(statement) as copy, csv.open("rb") as source:
                while block := source.read(1 << 20):
                    copy.write(block)
            rows += relation.count("*").fetchall()[0][0]
        pg.commit()
        size = pg.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relname LIKE 'doc\\_%' AND c.relkind = 'r'"
        ).fetchall()[0][0]
    result["postgresql_copy_s"] = _seconds(started)
    result["postgresql_bytes"] = int(size)
    result["rows"] = rows
    return result


def _pg_type(duckdb_type: str) -> str:
    return "TEXT" if duckdb_type.startswith(("VARCHAR", "STRUCT", "MAP")) else duckdb_type


def clearing(url: str, days: list[Path], work: Path) -> dict[str, Any]:
    from cbec.pipeline import Policy, clear
    from cbec.store import open_store

    result: dict[str, Any] = {}
    policy = Policy.load()
    for name, target in (("duckdb", str(work / "bench.duckdb")), ("postgresql", url)):
        store = open_store(target)
        try:
            for n, day in enumerate(days, start=1):
                started = time.perf_counter()
                cleared = clear([day], store, work / f"out-{name}-{n}", policy)
                result[f"{name}_day{n}_s"] = _seconds(started)
                result[f"{name}_day{n}_declarations"] = cleared.new_declarations
        finally:
            store.close()
    from cbec.store.postgres import PostgresStore

    started = time.perf_counter()
    store = PostgresStore(url)
    try:
        result["postgresql_open_s"] = _seconds(started)  # the copy of every table, read whole
        result["postgresql_rows"] = {
            table: store.pg.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for table in ("decisions", "tax_lines", "allowance_ledger", "document_files")
        }
        result["postgresql_bytes"] = store.pg.execute(
            "SELECT pg_database_size(current_database())"
        ).fetchall()[0][0]
    finally:
        store.close()
    for n in range(1, len(days) + 1):
        import pyarrow.parquet as pq

        a = pq.read_table(work / f"out-duckdb-{n}" / "decisions.parquet")
        b = pq.read_table(work / f"out-postgresql-{n}" / "decisions.parquet")
        result[f"day{n}_identical_decisions"] = a.equals(b)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from cbec.simulate import simulate_day
    from cbec.store import pg_local

    server = pg_local.start(durable=True)
    work = Path(tempfile.mkdtemp(prefix="cbec-bench-pg-"))
    try:
        dates = (dt.date(2024, 6, 15), dt.date(2024, 6, 16))
        days = [work / f"day{n}" for n in (1, 2)]
        for n, (date, folder) in enumerate(zip(dates, days, strict=True)):
            simulate_day(args.parcels, args.seed + n, date, folder)
        import os

        os.environ["CBEC_DOCUMENTS_DIR"] = str(work / "documents")
        result = {
            "machine": machine(),
            "postgresql_bin": str(server.bin),
            "transfer": transfer(server.database_url("transfer"), args.rows),
            "documents": documents(server.database_url("documents"), days[0], work),
            "clearing": clearing(server.database_url("clearing"), days, work),
            "parcels": args.parcels,
            "measured": dt.date.today().isoformat(),
        }
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"pg_store_{args.parcels}.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
