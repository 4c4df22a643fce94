"""The embedded store: one DuckDB file for decisions and ledgers, documents as Parquet beside it.

Documents are kept as files in `<db>.documents/<stem>/<sha256>.parquet`, named by the content of
the file they came from: a file cleared twice is stored once, and a Parquet input that is already
canonical is copied as bytes, not re-encoded. The catalog table `document_files` registers them.
A batch is committed in one DuckDB transaction; files copied for a batch that fails are removed, so
the store is never half written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from cbec.clearance import limits
from cbec.documents.schemas import DECISION, TAX_LINE
from cbec.enterprises import Enterprise, check_code, check_roles
from cbec.exports.tables import create_export_tables, insert_export_rows
from cbec.store import DEFAULT_MEMORY_LIMIT
from cbec.store.risk import RISK_DDL

SCHEMA_VERSION = 1

_DDL = (
    """CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS decisions (
        agent_code VARCHAR, cop_no VARCHAR, order_no VARCHAR, invt_no VARCHAR, status INTEGER,
        reasons VARCHAR[], dutiable_value DECIMAL(18,2), customs_tax DECIMAL(18,2),
        value_added_tax DECIMAL(18,2), consumption_tax DECIMAL(18,2), tax_total DECIMAL(18,2),
        buyer_id_number VARCHAR, decl_time TIMESTAMP, decided_at TIMESTAMP, trade_mode VARCHAR,
        customs_code VARCHAR, batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS tax_lines (
        agent_code VARCHAR, cop_no VARCHAR, gnum INTEGER, gcode VARCHAR, tax_price DECIMAL(18,2),
        customs_tax DECIMAL(18,2), value_added_tax DECIMAL(18,2), consumption_tax DECIMAL(18,2),
        batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS allowance_ledger (
        buyer_id_number VARCHAR, year INTEGER, agent_code VARCHAR, cop_no VARCHAR,
        value DECIMAL(18,2), entry_time TIMESTAMP, kind VARCHAR, batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS returned_lines (
        agent_code VARCHAR, cop_no VARCHAR, gnum INTEGER, tax_price DECIMAL(18,2),
        customs_tax DECIMAL(18,2), value_added_tax DECIMAL(18,2), consumption_tax DECIMAL(18,2),
        returned_at TIMESTAMP, return_guid VARCHAR, batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS stock_ledger (
        ems_no VARCHAR, item_record_no VARCHAR, qty DECIMAL(18,5), kind VARCHAR,
        source_code VARCHAR, cop_no VARCHAR, gnum INTEGER, entry_time TIMESTAMP,
        batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS export_decisions (
        agent_code VARCHAR, cop_no VARCHAR, order_no VARCHAR, invt_no VARCHAR, status INTEGER,
        reasons VARCHAR[], decided_at TIMESTAMP, customs_code VARCHAR, batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS quantity_ledger (
        buyer_id_number VARCHAR, year INTEGER, tariff_line VARCHAR, agent_code VARCHAR,
        cop_no VARCHAR, gnum INTEGER, qty DECIMAL(18,5), entry_time TIMESTAMP, kind VARCHAR,
        batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS guarantees (
        assure_code VARCHAR PRIMARY KEY, amount DECIMAL(18,2), registered_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS tax_payments (
        tax_no VARCHAR PRIMARY KEY, agent_code VARCHAR, cop_no VARCHAR, assure_code VARCHAR,
        tax_paid DECIMAL(18,2), late_fee DECIMAL(18,2), paid_at TIMESTAMP,
        recorded_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS invt_serials (
        customs_code VARCHAR, year INTEGER, last_serial BIGINT,
        PRIMARY KEY (customs_code, year))""",
    """CREATE TABLE IF NOT EXISTS document_files (
        stem VARCHAR, path VARCHAR, sha256 VARCHAR, rows BIGINT, batch_id VARCHAR,
        PRIMARY KEY (stem, sha256))""",
    """CREATE TABLE IF NOT EXISTS batches (
        batch_id VARCHAR PRIMARY KEY, declarations BIGINT, committed_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS enterprises (
        code VARCHAR PRIMARY KEY, name VARCHAR, roles VARCHAR[], cert_pem VARCHAR,
        api_key_sha256 VARCHAR, disabled BOOLEAN NOT NULL DEFAULT false, created_at TIMESTAMP)""",
)


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to do."""


@dataclass
class PendingFile:
    """A document file to add to the store with a batch: copied as is, or written from a table."""

    stem: str
    sha256: str
    source: Path | None = None
    table: pa.Table | None = None


@dataclass
class Batch:
    """Everything one clearing run adds to the store, committed together."""

    batch_id: str
    decisions: str  # name of a table in the store connection
    tax_lines: str
    ledger: str
    serials: str
    declarations: int
    files: list[PendingFile] = field(default_factory=list)
    # Bonded stock moves: entry-list lines in, released declaration lines out (a table).
    stock: str | None = None
    # Accepted returns: their lines, and the allowance they give back (tables, when any).
    returned_lines: str | None = None
    ledger_returns: str | None = None
    # Decisions on 9610 export declaration lists (cbec.exports.clearance), a table when any.
    export_decisions: str | None = None
    # Other export rows: store table -> temp table (cbec.exports.tables), inserted by name.
    export_rows: dict[str, str] = field(default_factory=dict)
    # Risk decisions of the admitted declarations (cbec.risk.scoring.RISK_DECISION), a table.
    risk: str | None = None

    # Per-person yearly quantities of limited goods: admitted lines in, returned lines out.
    quantities: str | None = None
    # Held lists withdrawn by a cancellation (agent_code, cop_no, cancelled_at), a table when any.
    cancelled: str | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Store:
    """The DuckDB store at `path` (created on first use)."""

    def __init__(
        self, path: Path, threads: int | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT
    ):
        self.path = path
        self.documents_dir = path.with_name(path.name + ".documents")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            config: dict[str, object] = {"memory_limit": memory_limit}
            if threads:
                config["threads"] = threads
            self.con = ibis.duckdb.connect(str(path), **config)
            # cbec draws its own progress bar; DuckDB's would interleave with it.
            self.con.raw_sql("SET enable_progress_bar = false")
            for statement in (*_DDL, *RISK_DDL):
                self.con.raw_sql(statement)
            create_export_tables(self.con.con)
            self.con.con.execute(
                "INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)",
                [str(SCHEMA_VERSION)],
            )
        except Exception as exc:  # duckdb raises several types; all mean the same to the user
            raise StoreError(
                f"cannot open the store {path}: {exc}. Check that the folder is writable and "
                "that no other cbec process holds the file."
            ) from exc

    def close(self) -> None:
        self.con.disconnect()

    # Reading -----------------------------------------------------------------------------

    def document_paths(self, stem: str) -> list[str]:
        rows = self.con.con.execute(
            "SELECT path FROM document_files WHERE stem = ? ORDER BY path", [stem]
        ).fetchall()
        return [str(self.documents_dir / row[0]) for row in rows]

    def documents(self, stem: str) -> ir.Table | None:
        """All stored documents of a family, or None when there are none."""
        paths = self.document_paths(stem)
        return self.con.read_parquet(paths) if paths else None

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def used_allowance(self) -> ir.Table:
        return limits.used_allowance(self.con.table("allowance_ledger"))

    def released_lists(self, assure_code: str | None, start: dt.date, end: dt.date) -> pa.Table:
        """Declaration lists released in [start, end) whose withholding agent is `assure_code`,
        with their tax assessed (`tax_total`), the tax of their returned lines and their payment
        (`tax_payments`), when paid."""
        paths = self.document_paths("inventories")
        if not paths:
            return pa.table({name: [] for name in _RELEASED_COLUMNS})
        return self.con.con.sql(
            _RELEASED_LISTS, params=[start, end, paths, assure_code, assure_code]
        ).to_arrow_table()

    def stock(self, ems_no: str | None = None) -> pa.Table:
        """Stock per account book and item record: entered, released, returned, held (kept by
        declarations held for review), on hand."""
        where = "WHERE ems_no = ?" if ems_no else ""
        return self.con.con.sql(
            "SELECT ems_no, item_record_no, "
            "sum(qty) FILTER (WHERE kind = 'entry') AS entered, "
            "-sum(qty) FILTER (WHERE kind = 'release') AS released, "
            "sum(qty) FILTER (WHERE kind = 'return') AS returned, "
            "-sum(qty) FILTER (WHERE kind IN ('held', 'cancel')) AS held, "
            f"sum(qty) AS on_hand FROM stock_ledger {where} "
            "GROUP BY ALL ORDER BY ems_no, item_record_no",
            params=[ems_no] if ems_no else None,
        ).to_arrow_table()

    def stock_reconciliation(self) -> pa.Table:
        """Per item: the stock released according to the ledger, and according to the released
        bonded declarations' lines in the stored documents; they must agree."""
        heads = self.document_paths("inventories")
        lines = self.document_paths("inventory_lines")
        if not heads or not lines:
            return self.con.con.sql(
                "SELECT ems_no, item_record_no, -sum(qty) AS ledger_released, "
                "CAST(NULL AS DECIMAL(38,5)) AS declared_released FROM stock_ledger "
                "WHERE kind = 'release' GROUP BY ALL"
            ).to_arrow_table()
        return self.con.con.sql(_RECONCILIATION, params=[heads, lines]).to_arrow_table()

    def known_files(self) -> set[tuple[str, str]]:
        rows = self.con.raw_sql("SELECT stem, sha256 FROM document_files").fetchall()
        return {(stem, sha) for stem, sha in rows}

    # Writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _copied(self, files: list[PendingFile]) -> Iterator[list[tuple[PendingFile, str, int]]]:
        """Place the batch's files; remove them again if the batch does not commit."""
        placed: list[tuple[PendingFile, str, int]] = []
        created: list[Path] = []
        try:
            for pending in files:
                relative = f"{pending.stem}/{pending.sha256}.parquet"
                target = self.documents_dir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    partial = target.with_suffix(".partial")
                    if pending.source is not None:
                        shutil.copyfile(pending.source, partial)
                    else:
                        assert pending.table is not None
                        pq.write_table(pending.table, partial)
                    partial.replace(target)
                    created.append(target)
                rows = pq.read_metadata(target).num_rows
                placed.append((pending, relative, rows))
            yield placed
        except BaseException:
            for path in created:
                path.unlink(missing_ok=True)
            raise

    def commit(self, batch: Batch) -> None:
        """Adds the batch's decisions, tax lines, ledger entries, serials and files, or nothing."""
        raw = self.con.con
        with self._copied(batch.files) as placed:
            raw.execute("BEGIN TRANSACTION")
            try:
                decision_columns = ", ".join(DECISION.schema.names)
                raw.execute(
                    f"INSERT INTO decisions ({decision_columns}, batch_id) "
                    f"SELECT {decision_columns}, '{batch.batch_id}' FROM {batch.decisions}"
                )
                tax_columns = ", ".join(TAX_LINE.schema.names)
                raw.execute(
                    f"INSERT INTO tax_lines ({tax_columns}, batch_id) "
                    f"SELECT {tax_columns}, '{batch.batch_id}' FROM {batch.tax_lines}"
                )
                raw.execute(
                    "INSERT INTO allowance_ledger SELECT buyer_id_number, year, agent_code, "
                    "cop_no, "
                    f"value, entry_time, 'admitted', '{batch.batch_id}' FROM {batch.ledger}"
                )
                raw.execute(
                    "INSERT OR REPLACE INTO invt_serials SELECT customs_code, year, last_serial "
                    f"FROM {batch.serials}"
                )
                if batch.stock is not None:
                    raw.execute(
                        "INSERT INTO stock_ledger SELECT ems_no, item_record_no, qty, kind, "
                        f"source_code, cop_no, gnum, entry_time, '{batch.batch_id}' "
                        f"FROM {batch.stock}"
                    )
                if batch.returned_lines is not None:
                    raw.execute(
                        "INSERT INTO returned_lines SELECT agent_code, cop_no, gnum, tax_price, "
                        "customs_tax, value_added_tax, consumption_tax, returned_at, return_guid, "
                        f"'{batch.batch_id}' FROM {batch.returned_lines}"
                    )
                if batch.ledger_returns is not None:
                    raw.execute(
                        "INSERT INTO allowance_ledger SELECT buyer_id_number, year, agent_code, "
                        f"cop_no, value, entry_time, 'returned', '{batch.batch_id}' "
                        f"FROM {batch.ledger_returns}"
                    )
                if batch.quantities is not None:
                    raw.execute(
                        "INSERT INTO quantity_ledger SELECT buyer_id_number, year, tariff_line, "
                        f"agent_code, cop_no, gnum, qty, entry_time, kind, '{batch.batch_id}' "
                        f"FROM {batch.quantities}"
                    )
                if batch.cancelled is not None:
                    from cbec.store.ledgers import commit_cancellations

                    commit_cancellations(raw, batch.cancelled, batch.batch_id)
                if batch.export_decisions is not None:
                    insert_export_rows(
                        raw, {"export_decisions": batch.export_decisions}, batch.batch_id
                    )
                insert_export_rows(raw, batch.export_rows, batch.batch_id)
                if batch.risk is not None:
                    raw.execute(
                        f"INSERT INTO risk_decisions SELECT *, '{batch.batch_id}' FROM {batch.risk}"
                    )
                for pending, relative, rows in placed:
                    raw.execute(
                        "INSERT OR IGNORE INTO document_files VALUES (?, ?, ?, ?, ?)",
                        [pending.stem, relative, pending.sha256, rows, batch.batch_id],
                    )
                raw.execute(
                    "INSERT INTO batches VALUES (?, ?, current_timestamp)",
                    [batch.batch_id, batch.declarations],
                )
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise

    # Enterprises ---------------------------------------------------------------------------

    def add_enterprise(
        self, code: str, name: str, roles: Sequence[str], cert_pem: str | bytes | None = None
    ) -> None:
        """Registers an enterprise, or updates the name, roles and (when given) certificate of one
        already registered; a disabled one stays disabled. Raises ValueError for a bad code or
        role."""
        check_code(code)
        checked = list(check_roles(roles))
        pem = cert_pem.decode("ascii") if isinstance(cert_pem, bytes) else cert_pem
        self.con.con.execute(
            "INSERT INTO enterprises (code, name, roles, cert_pem, disabled, created_at) "
            "VALUES (?, ?, ?, ?, false, current_timestamp) ON CONFLICT (code) DO UPDATE SET "
            "name = excluded.name, roles = excluded.roles, "
            "cert_pem = coalesce(excluded.cert_pem, enterprises.cert_pem)",
            [code, name, checked, pem],
        )

    def enterprises(self) -> list[Enterprise]:
        """Every registered enterprise, by code."""
        return [
            _enterprise(row)
            for row in self.con.con.execute(f"{_ENTERPRISE_QUERY} ORDER BY code").fetchall()
        ]

    def enterprise(
        self, code: str, cursor: duckdb.DuckDBPyConnection | None = None
    ) -> Enterprise | None:
        """`cursor`: another connection to this store (a thread of the service has its own)."""
        # fetchall: DuckDB keeps a half-read result open after fetchone, blocking later queries
        rows = (
            (cursor or self.con.con)
            .execute(f"{_ENTERPRISE_QUERY} WHERE code = ?", [code])
            .fetchall()
        )
        return _enterprise(rows[0]) if rows else None

    def disable_enterprise(self, code: str) -> bool:
        """Disables an enterprise; False when no enterprise has that code."""
        found = self.con.con.execute(
            "UPDATE enterprises SET disabled = true WHERE code = ? RETURNING code", [code]
        ).fetchall()
        return bool(found)


# Released lists of a period with their agent and the tax returned since.
_RELEASED_LISTS = """
WITH released AS (
    SELECT agent_code, cop_no, invt_no, order_no, decided_at, tax_total
    FROM decisions WHERE status = 800 AND decided_at >= ? AND decided_at < ?
), agents AS (
    SELECT DISTINCT coalesce(agent_code, '') AS agent_code, cop_no, assure_code
    FROM read_parquet(?)
), returned AS (
    SELECT agent_code, cop_no,
           sum(customs_tax + value_added_tax + consumption_tax) AS tax_returned,
           max(returned_at) AS returned_at
    FROM returned_lines GROUP BY ALL
)
SELECT r.invt_no, r.cop_no, r.order_no, a.assure_code, r.decided_at, r.tax_total,
       coalesce(t.tax_returned, 0) AS tax_returned, t.returned_at, r.agent_code,
       p.paid_at, p.tax_paid, p.late_fee AS late_fee_paid
FROM released r
JOIN agents a USING (agent_code, cop_no)
LEFT JOIN returned t USING (agent_code, cop_no)
LEFT JOIN tax_payments p USING (agent_code, cop_no)
WHERE a.assure_code = ? OR CAST(? AS VARCHAR) IS NULL
ORDER BY r.decided_at, r.invt_no
"""
_RELEASED_COLUMNS = (
    "invt_no",
    "cop_no",
    "order_no",
    "assure_code",
    "decided_at",
    "tax_total",
    "tax_returned",
    "returned_at",
    "agent_code",
    "paid_at",
    "tax_paid",
    "late_fee_paid",
)

# Stock taken out by the ledger against what the released bonded lists declared (qty1, else qty).
_RECONCILIATION = """
WITH heads AS (
    SELECT DISTINCT coalesce(agent_code, '') AS agent_code, cop_no, ems_no FROM read_parquet(?)
), lines AS (
    SELECT DISTINCT coalesce(agent_code, '') AS agent_code, cop_no, gnum, item_record_no,
           coalesce(qty1, qty) AS qty FROM read_parquet(?)
), declared AS (
    SELECT h.ems_no, l.item_record_no, sum(l.qty) AS declared_released
    FROM decisions d JOIN heads h USING (agent_code, cop_no)
    JOIN lines l USING (agent_code, cop_no)
    WHERE d.status IN (800, 500, 300) AND d.trade_mode IN ('1210', '1239')
    GROUP BY ALL
), ledger AS (
    SELECT ems_no, item_record_no, -sum(qty) AS ledger_released
    FROM stock_ledger WHERE kind = 'release' GROUP BY ALL
)
SELECT ems_no, item_record_no, ledger_released, declared_released
FROM ledger FULL JOIN declared USING (ems_no, item_record_no)
ORDER BY ems_no, item_record_no
"""

_ENTERPRISE_QUERY = (
    "SELECT code, name, roles, cert_pem, api_key_sha256, disabled, created_at FROM enterprises"
)


def _enterprise(row: tuple[Any, ...]) -> Enterprise:
    code, name, roles, cert_pem, api_key_sha256, disabled, created_at = row
    return Enterprise(
        code, name, tuple(roles or ()), cert_pem, api_key_sha256, bool(disabled), created_at
    )
