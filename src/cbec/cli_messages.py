"""`cbec message`: check CEB messages before sending them.

`validate` is strict (domain digest section 6): it reports what clearance would tolerate too,
such as a `guid` that is not a 36-character upper-case UUID, a `version` other than "1.0", or an
element the standard does not define. Exit status 0 when every file is clean, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cbec.cli_output import console

message_app = typer.Typer(help="CEB messages: validate them before sending.", no_args_is_help=True)


@message_app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="CEB XML messages (or DXP envelopes).")],
) -> None:
    """Print each problem with its element path and what was expected; exit 1 if any."""
    from cbec.messages.batch import message_paths, read_message_files

    found = 0
    missing = [path for path in files if not path.exists()]
    for path in missing:
        console.print(f"{path}: no such file or folder", highlight=False)
        found += 1
    for entry in read_message_files(message_paths(files), strict=True):
        if entry.message is None:
            console.print(f"{entry.path}: refused as a whole: {entry.refused}", highlight=False)
            found += 1
            continue
        message = entry.message
        problems = [p for node in sorted(message.problems) for p in message.problems[node]]
        if not problems:
            console.print(
                f"{entry.path}: ok ({message.type.root}, {message.nodes} business node(s))",
                highlight=False,
            )
        for problem in problems:
            console.print(f"{entry.path}: {problem}", highlight=False)
        found += len(problems)
    if found:
        console.print(f"{found:,} problem(s)", highlight=False)
        raise typer.Exit(1)
