"""The DuckDB engine: the stages run in the store's own connection (the embedded default).

Its one piece of engine-specific code is the sequential pass. Most judgements are columnar. A few
depend on what came before for the same key (a buyer's annual allowance, an account-book item's
stock): DESIGN.md keeps those to one plain function over a key's ordered rows, which this engine
calls on the small subset of keys that could go over a limit, after a bulk query has proved the
rest. The Spark engine calls the same function through a grouped Arrow apply.

A run builds the same expressions every time, over tables of the same names and schemas: the
store's, the stages' kept tables, and the run's own inputs and policy rows, which this engine
names in the order the run asks for them (`cbec_arrow_1`, ...) instead of Ibis' random memtable
names. Compiling an expression to SQL costs Ibis far more than DuckDB takes to run it on a
micro-batch (about 0.35 s an expression, 6.5 s of a 15 s batch of the online service), so the
SQL of each expression is kept with the store's connection (`compiled_sql`) and reused by every
later run whose expression is the same: an equal Ibis expression compiles to equal SQL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from cbec.engines import HISTORY_TABLES, BatchFunction, Judge
from cbec.engines.reuse import Built

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


NAMED_ROWS = 100_000  # results of map_batches registered under a fixed name up to this size
COMPILED_KEPT = 2048  # expressions whose SQL a connection keeps (a run compiles about 60)


class CompiledSQL:
    """The SQL of expressions compiled before on one Ibis DuckDB connection, by expression.

    Installed as the connection's `compile` (which its `to_pyarrow`, `execute` and `to_parquet`
    call), and used by `DuckDBEngine.materialize`. Expressions with parameters are compiled each
    time."""

    def __init__(self, backend: Any):
        self.backend = backend
        self.compile_once = type(backend).compile.__get__(backend)  # Ibis' own
        self.prepare_once = type(backend)._run_pre_execute_hooks.__get__(backend)
        self._prepared: set[ops.Node] = set()
        self._kept: OrderedDict[tuple[ops.Node, Any, bool], str] = OrderedDict()
        self._tables: dict[tuple[Any, ...], ir.Table] = {}  # read back once (_read_once)
        self._lock = threading.Lock()
        self.built = Built()  # the stages' expressions (cbec.engines.reuse), as the SQL
        self.hits = 0
        self.misses = 0

    def __call__(
        self, expr: ir.Expr, /, *, limit: Any = None, params: Any = None, pretty: bool = False
    ) -> str:
        if params:
            return str(self.compile_once(expr, limit=limit, params=params, pretty=pretty))
        key = (expr.op(), limit, pretty)
        with self._lock:
            sql = self._kept.get(key)
            if sql is not None:
                self._kept.move_to_end(key)
                self.hits += 1
                return sql
        sql = str(self.compile_once(expr, limit=limit, pretty=pretty))
        with self._lock:
            self.misses += 1
            if _reusable(key[0]):
                self._kept[key] = sql
                while len(self._kept) > COMPILED_KEPT:
                    self._kept.popitem(last=False)
        return sql

    def prepare(self, expr: ir.Expr) -> None:
        """Ibis' hooks before running an expression (registering its in-memory tables and
        UDFs, each a walk over the whole expression), once per expression: its in-memory tables
        stay registered while it is kept."""
        node = expr.op()
        with self._lock:
            if node in self._prepared:
                return
        self.prepare_once(expr)
        if not _reusable(node):
            return
        with self._lock:
            if len(self._prepared) > COMPILED_KEPT:
                self._prepared.clear()
            self._prepared.add(node)

    def table(self, name: str, schema: Any) -> ir.Table:
        """The table `name` just created with `schema`, as Ibis reads it back (its schema read
        from DuckDB the first time only: reading it costs more than a micro-batch's query)."""
        return self._read_once(
            ("temp", name, schema), lambda: self.backend.table(name, database=("temp", "main"))
        )

    def stored(self, name: str) -> ir.Table:
        """The store's table `name` (one of HISTORY_TABLES, whose schemas change only when a
        store is opened and upgraded), read once: the same object each run, so that the
        expressions over it are reused."""
        return self._read_once(("store", name), lambda: self.backend.table(name))

    def _read_once(self, key: tuple[Any, ...], read: Callable[[], ir.Table]) -> ir.Table:
        with self._lock:
            found = self._tables.get(key)
        if found is None:
            found = read()
            with self._lock:
                self._tables[key] = found
        return found


def _reusable(node: ops.Node) -> bool:
    """Whether a later run may build the same expression: not if it holds an Ibis memtable
    (named at random, and holding its rows: keeping it would keep a batch's data)."""
    return not node.find(ops.InMemoryTable)


def compiled_sql(backend: Any) -> CompiledSQL:
    """The connection's kept SQL, installed on first use."""
    found = backend.__dict__.get("compile")
    if isinstance(found, CompiledSQL):
        return found
    kept = CompiledSQL(backend)
    backend.compile = kept
    backend._run_pre_execute_hooks = kept.prepare
    return kept


class DuckDBEngine:
    """Stages as temporary tables of the store's connection; history read from the store."""

    name = "duckdb"

    def __init__(self, store: Store):
        self.store = store
        self.compiled = compiled_sql(store.con)
        self._arrow_tables = 0  # this run's Arrow tables so far: their names

    def read_parquet(self, paths: Sequence[str]) -> ir.Table:
        return self.store.con.read_parquet(list(paths))

    def arrow(self, table: pa.Table) -> ir.Table:
        # Named by its place in the run (not at random, as ibis.memtable names it), so that the
        # next run's expression over it is the same and its SQL is kept (CompiledSQL).
        self._arrow_tables += 1
        name = f"cbec_arrow_{self._arrow_tables}"
        backend = self.store.con
        backend.con.register(name, table)
        return ops.DatabaseTable(
            name,
            schema=ibis.Schema.from_pyarrow(table.schema),
            source=backend,
            namespace=ops.Namespace(catalog=None, database=None),
        ).to_expr()

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        self.release(name)  # a store kept open clears run after run (the online service)
        backend = self.store.con
        # As Ibis' create_table(temp=True) does it: the table with the expression's schema,
        # then its rows; with the SQL compiled once for every run.
        self.compiled.prepare(expr)
        schema = expr.schema()
        dialect = backend.dialect
        create = sge.Create(
            kind="TABLE",
            this=sge.Schema(
                this=sg.table(name, catalog="temp", db="main", quoted=True),
                expressions=schema.to_sqlglot_column_defs(dialect),
            ),
            properties=sge.Properties(expressions=[sge.TemporaryProperty()]),
        ).sql(dialect)
        columns = ", ".join(sg.to_identifier(c, quoted=True).sql(dialect) for c in expr.columns)
        backend.con.execute(create)
        backend.con.execute(f'INSERT INTO temp.main."{name}" ({columns}) {self.compiled(expr)}')
        return self.compiled.table(name, schema)

    def release(self, *names: str) -> None:
        for name in names:  # Ibis' drop_table misquotes names on this DuckDB
            self.store.con.con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')

    def history(self, name: str) -> ir.Table:
        if name not in HISTORY_TABLES:
            raise ValueError(f"{name} is not one of the store's history tables")
        return self.compiled.stored(name)

    def documents(self, stem: str, unsighted: bool = False) -> ir.Table | None:
        paths = self.store.document_paths(stem, unsighted)
        if not paths:
            return None
        # One name per family (not a new random one per run): see CompiledSQL.
        name = f"cbec_documents_{stem}{'_unsighted' if unsighted else ''}"
        return self.store.con.read_parquet(paths, table_name=name)

    def sequential_pass(self, ordered: ir.Table, key: Sequence[str], judge: Judge) -> pa.Table:
        return sequential_pass(ordered, key, judge)

    def map_batches(
        self, table: ir.Table, function: BatchFunction, schema: pa.Schema, rows: int
    ) -> ir.Table:
        # Ibis' to_pyarrow_batches calls a method DuckDB 2.0 no longer has: read its SQL here.
        self.compiled.prepare(table)
        reader = self.store.con.con.sql(self.compiled(table)).to_arrow_reader(rows)
        parts = [function(batch).cast(schema) for batch in reader]
        table = pa.concat_tables(parts) if parts else schema.empty_table()
        # A micro-batch's under a fixed name (its SQL kept); a day's as an Ibis memtable, which
        # the connection lets go of with the expression (a named one stays until the next run).
        return self.arrow(table) if table.num_rows <= NAMED_ROWS else ibis.memtable(table)

    def hand_over(self, *names: str) -> None:
        """Nothing to do: the tables already are the store's."""
