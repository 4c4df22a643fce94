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
from cbec.store import DEFAULT_MEMORY_LIMIT
from cbec.store.migrations import LATEST, upgrade_duckdb
from cbec.store.outcomes import OutcomeBatch, apply_outcome_updates, outcome_rows

# The schema is created and upgraded by the versioned migrations (`cbec.store.migrations`).
SCHEMA_VERSION = LATEST


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
    # Other export rows: store table -> temp table, inserted by column name (batch_rows).
    export_rows: dict[str, str] = field(default_factory=dict)
    # Risk decisions of the admitted declarations (cbec.risk.scoring.RISK_DECISION), a table.
    risk: str | None = None

    # Per-person yearly quantities of limited goods: admitted lines in, returned lines out.
    quantities: str | None = None
    # Held lists withdrawn by a cancellation (agent_code, cop_no, cancelled_at), a table when any.
    cancelled: str | None = None
    # The run's new first sightings for the risk features (contacts, enterprises): two tables,
    # when the run judged declarations (cbec.pipeline_risk.keep_sightings).
    sightings: tuple[str, str] | None = None


def batch_rows(batch: Batch, raw: Any) -> list[tuple[str, tuple[str, ...], str]]:
    """Each store table the batch adds rows to: its columns, and the query (on the compute
    connection `raw`, which holds the batch's tables) giving the rows. One list for every store,
    so that they store the same rows; the queries read the store's tables only as they were
    before the batch."""
    b = batch.batch_id
    decision = (*DECISION.schema.names, "batch_id")
    tax_line = (*TAX_LINE.schema.names, "batch_id")
    ledger = ("buyer_id_number", "year", "agent_code", "cop_no", "value", "entry_time")
    stock_move = ("ems_no", "item_record_no", "qty", "kind", "source_code", "cop_no", "gnum")
    returned = (
        *("agent_code", "cop_no", "gnum", "tax_price", "customs_tax", "value_added_tax"),
        *("consumption_tax", "returned_at", "return_guid"),
    )

    def select(columns: tuple[str, ...], source: str, *extra: str) -> str:
        return f"SELECT {', '.join((*columns, *extra))} FROM {source}"

    rows = [
        ("decisions", decision, select(decision[:-1], batch.decisions, f"'{b}'")),
        ("tax_lines", tax_line, select(tax_line[:-1], batch.tax_lines, f"'{b}'")),
        (
            "allowance_ledger",
            (*ledger, "kind", "batch_id"),
            select(ledger, batch.ledger, "'admitted'", f"'{b}'"),
        ),
        (
            "invt_serials",
            ("customs_code", "year", "last_serial"),
            f"SELECT customs_code, year, last_serial FROM {batch.serials}",
        ),
    ]
    if batch.stock is not None:
        stock_columns = (*stock_move, "entry_time", "batch_id")
        rows.append(
            ("stock_ledger", stock_columns, select(stock_columns[:-1], batch.stock, f"'{b}'"))
        )
    if batch.returned_lines is not None:
        returned_columns = (*returned, "batch_id")
        rows.append(
            ("returned_lines", returned_columns, select(returned, batch.returned_lines, f"'{b}'"))
        )
    if batch.ledger_returns is not None:
        rows.append(
            (
                "allowance_ledger",
                (*ledger, "kind", "batch_id"),
                select(ledger, batch.ledger_returns, "'returned'", f"'{b}'"),
            )
        )
    if batch.quantities is not None:
        quantity = (*("buyer_id_number", "year", "tariff_line", "agent_code", "cop_no", "gnum"),
                    *("qty", "entry_time", "kind"))  # fmt: skip
        moved = select(quantity, batch.quantities, f"'{b}'")
        rows.append(("quantity_ledger", (*quantity, "batch_id"), moved))
    if batch.cancelled is not None:
        rows.extend(_cancellation_rows(batch.cancelled, b))
    exported = dict(batch.export_rows)
    if batch.export_decisions is not None:
        exported = {"export_decisions": batch.export_decisions, **exported}
    if batch.risk is not None:
        exported["risk_decisions"] = batch.risk
    if batch.sightings is not None:
        exported["risk_contacts"], exported["risk_enterprises"] = batch.sightings
        rows.append(("risk_sighted_batches", ("batch_id",), f"SELECT '{b}'"))
    for table, source in exported.items():  # by name: the batch's table has the store's columns
        names = tuple(
            name for (name,) in raw.execute(f"SELECT name FROM pragma_table_info('{source}')")
            .fetchall()
        )  # fmt: skip
        rows.append((table, (*names, "batch_id"), select(names, source, f"'{b}'")))
    return rows


def _cancellation_rows(cancelled: str, b: str) -> list[tuple[str, tuple[str, ...], str]]:
    """What held lists withdrawn by a cancellation give back: the allowance, the stock and the
    yearly quantities they kept (their entries from earlier batches, negated)."""
    earlier = f"AND batch_id <> '{b}'"  # the store's batch_id (the batch's table has none)
    return [
        (
            "allowance_ledger",
            ("buyer_id_number", "year", "agent_code", "cop_no", "value", "entry_time", "kind",
             "batch_id"),
            "SELECT l.buyer_id_number, l.year, l.agent_code, l.cop_no, -l.value, c.cancelled_at, "
            f"'cancelled', '{b}' FROM allowance_ledger l JOIN {cancelled} c "
            f"USING (agent_code, cop_no) WHERE l.kind = 'admitted' {earlier}",
        ),
        (
            "stock_ledger",
            ("ems_no", "item_record_no", "qty", "kind", "source_code", "cop_no", "gnum",
             "entry_time", "batch_id"),
            "SELECT s.ems_no, s.item_record_no, -s.qty, 'cancel', s.source_code, s.cop_no, "
            f"s.gnum, c.cancelled_at, '{b}' FROM stock_ledger s JOIN {cancelled} c "
            "ON s.source_code = c.agent_code AND s.cop_no = c.cop_no "
            f"WHERE s.kind = 'held' {earlier}",
        ),
        (
            "quantity_ledger",
            ("buyer_id_number", "year", "tariff_line", "agent_code", "cop_no", "gnum", "qty",
             "entry_time", "kind", "batch_id"),
            "SELECT q.buyer_id_number, q.year, q.tariff_line, q.agent_code, q.cop_no, q.gnum, "
            f"-q.qty, c.cancelled_at, 'cancelled', '{b}' FROM quantity_ledger q "
            f"JOIN {cancelled} c USING (agent_code, cop_no) WHERE q.kind = 'admitted' {earlier}",
        ),
    ]  # fmt: skip


def close_cancelled(cancelled: str) -> str:
    """The statement closing (899) the held lists named by the table `cancelled`
    (agent_code, cop_no): a closed list owes nothing, its assessed tax goes with it (it never had
    a bill). The same statement on every store."""
    return (
        "UPDATE decisions SET status = 899, customs_tax = 0, value_added_tax = 0, "
        f"consumption_tax = 0, tax_total = 0 FROM {cancelled} c "
        "WHERE decisions.agent_code = c.agent_code AND decisions.cop_no = c.cop_no "
        "AND decisions.status = 300"
    )


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
            upgrade_duckdb(self.con.con)  # an embedded store has one process: upgrade on open
        except Exception as exc:  # duckdb raises several types; all mean the same to the user
            raise StoreError(
                f"cannot open the store {path}: {exc}. Check that the folder is writable and "
                "that no other cbec process holds the file."
            ) from exc

    def close(self) -> None:
        self.con.disconnect()

    # Reading -----------------------------------------------------------------------------

    def document_paths(self, stem: str, unsighted: bool = False) -> list[str]:
        """The files of a family; with `unsighted`, only those of batches that kept no first
        sightings (`risk_sighted_batches`: every batch from schema version 4 on)."""
        where = (
            " AND batch_id NOT IN (SELECT batch_id FROM risk_sighted_batches)" if unsighted else ""
        )
        rows = self.con.con.execute(
            f"SELECT path FROM document_files WHERE stem = ?{where} ORDER BY path", [stem]
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
        """Per item: the ledger's figures (entered, released, held, returned, on hand) and what
        the stored documents say was taken out (the lines of the admitted bonded lists: released,
        held for inspection or review) and given back (their returned lines);
        `stock.differences` says which must agree."""
        heads = self.document_paths("inventories")
        lines = self.document_paths("inventory_lines")
        if not heads or not lines:  # no declaration lists stored: nothing declared
            query = _RECONCILIATION.format(declared=_NOTHING_DECLARED)
            return self.con.con.sql(query).to_arrow_table()
        query = _RECONCILIATION.format(declared=_DECLARED)
        return self.con.con.sql(query, params=[heads, lines]).to_arrow_table()

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

    def refresh(self) -> None:
        """Makes what other processes committed visible; one process owns an embedded store, so
        there is nothing to do (the PostgreSQL store reads the batches it has not seen)."""

    def commit(self, batch: Batch) -> None:
        """Adds the batch's decisions, tax lines, ledger entries, serials and files, or nothing."""
        raw = self.con.con
        with self._copied(batch.files) as placed:
            raw.execute("BEGIN TRANSACTION")
            try:
                for table, columns, rows in batch_rows(batch, raw):
                    verb = "INSERT OR REPLACE" if table == "invt_serials" else "INSERT"
                    raw.execute(f"{verb} INTO {table} ({', '.join(columns)}) {rows}")
                if batch.cancelled is not None:
                    raw.execute(close_cancelled(batch.cancelled))
                for pending, relative, rows_in_file in placed:
                    raw.execute(
                        "INSERT OR IGNORE INTO document_files VALUES (?, ?, ?, ?, ?)",
                        [pending.stem, relative, pending.sha256, rows_in_file, batch.batch_id],
                    )
                raw.execute(
                    "INSERT INTO batches VALUES (?, ?, current_timestamp)",
                    [batch.batch_id, batch.declarations],
                )
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise

    def commit_outcomes(self, batch: OutcomeBatch) -> None:
        """Adds the outcomes' rows and makes their changes in place (cbec.store.outcomes), all or
        nothing; the batch is registered with no declarations."""
        raw = self.con.con
        raw.execute("BEGIN TRANSACTION")
        try:
            for table, columns, rows in outcome_rows(batch):
                raw.execute(f"INSERT INTO {table} ({', '.join(columns)}) {rows}")
            for statement in apply_outcome_updates(batch.outcomes):
                raw.execute(statement)
            raw.execute("INSERT INTO batches VALUES (?, 0, current_timestamp)", [batch.batch_id])
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    def commit_rows(self, tables: dict[str, pa.Table], batch_id: str) -> None:
        """Adds rows made outside a clearing batch (export summaries, overseas warehouse moves)
        to the store tables they name, by column name, as a batch with no declarations: all or
        nothing."""
        raw = self.con.con
        raw.execute("BEGIN TRANSACTION")
        try:
            for target, table in tables.items():
                name = f"cbec_rows_{target}"
                raw.register(name, table)
                try:
                    raw.execute(
                        f"INSERT INTO {target} BY NAME SELECT *, ? AS batch_id FROM {name}",
                        [batch_id],
                    )
                finally:
                    raw.unregister(name)
            raw.execute("INSERT INTO batches VALUES (?, 0, current_timestamp)", [batch_id])
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Holds the store for a command that judges on what the store holds and then writes
        (an overseas warehouse's stock before its sales): one process at a time, on fresh
        history. A DuckDB file has one writing process already."""
        yield

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
            enterprise_from_row(row)
            for row in self.con.con.execute(f"{ENTERPRISE_QUERY} ORDER BY code").fetchall()
        ]

    def enterprise(
        self, code: str, cursor: duckdb.DuckDBPyConnection | None = None
    ) -> Enterprise | None:
        """`cursor`: another connection to this store (a thread of the service has its own)."""
        # fetchall: DuckDB keeps a half-read result open after fetchone, blocking later queries
        rows = (
            (cursor or self.con.con)
            .execute(f"{ENTERPRISE_QUERY} WHERE code = ?", [code])
            .fetchall()
        )
        return enterprise_from_row(rows[0]) if rows else None

    def set_api_key(self, code: str, api_key_sha256: str) -> bool:
        """Keeps the SHA-256 of an enterprise's new API key; False for an unknown code."""
        found = self.con.con.execute(
            "UPDATE enterprises SET api_key_sha256 = ? WHERE code = ? RETURNING code",
            [api_key_sha256, code],
        ).fetchall()
        return bool(found)

    def disable_enterprise(self, code: str) -> bool:
        """Disables an enterprise; False when no enterprise has that code."""
        found = self.con.con.execute(
            "UPDATE enterprises SET disabled = true WHERE code = ? RETURNING code", [code]
        ).fetchall()
        return bool(found)

    # Rows written outside a batch (registries, guarantees, payments) -------------------------

    def insert_rows(
        self, table: str, rows: Sequence[Sequence[Any]], replace: tuple[str, ...] = ()
    ) -> None:
        """Adds `rows` (every column of `table`, in order) all or none; with `replace` (the
        table's primary key), a row replaces the one with the same key."""
        if not rows:
            return
        raw = self.con.con
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        marks = ", ".join("?" * len(rows[0]))
        raw.execute("BEGIN TRANSACTION")
        try:
            raw.executemany(f"{verb} INTO {table} VALUES ({marks})", [list(r) for r in rows])
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    def delete_rows(self, table: str, column: str, value: Any) -> int:
        """Deletes the rows of `table` whose `column` is `value`; how many were."""
        gone = self.con.con.execute(
            f"DELETE FROM {table} WHERE {column} = ? RETURNING {column}", [value]
        ).fetchall()
        return len(gone)


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

# The stock ledger per item against the documents. A list held for the guarantee keeps its stock
# as `held` (given back by a cancellation, made a `release` by its release), one released or held
# by the risk selection as `release`: so the declared side counts every admitted list (800, 500,
# 300) and the ledger side both kinds. A cancelled (899) or inspection-rejected (100) list nets 0.
_DECLARED = """
heads AS (
    SELECT DISTINCT coalesce(agent_code, '') AS agent_code, cop_no, ems_no FROM read_parquet(?)
), lines AS (
    SELECT DISTINCT coalesce(agent_code, '') AS agent_code, cop_no, gnum, item_record_no,
           coalesce(qty1, qty) AS qty FROM read_parquet(?)
), admitted AS (
    SELECT h.ems_no, l.item_record_no, d.agent_code, d.cop_no, l.gnum, l.qty
    FROM decisions d JOIN heads h USING (agent_code, cop_no)
    JOIN lines l USING (agent_code, cop_no)
    WHERE d.status IN (800, 500, 300) AND d.trade_mode IN ('1210', '1239')
), back AS (
    SELECT DISTINCT coalesce(agent_code, '') AS agent_code, cop_no, gnum FROM returned_lines
), declared AS (
    SELECT a.ems_no, a.item_record_no, sum(a.qty) AS declared_taken,
           sum(a.qty) FILTER (WHERE b.gnum IS NOT NULL) AS declared_returned
    FROM admitted a LEFT JOIN back b USING (agent_code, cop_no, gnum)
    GROUP BY ALL
)"""
_NOTHING_DECLARED = """
declared AS (
    SELECT CAST(NULL AS VARCHAR) AS ems_no, CAST(NULL AS VARCHAR) AS item_record_no,
           CAST(NULL AS DECIMAL(38,5)) AS declared_taken,
           CAST(NULL AS DECIMAL(38,5)) AS declared_returned
    WHERE false
)"""
_RECONCILIATION = """
WITH {declared}, ledger AS (
    SELECT ems_no, item_record_no,
           sum(qty) FILTER (WHERE kind = 'entry') AS entered,
           -sum(qty) FILTER (WHERE kind = 'release') AS released,
           -sum(qty) FILTER (WHERE kind IN ('held', 'cancel')) AS held,
           sum(qty) FILTER (WHERE kind = 'return') AS returned,
           sum(qty) AS on_hand
    FROM stock_ledger GROUP BY ALL
)
SELECT ems_no, item_record_no,
       CAST(coalesce(entered, 0) AS DECIMAL(38,5)) AS entered,
       CAST(coalesce(released, 0) AS DECIMAL(38,5)) AS released,
       CAST(coalesce(held, 0) AS DECIMAL(38,5)) AS held,
       CAST(coalesce(returned, 0) AS DECIMAL(38,5)) AS returned,
       CAST(coalesce(on_hand, 0) AS DECIMAL(38,5)) AS on_hand,
       CAST(coalesce(declared_taken, 0) AS DECIMAL(38,5)) AS declared_taken,
       CAST(coalesce(declared_returned, 0) AS DECIMAL(38,5)) AS declared_returned
FROM ledger FULL JOIN declared USING (ems_no, item_record_no)
ORDER BY ems_no, item_record_no
"""

ENTERPRISE_QUERY = (
    "SELECT code, name, roles, cert_pem, api_key_sha256, disabled, created_at FROM enterprises"
)


def enterprise_from_row(row: tuple[Any, ...]) -> Enterprise:
    code, name, roles, cert_pem, api_key_sha256, disabled, created_at = row
    return Enterprise(
        code, name, tuple(roles or ()), cert_pem, api_key_sha256, bool(disabled), created_at
    )
