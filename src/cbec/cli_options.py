"""Options that several `cbec` commands take, declared once so that they read the same in each
command's help."""

from __future__ import annotations

from typing import Annotated

import typer

MasterOption = Annotated[
    str,
    typer.Option(
        "--master",
        envvar="CBEC_SPARK_MASTER",
        help="Spark master for --engine spark: local[N] or spark://HOST:7077.",
    ),
]
