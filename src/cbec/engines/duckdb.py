"""The DuckDB engine's one piece of engine-specific code: the sequential pass.

Most judgements are columnar. A few depend on what came before for the same key (a buyer's annual
allowance, an account-book item's stock): DESIGN.md keeps those to one plain function over a key's
ordered rows, which this engine calls on the small subset of keys that could go over a limit,
after a bulk query has proved the rest. The Spark engine calls the same function through a grouped
Arrow apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis.expr.types as ir
import pyarrow as pa

Judge = Callable[[dict[str, list[object]]], list[bool]]


def sequential_pass(ordered: ir.Table, key: Sequence[str], judge: Judge) -> pa.Table:
    """`ordered` (sorted by `key`, then by the order of judgement) with a boolean `verdict`.

    `judge` receives one key's rows as columns (name -> values, in order) and returns one verdict
    per row.
    """
    table = ordered.to_pyarrow()
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
