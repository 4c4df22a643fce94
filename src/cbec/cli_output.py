"""Where the `cbec` commands write: one console for results, one for errors, one way to fail.

Piped output (logs, CI) is not cut at 80 columns: tables there are read later, in full.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def fail(message: str, status: int = 1) -> typer.Exit:
    """Print one clear line on stderr (the message taken as text, never as markup) and leave
    with `status`."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(status)
