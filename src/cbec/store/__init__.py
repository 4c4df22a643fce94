"""Where cbec keeps what it decided: the embedded DuckDB store (`embedded.py`), the default, or a
PostgreSQL database (`postgres.py`), both behind `embedded.Store`'s interface; the schema comes
from the versioned migrations (`migrations.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cbec.store.embedded import Store

# What the engine may hold before it spills to `<db>.tmp`: room for Python and the OS beside it
# on a 16 GB machine (DESIGN.md's national day target).
DEFAULT_MEMORY_LIMIT = "12GB"


def open_store(
    target: str | Path, threads: int | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT
) -> Store:
    """The store at `target`: a `postgresql://USER@HOST/DB` URL, else a DuckDB file's path.
    Raises `embedded.StoreError` when it cannot be opened."""
    from cbec.store.postgres import PostgresStore, is_url

    if is_url(target):
        return PostgresStore(str(target), threads=threads, memory_limit=memory_limit)
    from cbec.store.embedded import Store

    return Store(Path(target), threads=threads, memory_limit=memory_limit)
