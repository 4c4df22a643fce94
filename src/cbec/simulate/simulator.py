"""`simulate_day`: write a realistic day of retail-import documents and its ground truth.

Parcels are generated and written in chunks of `CHUNK` (so 20 million parcels need no more memory
than a chunk plus a few bytes per parcel); the annual-limit truth is computed at the end over
compact arrays of every declaration (ledger.py), then the truth table is written.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from cbec.documents.schemas import IMPORT_DOCUMENTS, TRUTH
from cbec.simulate.defects import CODE, DEFECTS, INJECTED, DefectRates
from cbec.simulate.documents import build, cop_numbers
from cbec.simulate.goods import BONDED_ONLY, EXCLUDED, UNLISTED, Catalog
from cbec.simulate.ledger import over_annual_limit
from cbec.simulate.people import Population
from cbec.simulate.plan import LUXURY, make_plan
from cbec.simulate.stock import StockDemand
from cbec.simulate.traffic import generate
from cbec.simulate.world import World

CHUNK = 100_000
RELEASED, REJECTED = 800, 100


@dataclass(frozen=True)
class SimulationSummary:
    """What was written, and what a correct clearance should decide."""

    parcels: int
    statuses: dict[int, int]
    """Expected decisions by CEB622 returnStatus: 800 released, 100 rejected."""
    defects: dict[str, int]
    """Declarations per defect name (every name of `DEFECTS`, natural ones included)."""
    injected: int
    """Declarations with an injected defect (the `defect_rate` share)."""
    full_tax: int
    """Indivisible items above the single limit expected to be released with full tax."""
    seconds: float


def _available(catalog: Catalog) -> npt.NDArray[np.float64]:
    """1 for each injected defect the day's goods can produce, 0 otherwise."""
    needs = {
        "not_on_positive_list": UNLISTED,
        "bonded_only_goods": BONDED_ONLY,
        "excluded_goods": EXCLUDED,
    }
    return np.array(
        [float(name not in needs or bool((catalog.kind == needs[name]).any())) for name in INJECTED]
    )


def simulate_day(
    parcels: int,
    seed: int,
    day: dt.date,
    out: Path,
    defect_rate: float = 0.05,
    rates: DefectRates | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationSummary:
    """Write `parcels` declarations of `day` with their companion documents into `out`.

    Files: orders, order_lines, payments, waybills, inventories, inventory_lines (the canonical
    schemas of cbec.documents.schemas) and truth (one row per declaration: its defects, empty
    when clean). The same (parcels, seed, day) always gives the same data. `defect_rate` is the
    share of declarations with exactly one injected defect, split among the defects by `rates`.
    `progress(n)` is called with the number of parcels written since the last call.
    """
    if parcels < 1:
        raise ValueError("parcels must be at least 1")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError("defect_rate must be between 0 and 1")
    started = time.perf_counter()
    world = World.create(day, seed)
    weights = (rates or DefectRates()).weights() * _available(world.catalog)
    plan = make_plan(parcels, seed, world.limits, defect_rate, weights)
    people = Population.create(seed, day, plan.persons)

    # Per declaration, for the annual ledger: a few bytes each, whatever the volume.
    decl = np.empty(parcels, dtype=np.int32)  # seconds after midnight
    app_lead = np.empty(parcels, dtype=np.int16)  # declaration time - application time, s
    value = np.empty(parcels, dtype=np.int32)  # dutiable value, fen (< 21 million CNY)
    agent = np.empty(parcels, dtype=np.int8)

    out.mkdir(parents=True, exist_ok=True)
    stock = StockDemand()
    writers = {
        d.stem: pq.ParquetWriter(out / f"{d.stem}.parquet", d.schema, compression="zstd")
        for d in IMPORT_DOCUMENTS
    }
    # Parquet encoding releases the GIL: chunk k is written by the pool while chunk k+1 is built.
    pending: list[Future[None]] = []
    pending_parcels = 0

    def settle() -> None:
        nonlocal pending, pending_parcels
        for future in pending:
            future.result()
        if pending_parcels and progress is not None:
            progress(pending_parcels)
        pending, pending_parcels = [], 0

    try:
        with ThreadPoolExecutor(max_workers=len(writers)) as pool:
            for start in range(0, parcels, CHUNK):
                stop = min(parcels, start + CHUNK)
                chunk = generate(world, people, plan, start, stop, seed)
                tables = build(world, chunk, np.random.default_rng([seed, 0x6D0C, start]))
                decl[chunk.serial] = chunk.decl
                app_lead[chunk.serial] = chunk.decl - chunk.invt_app
                value[chunk.serial] = chunk.dutiable
                agent[chunk.serial] = chunk.agent
                stock.add(tables["inventories"], tables["inventory_lines"])
                del chunk
                settle()
                pending = [pool.submit(writers[stem].write_table, t) for stem, t in tables.items()]
                pending_parcels = stop - start
                del tables
            settle()
    finally:
        for writer in writers.values():
            writer.close()

    stock.write(out, day, seed)

    prefixes = [a.prefix for a in world.agents]
    rank = np.argsort(np.argsort(prefixes)).astype(np.int64)  # copNo order follows the prefix
    serial = np.arange(parcels, dtype=np.int64)
    over = over_annual_limit(
        plan.buyer,
        (decl, decl.astype(np.int64) - app_lead, (rank[agent] << 40) | serial),
        value,
        plan.defect == 0,
        world.limits.annual,
    )
    final = plan.defect.copy()
    final[over] = CODE["over_annual_limit"]
    _write_truth(out / f"{TRUTH.stem}.parquet", world, agent, final)

    counts = np.bincount(final, minlength=len(DEFECTS) + 1)
    clean = int(counts[0])
    luxury_released = int(((plan.profile == LUXURY) & (final == 0)).sum())
    injected = int(((plan.defect > 0) & (plan.profile != LUXURY)).sum())
    return SimulationSummary(
        parcels=parcels,
        statuses={RELEASED: clean, REJECTED: parcels - clean},
        defects={name: int(counts[CODE[name]]) for name in DEFECTS},
        injected=injected,
        full_tax=luxury_released,
        seconds=time.perf_counter() - started,
    )


def _write_truth(
    path: Path, world: World, agent: npt.NDArray[np.int8], final: npt.NDArray[np.int8]
) -> None:
    names = pa.array(DEFECTS, pa.string())
    list_type = TRUTH.schema.field("defects").type
    with pq.ParquetWriter(path, TRUTH.schema, compression="zstd") as writer:
        for start in range(0, len(final), CHUNK):
            stop = min(len(final), start + CHUNK)
            codes = final[start:stop].astype(np.int64)
            flagged = codes > 0
            offsets = np.concatenate([[0], np.cumsum(flagged)]).astype(np.int32)
            defects = pa.ListArray.from_arrays(
                pa.array(offsets), names.take(pa.array(codes[flagged] - 1)), type=list_type
            )
            agents = agent[start:stop].astype(np.int64)
            table = pa.Table.from_arrays(
                [
                    pa.array([a.code for a in world.agents], pa.string()).take(pa.array(agents)),
                    cop_numbers(world, agents, np.arange(start, stop, dtype=np.int64)),
                    defects,
                ],
                schema=TRUTH.schema,
            )
            writer.write_table(table)
