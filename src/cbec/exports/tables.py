"""Writing the store tables of the export flows (issue 7) outside a batch.

The tables themselves, and the columns `export_decisions` gained, are created by the store's
versioned migrations (`cbec.store.migrations`, version 3); a batch's export rows are committed
with the batch (`embedded.batch_rows`). Rows go in by column name.
"""

from __future__ import annotations

from typing import Any


def insert_export_rows(raw: Any, tables: dict[str, str], batch_id: str) -> None:
    """Insert each temp table into the store table it names, by column name, inside the caller's
    transaction (`commit_rows`)."""
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
