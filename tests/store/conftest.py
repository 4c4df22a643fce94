"""A real PostgreSQL server for the store's tests, started once per test session from the
installed binaries (Debian's `postgresql`, which `.ci/run` installs) and stopped after."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from cbec.store import pg_local

_databases = itertools.count(1)


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


@pytest.fixture
def pg_url(postgres: pg_local.LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A new, empty database on the session's server; its documents go under `tmp_path`."""
    monkeypatch.setenv("CBEC_DOCUMENTS_DIR", str(tmp_path / "documents"))
    return postgres.database_url(f"cbec_test_{next(_databases)}")
