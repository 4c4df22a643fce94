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
