"""`cbec enterprise`: register the enterprises that send messages, their roles and certificates.

Bad input (an unknown role, a file that is not a PEM certificate, an unknown code) is one line on
stderr and exit status 2; a store that cannot be opened is exit status 1, as for `cbec clear`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cbec.cli_output import console, fail
from cbec.cli_store import StoreOption, target
from cbec.enterprises import ROLES

if TYPE_CHECKING:
    from cbec.store.embedded import Store

enterprise_app = typer.Typer(
    help="The enterprises that send messages: codes, roles, certificates.",
    no_args_is_help=True,
)


BAD_INPUT = 2  # as for a usage error
STORE_FAILED = 1

DbOption = Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")]
DEFAULT_DB = Path("cbec.duckdb")  # as `cbec clear`


def _fail(message: str, status: int = BAD_INPUT) -> typer.Exit:
    return fail(message, status)


@contextmanager
def _store(db: Path, url: str | None = None, create: bool = False) -> Iterator[Store]:
    """The store at `db` (or `--store`); only `add` creates one (a mistyped path is not a new,
    empty store)."""
    from cbec.store import open_store
    from cbec.store.embedded import StoreError

    chosen = target(db, url)
    if not create and isinstance(chosen, Path) and not chosen.exists():
        raise _fail(f"--db {chosen}: no store there; `cbec enterprise add` creates one")
    try:
        store = open_store(chosen)
    except StoreError as exc:
        raise _fail(str(exc), STORE_FAILED) from None
    try:
        yield store
    finally:
        store.close()


def _read_certificate(path: Path) -> str:
    """The certificate file as normalized PEM (the certificate alone)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from cbec.messages.signatures import load_certificate

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(f"--cert {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        certificate = load_certificate(data)
    except ValueError as exc:
        raise _fail(f"--cert {path}: {exc}") from None
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


@enterprise_app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="Customs code or unified social credit code.")],
    name: Annotated[str, typer.Option("--name", help="The enterprise's name.")],
    role: Annotated[
        list[str],
        typer.Option("--role", help=f"A role, repeatable or comma-separated: {', '.join(ROLES)}."),
    ],
    cert: Annotated[
        Path | None,
        typer.Option("--cert", help="PEM certificate its message signatures are checked with."),
    ] = None,
    issue_key: Annotated[
        bool,
        typer.Option(
            "--issue-key",
            help="Issue an API key for `cbec serve` (replacing any earlier one); printed once, "
            "only its SHA-256 is stored.",
        ),
    ] = False,
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
) -> None:
    """Register an enterprise, or update the name, roles and certificate of a registered one."""
    from cbec.enterprises import check_code, check_roles
    from cbec.service import auth

    try:
        code = check_code(code)
        roles = check_roles(part for value in role for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if not name.strip():
        raise _fail("--name is empty")
    cert_pem = _read_certificate(cert) if cert is not None else None
    with _store(db, store_url, create=True) as store:
        existed = store.enterprise(code) is not None
        store.add_enterprise(code, name.strip(), roles, cert_pem)
        key = auth.issue_key(store, code) if issue_key else None
    verb = "Updated" if existed else "Registered"
    console.print(f"{verb} {code} ({name.strip()}): {', '.join(roles)}.", highlight=False)
    if key is not None:
        console.print(f"API key (shown once, only its SHA-256 is stored): {key}", highlight=False)


@enterprise_app.command("list")
def list_enterprises(db: DbOption = DEFAULT_DB, store_url: StoreOption = None) -> None:
    """The registered enterprises."""
    with _store(db, store_url) as store:
        registered = store.enterprises()
    if not registered:
        console.print("No enterprises registered.")
        return
    table = Table(title="Enterprises", title_justify="left")
    table.add_column("code")
    table.add_column("name")
    table.add_column("roles")
    table.add_column("certificate")
    table.add_column("disabled")
    for enterprise in registered:
        table.add_row(
            enterprise.code,
            enterprise.name,
            ", ".join(enterprise.roles),
            _certificate(enterprise.cert_pem),
            "yes" if enterprise.disabled else "no",
        )
    console.print(table)


def _certificate(cert_pem: str | None) -> str:
    from cbec.messages.signatures import describe_certificate, load_certificate

    if cert_pem is None:
        return "-"
    try:
        return describe_certificate(load_certificate(cert_pem))
    except ValueError as exc:
        return f"unreadable ({exc})"


@enterprise_app.command("disable")
def disable(
    code: Annotated[str, typer.Argument(help="The enterprise's code.")],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
) -> None:
    """Mark an enterprise disabled (kept in the registry, for the record)."""
    with _store(db, store_url) as store:
        found = store.disable_enterprise(code)
    if not found:
        raise _fail(f"no enterprise {code!r} is registered; `cbec enterprise list` shows them")
    console.print(f"Disabled {code}.", highlight=False)
