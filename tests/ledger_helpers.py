"""Checks shared by the ledgers' property tests (tests/ledgers/test_invariants.py and
test_ledger_properties.py): a store's ledgers whole, and its stock reconciliation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from cbec.ledgers import stock
from cbec.store.embedded import Store

# What a replay must leave unchanged: every ledger, whole (batch ids aside).
LEDGERS = ("decisions", "tax_lines", "allowance_ledger", "stock_ledger", "returned_lines",
           "quantity_ledger", "tax_payments", "guarantees")  # fmt: skip


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every ledger's rows, sorted, without the batch ids (a replay's batch may differ)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in LEDGERS:
            names = [n for (n,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND column_name <> 'batch_id' ORDER BY ordinal_position", [table]
            ).fetchall()]  # fmt: skip
            out[table] = con.execute(
                f"SELECT {', '.join(names)} FROM {table} ORDER BY ALL"
            ).fetchall()
        return out
    finally:
        con.close()


def unreconciled(db: Path) -> list[tuple[dict[str, Any], list[str]]]:
    """`cbec warehouse reconcile`'s differences: the items whose entries - releases + returns
    do not agree with the documents (empty when the stock ledger balances)."""
    store = Store(db)
    try:
        rows = store.stock_reconciliation().to_pylist()
    finally:
        store.close()
    return [(row, found) for row in rows if (found := stock.differences(row))]
