"""The service test world: four enterprises, one of each role a parcel needs, each holding an
API key, and the service around a fresh store (batcher driven by hand)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from builders import declaration, merge, write_messages
from cbec.pipeline import Policy
from cbec.service import auth, intake
from cbec.service.app import create_app, create_service
from cbec.service.deps import Service
from cbec.service.journal_pg import PostgresJournal
from cbec.service.settings import Settings
from cbec.store.embedded import Store
from cbec.store.postgres import PostgresStore

PLATFORM, PAYMENT, LOGISTICS, AGENT = "3301964J31", "3101960001", "3201980001", "3301980001"
OTHER_AGENT = "3301980002"
ROLES = {
    PLATFORM: "platform",
    PAYMENT: "payment",
    LOGISTICS: "logistics",
    AGENT: "agent",
    OTHER_AGENT: "agent",
}
SENDERS = {"311": PLATFORM, "411": PAYMENT, "511": LOGISTICS, "621": AGENT}
MAX_BODY = 64 * 1024
ADMIN_TOKEN = "operator-secret"
T_SHIRT = [{"gcode": "6111200050", "qty": 2, "price": "50.00"}]


@dataclass
class Running:
    service: Service
    client: TestClient
    keys: dict[str, str]  # enterprise code -> API key
    root: Path

    def headers(self, code: str | None, **extra: str) -> dict[str, str]:
        found = {"Content-Type": "application/xml", **extra}
        if code is not None:
            found["Authorization"] = f"Bearer {self.keys[code]}"
        return found

    def post(self, code: str | None, body: bytes, **extra: str) -> tuple[int, dict[str, object]]:
        response = self.client.post(
            "/v1/messages", content=body, headers=self.headers(code, **extra)
        )
        return response.status_code, response.json()

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query on the service's store (`?` marks its parameters), the service's own
        tables included: the DuckDB file, or the PostgreSQL database itself."""
        journal = self.service.journal
        if isinstance(journal, PostgresJournal):
            return list(journal.requests.execute(sql.replace("?", "%s"), params).fetchall())
        return list(self.service.store.con.con.execute(sql, params).fetchall())

    def receipts(self, code: str, after: int = 0) -> list[dict[str, object]]:
        response = self.client.get(
            "/v1/receipts", params={"after": after}, headers=self.headers(code)
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, object]] = response.json()
        return found


def one_shirt(price: str) -> list[dict[str, object]]:
    """A declaration's lines: one T-shirt at `price` CNY."""
    return [{"gcode": "6111200050", "qty": 1, "price": price}]


def post_all(running: Running, paths: Sequence[Path], agent: str = AGENT) -> None:
    """Posts each message from the enterprise that sends its kind, the declaration list from
    `agent`; each is acknowledged."""
    for path in paths:
        code = path.stem[-3:]
        status, answer = running.post(agent if code == "621" else SENDERS[code], path.read_bytes())
        assert status == 202, answer


@dataclass(frozen=True)
class LastOfTheAllowance:
    """One buyer's last 3,000 CNY of the annual allowance (26,000 a year, Cai Guan Shui [2018]
    No. 49), as CEB messages: `earlier`, five lists on 1 June 2024 that admit 23,000; then two
    lists of 2,000 each declared at the same second on 15 June, `first` (C1, by `AGENT`) and
    `second` (C2, by `OTHER_AGENT`): the first by declaration time, then `appTime`, then
    `copNo` (docs/decisions.md) reaches 25,000, the other would reach 27,000."""

    earlier: list[Path]
    first: list[Path]
    second: list[Path]


def last_of_the_allowance(root: Path) -> LastOfTheAllowance:
    """`LastOfTheAllowance`'s messages, written under `root`."""
    earlier = merge(
        *(declaration(f"E{n}", one_shirt("5000.00"), when="2024-06-01T10:00:00") for n in range(4)),
        declaration("E4", one_shirt("3000.00"), when="2024-06-01T11:00:00"),
    )
    same_instant = "2024-06-15T10:00:00"
    return LastOfTheAllowance(
        earlier=write_messages(root / "earlier", earlier),
        first=write_messages(
            root / "a", declaration("C1", one_shirt("2000.00"), when=same_instant), prefix="a"
        ),
        second=write_messages(
            root / "b",
            declaration("C2", one_shirt("2000.00"), when=same_instant, agent_code=OTHER_AGENT),
            prefix="b",
        ),
    )


@contextmanager
def start(
    root: Path,
    policy: Policy,
    run_batcher: bool = False,
    clock: Callable[[], dt.datetime] = intake.now,
    pg_url: str | None = None,
    keys: dict[str, str] | None = None,
    **settings: Any,
) -> Iterator[Running]:
    """The service on a fresh DuckDB store under `root`, or on the PostgreSQL database of
    `pg_url` (its documents under `root`). With `keys`, the enterprises are registered already
    (a second service process on the same database)."""
    store = (
        PostgresStore(pg_url, documents_dir=root / "documents")
        if pg_url
        else Store(root / "service.duckdb")
    )
    if keys is None:
        keys = {}
        for code, role in ROLES.items():
            store.add_enterprise(code, f"Enterprise {code}", [role])
            keys[code] = auth.issue_key(store, code)
    service = create_service(store, Settings(max_body_bytes=MAX_BODY, **settings), policy, clock)
    auth.set_admin_token(service.journal, ADMIN_TOKEN)
    try:
        with TestClient(create_app(service, run_batcher=run_batcher)) as client:
            yield Running(service, client, keys, root)
    finally:
        service.journal.close()
        store.close()
