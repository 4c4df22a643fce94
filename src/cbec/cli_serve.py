"""`cbec serve`: the online clearance service over one store (docs/service.md)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Annotated

import typer

from cbec.cli_output import console, errors
from cbec.cli_store import StoreOption, target


def serve(
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    store_url: StoreOption = None,
) -> None:
    """Serve the HTTP API: enterprises post CEB messages and read their receipts.

    Settings come from CBEC_... environment variables (docs/service.md); the operator's token
    from CBEC_ADMIN_TOKEN, or generated and printed once at the first start. Several processes
    may serve one PostgreSQL store (--store postgresql://..., docs/operations.md).
    """
    import uvicorn

    from cbec.service import auth
    from cbec.service.app import create_app, create_service
    from cbec.service.settings import Settings, SettingsError
    from cbec.store import open_store
    from cbec.store.embedded import StoreError
    from cbec.store.postgres import redacted

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    chosen = target(db, store_url)
    with contextlib.ExitStack() as closing:  # whatever fails after open_store closes the store
        try:
            store = open_store(chosen, threads=settings.duckdb_threads)
            closing.callback(store.close)
            service = create_service(store, settings)
        except StoreError as exc:
            errors.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        closing.callback(service.journal.close)
        generated = auth.set_admin_token(service.journal, settings.admin_token)
        if generated is not None:
            console.print(
                f"Operator token (shown once, stored hashed): {generated}", highlight=False
            )
        app = create_app(service)
        shown = redacted(chosen) if isinstance(chosen, str) else chosen
        console.print(
            f"cbec serving {shown} on http://{host}:{port} (API at /docs)", highlight=False
        )
        _log_to_stderr()
        uvicorn.run(app, host=host, port=port, log_level="info")


def _log_to_stderr() -> None:
    """cbec's own log (a line a batch, warnings, failures) on stderr beside uvicorn's, at INFO,
    identity and mobile numbers masked (records of any `cbec.*` logger pass this handler)."""
    from cbec.service.masking import MaskingFilter

    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    cbec = logging.getLogger("cbec")
    cbec.addHandler(handler)
    cbec.setLevel(logging.INFO)
    cbec.propagate = False
