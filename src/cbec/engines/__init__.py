"""The engines that run the clearance stages: DuckDB (embedded, the default) and Apache Spark.

The stages (`cbec.clearance`, `cbec.ledgers`) are Ibis expressions and never know which engine
runs them. The pipeline asks its engine for every table it reads (inputs, the store's history,
policy rows) and hands it every table it keeps between stages; `Engine` is that contract, and
`cbec.pipeline` picks the engine in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

Judge = Callable[[dict[str, list[object]]], list[bool]]
BatchFunction = Callable[[pa.RecordBatch], pa.Table]

# The store tables a run reads as history (DESIGN.md, "Sequential ledgers"; `Engine.history`).
HISTORY_TABLES = (
    "decisions",
    "allowance_ledger",
    "stock_ledger",
    "invt_serials",
    "quantity_ledger",
    "risk_outcomes",
    "enterprise_credit",
    "risk_contacts",
    "risk_enterprises",
)


class Engine(Protocol):
    """What the pipeline needs of an engine."""

    name: str

    def read_parquet(self, paths: Sequence[str]) -> ir.Table:
        """Parquet files as one table, scanned where they lie."""
        ...

    def arrow(self, table: pa.Table) -> ir.Table:
        """An in-memory Arrow table (policy rows, small findings) as a table of this engine."""
        ...

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Computes `expr` once and keeps it under `name` until released."""
        ...

    def release(self, *names: str) -> None:
        """Drops kept tables no later stage reads (a national day's would not fit in memory)."""
        ...

    def history(self, name: str) -> ir.Table:
        """One of the store's `HISTORY_TABLES`, as it was when the run began."""
        ...

    def documents(self, stem: str, unsighted: bool = False) -> ir.Table | None:
        """The documents of a family stored by earlier runs, or None; with `unsighted`, only
        those of the batches that kept no first sightings (`cbec.pipeline_risk.sightings`)."""
        ...

    def sequential_pass(self, ordered: ir.Table, key: Sequence[str], judge: Judge) -> pa.Table:
        """Judges each `key`'s rows of `ordered` in turn (see `cbec.engines.duckdb`): the rows
        with a boolean `verdict`, at least `agent_code` and `cop_no` among their columns."""
        ...

    def map_batches(
        self, table: ir.Table, function: BatchFunction, schema: pa.Schema, rows: int
    ) -> ir.Table:
        """`function` applied to `table` in Arrow batches of at most `rows` rows (on the
        executors, for Spark): the concatenated results, of `schema`."""
        ...

    def hand_over(self, *names: str) -> None:
        """Puts the kept tables `names` into the store's connection under the same names, for
        the store to record them and the outputs to be written from them."""
        ...


def sort_keys(ordered: ir.Table) -> list[tuple[str, bool]]:
    """The (column, ascending) sort keys of an `order_by` expression: an engine that judges
    groups apart (Spark) sorts each group by them, as the ordered table would have been."""
    node = ordered.op()
    if not isinstance(node, ops.Sort):
        raise ValueError("a sequential pass needs a table ordered with order_by")
    keys: list[tuple[str, bool]] = []
    for key in node.keys:
        if not isinstance(key.arg, ops.Field):
            raise ValueError("a sequential pass orders by columns, not by expressions")
        keys.append((key.arg.name, bool(key.ascending)))
    return keys
