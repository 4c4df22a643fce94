"""Helpers of the PostgreSQL store's tests (importable: tests/ is on the path, conftest is not)."""

from __future__ import annotations

from cbec.store.postgres import PostgresStore


def stale_once(store: PostgresStore) -> None:
    """The store misses its next refresh: as if another process committed right after it read
    the history (the window two service processes race in)."""
    real = store.refresh
    calls = {"n": 0}

    def refresh() -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            real()

    store.refresh = refresh  # type: ignore[method-assign]
