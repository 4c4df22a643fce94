"""Fixtures of the service tests: the policy, and one parcel cleared online."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_world import SENDERS, T_SHIRT, Running, start

from builders import declaration, write_messages
from cbec.pipeline import Policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return Policy.load()


STORES = ["duckdb", "postgresql"]


def _database(request: pytest.FixtureRequest, root: Path) -> str | None:
    """None for the embedded store; else a new database on the session's PostgreSQL server
    (tests/conftest.py)."""
    if request.param == "duckdb":
        return None
    server = request.getfixturevalue("postgres")
    return str(server.database_url(f"cbec_service_{root.name.lower()}"))


@pytest.fixture(params=STORES)
def service_store(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The store a test's service runs on: `start(..., pg_url=service_store)`; every test that
    takes it runs on both stores."""
    return _database(request, tmp_path)


@pytest.fixture(scope="module", params=STORES)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str | None:
    """`service_store` for a module's shared service."""
    return _database(request, tmp_path_factory.mktemp("module_store"))


@pytest.fixture(scope="module", params=STORES)
def cleared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, policy: Policy
) -> Iterator[Running]:
    """One parcel posted by its four enterprises (order, payment, waybill, declaration list),
    then one micro-batch; on the embedded store, and on PostgreSQL."""
    root = tmp_path_factory.mktemp("service")
    with start(root, policy, pg_url=_database(request, root)) as running:
        files = write_messages(root / "parcel", declaration("S1", T_SHIRT))
        for path in files:
            code = path.stem.split("CEB")[-1]
            status, answer = running.post(SENDERS[code], path.read_bytes())
            assert status == 202, answer
        assert running.service.batcher.flush() == 4
        yield running
