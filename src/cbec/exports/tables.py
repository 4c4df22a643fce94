"""The store tables of the export flows (issue 7), created and upgraded with the store.

`cbec.store.embedded` runs `EXPORT_DDL` when it opens a store, and inserts a batch's export rows
with `insert_export_rows` (by column name, so a table may gain columns without touching the store
module). Older stores gain the added `export_decisions` columns here, empty for old rows.
"""

from __future__ import annotations

from typing import Any

EXPORT_DDL: tuple[str, ...] = (
    # What happened to a list after its decision: arrived (507), departed (509: 399 concluded),
    # on a master waybill (607), cancelled (605: 899), summarised (701/792).
    """CREATE TABLE IF NOT EXISTS export_events (
        agent_code VARCHAR, cop_no VARCHAR, event VARCHAR, status INTEGER, event_time TIMESTAMP,
        source_guid VARCHAR, batch_id VARCHAR)""",
    # Enterprises registered for 9710 / 9810 (GACC 2020 No. 75, art. 2).
    """CREATE TABLE IF NOT EXISTS export_registrations (
        ebc_code VARCHAR, trade_mode VARCHAR, registered_at TIMESTAMP,
        PRIMARY KEY (ebc_code, trade_mode))""",
    # Overseas warehouses filed with customs for 9810 (GACC 2020 No. 75, art. 2).
    """CREATE TABLE IF NOT EXISTS overseas_warehouses (
        warehouse_code VARCHAR PRIMARY KEY, name VARCHAR, country VARCHAR, ebc_code VARCHAR,
        registered_at TIMESTAMP)""",
    # Stock of the overseas warehouses: 9810 lists in (+), sales out (-).
    """CREATE TABLE IF NOT EXISTS overseas_stock (
        warehouse_code VARCHAR, ebc_code VARCHAR, item_no VARCHAR, gcode VARCHAR,
        qty DECIMAL(18,5), kind VARCHAR, agent_code VARCHAR, cop_no VARCHAR, reference VARCHAR,
        ordered_at TIMESTAMP, move_time TIMESTAMP, batch_id VARCHAR)""",
    # Consolidated declarations (701 applied for, 792 result), their lines and their lists.
    """CREATE TABLE IF NOT EXISTS export_summaries (
        sum_no VARCHAR PRIMARY KEY, customs_code VARCHAR, agent_code VARCHAR, ebc_code VARCHAR,
        period VARCHAR, hs_digits INTEGER, lists INTEGER, items INTEGER, created_at TIMESTAMP,
        source_guid VARCHAR, batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS export_summary_items (
        sum_no VARCHAR, line_no INTEGER, trade_mode VARCHAR, hs_code VARCHAR, country VARCHAR,
        currency VARCHAR, port_code VARCHAR, traf_mode VARCHAR, unit VARCHAR,
        qty DECIMAL(18,5), value DECIMAL(18,2), lists INTEGER, batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS export_summary_lists (
        sum_no VARCHAR, agent_code VARCHAR, cop_no VARCHAR, invt_no VARCHAR,
        logistics_no VARCHAR, batch_id VARCHAR)""",
)

# Columns added to `export_decisions` after the first slice (old rows keep them empty).
DECISION_COLUMNS_ADDED: tuple[tuple[str, str], ...] = (
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


def create_export_tables(raw: Any) -> None:
    """Create the export tables, and add the new `export_decisions` columns to an old store."""
    for statement in EXPORT_DDL:
        raw.execute(statement)
    for name, kind in DECISION_COLUMNS_ADDED:
        raw.execute(f"ALTER TABLE export_decisions ADD COLUMN IF NOT EXISTS {name} {kind}")


def insert_export_rows(raw: Any, tables: dict[str, str], batch_id: str) -> None:
    """Insert each temp table into the store table it names, by column name, inside the caller's
    transaction (`Batch.export_rows`)."""
    for target, source in tables.items():
        raw.execute(
            f"INSERT INTO {target} BY NAME SELECT *, ? AS batch_id FROM {source}", [batch_id]
        )


def commit_rows(raw: Any, tables: dict[str, Any], batch_id: str) -> None:
    """Insert Arrow tables into the store tables they name, all or nothing (one transaction)."""
    raw.execute("BEGIN TRANSACTION")
    try:
        for target, table in tables.items():
            name = f"cbec_rows_{target}"
            raw.register(name, table)
            try:
                insert_export_rows(raw, {target: name}, batch_id)
            finally:
                raw.unregister(name)
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
