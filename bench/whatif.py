"""Time `cbec whatif` on a simulated day recorded in a store, phase by phase.

    .venv/bin/python bench/whatif.py --parcels 1000000 [--seed 1] [--date 2018-06-15]
        [--period 2018-06] [--reform docs/examples/reform-2019-limits.yaml] [--keep DIR]
        [--baseline re-clear|recorded ...] [--days N] [--by-day] [--label NAME]

Simulates the day (`cbec simulate`, or reuses `--keep DIR/day`), clears it into a store
(`cbec clear`, or reuses `DIR/cbec.duckdb`), then runs what `cbec whatif --db ... --period ...
--reform ... --format json` runs, in a spawned child (its peak memory, ru_maxrss, is its own),
timing each phase from the progress labels the replay reports. With `--days N`, N consecutive
days from `--date` (N parcels each, the same seed) are simulated and recorded one run a day, in
order; with `--by-day`, each baseline is replayed twice, in one run and then day by day
(`cbec whatif --by-day`), and the result says whether every report is the same. Phases:
- rules: reading the current rules and the reform, applying it;
- extract: the period's declarations, companions and history copied out of the store;
- baseline, reform: each scenario's re-clearing (with `--baseline recorded`, the baseline is the
  store's decisions copied out instead);
- compare: the report (every aggregate) and its JSON;
and each step of the re-clearings (the pipeline's progress labels), wall and CPU seconds (the
machine is shared: CPU seconds of this process vary less than wall-clock ones). By default it
runs once with each baseline (`--baseline re-clear`, then `recorded`) and says whether the two
reports are the same. Prints one JSON object and writes it to bench/results/whatif_<N>.json.
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

from clear_day import has_day, machine, simulate  # bench/ is on the path from here on

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_REFORM = REPO / "docs" / "examples" / "reform-2019-limits.yaml"


def record(folders: list[Path], db: Path) -> float:
    """Clear the simulated days into a new store (`cbec clear`), a run a day, in seconds."""
    from cbec.pipeline import Policy, clear
    from cbec.store.embedded import Store

    started = time.perf_counter()
    store = Store(db)
    try:
        for number, folder in enumerate(folders):
            clear([folder], store, db.parent / f"recorded-out-{number}", Policy.load())
    finally:
        store.close()
    return time.perf_counter() - started


def _whatif_child(
    db: str, period: str, reform: str, work: str, baseline: str, by_day: bool
) -> dict[str, Any]:
    """Run in a fresh process: what `cbec whatif --format json` runs, with its phases timed."""
    os.dup2(2, 1)  # DuckDB's progress bar writes to stdout, which carries the JSON result
    from cbec.policy.reforms import apply_reforms, current_rules, load_reform
    from cbec.stats.periods import Period
    from cbec.whatif import render
    from cbec.whatif.replay import policy_of, replay
    from cbec.whatif.report import ReformInfo, build_report

    marks: list[tuple[str, float, float]] = []
    started = time.perf_counter()
    marks.append(("rules", started, time.process_time()))
    current = current_rules()
    loaded = load_reform(Path(reform), current.parameters)
    policies = {
        "baseline": policy_of(current),
        "reform": policy_of(apply_reforms(current, [loaded])),
    }

    steps: list[tuple[str, float, float]] = []  # every progress label, for the stage split

    def progress(label: str) -> None:
        now, cpu_now = time.perf_counter(), time.process_time()
        steps.append((label, now, cpu_now))
        # A day's step is "baseline: 2018-06-16: computing tax": its phase is the scenario.
        phase = "extract" if label == "reading the period" else label.split(":")[0]
        if phase != marks[-1][0]:
            marks.append((phase, now, cpu_now))

    replayed = replay(
        Path(db),
        Period.parse(period),
        policies,
        Path(work),
        progress=progress,
        recorded_scenario="baseline" if baseline == "recorded" else None,
        by_day=by_day,
    )
    marks.append(("compare", time.perf_counter(), time.process_time()))
    steps.append(marks[-1])
    info = ReformInfo(loaded.name, loaded.description, reform)
    report = json.loads(render.to_json(build_report(replayed, [info])))
    marks.append(("", time.perf_counter(), time.process_time()))
    phases = {name: round(marks[i + 1][1] - at, 3) for i, (name, at, _) in enumerate(marks[:-1])}
    cpu = {name: round(marks[i + 1][2] - at, 3) for i, (name, _, at) in enumerate(marks[:-1])}
    stages: dict[str, list[float]] = {}  # by step, summed over the days
    for i, (label, at, cpu_at) in enumerate(steps[:-1]):
        step = label if label.count(":") < 2 else ":".join(label.split(":")[::2])
        wall, cpu_seconds = stages.setdefault(step, [0.0, 0.0])
        stages[step] = [
            round(wall + steps[i + 1][1] - at, 3),
            round(cpu_seconds + steps[i + 1][2] - cpu_at, 3),
        ]
    return {
        "seconds": round(marks[-1][1] - started, 3),
        "cpu_seconds": round(marks[-1][2] - marks[0][2], 3),
        "phases": phases,
        "phase_cpu_seconds": cpu,
        "steps": stages,
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "declarations": report["declarations"],
        "days": len(replayed.days) if by_day else None,
        "largest_day": max(replayed.days.values()) if by_day else None,
        "report": report,
    }


def run_whatif(
    db: Path, period: str, reform: Path, work: Path, baseline: str, by_day: bool = False
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(
            _whatif_child, (str(db), period, str(reform), str(work), baseline, by_day)
        )
    return result


def _measured(whatif: dict[str, Any]) -> dict[str, Any]:
    seconds, count = whatif["seconds"], whatif["declarations"]
    return {
        "seconds": seconds,
        "declarations_per_second": round(count / seconds),
        "cpu_seconds": whatif["cpu_seconds"],
        "phases": whatif["phases"],
        "phase_cpu_seconds": whatif["phase_cpu_seconds"],
        "phase_declarations_per_second": {
            name: round(count / s) for name, s in whatif["phases"].items() if s > 0
        },
        "steps_wall_cpu_seconds": whatif["steps"],
        "peak_memory_mb": whatif["peak_memory_mb"],
        "days_cleared": whatif["days"],  # with --by-day: clearing runs per scenario
        "largest_day": whatif["largest_day"],  # the most declarations a clearing run held
    }


def bench(
    parcels: int,
    seed: int,
    day: dt.date,
    period: str,
    reform: Path,
    keep: Path | None,
    baselines: list[str],
    days: int = 1,
    by_day: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cbec-bench-whatif-") as temp:
        base = keep if keep is not None else Path(temp)
        base.mkdir(parents=True, exist_ok=True)
        # One day keeps the folder name of the earlier results (`--keep DIR` reuses DIR/day).
        folders = [base / "day"] if days == 1 else [base / f"day{n}" for n in range(days)]
        db = base / "cbec.duckdb"
        simulated = recorded = None
        for number, folder in enumerate(folders):
            if not has_day(folder):
                seconds = simulate(parcels, seed, day + dt.timedelta(days=number), folder)
                simulated = (simulated or 0.0) + seconds
        if not db.exists():
            recorded = record(folders, db)
        modes = [(b, False) for b in baselines]
        if by_day:
            modes = [(b, split) for b in baselines for split in (False, True)]
        runs = {
            f"{baseline}{' by day' if split else ''}": run_whatif(
                db, period, reform, Path(temp) / f"whatif-{baseline}-{split}", baseline, split
            )
            for baseline, split in modes
        }
    reports = [dict(run["report"], baseline=None) for run in runs.values()]
    first = next(iter(runs.values()))
    return {
        "machine": machine(),
        "parcels": first["declarations"],
        "seed": seed,
        "date": day.isoformat(),
        "days": days,
        "period": period,
        "reform": str(reform.relative_to(REPO) if reform.is_relative_to(REPO) else reform),
        "simulate_seconds": None if simulated is None else round(simulated, 2),
        "clear_seconds": None if recorded is None else round(recorded, 2),
        "whatif": {mode: _measured(run) for mode, run in runs.items()},
        # The reports of the runs, but for the field that names the baseline: identical or not.
        "same_report": all(report == reports[0] for report in reports),
        "report": {
            k: first["report"][k] for k in ("recorded", "recorded_runs", "totals", "changes")
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2018, 6, 15))
    parser.add_argument("--period", default=None, help="default: the month of --date")
    parser.add_argument("--reform", type=Path, default=DEFAULT_REFORM)
    parser.add_argument("--keep", type=Path, default=None, help="simulate and record into DIR")
    parser.add_argument("--label", default="", help="suffix of the result file's name")
    parser.add_argument(
        "--baseline",
        action="append",
        choices=("re-clear", "recorded"),
        help="cbec whatif --baseline, one run each (default: both, re-clear first)",
    )
    parser.add_argument("--days", type=int, default=1, help="consecutive days simulated")
    parser.add_argument(
        "--by-day", action="store_true", help="replay each baseline in one run and by day"
    )
    args = parser.parse_args(argv)
    if args.parcels < 1 or args.days < 1:
        parser.error("--parcels and --days must be at least 1")
    period = args.period or args.date.strftime("%Y-%m")
    baselines = args.baseline or ["re-clear", "recorded"]
    result = bench(
        args.parcels,
        args.seed,
        args.date,
        period,
        args.reform.resolve(),
        args.keep,
        baselines,
        args.days,
        args.by_day,
    )
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    days = f"x{args.days}" if args.days > 1 else ""
    name = f"whatif_{args.parcels}{days}{'_' + args.label if args.label else ''}.json"
    (RESULTS / name).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
