"""Clear one simulated day on DuckDB and on Spark with 1 and 2 executors, in one run.

    .venv/bin/python bench/spark.py --parcels 2000000 [--seed 1] [--date 2024-06-15] [--keep DIR]
        [--master spark://HOST:7077] [--executor-memory 5]

Simulates the day (or reuses `--keep DIR`), then clears the same files into a fresh store each
time: once on DuckDB, then on a standalone Spark cluster with 1 and with 2 executors of one core
each (`spark.executor.cores` 1, `spark.cores.max` 1 or 2). Without `--master` the cluster is
started on this machine from the pyspark package (two workers of one core), so the executors
share this machine's cores with the driver: the speed-up per executor it shows is a floor for a
cluster whose executors have machines of their own. Each run checks that its decisions equal
DuckDB's. Executors have `--executor-memory` GB each (5 by default: with 3, the 2-executor pass of
2,000,000 parcels ran out of execution memory in the risk features stage; BENCHMARKS.md). Prints
one JSON object and writes it to bench/results/spark_<N>.json; the cluster's logs are kept under
/tmp/cbec-spark-*.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clear_day import has_day, machine, simulate  # bench/ is on the path from here on

RESULTS = Path(__file__).resolve().parent / "results"


def _clear(
    folder: Path, work: Path, master: str | None, executors: int, memory: str = "3g"
) -> tuple[float, Path]:
    from cbec.engines.spark import spark_engine
    from cbec.pipeline import Policy, clear
    from cbec.store.embedded import Store

    work.mkdir(parents=True)
    out = work / "out"
    started = time.perf_counter()
    store = Store(work / "store.duckdb")
    try:
        if master is None:
            clear([folder], store, out, Policy.load())
        else:
            options = {
                "spark.executor.cores": "1",
                "spark.cores.max": str(executors),
                # Each worker offers 1 GB more (`_cluster`); Spark's default executor has 1 GB.
                "spark.executor.memory": memory,
            }
            with spark_engine(store, master, options=options) as engine:
                clear([folder], store, out, Policy.load(), engine=engine)
    finally:
        store.close()
    return time.perf_counter() - started, out


@contextlib.contextmanager
def _cluster(master: str | None, executor_gb: int) -> Iterator[str]:
    if master:
        yield master
        return
    from cbec.engines.cluster import standalone_cluster

    # The workers' logs and each executor's stderr are kept (/tmp/cbec-spark-*) for a failure.
    with standalone_cluster(
        workers=2, cores=1, memory=f"{executor_gb + 1}g", keep_logs=True
    ) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--date", default="2024-06-15")
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--master")
    parser.add_argument(
        "--executor-memory", type=int, default=5, help="GB per executor (3 ran out at 2,000,000)"
    )
    args = parser.parse_args()
    import pyarrow.parquet as pq

    work = Path(tempfile.mkdtemp(prefix="cbec-bench-spark-"))
    folder = args.keep or work / "day"
    result: dict[str, Any] = {"parcels": args.parcels, "machine": machine()}
    try:
        if not has_day(folder):
            day = dt.date.fromisoformat(args.date)
            result["simulate_seconds"] = round(simulate(args.parcels, args.seed, day, folder), 1)
        duck_seconds, duck_out = _clear(folder, work / "duckdb", None, 0)
        expected = pq.read_table(duck_out / "decisions.parquet")
        runs: dict[str, Any] = {
            "duckdb": {
                "seconds": round(duck_seconds, 1),
                "parcels_per_second": round(args.parcels / duck_seconds),
            }
        }
        result["runs"] = runs
        _save(result, args.parcels, complete=False)
        memory = f"{args.executor_memory}g"
        result["executor_memory"] = memory
        with _cluster(args.master, args.executor_memory) as master:
            result["master"] = master if args.master else "standalone on this machine"
            for executors in (1, 2):
                seconds, out = _clear(folder, work / f"spark{executors}", master, executors, memory)
                same = pq.read_table(out / "decisions.parquet").equals(expected)
                runs[f"spark_{executors}_executor{'s' if executors > 1 else ''}"] = {
                    "seconds": round(seconds, 1),
                    "parcels_per_second": round(args.parcels / seconds),
                    "decisions_equal_duckdb": same,
                }
                _save(result, args.parcels, complete=False)
        one, two = runs["spark_1_executor"]["seconds"], runs["spark_2_executors"]["seconds"]
        result["speed_up_2_over_1_executor"] = round(one / two, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(_save(result, args.parcels, complete=True))


def _save(result: dict[str, Any], parcels: int, complete: bool) -> str:
    """Write the result so far: a run that dies late still leaves the runs it finished."""
    text = json.dumps({**result, "complete": complete}, indent=2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"spark_{parcels}.json").write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
