"""The Spark engine: the same stages on Apache Spark, through Ibis' PySpark backend.

Inputs are Parquet on a path every worker reads; the executors scan and join them, nothing
collects the documents to the driver. The store's history (decisions, allowance and stock
ledgers, serials) is shipped to the workers as Parquet snapshots taken when the run begins; the
documents the store keeps are Parquet already and are read where they lie.

Kept stage tables are written by the executors to Parquet in the scratch folder and read back
under a temporary view of the same name. This cuts the lineage: a later stage plans on a scan of
the files, not on the plans of every stage before it. A persisted DataFrame would keep its whole
plan, and each stage's plan would contain all the earlier ones: the driver then spends minutes
analysing and matching cached plans (measured in docs/scale-out.md), more at each stage.

The sequential ledgers run partitioned by their own key (the allowance by buyer and year, the
stock as one pass over the contested items): Spark groups the contested rows by the key and
each group is judged by the same function as on DuckDB (`with_verdicts`) in an Arrow batch on an
executor, after sorting it in the order the stage gave (`sort_keys`). Only the verdicts of the
contested rows come back to the driver.

At the end, the kept tables the store records are loaded from their Parquet files into the store's
connection (`hand_over`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

import cbec
from cbec.engines import HISTORY_TABLES, BatchFunction, Judge, sort_keys
from cbec.engines.duckdb import with_verdicts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from cbec.store.embedded import Store

KEY = ("agent_code", "cop_no")
_VERDICTS = pa.schema(
    [("agent_code", pa.string()), ("cop_no", pa.string()), ("verdict", pa.bool_())]
)
_VERDICTS_DDL = "agent_code string, cop_no string, verdict boolean"


class SparkError(Exception):
    """Spark could not be started or reached; the message says what to check."""


def spark_session(
    master: str,
    app_name: str = "cbec",
    partitions: int | None = None,
    options: dict[str, str] | None = None,
) -> Any:
    """A Spark session on `master` (`local[2]`, `spark://HOST:7077`) set up for cbec.

    Times are UTC and Parquet timestamps without a zone stay without one (as in DuckDB). The
    executors run this Python with this cbec (the driver's interpreter and package path), which
    holds on one machine or on workers installed alike.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise SparkError("pyspark is not installed: pip install pyspark") from exc
    # The Python workers of local mode take the interpreter from the environment.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    package_root = str(Path(cbec.__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        # The driver plans every stage of a wide pipeline: 1 GB (Spark's default) is not enough.
        .config("spark.driver.memory", os.environ.get("CBEC_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
        # Ibis compiles for Spark's non-ANSI semantics (as DuckDB's TRY casts).
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(partitions or 8))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.pyspark.driver.python", sys.executable)
        .config("spark.executorEnv.PYTHONPATH", python_path)
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master.startswith("local") or "//127.0.0.1:" in master or "//localhost:" in master:
        # Executors on this machine reach the driver on loopback (no name lookup needed).
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    for key, value in (options or {}).items():
        builder = builder.config(key, value)
    active = SparkSession.getActiveSession()
    if active is not None and _differs(active, master, options or {}):
        # One session per process: a run on another master, or with other settings (executors
        # and their memory are fixed when the session starts), replaces it.
        active.stop()
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and Spark raise many kinds; all mean "not reachable"
        raise SparkError(
            f"cannot start Spark on {master}: {exc}. Check that Java 17 is installed and that "
            "the master is reachable."
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def _differs(session: SparkSession, master: str, options: dict[str, str]) -> bool:
    conf = session.sparkContext.getConf()
    return session.sparkContext.master != master or any(
        conf.get(key) != value for key, value in options.items()
    )


class SparkEngine:
    """Stages as Parquet files in the scratch folder; history as Parquet snapshots of `store`."""

    name = "spark"

    def __init__(self, store: Store, session: SparkSession, scratch: Path):
        self.store = store
        self.session = session
        self.con = ibis.pyspark.connect(session)
        self.scratch = scratch
        self.run = uuid.uuid4().hex[:12]
        self._kept: dict[str, Path] = {}  # kept table -> its folder of Parquet files
        self._history: dict[str, ir.Table] = {}
        self._views = 0
        self._stages = 0

    # Reading -----------------------------------------------------------------------------

    def _view(self, frame: DataFrame, name: str | None = None) -> ir.Table:
        if name is None:
            self._views += 1
            name = f"cbec_{self.run}_{self._views}"
        frame.createOrReplaceTempView(name)
        return self.con.table(name)

    def read_parquet(self, paths: Sequence[str]) -> ir.Table:
        return self._view(self.session.read.parquet(*paths))

    def arrow(self, table: pa.Table) -> ir.Table:
        # Spark takes Arrow as it is (Ibis' own memtables go through pandas and lose nulls in
        # decimal columns).
        return self._view(self.session.createDataFrame(table))

    def history(self, name: str) -> ir.Table:
        if name not in HISTORY_TABLES:
            raise KeyError(f"{name} is not a history table")
        if name not in self._history:
            table = self.store.con.con.sql(f"SELECT * FROM {name}")
            snapshot = self.scratch / "history" / f"{name}.parquet"
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.to_arrow_table(), snapshot)
            self._history[name] = self.read_parquet([str(snapshot)])
        return self._history[name]

    def documents(self, stem: str, unsighted: bool = False) -> ir.Table | None:
        paths = self.store.document_paths(stem, unsighted)
        return self.read_parquet(paths) if paths else None

    # Stage tables --------------------------------------------------------------------------

    def _frame(self, expr: ir.Table) -> DataFrame:
        self.con._run_pre_execute_hooks(expr)  # registers the expression's memtables
        return _as_typed(self.session.sql(str(self.con.compile(expr))), expr.schema())

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """`expr` computed by the executors into Parquet files, read back as `name`: the
        stages after it plan on a scan of the files (the lineage is cut here)."""
        frame = self._frame(expr)
        self._stages += 1
        folder = self.scratch / "stages" / f"{self._stages:03d}_{name}"
        frame.write.parquet(str(folder))
        kept = self._scan(folder, frame.schema)
        self.release(name)  # after the write: `expr` may read the table it replaces
        self._kept[name] = folder
        return self._view(kept, name)

    def _scan(self, folder: Path, schema: StructType) -> DataFrame:
        if any(folder.glob("*.parquet")):
            return self.session.read.schema(schema).parquet(str(folder))
        # An empty result may be written without a part file: keep the schema by hand.
        return self.session.createDataFrame([], schema)

    def release(self, *names: str) -> None:
        for name in names:
            folder = self._kept.pop(name, None)
            if folder is not None:
                self.session.catalog.dropTempView(name)
                shutil.rmtree(folder, ignore_errors=True)

    def sequential_pass(self, ordered: ir.Table, key: Sequence[str], judge: Judge) -> pa.Table:
        order = sort_keys(ordered)
        keys = list(key)

        def judge_group(group: pa.Table) -> pa.Table:
            group = group.sort_by([(c, "ascending" if up else "descending") for c, up in order])
            judged = with_verdicts(group, keys, judge)
            return judged.select([*KEY, "verdict"])

        frame = self._frame(ordered)
        schema = "agent_code string, cop_no string, verdict boolean"
        result = frame.groupBy(*keys).applyInArrow(judge_group, schema)
        verdicts: pa.Table = result.toArrow()
        return verdicts.cast(
            pa.schema(
                [("agent_code", pa.string()), ("cop_no", pa.string()), ("verdict", pa.bool_())]
            )
        )

    def map_batches(
        self, table: ir.Table, function: BatchFunction, schema: pa.Schema, rows: int
    ) -> ir.Table:
        from pyspark.sql.pandas.types import from_arrow_schema

        def apply(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                yield from function(batch).cast(schema).to_batches()

        frame = self._frame(table)
        self.session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(rows))
        return self._view(frame.mapInArrow(apply, from_arrow_schema(schema)))

    def hand_over(self, *names: str) -> None:
        """Each kept table's Parquet files are loaded into the store's connection as a
        temporary table of the same name."""
        raw = self.store.con.con
        for name in names:
            files = sorted(str(p) for p in self._kept[name].glob("*.parquet"))
            raw.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')
            if files:
                raw.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM read_parquet(?)', [files])
            else:  # an empty result written without a part file: keep the schema by hand
                empty = self.session.table(name).limit(0).toArrow()
                raw.register("cbec_empty", empty)
                try:
                    raw.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM cbec_empty')
                finally:
                    raw.unregister("cbec_empty")

    def close(self) -> None:
        self.release(*list(self._kept))


@contextlib.contextmanager
def spark_engine(
    store: Store,
    master: str,
    scratch: Path | None = None,
    options: dict[str, str] | None = None,
) -> Iterator[SparkEngine]:
    """A Spark engine for one run; its scratch folder (beside the store unless given: it must be
    on a path every worker reads) is removed afterwards. `options` are Spark settings."""
    folder = scratch or store.path.with_name(store.path.name + f".spark-{uuid.uuid4().hex[:8]}")
    folder.mkdir(parents=True, exist_ok=True)
    session = spark_session(master, options=options)
    engine = SparkEngine(store, session, folder)
    try:
        yield engine
    finally:
        engine.close()
        shutil.rmtree(folder, ignore_errors=True)


def _as_typed(frame: DataFrame, schema: ibis.Schema) -> DataFrame:
    """`frame` with the columns Ibis types as floating that Spark computed as decimals cast to
    double. Ibis (and DuckDB) make a division of decimals a double and drop a cast to float64 as
    a no-op; Spark divides decimals exactly. A decimal 0.800000 would then reach the stages'
    Arrow code, where pyarrow turns it into 0.7999999999999999 (a declaration at exactly 80 % of
    the single limit missed a rule on Spark that it met on DuckDB); Spark's own cast rounds it to
    the double 0.8, as DuckDB computes it."""
    from pyspark.sql.types import DecimalType

    floating = {
        field.name
        for field in frame.schema.fields
        if isinstance(field.dataType, DecimalType) and schema[field.name].is_floating()
    }
    if not floating:
        return frame
    return frame.select(
        *(frame[c].cast("double").alias(c) if c in floating else frame[c] for c in frame.columns)
    )
