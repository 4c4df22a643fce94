"""A new database for each store test, on the session's PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

import itertools

import pytest

from cbec.store import pg_local

_databases = itertools.count(1)


@pytest.fixture
def pg_url(postgres: pg_local.LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A new, empty database on the session's server; its documents go under `tmp_path`."""
    monkeypatch.setenv("CBEC_DOCUMENTS_DIR", str(tmp_path / "documents"))
    return postgres.database_url(f"cbec_test_{next(_databases)}")
