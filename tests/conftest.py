"""Shared test set-up: tests import their builders from this folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest

from cbec.store import pg_local
from fixtures import ClearedDay, simulate_and_clear


@pytest.fixture(scope="session")
def cleared_day(tmp_path_factory: pytest.TempPathFactory) -> ClearedDay:
    """A simulated day of 50,000 parcels, cleared once for the tests that read it."""
    return simulate_and_clear(tmp_path_factory.mktemp("cleared_day"))


# A real PostgreSQL server for the tests of the PostgreSQL store and of the service on it,
# started once per session from the installed binaries (Debian's `postgresql`, which `.ci/run`
# installs) and stopped after.
@pytest.fixture(scope="session")
def postgres() -> Iterator[pg_local.LocalServer]:
    if pg_local.binaries() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: "
            "`apt-get install postgresql` (.ci/run does)"
        )
    server = pg_local.start()
    try:
        yield server
    finally:
        server.stop()
