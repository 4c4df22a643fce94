"""The PostgreSQL store: PostgreSQL holds what cbec decided, DuckDB computes.

`--store postgresql://USER@HOST/DB` keeps decisions, tax lines, ledgers, serials, the document
index and the enterprise registry in PostgreSQL, the durable store several processes share. The
stages still run on DuckDB (DESIGN.md: the compute engine): the store keeps an in-memory DuckDB
copy of the tables, filled at open and brought up to date before each batch with the batches
other processes committed since (read by `batch_id`, columnar, through COPY as CSV), so every
reader of `store.con` works unchanged. Documents stay Parquet files in a folder every process
reaches (docs/operations.md); PostgreSQL holds their index (`document_files`).

A batch is committed to PostgreSQL in one transaction: advisory locks on the buckets of the
buyers, stock items, declarations and serial counters it touches, taken in one sorted order (no
deadlock), then a check that nobody committed rows for those keys since this process read them,
then COPY of every row. A concurrent batch that did raises `StoreConflict` and nothing is
written; the run is repeated on fresh history (`retrying`), so two processes never admit one
buyer past the allowance, decide one declaration twice or number two lists alike.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ibis
import pyarrow as pa

from cbec.enterprises import check_code, check_roles
from cbec.store import DEFAULT_MEMORY_LIMIT
from cbec.store.embedded import Batch, Store, StoreError, batch_rows, close_cancelled
from cbec.store.migrations import (
    LATEST,
    NewerStore,
    apply,
    current_version,
    pending,
    upgrade_duckdb,
)
from cbec.store.outcomes import NotHeld, OutcomeBatch, apply_outcome_updates, outcome_rows

# Tables whose rows carry the batch that wrote them: read incrementally, by batch.
BATCH_TABLES = (
    "decisions",
    "tax_lines",
    "allowance_ledger",
    "returned_lines",
    "stock_ledger",
    "export_decisions",
    "document_files",
    "quantity_ledger",
    "risk_decisions",
    "export_events",
    "overseas_stock",
    "export_summaries",
    "export_summary_items",
    "export_summary_lists",
    "risk_contacts",
    "risk_enterprises",
    "risk_sighted_batches",
    "risk_outcomes",
)
# Small tables rewritten in place (upserts), or written outside batches: read whole.
SMALL_TABLES = (
    *("store_meta", "invt_serials", "enterprises", "guarantees", "tax_payments", "risk_models"),
    *("enterprise_credit", "export_registrations", "overseas_warehouses"),
)
_KEYED = {"document_files", "batches", "store_meta", "invt_serials", "enterprises"}  # primary keys
# VARCHAR[] columns: moved as JSON text
ARRAY_COLUMNS = {"reasons", "roles", "fired_rules", "top_features"}
BUCKETS = 256  # advisory lock buckets per kind: bounded locks, however large the batch
MIGRATION_LOCK = 7_211_011  # advisory lock key held while migrating (any fixed number)
EXCLUSIVE_LOCK = 7_211_013  # advisory lock key of `Store.exclusive` (export warehouse commands)
DOCUMENTS_KEY = "documents_dir"


class StoreConflict(StoreError):
    """Another process committed rows for keys this batch judged on; nothing was written."""


@dataclass(frozen=True)
class Guard:
    """Keys a batch judged on, and the durable table whose rows for them must not have changed.
    `value` (for a counter) compares that column; otherwise the number of rows per key."""

    kind: int  # advisory lock class
    table: str
    keys: tuple[str, ...]
    source: str  # query on the compute connection giving the batch's keys
    value: str | None = None


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class PostgresStore(Store):
    """The store in the PostgreSQL database at `url`, computing on an in-memory DuckDB."""

    def __init__(
        self,
        url: str,
        threads: int | None = None,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        documents_dir: Path | None = None,
        migrate: bool = True,
    ):
        import psycopg

        self.url = url
        self._scratch = tempfile.TemporaryDirectory(prefix="cbec-pg-")
        scratch = Path(self._scratch.name)
        try:
            self.pg = psycopg.connect(url, autocommit=True)
            self.pg.execute("SET DateStyle = ISO")
        except psycopg.Error as exc:
            self._scratch.cleanup()
            raise StoreError(
                f"cannot connect to the store {redacted(url)}: {str(exc).strip()}. Check the "
                "URL (postgresql://USER@HOST[:PORT]/DB), that the server runs and lets USER in."
            ) from exc
        try:
            version = self.version()
            if version == 0 and migrate:
                self.migrate()  # a new, empty database becomes a store
            elif version != LATEST:
                pending(version)  # raises NewerStore for a store newer than this cbec
                raise StoreError(
                    f"the store {redacted(url)} is at schema version {version}, this cbec "
                    f"needs {LATEST}: run `cbec store migrate --store {redacted(url)}` first"
                )
            self.documents_dir = self._documents_dir(documents_dir)
            self.path = scratch / "compute.duckdb"  # not durable: the copy is rebuilt at open
            config: dict[str, object] = {"memory_limit": memory_limit}
            if threads:
                config["threads"] = threads
            self.con = ibis.duckdb.connect(
                ":memory:", temp_directory=str(scratch / "spill"), **config
            )
            self.con.raw_sql("SET enable_progress_bar = false")
            upgrade_duckdb(self.con.con)  # the copy's tables, as in a DuckDB store
            # Outcomes recorded before they were batches (schema version 4) have no batch.
            self._pull("risk_outcomes", "WHERE batch_id IS NULL")
            self.refresh()
        except NewerStore as exc:
            self.pg.close()
            raise StoreError(str(exc)) from exc
        except BaseException:
            self.pg.close()
            self._scratch.cleanup()
            raise

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.disconnect()
        self.pg.close()
        self._scratch.cleanup()

    # Schema ------------------------------------------------------------------------------

    def version(self) -> int:
        return current_version(lambda sql: _rows(self.pg, sql), "postgresql")

    def migrate(self, target: int = LATEST) -> tuple[int, int]:
        return migrate_connection(self.pg, target)

    def _documents_dir(self, given: Path | None) -> Path:
        """The documents folder is a property of the store, recorded in it at first use, so that
        every process (and every working directory) finds the same files."""
        rows = self.pg.execute(
            "SELECT value FROM store_meta WHERE key = %s", [DOCUMENTS_KEY]
        ).fetchall()
        if rows:
            recorded = Path(rows[0][0])
            if given is not None and given.resolve() != recorded:
                raise StoreError(
                    f"the store keeps its documents in {recorded}, not {given}; move the folder "
                    "and update store_meta, or drop the option"
                )
            return recorded
        # First use: the folder given, else CBEC_DOCUMENTS_DIR, else <DB>.documents in the
        # working directory; recorded as an absolute path.
        chosen = given or os.environ.get("CBEC_DOCUMENTS_DIR") or f"{_database(self.url)}.documents"
        folder = Path(chosen).resolve()
        self.pg.execute(
            "INSERT INTO store_meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
            [DOCUMENTS_KEY, str(folder)],
        )
        return self._documents_dir(None)

    # Reading what others committed ---------------------------------------------------------

    def refresh(self) -> None:
        """Copies into the compute connection the batches committed since the last refresh
        (by any process), and the small tables whole."""
        raw = self.con.con
        seen = {row[0] for row in raw.execute("SELECT batch_id FROM batches").fetchall()}
        committed = self.pg.execute("SELECT batch_id FROM batches").fetchall()
        new = [row[0] for row in committed if row[0] not in seen]
        raw.execute("BEGIN TRANSACTION")
        try:
            if new:
                for table in (*BATCH_TABLES, "batches"):
                    self._pull(table, "WHERE batch_id = ANY(%s)", [new])
                # Lists other processes closed (899): their batches gave back the allowance.
                raw.execute(
                    "CREATE OR REPLACE TEMP TABLE cbec_closed AS SELECT DISTINCT agent_code, "
                    "cop_no FROM allowance_ledger WHERE kind = 'cancelled' AND batch_id IN "
                    "(SELECT unnest(?::VARCHAR[]))",
                    [new],
                )
                raw.execute(close_cancelled("cbec_closed"))
                raw.execute("DROP TABLE cbec_closed")
                # What other processes' inspection and review outcomes changed in place.
                raw.execute(
                    "CREATE OR REPLACE TEMP TABLE cbec_outcomes AS SELECT * FROM risk_outcomes "
                    "WHERE batch_id IN (SELECT unnest(?::VARCHAR[]))",
                    [new],
                )
                for statement in apply_outcome_updates("cbec_outcomes"):
                    raw.execute(statement)
                raw.execute("DROP TABLE cbec_outcomes")
            for table in SMALL_TABLES:
                raw.execute(f"DELETE FROM {table}")
                self._pull(table)
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    def _columns(self, table: str) -> list[tuple[str, str]]:
        rows = self.con.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
            "AND NOT internal ORDER BY column_index",
            [table],
        ).fetchall()
        return [(name, kind) for name, kind in rows]

    def _pull(self, table: str, where: str = "", params: list[Any] | None = None) -> None:
        """Rows of a PostgreSQL table into the same table of the compute connection."""
        columns = self._columns(table)
        select = ", ".join(
            f"array_to_json({name})::text" if name in ARRAY_COLUMNS else name for name, _ in columns
        )
        path = Path(self._scratch.name) / f"pull-{table}.csv"
        with self.pg.cursor() as cursor, path.open("wb") as out:
            statement = f"COPY (SELECT {select} FROM {table} {where}) TO STDOUT (FORMAT csv)"
            with cursor.copy(statement, params) as copy:
                for block in copy:
                    out.write(block)
        types = {name: "VARCHAR" if name in ARRAY_COLUMNS else kind for name, kind in columns}
        converted = ", ".join(
            f"CAST(CAST({name} AS JSON) AS VARCHAR[])" if name in ARRAY_COLUMNS else name
            for name, _ in columns
        )
        # A file two processes stored at once is indexed once, under the first batch.
        verb = "INSERT OR IGNORE" if table in _KEYED else "INSERT"
        self.con.con.execute(
            f"{verb} INTO {table} SELECT {converted} FROM read_csv(?, header = false, "
            "columns = ?, allow_quoted_nulls = false, auto_detect = false)",
            [str(path), types],
        )
        path.unlink()

    def snapshot(self, path: Path) -> Path:
        """The store's tables as a DuckDB store file at `path`, with its documents folder linked
        beside it, for readers that open a store file (`cbec whatif`); returns `path`."""
        self.refresh()
        raw = self.con.con
        raw.execute("ATTACH ? AS cbec_snapshot", [str(path)])
        try:
            raw.execute("COPY FROM DATABASE memory TO cbec_snapshot")
        finally:
            raw.execute("DETACH cbec_snapshot")
        path.with_name(path.name + ".documents").symlink_to(self.documents_dir)
        return path

    # Writing -------------------------------------------------------------------------------

    def commit(self, batch: Batch) -> None:
        """Commits the batch to PostgreSQL in one transaction, then to the compute copy."""
        import psycopg

        try:
            self._commit_durable(batch)
        except psycopg.Error as exc:
            raise StoreError(
                f"the store {redacted(self.url)} refused the batch: {str(exc).strip()}; "
                "nothing was written"
            ) from exc
        super().commit(batch)  # the files are in place: this only adds the rows to the copy

    def _commit_durable(self, batch: Batch) -> None:
        with self._copied(batch.files) as placed, self.pg.transaction():
            guards = _guards(batch)
            for number, guard in enumerate(guards):
                self._stage_guard(number, guard)
            self._lock(guards)
            for number, guard in enumerate(guards):
                self._check(number, guard)
            for table, columns, rows in batch_rows(batch, self.con.con):
                if table == "invt_serials":
                    self._upsert_serials(rows)
                else:
                    self._push(rows, table, columns)
            if batch.cancelled is not None:
                self._close_cancelled(batch.cancelled)
            for pending_file, relative, count in placed:
                self.pg.execute(
                    "INSERT INTO document_files VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (stem, sha256) DO NOTHING",
                    [pending_file.stem, relative, pending_file.sha256, count, batch.batch_id],
                )
            self.pg.execute(
                "INSERT INTO batches VALUES (%s, %s, LOCALTIMESTAMP)",
                [batch.batch_id, batch.declarations],
            )

    def commit_outcomes(self, batch: OutcomeBatch) -> None:
        """Commits the outcomes to PostgreSQL in one transaction, then to the compute copy;
        raises NotHeld, writing nothing, when another process resolved one of them first."""
        import psycopg

        try:
            self._commit_outcomes_durable(batch)
        except psycopg.Error as exc:
            raise StoreError(
                f"the store {redacted(self.url)} refused the outcomes: {str(exc).strip()}; "
                "nothing was written"
            ) from exc
        super().commit_outcomes(batch)

    def _commit_outcomes_durable(self, batch: OutcomeBatch) -> None:
        with self.pg.transaction():
            for table, columns, rows in outcome_rows(batch):
                self._push(rows, table, columns)
            self.pg.execute(
                "CREATE TEMP TABLE cbec_outcomes ON COMMIT DROP AS SELECT * FROM risk_outcomes "
                "WHERE batch_id = %s",
                [batch.batch_id],
            )
            # The lock classes of a clearing batch's declarations (decided once) and of the held
            # lists it cancels (the last guard), then the check, under the locks, that each is
            # still held as this process saw it.
            key = ("agent_code", "cop_no")
            self._lock_keys([(1, "cbec_outcomes", key), (len(_GUARD_KEYS), "cbec_outcomes", key)])
            moved = self.pg.execute(
                "SELECT o.agent_code, o.cop_no, d.status FROM cbec_outcomes o "
                "LEFT JOIN decisions d USING (agent_code, cop_no) "
                "WHERE d.status IS DISTINCT FROM o.held_status ORDER BY o.cop_no"
            ).fetchall()
            if moved:
                raise NotHeld({(agent, cop_no): status for agent, cop_no, status in moved})
            for statement in apply_outcome_updates("cbec_outcomes"):
                self.pg.execute(statement)
            self.pg.execute("INSERT INTO batches VALUES (%s, 0, LOCALTIMESTAMP)", [batch.batch_id])

    def commit_rows(self, tables: dict[str, pa.Table], batch_id: str) -> None:
        """Commits the rows to PostgreSQL as a batch in one transaction, then to the copy."""
        import psycopg

        raw = self.con.con
        try:
            with self.pg.transaction():
                for target, table in tables.items():
                    name = f"cbec_rows_{target}"
                    raw.register(name, table)
                    try:
                        self._push(
                            f"SELECT *, '{batch_id}' AS batch_id FROM {name}",
                            target,
                            [*table.column_names, "batch_id"],
                        )
                    finally:
                        raw.unregister(name)
                self.pg.execute("INSERT INTO batches VALUES (%s, 0, LOCALTIMESTAMP)", [batch_id])
        except psycopg.Error as exc:
            raise StoreError(
                f"the store {redacted(self.url)} refused the rows: {str(exc).strip()}; "
                "nothing was written"
            ) from exc
        super().commit_rows(tables, batch_id)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """A session advisory lock held while the command runs, then the batches other
        processes committed before it: a second process waits, and then judges on this one's."""
        self.pg.execute("SELECT pg_advisory_lock(%s)", [EXCLUSIVE_LOCK])
        try:
            self.refresh()
            yield
        finally:
            self.pg.execute("SELECT pg_advisory_unlock(%s)", [EXCLUSIVE_LOCK])

    def _push(self, rows: str, table: str, columns: Sequence[str]) -> None:
        """The rows of a compute query into a PostgreSQL table, through COPY as CSV."""
        arrays = set(columns) & ARRAY_COLUMNS
        query = rows
        if arrays:  # PostgreSQL's array literal, each element quoted
            quoted = ", ".join(
                f"'{{' || array_to_string(list_transform({name}, lambda x: '\"' || "
                f"replace(replace(x, '\\', '\\\\'), '\"', '\\\"') || '\"'), ',') || '}}' "
                f"AS {name}"
                for name in sorted(arrays)
            )
            query = f"SELECT * REPLACE ({quoted}) FROM ({rows})"
        path = Path(self._scratch.name) / f"push-{table}.csv"
        self.con.con.execute(f"COPY ({query}) TO '{path}' (FORMAT csv, HEADER false)")
        try:
            with (
                self.pg.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy,
                path.open("rb") as source,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
        finally:
            path.unlink(missing_ok=True)

    def _close_cancelled(self, cancelled: str) -> None:
        self.pg.execute(
            "CREATE TEMP TABLE cbec_cancelled (agent_code VARCHAR, cop_no VARCHAR) ON COMMIT DROP"
        )
        keys = ("agent_code", "cop_no")
        self._push(f"SELECT agent_code, cop_no FROM {cancelled}", "cbec_cancelled", keys)
        # An outcome may have released or rejected the list since this process read it (it
        # takes the same locks): the cancellation is judged again on fresh history.
        moved = self.pg.execute(
            "SELECT c.cop_no FROM cbec_cancelled c LEFT JOIN decisions d "
            "USING (agent_code, cop_no) WHERE d.status IS DISTINCT FROM 300 LIMIT 1"
        ).fetchall()
        if moved:
            raise StoreConflict(
                f"another process resolved the held list {moved[0][0]} while this batch was "
                "judged; nothing was written: clear again (the run is repeated on fresh history)"
            )
        self.pg.execute(close_cancelled("cbec_cancelled"))

    def _upsert_serials(self, rows: str) -> None:
        self.pg.execute(
            "CREATE TEMP TABLE cbec_serials (customs_code VARCHAR, year INTEGER, "
            "last_serial BIGINT) ON COMMIT DROP"
        )
        self._push(rows, "cbec_serials", ("customs_code", "year", "last_serial"))
        self.pg.execute(
            "INSERT INTO invt_serials SELECT * FROM cbec_serials ON CONFLICT (customs_code, year) "
            "DO UPDATE SET last_serial = excluded.last_serial"
        )

    def _stage_guard(self, number: int, guard: Guard) -> None:
        """The guard's keys with what this process saw for them, in a temporary table."""
        keys = ", ".join(guard.keys)
        on = " AND ".join(f"t.{key} = k.{key}" for key in guard.keys)
        not_null = " AND ".join(f"{key} IS NOT NULL" for key in guard.keys)
        seen = f"max(t.{guard.value})" if guard.value else f"count(t.{guard.keys[0]})"
        rows = (
            f"SELECT {', '.join(f'k.{key}' for key in guard.keys)}, {seen} AS seen "
            f"FROM (SELECT DISTINCT {keys} FROM ({guard.source}) WHERE {not_null}) k "
            f"LEFT JOIN {guard.table} t ON {on} GROUP BY ALL"
        )
        types = dict(self._columns(guard.table))
        seen_type = types[guard.value] if guard.value else "BIGINT"
        columns = ", ".join(f"{key} {types[key]}" for key in guard.keys)
        self.pg.execute(
            f"CREATE TEMP TABLE cbec_guard_{number} ({columns}, seen {seen_type}) ON COMMIT DROP"
        )
        self._push(rows, f"cbec_guard_{number}", (*guard.keys, "seen"))

    def _lock(self, guards: list[Guard]) -> None:
        """Advisory locks on every bucket the batch touches, in one sorted order: two batches
        wait for each other only where they share a bucket, and never deadlock."""
        self._lock_keys(
            [
                (guard.kind, f"cbec_guard_{number}", guard.keys)
                for number, guard in enumerate(guards)
            ]
        )

    def _lock_keys(self, keyed: list[tuple[int, str, tuple[str, ...]]]) -> None:
        """Advisory locks of class `kind` on the buckets of the `keys` of each table."""
        if not keyed:
            return
        buckets = " UNION ".join(
            f"SELECT {kind} AS kind, (hashtext({_key_text(keys)}) & {BUCKETS - 1}) AS bucket "
            f"FROM {table}"
            for kind, table, keys in keyed
        )
        self.pg.execute(
            "SELECT count(pg_advisory_xact_lock(kind, bucket)) FROM "
            f"(SELECT kind, bucket FROM ({buckets}) u ORDER BY kind, bucket OFFSET 0) s"
        )

    def _check(self, number: int, guard: Guard) -> None:
        on = " AND ".join(f"t.{key} = g.{key}" for key in guard.keys)
        if guard.value:
            now = f"(SELECT max(t.{guard.value}) FROM {guard.table} t WHERE {on})"
        else:
            now = f"(SELECT count(*) FROM {guard.table} t WHERE {on})"
        changed = self.pg.execute(
            f"SELECT {', '.join(f'g.{key}' for key in guard.keys)} FROM cbec_guard_{number} g "
            f"WHERE g.seen IS DISTINCT FROM {now} LIMIT 1"
        ).fetchall()
        if changed:
            pairs = zip(guard.keys, changed[0], strict=True)
            key = ", ".join(f"{name} {value}" for name, value in pairs)
            raise StoreConflict(
                f"another process committed to {guard.table} for {key} while this batch was "
                "judged; nothing was written: clear again (the run is repeated on fresh history)"
            )

    # Enterprises ---------------------------------------------------------------------------

    def add_enterprise(
        self, code: str, name: str, roles: Sequence[str], cert_pem: str | bytes | None = None
    ) -> None:
        check_code(code)
        checked = list(check_roles(roles))
        pem = cert_pem.decode("ascii") if isinstance(cert_pem, bytes) else cert_pem
        self.pg.execute(
            "INSERT INTO enterprises (code, name, roles, cert_pem, disabled, created_at) "
            "VALUES (%s, %s, %s, %s, false, LOCALTIMESTAMP) ON CONFLICT (code) DO UPDATE SET "
            "name = excluded.name, roles = excluded.roles, "
            "cert_pem = coalesce(excluded.cert_pem, enterprises.cert_pem)",
            [code, name, checked, pem],
        )
        self.refresh()

    def set_api_key(self, code: str, api_key_sha256: str) -> bool:
        found = self.pg.execute(
            "UPDATE enterprises SET api_key_sha256 = %s WHERE code = %s RETURNING code",
            [api_key_sha256, code],
        ).fetchall()
        self.refresh()
        return bool(found)

    def insert_rows(
        self, table: str, rows: Sequence[Sequence[Any]], replace: tuple[str, ...] = ()
    ) -> None:
        if not rows:
            return
        marks = ", ".join(["%s"] * len(rows[0]))
        upsert = ""
        if replace:
            columns = [name for name, _ in self._columns(table) if name not in replace]
            updates = ", ".join(f"{name} = excluded.{name}" for name in columns)
            upsert = f" ON CONFLICT ({', '.join(replace)}) DO UPDATE SET {updates}"
        import psycopg

        try:
            with self.pg.transaction(), self.pg.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} VALUES ({marks}){upsert}", [list(r) for r in rows]
                )
        except psycopg.errors.UniqueViolation as exc:  # e.g. a model version another registered
            raise StoreError(
                f"{table}: another process added a row with the same key first "
                f"({str(exc).strip().splitlines()[-1]}); nothing was written: run the command again"
            ) from exc
        self.refresh()

    def delete_rows(self, table: str, column: str, value: Any) -> int:
        gone = self.pg.execute(
            f"DELETE FROM {table} WHERE {column} = %s RETURNING {column}", [value]
        ).fetchall()
        self.refresh()
        return len(gone)

    def disable_enterprise(self, code: str) -> bool:
        found = self.pg.execute(
            "UPDATE enterprises SET disabled = true WHERE code = %s RETURNING code", [code]
        ).fetchall()
        self.refresh()
        return bool(found)


# The guards of a batch, by kind: the lock class is the position in this list plus one.
_GUARD_KEYS = (
    ("agent_code", "cop_no"),
    ("buyer_id_number", "year"),
    ("ems_no", "item_record_no"),
    ("customs_code", "year"),
    ("customs_code",),
    ("agent_code", "cop_no"),
    ("buyer_id_number", "year"),
    ("agent_code", "cop_no"),
)


def _guards(batch: Batch) -> list[Guard]:
    """What the batch judged on: its declarations (decided once), its buyers' allowance, its
    stock items, its serial counters, its export serials, the returns it accepted, its buyers'
    yearly quantities, the held lists it closed."""
    allowance = (
        f"SELECT buyer_id_number, year(decl_time) AS year FROM {batch.decisions}"
        if batch.ledger_returns is None
        else f"SELECT buyer_id_number, year(decl_time) AS year FROM {batch.decisions} "
        f"UNION ALL SELECT buyer_id_number, year FROM {batch.ledger_returns}"
    )
    stock = batch.stock or "(SELECT NULL AS ems_no, NULL AS item_record_no WHERE false)"
    exports = batch.export_decisions or "(SELECT NULL AS customs_code WHERE false)"
    returned = batch.returned_lines or "(SELECT NULL AS agent_code, NULL AS cop_no WHERE false)"
    cancelled = batch.cancelled or "(SELECT NULL AS agent_code, NULL AS cop_no WHERE false)"
    sources = (
        *(batch.decisions, allowance, stock, batch.serials, exports, returned, allowance),
        cancelled,
    )
    tables = (
        "decisions",
        "allowance_ledger",
        "stock_ledger",
        "invt_serials",
        "export_decisions",
        "returned_lines",
        "quantity_ledger",
        "allowance_ledger",
    )
    return [
        Guard(
            kind=number + 1,
            table=table,
            keys=keys,
            source=f"SELECT * FROM {source}" if not source.startswith("SELECT") else source,
            value="last_serial" if table == "invt_serials" else None,
        )
        for number, (table, keys, source) in enumerate(
            zip(tables, _GUARD_KEYS, sources, strict=True)
        )
    ]


def _key_text(keys: tuple[str, ...]) -> str:
    return " || '|' || ".join(f"coalesce({key}::text, '')" for key in keys)


T = TypeVar("T")


def retrying(store: Store, run: Callable[[], T], attempts: int = 3) -> T:
    """Runs `run`, and again on fresh history when a concurrent process committed first."""
    for attempt in range(attempts):
        try:
            return run()
        except StoreConflict:
            if attempt == attempts - 1:
                raise
            store.refresh()
    raise AssertionError("unreachable")


def _rows(pg: Any, sql: str) -> Sequence[tuple[Any, ...]]:
    cursor = pg.execute(sql)
    return cursor.fetchall() if cursor.description else []


def migrate_connection(pg: Any, target: int = LATEST) -> tuple[int, int]:
    """Applies the pending migrations on the psycopg connection `pg` (autocommit), one
    transaction each, one process at a time; returns the versions before and after."""

    def execute(sql: str) -> Sequence[tuple[Any, ...]]:
        return _rows(pg, sql)

    with pg.transaction():
        pg.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        before = current_version(execute, "postgresql")
    done = before
    for migration in pending(before, target):
        with pg.transaction():
            pg.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            if current_version(execute, "postgresql") >= migration.version:
                done = migration.version  # another process was first
                continue
            apply(migration, execute, "postgresql")
        done = migration.version
    return before, done


def migrate_url(url: str, target: int = LATEST) -> tuple[int, int]:
    """`cbec store migrate --store URL`: upgrades the database without opening the store."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as pg:
            return migrate_connection(pg, target)
    except psycopg.Error as exc:
        raise StoreError(f"cannot migrate {redacted(url)}: {str(exc).strip()}") from exc
    except NewerStore as exc:
        raise StoreError(str(exc)) from exc


def _database(url: str) -> str:
    from urllib.parse import urlparse

    return urlparse(url).path.strip("/") or "cbec"


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlparse

    parts = urlparse(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@")
