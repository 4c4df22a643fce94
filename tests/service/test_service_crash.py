"""Nothing lost (DESIGN.md idea 4, issues 4 and 11): `cbec serve` runs in a real process under a
steady load and is killed (SIGKILL) at random moments, several times, then restarted; on
PostgreSQL, two processes share the database and are killed in turn. Afterwards every
acknowledged message was processed exactly once, every declaration list has exactly one decision
and one final receipt, and the allowance ledger equals the sum of the admitted declarations.

The moments come from a seeded generator; the test waits on the service's answers, never on the
wall clock's value (the only sleeps are short pauses between retries)."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from service_world import ADMIN_TOKEN, AGENT, ROLES, SENDERS

from builders import BUYER_ID, OTHER_ID, declaration, write_messages
from cbec.service import auth
from cbec.store.embedded import Store
from cbec.store.postgres import PostgresStore

KILLS = 3
PARCELS = 24  # 8 of 4,000 CNY for one buyer (only 6 fit in 26,000), 16 small ones
SERVE = "import sys; from cbec.cli import app; sys.argv[0] = 'cbec'; app()"
FINAL = re.compile(r"<ceb:returnStatus>(800|100)</ceb:returnStatus>")
COP_NO = re.compile(r"<ceb:copNo>([^<]+)</ceb:copNo>")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _messages(root: Path) -> list[tuple[str, bytes]]:
    """(sender, body) in the order the enterprises send them: each parcel's companions first."""
    sent = []
    for number in range(PARCELS):
        big = number % 3 == 0
        lines = [{"gcode": "6111200050", "qty": 1, "price": "4000.00" if big else "50.00"}]
        rows = declaration(f"K{number:03d}", lines, buyer_id=BUYER_ID if big else OTHER_ID)
        for path in write_messages(root / f"p{number}", rows, prefix=f"P{number}-"):
            sent.append((SENDERS[path.stem[-3:]], path.read_bytes()))
    return sent


class Server:
    def __init__(self, store: list[str], port: int, log: Path):
        self.store, self.port, self.log = store, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environment = {
            **os.environ,
            "CBEC_ADMIN_TOKEN": ADMIN_TOKEN,
            "CBEC_BATCH_MAX_SECONDS": "0.2",
            "CBEC_BATCH_MAX_MESSAGES": "40",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SERVE,
                    "serve",
                    *self.store,
                    "--port",
                    str(self.port),
                ],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for _ in range(600):  # up to a minute to import and open the store
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("the service did not start: " + self.log.read_text())

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def queue(self) -> int:
        answer = httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=5)
        return int(answer.json()["queue"])


def _load(
    ports: list[int],
    keys: dict[str, str],
    messages: list[tuple[str, bytes]],
    acked: dict[bytes, int],
    done: threading.Event,
    stop: threading.Event,
) -> None:
    """Posts each message until it is acknowledged (a 202), as a client whose connection broke
    sends again; the messages go to the processes in turn."""
    with httpx.Client(timeout=10) as client:
        for number, (sender, body) in enumerate(messages):
            while not stop.is_set():
                try:
                    answer = client.post(
                        f"http://127.0.0.1:{ports[number % len(ports)]}/v1/messages",
                        content=body,
                        headers={
                            "Authorization": f"Bearer {keys[sender]}",
                            "Content-Type": "application/xml",
                        },
                    )
                except httpx.HTTPError:
                    time.sleep(0.05)  # the service is down: retry
                    continue
                assert answer.status_code == 202, answer.text
                acked[body] = int(answer.json()["id"])
                break
    done.set()


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_killed_at_random_moments_the_service_loses_nothing_and_decides_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On the embedded store, one process; on PostgreSQL, two processes sharing the database,
    killed in turn."""
    if kind == "postgresql":
        url = request.getfixturevalue("postgres").database_url(f"cbec_crash_{tmp_path.name}")
        store: Store = PostgresStore(url, documents_dir=tmp_path / "documents")
        option = ["--store", url]
    else:
        store = Store(tmp_path / "service.duckdb")
        option = ["--db", str(tmp_path / "service.duckdb")]
    keys = {}
    for code, role in ROLES.items():
        store.add_enterprise(code, f"Enterprise {code}", [role])
        keys[code] = auth.issue_key(store, code)
    store.close()
    messages = _messages(tmp_path / "messages")
    servers = [
        Server(option, _free_port(), tmp_path / f"serve{n}.log")
        for n in range(2 if kind == "postgresql" else 1)
    ]
    for server in servers:
        server.start()
    acked: dict[bytes, int] = {}
    done, stop = threading.Event(), threading.Event()
    loader = threading.Thread(
        target=_load,
        args=([s.port for s in servers], keys, messages, acked, done, stop),
        daemon=True,
    )
    loader.start()
    moments = random.Random(20240618)
    try:
        for kill in range(KILLS):
            time.sleep(moments.uniform(0.5, 3.0))
            server = servers[kill % len(servers)]
            server.kill()
            server.start()
        loader.join(timeout=120)
        assert done.is_set(), "the load was not acknowledged within 2 minutes"
        for _ in range(1200):  # until every acknowledged message is cleared
            if servers[0].queue() == 0:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for server in servers:
            server.kill()

    if kind == "postgresql":
        with psycopg.connect(url) as pg:
            _check(
                lambda sql, *p: pg.execute(sql.replace("?", "%s"), p).fetchall(), messages, acked
            )
    else:
        store = Store(tmp_path / "service.duckdb")
        try:
            _check(lambda sql, *p: store.con.con.execute(sql, p).fetchall(), messages, acked)
        finally:
            store.close()
    logs = "".join(server.log.read_text() for server in servers)
    assert logs.count("cbec serving") - len(servers) == KILLS
    assert "INFO cbec.service: cleared a batch of" in logs  # an operator sees each batch


def _check(
    rows: Callable[..., list[Any]], messages: list[tuple[str, bytes]], acked: dict[bytes, int]
) -> None:
    """Every acknowledged message processed once, every list decided once with one final
    receipt, the allowance ledger equal to the admitted values."""
    entries = rows("SELECT id, processed_at IS NOT NULL, failure FROM service_intake")
    assert len(entries) == len(messages) == len(acked)
    assert {e[0] for e in entries} == set(acked.values())
    assert all(e[1] and e[2] is None for e in entries), entries
    finals = Counter(
        COP_NO.findall(xml)[0]
        for (xml,) in rows(
            "SELECT xml FROM service_receipts WHERE recipient = ? AND code = '622'", AGENT
        )
        if FINAL.search(xml)
    )
    cop_nos = {f"K{n:03d}" for n in range(PARCELS)}
    assert set(finals) == cop_nos and set(finals.values()) == {1}
    decided = Counter(c for (c,) in rows("SELECT cop_no FROM decisions"))
    assert set(decided) == cop_nos and set(decided.values()) == {1}
    ledger = dict(
        rows("SELECT buyer_id_number, sum(value) FROM allowance_ledger GROUP BY buyer_id_number")
    )
    admitted = dict(
        rows(
            "SELECT buyer_id_number, sum(dutiable_value) FROM decisions WHERE status = 800 "
            "GROUP BY buyer_id_number"
        )
    )
    assert ledger == admitted
    # 26,000 CNY a year (Cai Guan Shui [2018] No. 49): six of the eight 4,000 parcels.
    assert admitted[BUYER_ID] == Decimal("24000.00")
    assert admitted[OTHER_ID] == Decimal("800.00")
