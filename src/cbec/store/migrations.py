"""Versioned schema migrations, the same for the DuckDB and the PostgreSQL store where SQL allows.

A store records its version in `store_meta.schema_version`. Version 1 is the schema the embedded
store had before migrations existed (every v1 store holds `schema_version = 1`); each later
version is a list of statements run in one transaction with the version update, so a store is at
one version or the next, never between. The statements are plain SQL both engines accept
(`VARCHAR[]`, `DECIMAL(18,2)`, `CREATE ... IF NOT EXISTS`); a statement one engine must not run is
tagged with the dialect it is for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Dialect = Literal["duckdb", "postgresql"]
# Runs one statement (no parameters) and returns its rows, [] when it returns none.
Execute = Callable[[str], Sequence[tuple[Any, ...]]]


@dataclass(frozen=True)
class Statement:
    sql: str
    only: Dialect | None = None  # None: both stores


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[Statement, ...]


def _both(*sqls: str) -> tuple[Statement, ...]:
    return tuple(Statement(sql) for sql in sqls)


def _pg(*sqls: str) -> tuple[Statement, ...]:
    return tuple(Statement(sql, "postgresql") for sql in sqls)


# Version 1: the embedded store's schema as it was before migrations (kept verbatim, so a v1 store
# made by an older cbec and one made here are the same).
_V1 = _both(
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

# Version 2: a record of the migrations applied, and on PostgreSQL the indexes its row-at-a-time
# lookups need: the commit's conflict checks (by declaration, buyer and year, stock item) and
# the incremental read of other processes' batches (by batch_id). DuckDB scans its columns with
# zone maps instead; an ART index there would slow every batch insert and hold memory.
_V2 = (
    *_both(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"""
    ),
    *_pg(
        "CREATE INDEX IF NOT EXISTS decisions_key ON decisions (agent_code, cop_no)",
        "CREATE INDEX IF NOT EXISTS decisions_batch ON decisions (batch_id)",
        "CREATE INDEX IF NOT EXISTS tax_lines_key ON tax_lines (agent_code, cop_no)",
        "CREATE INDEX IF NOT EXISTS tax_lines_batch ON tax_lines (batch_id)",
        "CREATE INDEX IF NOT EXISTS allowance_buyer ON allowance_ledger (buyer_id_number, year)",
        "CREATE INDEX IF NOT EXISTS allowance_batch ON allowance_ledger (batch_id)",
        "CREATE INDEX IF NOT EXISTS returned_lines_batch ON returned_lines (batch_id)",
        "CREATE INDEX IF NOT EXISTS stock_item ON stock_ledger (ems_no, item_record_no)",
        "CREATE INDEX IF NOT EXISTS stock_batch ON stock_ledger (batch_id)",
        "CREATE INDEX IF NOT EXISTS export_decisions_customs ON export_decisions (customs_code)",
        "CREATE INDEX IF NOT EXISTS export_decisions_batch ON export_decisions (batch_id)",
        "CREATE INDEX IF NOT EXISTS document_files_batch ON document_files (batch_id)",
    ),
)

# Version 3: the ledgers after the decision (yearly quantities, guarantees, tax payments), the
# risk engine's tables and the export flows' tables, with the export decision's added columns.
# An embedded store made before migrations may already hold them: every statement is idempotent.
_V3 = (
    *_both(
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
        """CREATE TABLE IF NOT EXISTS risk_models (
            version VARCHAR PRIMARY KEY, trained_at TIMESTAMP, outcomes BIGINT,
            model_json VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS risk_decisions (
            agent_code VARCHAR, cop_no VARCHAR, status INTEGER, selection VARCHAR,
            model_version VARCHAR, risk_score DOUBLE PRECISION, rule_score DOUBLE PRECISION,
            fired_rules VARCHAR[], top_features VARCHAR[], draw DOUBLE PRECISION,
            batch_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS risk_outcomes (
            agent_code VARCHAR, cop_no VARCHAR, held_status INTEGER, found BOOLEAN,
            finding VARCHAR, action VARCHAR, customs_tax DECIMAL(18,2),
            value_added_tax DECIMAL(18,2), consumption_tax DECIMAL(18,2),
            revenue_recovered DECIMAL(18,2), status INTEGER, recorded_at TIMESTAMP, note VARCHAR,
            buyer_id_number VARCHAR, ebc_code VARCHAR, logistics_code VARCHAR, source VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS enterprise_credit (
            code VARCHAR PRIMARY KEY, grade VARCHAR, set_at TIMESTAMP)""",
        """CREATE TABLE IF NOT EXISTS export_events (
            agent_code VARCHAR, cop_no VARCHAR, event VARCHAR, status INTEGER,
            event_time TIMESTAMP, source_guid VARCHAR, batch_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS export_registrations (
            ebc_code VARCHAR, trade_mode VARCHAR, registered_at TIMESTAMP,
            PRIMARY KEY (ebc_code, trade_mode))""",
        """CREATE TABLE IF NOT EXISTS overseas_warehouses (
            warehouse_code VARCHAR PRIMARY KEY, name VARCHAR, country VARCHAR, ebc_code VARCHAR,
            registered_at TIMESTAMP)""",
        """CREATE TABLE IF NOT EXISTS overseas_stock (
            warehouse_code VARCHAR, ebc_code VARCHAR, item_no VARCHAR, gcode VARCHAR,
            qty DECIMAL(18,5), kind VARCHAR, agent_code VARCHAR, cop_no VARCHAR,
            reference VARCHAR, ordered_at TIMESTAMP, move_time TIMESTAMP, batch_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS export_summaries (
            sum_no VARCHAR PRIMARY KEY, customs_code VARCHAR, agent_code VARCHAR,
            ebc_code VARCHAR, period VARCHAR, hs_digits INTEGER, lists INTEGER, items INTEGER,
            created_at TIMESTAMP, source_guid VARCHAR, batch_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS export_summary_items (
            sum_no VARCHAR, line_no INTEGER, trade_mode VARCHAR, hs_code VARCHAR,
            country VARCHAR, currency VARCHAR, port_code VARCHAR, traf_mode VARCHAR,
            unit VARCHAR, qty DECIMAL(18,5), value DECIMAL(18,2), lists INTEGER,
            batch_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS export_summary_lists (
            sum_no VARCHAR, agent_code VARCHAR, cop_no VARCHAR, invt_no VARCHAR,
            logistics_no VARCHAR, batch_id VARCHAR)""",
        *(
            f"ALTER TABLE export_decisions ADD COLUMN IF NOT EXISTS {name} {kind}"
            for name, kind in (
                ("trade_mode", "VARCHAR"),
                ("decl_time", "TIMESTAMP"),
                ("total_value", "DECIMAL(18,2)"),
                ("currency", "VARCHAR"),
                ("country", "VARCHAR"),
                ("ebc_code", "VARCHAR"),
                ("ebp_code", "VARCHAR"),
                ("port_code", "VARCHAR"),
                ("logistics_code", "VARCHAR"),
                ("logistics_no", "VARCHAR"),
            )
        ),
    ),
    *_pg(
        "CREATE INDEX IF NOT EXISTS quantity_buyer ON quantity_ledger (buyer_id_number, year)",
        "CREATE INDEX IF NOT EXISTS quantity_batch ON quantity_ledger (batch_id)",
        "CREATE INDEX IF NOT EXISTS risk_decisions_key ON risk_decisions (agent_code, cop_no)",
        "CREATE INDEX IF NOT EXISTS risk_decisions_batch ON risk_decisions (batch_id)",
        "CREATE INDEX IF NOT EXISTS export_events_batch ON export_events (batch_id)",
        "CREATE INDEX IF NOT EXISTS overseas_stock_batch ON overseas_stock (batch_id)",
        "CREATE INDEX IF NOT EXISTS export_summary_items_batch ON export_summary_items (batch_id)",
        "CREATE INDEX IF NOT EXISTS export_summary_lists_batch ON export_summary_lists (batch_id)",
    ),
)

# Version 4: first sightings kept per batch for the risk features (cbec.pipeline_risk.sightings),
# so that a batch reads them instead of every declaration stored. The batches of an older store
# kept none: their documents are read instead (`risk_sighted_batches` says which kept them).
_V4 = (
    *_both(
        """CREATE TABLE IF NOT EXISTS risk_contacts (
            kind VARCHAR, contact VARCHAR, buyer_id_number VARCHAR, first_time TIMESTAMP,
            batch_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS risk_enterprises (
            ebc_code VARCHAR, first_time TIMESTAMP, batch_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS risk_sighted_batches (batch_id VARCHAR)""",
    ),
    *_pg(
        "CREATE INDEX IF NOT EXISTS risk_contacts_batch ON risk_contacts (batch_id)",
        "CREATE INDEX IF NOT EXISTS risk_enterprises_batch ON risk_enterprises (batch_id)",
        "CREATE INDEX IF NOT EXISTS risk_sighted_batches_batch ON risk_sighted_batches (batch_id)",
    ),
)

# Version 5: inspection and review outcomes are committed as batches (cbec.store.outcomes), so
# that every process of a PostgreSQL store reads them incrementally and replays what they change
# in place. Rows recorded before keep a null batch_id (a PostgreSQL copy reads those at open).
_V5 = (
    *_both("ALTER TABLE risk_outcomes ADD COLUMN IF NOT EXISTS batch_id VARCHAR"),
    *_pg("CREATE INDEX IF NOT EXISTS risk_outcomes_batch ON risk_outcomes (batch_id)"),
)

# Version 6: the online service's logs (cbec.service): the intake log (every message acknowledged,
# appended before the 202), the receipts by cursor, and the companion keys messages provide. The
# embedded store had them from `cbec serve` (made there before migrations held them: the ALTERs
# bring those up to date); PostgreSQL gets them here, with the indexes its queue and readers use.
_V6 = (
    *(
        Statement(sql, "duckdb")
        for sql in (
            "CREATE SEQUENCE IF NOT EXISTS service_intake_ids START 1",
            """CREATE TABLE IF NOT EXISTS service_intake (
                id BIGINT PRIMARY KEY DEFAULT nextval('service_intake_ids'),
                sender VARCHAR NOT NULL, guid VARCHAR NOT NULL, message_code VARCHAR NOT NULL,
                node_guids VARCHAR[] NOT NULL, body BLOB NOT NULL, received_at TIMESTAMP NOT NULL,
                processed_at TIMESTAMP, failure VARCHAR, UNIQUE (sender, guid))""",
            # No DEFAULT: DuckDB replays a list default from its WAL only with an extension it
            # downloads, so a store killed after this statement would not reopen offline.
            "ALTER TABLE service_intake ADD COLUMN IF NOT EXISTS needs VARCHAR[]",
            "ALTER TABLE service_intake ADD COLUMN IF NOT EXISTS acknowledged_at DOUBLE",
            "CREATE SEQUENCE IF NOT EXISTS service_receipt_cursors START 1",
            """CREATE TABLE IF NOT EXISTS service_receipts (
                cursor BIGINT PRIMARY KEY DEFAULT nextval('service_receipt_cursors'),
                recipient VARCHAR NOT NULL, code VARCHAR NOT NULL, receipt_guid VARCHAR NOT NULL,
                xml VARCHAR NOT NULL, intake_id BIGINT, created_at TIMESTAMP NOT NULL,
                UNIQUE (recipient, receipt_guid))""",
        )
    ),
    *_pg(
        "CREATE SEQUENCE IF NOT EXISTS service_intake_ids START 1",
        """CREATE TABLE IF NOT EXISTS service_intake (
            id BIGINT PRIMARY KEY DEFAULT nextval('service_intake_ids'),
            sender VARCHAR NOT NULL, guid VARCHAR NOT NULL, message_code VARCHAR NOT NULL,
            node_guids VARCHAR[] NOT NULL, body BYTEA NOT NULL, received_at TIMESTAMP NOT NULL,
            processed_at TIMESTAMP, failure VARCHAR, needs VARCHAR[],
            acknowledged_at DOUBLE PRECISION, UNIQUE (sender, guid))""",
        # The queue: the entries not yet cleared, oldest first (claimed FOR UPDATE SKIP LOCKED).
        "CREATE INDEX IF NOT EXISTS service_intake_waiting ON service_intake (id) "
        "WHERE processed_at IS NULL",
        "CREATE SEQUENCE IF NOT EXISTS service_receipt_cursors START 1",
        """CREATE TABLE IF NOT EXISTS service_receipts (
            cursor BIGINT PRIMARY KEY, recipient VARCHAR NOT NULL, code VARCHAR NOT NULL,
            receipt_guid VARCHAR NOT NULL, xml VARCHAR NOT NULL, intake_id BIGINT,
            created_at TIMESTAMP NOT NULL, UNIQUE (recipient, receipt_guid))""",
        "CREATE INDEX IF NOT EXISTS service_receipts_reader ON service_receipts "
        "(recipient, cursor)",
    ),
    *_both(
        "CREATE TABLE IF NOT EXISTS service_companions (key VARCHAR PRIMARY KEY, intake_id BIGINT)"
    ),
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the embedded store's schema before migrations", _V1),
    Migration(2, "schema_migrations; PostgreSQL lookup indexes", _V2),
    Migration(3, "ledgers after the decision, risk and export tables", _V3),
    Migration(4, "first sightings for the risk features, kept per batch", _V4),
    Migration(5, "inspection and review outcomes committed as batches", _V5),
    Migration(6, "the online service's intake, receipt and companion logs", _V6),
)
LATEST = MIGRATIONS[-1].version


class NewerStore(Exception):
    """The store was written by a newer cbec than this one."""


def current_version(execute: Execute, dialect: Dialect) -> int:
    """The store's schema version; 0 for an empty database."""
    if dialect == "duckdb":
        probe = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'store_meta'"
    else:
        probe = "SELECT count(*) FROM pg_tables WHERE tablename = 'store_meta'"
    if not execute(probe)[0][0]:
        return 0
    rows = execute("SELECT value FROM store_meta WHERE key = 'schema_version'")
    return int(rows[0][0]) if rows else 0


def pending(version: int, target: int = LATEST) -> list[Migration]:
    """The migrations that take a store at `version` to `target`, in order."""
    if version > LATEST:
        raise NewerStore(
            f"the store is at schema version {version}, newer than this cbec knows ({LATEST}); "
            "upgrade cbec"
        )
    return [m for m in MIGRATIONS if version < m.version <= target]


def apply(migration: Migration, execute: Execute, dialect: Dialect) -> None:
    """Runs one migration's statements and records it; the caller holds the transaction."""
    for statement in migration.statements:
        if statement.only in (None, dialect):
            execute(statement.sql)
    version = str(migration.version)
    # Upsert written so that both engines accept it (no INSERT OR REPLACE on PostgreSQL).
    execute("DELETE FROM store_meta WHERE key = 'schema_version'")
    execute(f"INSERT INTO store_meta VALUES ('schema_version', '{version}')")
    if migration.version >= 2:  # schema_migrations exists from version 2 on
        for done in MIGRATIONS[: migration.version]:
            text = done.description.replace("'", "''")
            execute(
                f"INSERT INTO schema_migrations SELECT {done.version}, '{text}', "
                f"LOCALTIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM schema_migrations "
                f"WHERE version = {done.version})"
            )


def upgrade_duckdb(con: Any, target: int = LATEST) -> tuple[int, int]:
    """Brings the DuckDB store on `con` (a duckdb connection) to `target`, one transaction per
    migration; returns the versions before and after."""

    def execute(sql: str) -> Sequence[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    before = current_version(execute, "duckdb")
    done = before
    for migration in pending(before, target):
        con.execute("BEGIN TRANSACTION")
        try:
            apply(migration, execute, "duckdb")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        done = migration.version
    return before, done
