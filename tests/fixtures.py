"""Realistic documents built once per test session: a simulated day with a fixed seed, cleared."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PARCELS = 50_000
SEED = 20240615
DAY = dt.date(2024, 6, 15)


@dataclass(frozen=True)
class ClearedDay:
    folder: Path  # the simulated documents, with truth.parquet
    out: Path  # decisions.parquet and tax_lines.parquet
    truth: pa.Table
    decisions: pa.Table


def simulate_and_clear(root: Path) -> ClearedDay:
    from cbec.pipeline import Policy, clear
    from cbec.simulate import simulate_day
    from cbec.store.embedded import Store

    folder = root / "day"
    simulate_day(parcels=PARCELS, seed=SEED, day=DAY, out=folder)
    store = Store(root / "cbec.duckdb")
    try:
        clear([folder], store, root / "out", Policy.load())
    finally:
        store.close()
    return ClearedDay(
        folder=folder,
        out=root / "out",
        truth=pq.read_table(folder / "truth.parquet"),
        decisions=pq.read_table(root / "out" / "decisions.parquet"),
    )
