"""Clear one simulated day and compare with the floor and with a per-row Python engine.

    .venv/bin/python bench/clear_day.py --parcels 1000000 [--seed 1] [--date 2024-06-15]
        [--sample 100000] [--keep DIR]

Simulates the day into a temporary folder (or reuses `--keep DIR` when it already holds the six
documents; otherwise simulates into it and keeps it), then measures on the same files:
- the cbec pipeline in a fresh store, in a child process (so that its peak memory, ru_maxrss, is
  its own): seconds from opening the store and loading the policy to the written decisions;
- the floor (bench/floor.py): a bare DuckDB join of the four documents with a per-buyer running
  sum, the lower bound of any clearance on this engine;
- the per-row Python engine (bench/per_row.py) on a sample: a day of `--sample` parcels simulated
  with the same seed and date (the whole day when the sample is the day). A sample of the first K
  declarations of the big day would read the companion files whole (row-group statistics cannot
  prune: every row group spans all platforms' order numbers), charging per-row for N rows while
  it clears K; a day of its own keeps reading proportional, as it is when per-row clears a day.
Prints one JSON object and writes it to bench/results/clear_day_<N>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cbec.documents.schemas import IMPORT_DOCUMENTS
from floor import floor_query  # bench/ is on the path from here on
from per_row import clear_per_row

DOCUMENTS = tuple(document.stem for document in IMPORT_DOCUMENTS)
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """CPU model, logical cores and memory of this machine (Linux /proc)."""
    model = "unknown"
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024**2, 1),
    }


def has_day(folder: Path) -> bool:
    return all((folder / f"{stem}.parquet").is_file() for stem in DOCUMENTS)


def simulate(parcels: int, seed: int, day: dt.date, folder: Path) -> float:
    from cbec.simulate import simulate_day

    started = time.perf_counter()
    simulate_day(parcels, seed, day, folder)
    return time.perf_counter() - started


def _pipeline_child(folder: str, work: str) -> dict[str, Any]:
    """Run in a fresh process: clear `folder` into a new store under `work`."""
    os.dup2(2, 1)  # DuckDB's progress bar writes to stdout, which carries the JSON result
    from cbec.pipeline import Policy, clear
    from cbec.store.embedded import Store

    started = time.perf_counter()
    store = Store(Path(work) / "store.duckdb")
    result = clear([Path(folder)], store, Path(work) / "out", Policy.load())
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {
        "seconds": seconds,
        "peak_memory_mb": round(peak_kb / 1024, 1),
        "declarations": result.declarations,
        "statuses": {str(k): v for k, v in sorted(result.summary.by_status.items())},
    }


def run_pipeline(folder: Path, work: Path) -> dict[str, Any]:
    """The pipeline in a spawned child (a forked one would start with this process's memory)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_pipeline_child, (str(folder), str(work)))
    return result


def bench(parcels: int, seed: int, day: dt.date, sample: int, keep: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cbec-bench-") as temp:
        work = Path(temp)
        folder = keep if keep is not None else work / "day"
        simulated = None
        if not has_day(folder):
            simulated = simulate(parcels, seed, day, folder)
        pipeline = run_pipeline(folder, work / "pipeline")
        floor_seconds = floor_query(folder, work / "floor.parquet")
        sample_folder = folder
        if sample < pipeline["declarations"]:
            sample_folder = (
                keep.with_name(f"{keep.name}-sample{sample}") if keep else work / "sample"
            )
            if not has_day(sample_folder):
                simulate(sample, seed, day, sample_folder)
        from cbec.pipeline import Policy

        per_row = clear_per_row(sample_folder, None, Policy.load())
    seconds = pipeline["seconds"]
    pipeline_pps = pipeline["declarations"] / seconds
    per_row_pps = per_row["declarations"] / per_row["seconds"]
    return {
        "machine": machine(),
        "parcels": pipeline["declarations"],  # those of a reused --keep folder, if any
        "seed": seed,
        "date": day.isoformat(),
        "simulate_seconds": None if simulated is None else round(simulated, 2),
        "seconds": round(seconds, 3),
        "parcels_per_second": round(pipeline_pps),
        "peak_memory_mb": pipeline["peak_memory_mb"],
        "floor_seconds": round(floor_seconds, 3),
        "ratio_to_floor": round(seconds / floor_seconds, 2),
        "per_row": {
            "sample": per_row["declarations"],
            "seconds": round(per_row["seconds"], 3),
            "parcels_per_second": round(per_row_pps),
        },
        "speedup_over_per_row": round(pipeline_pps / per_row_pps, 1),
        "statuses": pipeline["statuses"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2024, 6, 15))
    parser.add_argument("--sample", type=int, default=None, help="per-row sample (100,000)")
    parser.add_argument("--keep", type=Path, default=None, help="simulate into / reuse DIR")
    args = parser.parse_args(argv)
    if args.parcels < 1:
        parser.error("--parcels must be at least 1")
    sample = min(args.sample if args.sample is not None else 100_000, args.parcels)
    result = bench(args.parcels, args.seed, args.date, sample, args.keep)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"clear_day_{args.parcels}.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
