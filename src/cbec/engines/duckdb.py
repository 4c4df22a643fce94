"""The DuckDB engine: the stages run in the store's own connection (the embedded default).

Its one piece of engine-specific code is the sequential pass. Most judgements are columnar. A few
depend on what came before for the same key (a buyer's annual allowance, an account-book item's
stock): DESIGN.md keeps those to one plain function over a key's ordered rows, which this engine
calls on the small subset of keys that could go over a limit, after a bulk query has proved the
rest. The Spark engine calls the same function through a grouped Arrow apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cbec.engines import BatchFunction, Judge

if TYPE_CHECKING:
    from cbec.store.embedded import Store


def sequential_pass(ordered: ir.Table, key: Sequence[str], judge: Judge) -> pa.Table:
    """`ordered` (sorted by `key`, then by the order of judgement) with a boolean `verdict`.

    `judge` receives one key's rows as columns (name -> values, in order) and returns one verdict
    per row.
    """
    table = ordered.to_pyarrow()
    return with_verdicts(table, key, judge)


def with_verdicts(table: pa.Table, key: Sequence[str], judge: Judge) -> pa.Table:
    """`table` (sorted by `key`, then in the order of judgement) with `judge`'s `verdict`."""
    columns = {name: table[name].to_pylist() for name in table.column_names}
    keys = list(zip(*(columns[name] for name in key), strict=True))
    verdicts: list[bool] = []
    start = 0
    while start < len(keys):
        end = start
        while end < len(keys) and keys[end] == keys[start]:
            end += 1
        rows = {name: values[start:end] for name, values in columns.items()}
        verdicts.extend(judge(rows))
        start = end
    return table.append_column("verdict", pa.array(verdicts, type=pa.bool_()))


class DuckDBEngine:
    """Stages as temporary tables of the store's connection; history read from the store."""

    name = "duckdb"

    def __init__(self, store: Store):
        self.store = store

    def read_parquet(self, paths: Sequence[str]) -> ir.Table:
        return self.store.con.read_parquet(list(paths))

    def arrow(self, table: pa.Table) -> ir.Table:
        return ibis.memtable(table)

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        self.release(name)  # a store kept open clears run after run (the online service)
        return self.store.con.create_table(name, expr, temp=True)

    def release(self, *names: str) -> None:
        for name in names:  # Ibis' drop_table misquotes names on this DuckDB
            self.store.con.con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')

    def history(self, name: str) -> ir.Table:
        return self.store.table(name)

    def documents(self, stem: str) -> ir.Table | None:
        return self.store.documents(stem)

    def sequential_pass(self, ordered: ir.Table, key: Sequence[str], judge: Judge) -> pa.Table:
        return sequential_pass(ordered, key, judge)

    def map_batches(
        self, table: ir.Table, function: BatchFunction, schema: pa.Schema, rows: int
    ) -> ir.Table:
        # Ibis' to_pyarrow_batches calls a method DuckDB 2.0 no longer has: read its SQL here.
        self.store.con._run_pre_execute_hooks(table)
        reader = self.store.con.con.sql(str(self.store.con.compile(table))).to_arrow_reader(rows)
        parts = [function(batch).cast(schema) for batch in reader]
        return ibis.memtable(pa.concat_tables(parts) if parts else schema.empty_table())

    def hand_over(self, *names: str) -> None:
        """Nothing to do: the tables already are the store's."""
