"""CEB message throughput on one core: parsing and building simulated declaration lists (CEB621).

    .venv/bin/python bench/messages.py [--parcels 100000] [--seed 1]

Simulates a day (Parquet, in a temporary folder) and cuts its declaration lists, with their lines,
into messages of 50 business nodes (`Inventory`: one `InventoryHead` and its `InventoryList`s).
The process is pinned to one core (and Arrow to one thread) and measures, in nodes per second:
- build: `build_tables` (`cbec.messages.build`), message by message; its output is the input of
  the parse measurements;
- parse, batched: `read_message` for each message and `type_messages` once per batch of
  `BATCH_MESSAGES` messages (the split of the time between the two is reported too);
- parse, one by one: `parse_message`, message by message;
- render: the simulator's columnar writer (`cbec.simulate.messages.render` and `envelope`), the
  same bytes as `build_tables`, `RENDER_MESSAGES` messages per call.
Prints one JSON object and writes it to bench/results/messages.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cbec.documents.schemas import INVENTORY, INVENTORY_LINE
from cbec.messages.build import build_tables
from cbec.messages.catalog import MESSAGES
from cbec.messages.parse import parse_message, read_message, type_messages
from cbec.simulate import simulate_day
from cbec.simulate.messages import envelope, message_guid, render
from clear_day import RESULTS, machine  # bench/ is on the path from here on

DAY = dt.date(2024, 6, 15)
NODES_PER_MESSAGE = 50
BATCH_MESSAGES = 100  # messages per type_messages call (5,000 nodes)
RENDER_MESSAGES = 100  # messages per render call
CEB621 = MESSAGES["621"]


def one_core() -> int:
    """Pin this process to one CPU and Arrow to one thread; the number of cores now usable."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def declarations(parcels: int, seed: int) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """The day's declaration lists, their lines grouped by head, and each head's line count."""
    with tempfile.TemporaryDirectory(prefix="cbec-bench-messages-") as temp:
        simulate_day(parcels, seed, DAY, Path(temp))
        heads = pq.read_table(Path(temp) / f"{INVENTORY.stem}.parquet")
        lines = pq.read_table(Path(temp) / f"{INVENTORY_LINE.stem}.parquet")
    # copNo is unique within the day (agent prefix, date, serial): it finds each line's head.
    head = pc.index_in(lines["cop_no"], heads["cop_no"]).to_numpy(zero_copy_only=False)
    order = np.lexsort((lines["gnum"].to_numpy(), head))
    counts = np.bincount(head, minlength=heads.num_rows)
    return heads.combine_chunks(), lines.take(pa.array(order)).combine_chunks(), counts


def cut(
    heads: pa.Table, lines: pa.Table, counts: np.ndarray, size: int
) -> list[tuple[pa.Table, pa.Table]]:
    """Consecutive messages of `size` heads, each with its lines (zero-copy slices)."""
    line_at = np.concatenate([[0], np.cumsum(counts)])
    messages = []
    for start in range(0, heads.num_rows, size):
        stop = min(heads.num_rows, start + size)
        low, high = int(line_at[start]), int(line_at[stop])
        messages.append((heads.slice(start, stop - start), lines.slice(low, high - low)))
    return messages


def _transfer(heads: pa.Table) -> dict[str, str | None]:
    code = heads["agent_code"][0].as_py()
    return {"copCode": code, "copName": heads["agent_name"][0].as_py(), "dxpMode": "DXP"}


def _rate(nodes: int, seconds: float) -> dict[str, Any]:
    return {"seconds": round(seconds, 3), "nodes_per_second": round(nodes / seconds)}


def bench(parcels: int, seed: int) -> dict[str, Any]:
    heads, lines, counts = declarations(parcels, seed)
    cores = one_core()
    nodes = heads.num_rows
    parts = cut(heads, lines, counts, NODES_PER_MESSAGE)
    stems = (INVENTORY.stem, INVENTORY_LINE.stem)

    gc.collect()
    started = time.perf_counter()
    messages = [
        build_tables(CEB621, dict(zip(stems, part, strict=True)), message_guid(seed, i + 1), None)
        for i, part in enumerate(parts)
    ]
    build = time.perf_counter() - started

    gc.collect()
    read_seconds = type_seconds = 0.0
    parsed_nodes = problems = 0
    for start in range(0, len(messages), BATCH_MESSAGES):
        t0 = time.perf_counter()
        raws = [read_message(m) for m in messages[start : start + BATCH_MESSAGES]]
        t1 = time.perf_counter()
        typed = type_messages(raws)
        read_seconds += t1 - t0
        type_seconds += time.perf_counter() - t1
        parsed_nodes += sum(p.nodes for p in typed)
        problems += sum(len(p.problems) for p in typed)
    assert parsed_nodes == nodes

    gc.collect()
    started = time.perf_counter()
    one_by_one = sum(parse_message(m).nodes for m in messages)
    single = time.perf_counter() - started
    assert one_by_one == nodes

    gc.collect()
    started = time.perf_counter()
    rendered = 0
    line_at = np.concatenate([[0], np.cumsum(counts)])
    per_call = RENDER_MESSAGES * NODES_PER_MESSAGE
    for start in range(0, nodes, per_call):
        stop = min(nodes, start + per_call)
        low, high = int(line_at[start]), int(line_at[stop])
        batch = heads.slice(start, stop - start)
        offsets = [*range(0, stop - start, NODES_PER_MESSAGE), stop - start]
        bodies = render(
            CEB621, batch, offsets, lines.slice(low, high - low), counts[start:stop]
        ).to_pylist()
        for k, body in enumerate(bodies):
            part = batch.slice(offsets[k], 1)
            head, tail = envelope(
                CEB621,
                message_guid(seed, start // NODES_PER_MESSAGE + k + 1),
                part["agent_code"][0].as_py(),
                part["agent_name"][0].as_py(),
            )
            rendered += len(head) + len(body.encode("utf-8")) + len(tail)
    columnar = time.perf_counter() - started

    total_bytes = sum(len(m) for m in messages)
    return {
        "machine": {**machine(), "python": platform.python_version(), "cores_used": cores},
        "parcels": parcels,
        "seed": seed,
        "date": DAY.isoformat(),
        "message": f"CEB{CEB621.code}",
        "nodes": nodes,
        "lines": lines.num_rows,
        "nodes_per_message": NODES_PER_MESSAGE,
        "messages": len(messages),
        "megabytes": round(total_bytes / 1e6, 1),
        "nodes_with_problems": problems,  # declarations simulated without their customsCode
        "parse_batched": {
            "batch_messages": BATCH_MESSAGES,
            **_rate(nodes, read_seconds + type_seconds),
            "read_message_seconds": round(read_seconds, 3),
            "type_messages_seconds": round(type_seconds, 3),
        },
        "parse_one_by_one": _rate(nodes, single),
        "build_tables": _rate(nodes, build),
        "render_columnar": {"messages_per_call": RENDER_MESSAGES, **_rate(nodes, columnar)},
    }


def full_run(parcels: int, seed: int) -> dict[str, object]:
    """A whole XML-to-receipt run (`cbec clear` on a day written as CEB messages, every document
    family): how much of it is reading the XML and writing the receipts."""
    from cbec.pipeline import Policy, clear
    from cbec.simulate.messages import simulate_messages
    from cbec.store.embedded import Store

    with tempfile.TemporaryDirectory(prefix="cbec-bench-xml-") as temp:
        root = Path(temp)
        simulate_messages(parcels, seed, DAY, root / "day")
        policy = Policy.load()
        store = Store(root / "store.duckdb")
        started = time.perf_counter()
        try:
            result = clear([root / "day"], store, root / "out", policy)
        finally:
            store.close()
        total = time.perf_counter() - started
    xml = result.message_seconds + result.receipt_seconds
    return {
        "parcels": parcels,
        "messages": result.messages,
        "receipts": result.receipts,
        "seconds": round(total, 3),
        "reading_messages_seconds": round(result.message_seconds, 3),
        "writing_receipts_seconds": round(result.receipt_seconds, 3),
        "xml_share": round(xml / total, 3),
        "parcels_per_second": round(parcels / total),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--full-parcels", type=int, default=20_000, help="parcels of the XML-to-receipt run"
    )
    args = parser.parse_args(argv)
    if args.parcels < 1:
        parser.error("--parcels must be at least 1")
    result = bench(args.parcels, args.seed)
    result["xml_to_receipts"] = full_run(args.full_parcels, args.seed)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "messages.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
