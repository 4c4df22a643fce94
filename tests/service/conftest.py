"""Fixtures of the service tests: the policy, and one parcel cleared online."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from service_world import SENDERS, T_SHIRT, Running, start

from builders import declaration, write_messages
from cbec.pipeline import Policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return Policy.load()


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def cleared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, policy: Policy
) -> Iterator[Running]:
    """One parcel posted by its four enterprises (order, payment, waybill, declaration list),
    then one micro-batch; on the embedded store, and on PostgreSQL (tests/conftest.py)."""
    root = tmp_path_factory.mktemp("service")
    pg_url = None
    if request.param == "postgresql":
        pg_url = request.getfixturevalue("postgres").database_url(f"cbec_service_{root.name}")
    with start(root, policy, pg_url=pg_url) as running:
        files = write_messages(root / "parcel", declaration("S1", T_SHIRT))
        for path in files:
            code = path.stem.split("CEB")[-1]
            status, answer = running.post(SENDERS[code], path.read_bytes())
            assert status == 202, answer
        assert running.service.batcher.flush() == 4
        yield running
