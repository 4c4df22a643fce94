"""`cbec risk`: risk targeting. `cbec risk evaluate kcdd` measures the risk model on public data.

`evaluate kcdd` trains on the KCDD train split, early-stops on valid, scores a test file, and prints
only JSON on stdout (progress goes to stderr): precision and recall at 1, 2, 5 and 10 % and AUC,
mean and standard deviation over seeds, for `random`, `published` (the paper's protocol) and `cbec`.
A missing file or one without the KCDD columns is one line on stderr and exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

risk_app = typer.Typer(help="Risk targeting: the learned model and its evaluation.")
evaluate_app = typer.Typer(help="Measure the risk model against published results.")
risk_app.add_typer(evaluate_app, name="evaluate")

errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


@evaluate_app.command("kcdd")
def evaluate_kcdd(
    train: Annotated[Path, typer.Option("--train", help="KCDD training split (CSV).")],
    valid: Annotated[Path, typer.Option("--valid", help="KCDD validation split, for stopping.")],
    test: Annotated[Path, typer.Option("--test", help="KCDD file to score and measure.")],
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Runs, seeds 0 to N-1.")] = 5,
) -> None:
    """Train on TRAIN, early-stop on VALID, measure on TEST: JSON on stdout (docs/risk.md)."""
    from cbec.risk import kcdd  # LightGBM loads only for this command.

    try:
        train_table, valid_table, test_table = (kcdd.read(p) for p in (train, valid, test))
    except kcdd.KcddError as error:
        errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    report = kcdd.evaluate(train_table, valid_table, test_table, seeds=seeds)
    sys.stdout.write(json.dumps(report) + "\n")
