"""Export clearance throughput: a simulated export day through `cbec clear`, and the list checks
alone, columnar (`cbec.exports.clearance`) against the first slice's row-by-row code.

    .venv/bin/python bench/exports.py [--lists 20000] [--seed 1]

Simulates `--lists` export lists (`cbec.simulate.exports`: 9610, 9710, 9810 with their orders,
collections, waybills and manifests, as CEB XML) in a temporary folder, loads the registry, then
measures in one process:
- clear: `pipeline.clear` over the messages into a fresh store (reading and parsing the XML,
  clearing, manifests, storing, writing receipts);
- checks, columnar: `clearance.clear_exports` over the parsed tables;
- checks, per row: the first slice's row-by-row function (tests/exports/row_oracle.py) over the
  same tables; both must give the same decisions.
Prints one JSON object and writes it to bench/results/exports_<lists>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "exports"))
sys.path.insert(0, str(ROOT / "tests"))

import row_oracle  # noqa: E402

from cbec import intake  # noqa: E402
from cbec.exports import clearance, overseas  # noqa: E402
from cbec.exports.compose import _plain  # noqa: E402
from cbec.pipeline import Policy, clear  # noqa: E402
from cbec.simulate.exports import simulate_exports  # noqa: E402
from cbec.store.embedded import Store  # noqa: E402
from clear_day import RESULTS, machine  # noqa: E402

DAY = dt.date(2024, 6, 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lists", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        day = simulate_exports(args.lists, args.seed, DAY, folder / "day")
        simulated = time.perf_counter() - started
        store = Store(folder / "s.duckdb")
        try:
            overseas.load_registry(store, day.folder / "registry")
            started = time.perf_counter()
            result = clear([folder / "day"], store, folder / "out", Policy.load())
            cleared = time.perf_counter() - started
            messages = intake.take_in([folder / "day"], store)
        finally:
            store.close()
    tables = {
        s: _plain(t) for s, t in messages.export_tables.items() if s in clearance.EXPORT_STEMS
    }
    none: dict[str, pa.Table] = {}
    started = time.perf_counter()
    columnar = clearance.clear_exports(tables, none, set(), {}, None, set(), set())
    columnar_seconds = time.perf_counter() - started
    started = time.perf_counter()
    per_row = row_oracle.clear_exports(tables, none, set(), {}, None, set(), set())
    per_row_seconds = time.perf_counter() - started
    assert columnar.to_pylist() == per_row.to_pylist(), "the two clearances disagree"
    report = {
        "benchmark": "exports",
        "lists": args.lists,
        "seed": args.seed,
        "messages": day.files,
        "simulate_seconds": round(simulated, 2),
        "clear_seconds": round(cleared, 2),
        "clear_lists_per_second": round(args.lists / cleared),
        "export_declarations": result.export_declarations,
        "receipts": result.receipts,
        "checks_columnar_seconds": round(columnar_seconds, 3),
        "checks_per_row_seconds": round(per_row_seconds, 3),
        "checks_columnar_lists_per_second": round(args.lists / columnar_seconds),
        "checks_per_row_lists_per_second": round(args.lists / per_row_seconds),
        "machine": machine(),
        "measured": dt.date.today().isoformat(),
    }
    text = json.dumps(report, indent=2)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"exports_{args.lists}.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
