"""What the risk features cost as the store's history grows: simulated days cleared into one
store, each stage of each day timed.

    .venv/bin/python bench/risk_history.py --parcels 1000000 [--days 3] [--seed 1] [--keep DIR]

Simulates day 1 (2024-06-15, seed `--seed`), day 2 (2024-06-16, seed `--seed + 1`) and so on into
`--keep DIR` (or a temporary folder; days already there are reused), clears them in turn into a
fresh store, and times every stored stage (`DuckDBEngine.materialize`) of each run. Day 1 judges on
an empty history, day 2 on one day stored, day 3 on two: split orders read the day before (24
hours back), the rest of history comes from the first sightings the batches kept, so from day 2 on
what the risk stages add each day is the growth of the sightings, not of the stored lists
(BENCHMARKS.md). Prints one JSON object and writes it to bench/results/risk_history_<N>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from cbec.engines import duckdb as engines
from cbec.pipeline import Policy, clear
from cbec.store.embedded import Store

FIRST_DAY = dt.date(2024, 6, 15)
RISK_STAGES = ("risk_features", "new_risk_decisions", "new_risk_contacts", "new_risk_enterprises")


def _simulate(parcels: int, seed: int, day: dt.date, out: Path) -> None:
    from cbec.simulate import simulate_day

    if not (out / "inventories.parquet").exists():
        simulate_day(parcels, seed, day, out)


def _timed_runs(days: list[Path], scratch: Path) -> list[dict[str, Any]]:
    """Clears each day into one store; the stages of each run with their seconds, wall and CPU
    (all of the process's threads: less sensitive than the wall to other work on the machine)."""
    real = engines.DuckDBEngine.materialize
    stages: list[tuple[str, float, float]] = []
    last = [0.0, 0.0]

    def timed(self: engines.DuckDBEngine, name: str, expr: Any) -> Any:
        out = real(self, name, expr)
        now, cpu = time.perf_counter(), time.process_time()
        stages.append((name, round(now - last[0], 2), round(cpu - last[1], 2)))
        last[:] = [now, cpu]
        return out

    engines.DuckDBEngine.materialize = timed  # type: ignore[method-assign]
    runs = []
    store = Store(scratch / "cbec.duckdb")
    try:
        for n, day in enumerate(days, start=1):
            stages.clear()
            started = last[0] = time.perf_counter()
            cpu_started = last[1] = time.process_time()
            result = clear([day], store, scratch / f"out{n}", Policy.load())
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            risk = sum(wall for name, wall, _ in stages if name in RISK_STAGES)
            risk_cpu = sum(cpu for name, _, cpu in stages if name in RISK_STAGES)
            runs.append(
                {
                    "day": n,
                    "declarations": result.declarations,
                    "seconds": round(seconds, 1),
                    "cpu_seconds": round(cpu_seconds, 1),
                    "risk_seconds": round(risk, 2),
                    "risk_cpu_seconds": round(risk_cpu, 2),
                    "risk_share": round(risk / seconds, 3),
                    "risk_cpu_share": round(risk_cpu / cpu_seconds, 3),
                    "stages": {name: wall for name, wall, _ in stages},
                    "stages_cpu": {name: cpu for name, _, cpu in stages},
                }
            )
    finally:
        engines.DuckDBEngine.materialize = real  # type: ignore[method-assign]
        store.close()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cbec-risk-history-") as tmp:
        root = args.keep or Path(tmp)
        days = [root / f"day{n}" for n in range(1, args.days + 1)]
        for n, folder in enumerate(days):
            _simulate(args.parcels, args.seed + n, FIRST_DAY + dt.timedelta(days=n), folder)
        scratch = Path(tmp) / "store"
        scratch.mkdir()
        runs = _timed_runs(days, scratch)
    report = {"parcels_a_day": args.parcels, "seed": args.seed, "runs": runs}
    text = json.dumps(report, indent=1)
    results = Path(__file__).resolve().parent / "results"
    (results / f"risk_history_{args.parcels}.json").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
