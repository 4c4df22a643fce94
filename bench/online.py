"""The online service under load: `cbec serve` driven over HTTP by simulated enterprises.

    .venv/bin/python bench/online.py [--rate 300] [--seconds 60] [--nodes 50] [--connections 8]
        [--store postgresql://USER@HOST/DB | --store local] [--processes 1]

Simulates a day (`simulate_messages`, seed 1, 2024-06-15, `--defect-rate` defects, 5 % by
default) of `rate x seconds` parcels, written as the CEB messages its enterprises send (at most
`--nodes` business nodes a message, each enterprise its own documents), registers every sender
with its role and an API key in a fresh store, starts `cbec serve` on it in `--processes` child
processes (each on its own port), and then, from this process (asyncio, `--connections` HTTP
connections):

- posts the messages in a realistic order, at `--rate` declaration lists a second (open loop):
  the families interleaved by their place in the day, and (`--order companions-first`, the
  default) each declaration message after the messages holding its lists' orders, payments and
  waybills, as agents declare; `--order interleaved` posts it at its own place, so that some
  companions come after their list and the companion window holds it; each message is sent
  again until it is acknowledged; the POSTs go to the processes in turn;
- reads every agent's receipts by long polling (`GET /v1/receipts?wait=&document=false`: the
  XML, as an enterprise's system reads it), each poll from the next process in turn, and notes
  when each list's decision receipt (its second CEB622: 800, or a 100, 300, 500) becomes
  readable; a poll unanswered in 60 s is counted (`receipt_polls_timed_out`) and sent again.

The store is, by default, a new DuckDB file in a temporary folder (one process only: DuckDB has
one writing process a file). With `--store postgresql://...` it is that database, if it holds no
tables yet; otherwise the bench creates a new database `cbec_bench_online_<time>` on the same
server (the URL's user needs CREATEDB) and drops it at the end. `--store local` starts a throwaway
PostgreSQL server from the installed binaries (`cbec.store.pg_local`, fsync on) for the run. The
document files of a PostgreSQL store go to a temporary folder (CBEC_DOCUMENTS_DIR).

Prints one JSON object (and writes bench/results/online_<nodes>.json, or
online_<nodes>_pg<processes>.json on PostgreSQL, or `--output`): the store kind and the number of
processes, lists decided per second over the run (from the first POST to the last decision), the
offered rate, the p50 / p95 / p99 of the time from the POST of a list's message to its decision
being readable, and this machine's 1-minute load average sampled during the run. Lists whose
order, payment or waybill never comes (the simulator's injected defects) are decided at the end
of the companion window (`--window`, 20 s here instead of 10 minutes): they are counted apart and
left out of the rate and the percentiles, which would otherwise measure the window. Messages are
not signed (no certificate registered), so signature verification is not in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cbec.service import auth
from cbec.simulate.messages import simulate_messages
from cbec.store import open_store
from cbec.store.postgres import PostgresStore, redacted
from clear_day import RESULTS, machine  # bench/ is on the path from here on

DAY = dt.date(2024, 6, 15)
ROLE = {"711": "warehouse", "311": "platform", "411": "payment", "511": "logistics", "621": "agent"}
RANK = {"711": 0, "311": 1, "411": 2, "511": 3, "621": 4}
COP_CODE = re.compile(rb"<ceb:copCode>([^<]+)</ceb:copCode>")
COP_NO = re.compile(rb"<ceb:copNo>([^<]+)</ceb:copNo>")
STATUS = re.compile(r"<ceb:returnStatus>(-?\d+)</ceb:returnStatus>")
RECEIPT_COP_NO = re.compile(r"<ceb:copNo>([^<]+)</ceb:copNo>")
# A list whose order, payment or waybill never came (the simulator's defects) is decided at the
# end of the companion window: its time is the window's, not the service's.
NEVER_CAME = re.compile(r"Code:(order|payment|waybill)_missing")
SERVE = "import sys; from cbec.cli import app; sys.argv[0] = 'cbec'; app()"


ORDER_NO = re.compile(rb"<ceb:orderNo>([^<]+)</ceb:orderNo>")
LOGISTICS_NO = re.compile(rb"<ceb:logisticsNo>([^<]+)</ceb:logisticsNo>")
# The companion keys a message provides, by message code (the order and the payment by orderNo,
# the waybill by logisticsNo: the keys the matching joins on).
PROVIDES = {"311": (b"o", ORDER_NO), "411": (b"p", ORDER_NO), "511": (b"w", LOGISTICS_NO)}


def messages_in_order(
    folder: Path, order: str = "companions-first"
) -> list[tuple[float, str, bytes]]:
    """(place in the day 0..1, code, body) of every message, families interleaved: message k of
    a family of n goes at (k + 1) / n, companions before the list at the same place.

    `companions-first` (what enterprises do: an agent declares a list once the platform, the
    payment firm and the carrier have sent their documents) then moves each declaration
    message just after the last message holding one of its lists' orders, payments or
    waybills, when that comes later; `interleaved` leaves it at its own place, so that the
    companion window holds some lists for companions still to come."""
    by_code: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.xml")):
        by_code.setdefault(path.stem.split("_")[-1].removeprefix("CEB"), []).append(path)
    found = []
    for code, paths in by_code.items():
        for index, path in enumerate(paths):
            found.append(((index + 1) / len(paths), code, path.read_bytes()))
    if order == "companions-first":
        place_of: dict[bytes, float] = {}
        for place, code, body in found:
            if code in PROVIDES:
                kind, pattern = PROVIDES[code]
                for key in pattern.findall(body):
                    place_of[kind + key] = place
        moved = []
        for place, code, body in found:
            if code == "621":
                needs = [b"o" + k for k in ORDER_NO.findall(body)]
                needs += [b"p" + k for k in ORDER_NO.findall(body)]
                needs += [b"w" + k for k in LOGISTICS_NO.findall(body)]
                place = max([place, *(place_of.get(k, 0.0) for k in needs)])
            moved.append((place, code, body))
        found = moved
    found.sort(key=lambda m: (m[0], RANK[m[1]]))
    return found


def register(
    target: str | Path, messages: list[tuple[float, str, bytes]], documents: Path
) -> dict[str, str]:
    """Every sender registered with the roles of what it sends and an API key; code -> key."""
    roles: dict[str, set[str]] = {}
    for _, code, body in messages:
        sender = COP_CODE.search(body)
        assert sender is not None, "a simulated message without copCode"
        roles.setdefault(sender.group(1).decode(), set()).add(ROLE[code])
    store = (
        PostgresStore(target, documents_dir=documents)
        if isinstance(target, str)
        else open_store(target)
    )
    try:
        keys = {}
        for code, its_roles in roles.items():
            store.add_enterprise(code, f"Enterprise {code}", sorted(its_roles))
            keys[code] = auth.issue_key(store, code)
        return keys
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_store(given: str) -> Iterator[str]:
    """The URL of an empty PostgreSQL database for the run: `given` if it holds no tables, else a
    new database on the same server (dropped at the end); `local`: a throwaway server's."""
    import psycopg

    if given == "local":
        from cbec.store import pg_local

        server = pg_local.start(prefix="cbec-bench-online-pg-", durable=True)
        try:
            yield server.database_url("cbec_bench_online")
        finally:
            server.stop()
        return
    with psycopg.connect(given, autocommit=True) as con:
        tables = con.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()
        if tables is not None and tables[0] == 0:
            yield given
            return
        name = f"cbec_bench_online_{int(time.time())}"
        con.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(given)
    fresh = urlunsplit(parts._replace(path="/" + name))
    print(f"{redacted(given)} holds tables: using a new database {name}", file=sys.stderr)
    try:
        yield fresh
    finally:
        with psycopg.connect(given, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_service(
    target: str | Path,
    port: int,
    log: Path,
    batch_messages: int,
    window: float,
    documents: Path,
) -> subprocess.Popen[bytes]:
    store = ["--store", target] if isinstance(target, str) else ["--db", str(target)]
    environment = {
        **os.environ,
        "CBEC_ADMIN_TOKEN": "bench",
        "CBEC_BATCH_MAX_MESSAGES": str(batch_messages),
        "CBEC_RATE_PER_SECOND": "1000000",  # the limiter is not what is measured
        "CBEC_RATE_BURST": "1000000",
        "CBEC_COMPANION_WINDOW_SECONDS": str(window),
        "CBEC_DOCUMENTS_DIR": str(documents),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", *store, "--port", str(port)],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    for _ in range(1200):
        if process.poll() is not None:
            raise SystemExit("cbec serve stopped: " + log.read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("cbec serve did not start within 2 minutes")


async def drive(
    ports: list[int],
    keys: dict[str, str],
    messages: list[tuple[float, str, bytes]],
    lists_per_message: list[int],
    rate: float,
    connections: int,
    drain: float,
) -> dict[str, Any]:
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    turn = iter(range(1 << 62))  # the POSTs and polls go to the processes in turn
    load: list[float] = []  # this machine's 1-minute load average, every 5 s
    limits = httpx.Limits(max_connections=connections + len(keys))
    posted_at: dict[str, float] = {}  # cop_no -> when its message's POST began
    decided_at: dict[str, float] = {}
    window_bound: set[str] = set()  # lists rejected for a companion that never came
    poll_timeouts: list[float] = []  # receipt polls unanswered within the client's 60 s
    acknowledged: list[float] = []  # each message's POST, sent to 202
    expected = sum(lists_per_message)
    queue: asyncio.Queue[tuple[float, str, bytes] | None] = asyncio.Queue()
    stop = asyncio.Event()
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()

        async def sample_load() -> None:
            while not stop.is_set():
                load.append(os.getloadavg()[0])
                await asyncio.sleep(5)

        sampler = asyncio.create_task(sample_load())

        async def schedule() -> None:
            # Open loop: message m is due when its lists' share of the offered rate is reached.
            sent_lists = 0
            for item, lists in zip(messages, lists_per_message, strict=True):
                due = started + sent_lists / rate
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                await queue.put(item)
                sent_lists += lists
            for _ in range(connections):
                await queue.put(None)

        async def sender() -> None:
            while (item := await queue.get()) is not None:
                _, code, body = item
                sender_code = COP_CODE.search(body).group(1).decode()  # type: ignore[union-attr]
                headers = {
                    "Authorization": f"Bearer {keys[sender_code]}",
                    "Content-Type": "application/xml",
                }
                began = time.perf_counter()
                if code == "621":
                    for cop_no in COP_NO.findall(body):
                        posted_at.setdefault(cop_no.decode(), began)
                while True:
                    base = bases[next(turn) % len(bases)]
                    answer = await client.post(f"{base}/v1/messages", content=body, headers=headers)
                    if answer.status_code == 202:
                        acknowledged.append(time.perf_counter() - began)
                        break
                    if answer.status_code != 429:
                        raise SystemExit(f"POST refused: {answer.status_code} {answer.text}")
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))

        async def reader(key: str) -> None:
            cursor = 0
            headers = {"Authorization": f"Bearer {key}"}
            while not stop.is_set():
                try:
                    answer = await client.get(
                        f"{bases[next(turn) % len(bases)]}/v1/receipts",
                        params={"after": cursor, "wait": 2, "limit": 1000, "document": "false"},
                        headers=headers,
                    )
                except httpx.TimeoutException:  # counted, and asked again
                    poll_timeouts.append(time.perf_counter() - started)
                    continue
                now = time.perf_counter()
                for receipt in answer.json():
                    cursor = receipt["cursor"]
                    if receipt["code"] != "622":
                        continue
                    status = STATUS.search(receipt["xml"])
                    cop_no = RECEIPT_COP_NO.search(receipt["xml"])
                    if status and cop_no and status.group(1) != "120":
                        decided_at.setdefault(cop_no.group(1), now)
                        if NEVER_CAME.search(receipt["xml"]):
                            window_bound.add(cop_no.group(1))

        agents = {
            COP_CODE.search(b).group(1).decode()  # type: ignore[union-attr]
            for _, c, b in messages
            if c == "621"
        }
        readers = [asyncio.create_task(reader(keys[a])) for a in sorted(agents)]
        await asyncio.gather(schedule(), *(sender() for _ in range(connections)))
        posting_done = time.perf_counter()
        # Until every list is decided, or nothing is waiting and nothing came for 15 s, or the
        # drain time is over (the figures then say how many were decided).
        last, count = time.perf_counter(), -1
        while len(decided_at) < expected and time.perf_counter() - posting_done < drain:
            await asyncio.sleep(0.5)
            if len(decided_at) != count:
                last, count = time.perf_counter(), len(decided_at)
            elif time.perf_counter() - last > 15:
                health = (await client.get(f"{bases[0]}/health")).json()
                if health["queue"] == 0:
                    break
        stop.set()
        await asyncio.gather(*readers, sampler)
    timely = [c for c in decided_at if c in posted_at and c not in window_bound]
    finished = max((decided_at[c] for c in timely), default=time.perf_counter())
    latencies = np.array([decided_at[c] - posted_at[c] for c in timely] or [float("nan")])
    return {
        "lists": expected,
        "lists_decided": len(decided_at),
        "lists_waiting_the_whole_window": len(window_bound),
        "receipt_polls_timed_out": len(poll_timeouts),
        "posting_seconds": round(posting_done - started, 2),
        "seconds": round(finished - started, 2),
        "lists_decided_per_second": round(len(timely) / (finished - started), 1),
        "latency_seconds": {
            f"p{q}": round(float(np.percentile(latencies, q)), 3) for q in (50, 95, 99)
        }
        | {"max": round(float(latencies.max()), 3)},
        # The acknowledgement: a message's POST to its 202 (the message durable).
        "acknowledgement_seconds": {
            f"p{q}": round(float(np.percentile(acknowledged or [float("nan")], q)), 3)
            for q in (50, 95, 99)
        },
        "load_average_1min_during": {
            "mean": round(float(np.mean(load)), 1),
            "max": round(max(load), 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=300.0, help="declaration lists a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long lists are sent")
    parser.add_argument("--nodes", type=int, default=50, help="business nodes a message, at most")
    parser.add_argument("--connections", type=int, default=8, help="HTTP connections posting")
    parser.add_argument("--batch-messages", type=int, default=500, help="CBEC_BATCH_MAX_MESSAGES")
    parser.add_argument(
        "--window",
        type=float,
        default=20.0,
        help="CBEC_COMPANION_WINDOW_SECONDS (short: the "
        "lists whose companion never comes wait for it, and are reported apart)",
    )
    parser.add_argument(
        "--drain", type=float, default=300.0, help="seconds to wait for decisions after posting"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--order",
        choices=("companions-first", "interleaved"),
        default="companions-first",
        help="a list's message after its companions' (default), or at its own place in the day",
    )
    parser.add_argument(
        "--defect-rate",
        type=float,
        default=0.05,
        help="the simulator's injected defects (0: every list complete, the service's own speed)",
    )
    parser.add_argument(
        "--store",
        help="postgresql://USER@HOST/DB (empty, else a new database is made there), or `local`: "
        "a throwaway PostgreSQL server for the run; default a new DuckDB file",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="`cbec serve` processes sharing the store"
    )
    parser.add_argument("--output", type=Path, help="the results file (default by store)")
    args = parser.parse_args()
    if args.store and not (args.store == "local" or args.store.startswith("postgres")):
        parser.error("--store takes a postgresql:// URL or `local`")
    if args.processes < 1 or (args.processes > 1 and not args.store):
        parser.error("--processes above 1 needs --store (DuckDB: one writing process a file)")
    parcels = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="cbec-bench-online-") as temp:
        root = Path(temp)
        simulate_messages(
            parcels, args.seed, DAY, root / "day", args.defect_rate, nodes_per_message=args.nodes
        )
        messages = messages_in_order(root / "day", args.order)
        lists = [len(COP_NO.findall(b)) if c == "621" else 0 for _, c, b in messages]
        if args.store:
            with postgres_store(args.store) as url:
                measured, metrics = run(args, url, root, messages, lists)
        else:
            measured, metrics = run(args, root / "service.duckdb", root, messages, lists)
    counters: dict[str, str] = {}
    for text in metrics:  # every process's counters and histogram buckets, summed
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.split(" ", 1)
                counters[key] = str(float(counters.get(key, "0")) + float(value))
    served = _histogram(counters, "cbec_receipt_latency_seconds")
    result = {
        "benchmark": "online",
        "machine": machine(),
        "store": "postgresql" if args.store else "duckdb",
        "processes": args.processes,
        "settings": {
            "offered_lists_per_second": args.rate,
            "seconds": args.seconds,
            "defect_rate": args.defect_rate,
            "order": args.order,
            "nodes_per_message": args.nodes,
            "connections": args.connections,
            "batch_max_messages": args.batch_messages,
            "companion_window_seconds": args.window,
            # the service's CBEC_DUCKDB_THREADS, passed through (None: DuckDB's, one per core)
            "duckdb_threads": os.environ.get("CBEC_DUCKDB_THREADS"),
            "messages": len(messages),
            "parcels": parcels,
            "signed": False,
            "postgresql": None if not args.store else "local" if args.store == "local" else "given",
        },
        **measured,
        "batches": int(float(counters.get("cbec_batches_total", "0"))),
        "messages_per_batch": round(
            float(counters.get("cbec_batch_messages_total", "0"))
            / max(float(counters.get("cbec_batches_total", "1")), 1),
            1,
        ),
        "batch_seconds_mean": round(
            float(counters.get("cbec_batch_seconds_total", "0"))
            / max(float(counters.get("cbec_batches_total", "1")), 1),
            2,
        ),
        # The service's own histogram (GET /metrics): from each message's acknowledgement to
        # its receipts being readable, every message (companions too), bucket upper bounds.
        "service_receipt_latency_seconds": served,
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "date": dt.date.today().isoformat(),
    }
    print(json.dumps(result, indent=2))
    suffix = f"_pg{args.processes}" if args.store else ""
    output = args.output or RESULTS / f"online_{args.nodes}{suffix}.json"
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")


def run(
    args: argparse.Namespace,
    target: str | Path,
    root: Path,
    messages: list[tuple[float, str, bytes]],
    lists: list[int],
) -> tuple[dict[str, Any], list[str]]:
    """Registers the senders in the store at `target`, starts the processes, drives them; the
    measures and each process's /metrics text."""
    documents = root / "documents"
    documents.mkdir()
    keys = register(target, messages, documents)
    ports = [free_port() for _ in range(args.processes)]
    services: list[subprocess.Popen[bytes]] = []
    try:
        for index, port in enumerate(ports):
            services.append(
                start_service(
                    target,
                    port,
                    root / f"serve{index}.log",
                    args.batch_messages,
                    args.window,
                    documents,
                )
            )
        measured = asyncio.run(
            drive(ports, keys, messages, lists, args.rate, args.connections, args.drain)
        )
        metrics = [
            httpx.get(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Authorization": "Bearer bench"},
                timeout=30,
            ).text
            for port in ports
        ]
    finally:
        for service in services:
            service.terminate()
        for service in services:
            service.wait(timeout=60)
    return measured, metrics


def _histogram(samples: dict[str, str], name: str) -> dict[str, Any]:
    """A histogram of the exposition: its count, and the bucket bound reached by 50, 95 and
    99 % of the observations."""
    buckets = sorted(
        (float(key.split('le="', 1)[1].rstrip('"}')), float(value))
        for key, value in samples.items()
        if key.startswith(f"{name}_bucket{{")
    )
    count = float(samples.get(f"{name}_count", "0"))
    bounds: dict[str, float | str | None] = {}
    for q in (50, 95, 99):
        bound = next((b for b, c in buckets if c >= count * q / 100), None)
        bounds[f"p{q}_at_most"] = "+Inf" if bound == float("inf") else bound
    return {"messages": int(count), **bounds}


if __name__ == "__main__":
    main()
