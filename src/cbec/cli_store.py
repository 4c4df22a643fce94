"""`cbec store`: the store's schema (`cbec store migrate`), and the `--store` option every command
that opens the store takes: a `postgresql://USER@HOST/DB` URL, else the DuckDB file of `--db`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cbec.cli_output import console, fail

store_app = typer.Typer(help="The store: its schema and migrations.", no_args_is_help=True)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="CBEC_STORE",
        help="The store: postgresql://USER@HOST[:PORT]/DB for PostgreSQL, else a DuckDB file "
        "(then the same as --db).",
    ),
]


def target(db: Path, store: str | None) -> str | Path:
    """What to open: `--store` when given (a URL, or a DuckDB file's path), else `--db`."""
    from cbec.store.postgres import is_url

    if not store:
        return db
    return store if is_url(store) else Path(store)


@store_app.command("migrate")
def migrate(
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store: StoreOption = None,
) -> None:
    """Create the store's schema, or upgrade it to this cbec's version (docs/operations.md)."""
    from cbec.store.embedded import StoreError
    from cbec.store.migrations import NewerStore, upgrade_duckdb
    from cbec.store.postgres import is_url, migrate_url

    chosen = target(db, store)
    try:
        if is_url(chosen):
            before, after = migrate_url(str(chosen))
        else:
            import duckdb

            path = Path(chosen)
            path.parent.mkdir(parents=True, exist_ok=True)
            with duckdb.connect(str(path)) as con:
                before, after = upgrade_duckdb(con)
    except (StoreError, NewerStore) as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # duckdb raises several types; all mean the file is unusable
        raise fail(f"cannot migrate {chosen}: {exc}") from None
    name = _shown(chosen)
    if before == after:
        console.print(f"{name}: schema version {after}, up to date.", highlight=False)
    else:
        console.print(f"{name}: schema version {before} -> {after}.", highlight=False)


def _shown(chosen: str | Path) -> str:
    from cbec.store.postgres import is_url, redacted

    return redacted(str(chosen)) if is_url(chosen) else str(chosen)
