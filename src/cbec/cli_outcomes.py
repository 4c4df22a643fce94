"""`cbec inspect record`, `cbec review decide`, `cbec risk train`, `cbec risk seed` and
`cbec enterprise credit`: what inspectors and officers found, and learning from it.

Exit status: 0 done; 1 the store failed; 2 bad input (a bad outcome file, a declaration not
held, too few outcomes to train): nothing is changed then.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cbec.cli_enterprise import BAD_INPUT, DEFAULT_DB, DbOption, _store
from cbec.cli_output import console, fail
from cbec.cli_store import StoreOption

inspect_app = typer.Typer(help="Inspection (status 500): record what was found.")
review_app = typer.Typer(help="Manual review (status 300): record the officer's decision.")

OutOption = Annotated[Path, typer.Option("--out", help="Folder for the receipts (CEB622, 816).")]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Time of the outcome (ISO 8601) where a row gives none."),
]


def _time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise fail(f"--as-of {text!r} is not a time; write e.g. 2024-06-16T10:00:00") from None


def _apply(
    file: Path, db: Path, store_url: str | None, out: Path, as_of: str | None, held: int
) -> None:
    from cbec.outcomes import OutcomeError, apply_outcomes, read_outcomes

    when = _time(as_of)
    with _store(db, store_url) as store:
        try:
            outcomes = read_outcomes(file)
            applied = apply_outcomes(store, outcomes, held, out, when, source=file.name)
        except OutcomeError as error:
            for problem in error.problems[:-1]:
                console.print(problem, highlight=False, markup=False, soft_wrap=True)
            raise fail(error.problems[-1], BAD_INPUT) from None
    console.print(
        f"{len(outcomes)} outcome(s): {applied.released} released, {applied.reassessed} "
        f"reassessed, {applied.rejected} rejected; revenue recovered "
        f"{applied.revenue_recovered:.2f} CNY; {applied.receipts} receipt(s) in {out}/receipts.",
        highlight=False,
    )


@inspect_app.command("record")
def inspect_record(
    file: Annotated[Path, typer.Argument(help="Outcomes, CSV or JSON Lines (docs/risk.md).")],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    out: OutOption = Path("out"),
    as_of: AsOfOption = None,
) -> None:
    """Record inspection outcomes: nothing found releases (800 and its 816); a finding rejects
    the parcel or reassesses its tax."""
    _apply(file, db, store_url, out, as_of, 500)


@review_app.command("decide")
def review_decide(
    file: Annotated[Path, typer.Argument(help="Decisions, CSV or JSON Lines (docs/risk.md).")],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    out: OutOption = Path("out"),
    as_of: AsOfOption = None,
) -> None:
    """Resolve declarations held for manual review (300), as `inspect record` does."""
    _apply(file, db, store_url, out, as_of, 300)


def risk_train(
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    seed: Annotated[int, typer.Option("--seed", help="LightGBM seed.")] = 0,
) -> None:
    """Train a model on every recorded outcome and register it as the next version: prints its
    version and figures as JSON."""
    from cbec.pipeline import Policy
    from cbec.pipeline_risk import TrainingError, train
    from cbec.store.embedded import StoreError

    with _store(db, store_url) as store:
        try:
            model = train(store, Policy.load().periods, dt.datetime.now(), seed)
        except TrainingError as error:
            raise fail(str(error), BAD_INPUT) from None
        except StoreError as error:
            raise fail(str(error)) from None
    sys.stdout.write(json.dumps({"version": model.version, **model.metrics}) + "\n")


def risk_seed(
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
    value: Annotated[
        int | None, typer.Option("--value", help="The seed; default: a new secret one.")
    ] = None,
) -> None:
    """Set the store's seed of the exploration draw (a hash of copNo and this seed)."""
    from cbec.store.risk import new_secret_seed, set_risk_seed

    with _store(db, store_url) as store:
        set_risk_seed(store, new_secret_seed() if value is None else value)
    console.print("exploration seed set", highlight=False)


def enterprise_credit(
    code: Annotated[str, typer.Argument(help="Enterprise code (10 characters).")],
    grade: Annotated[str, typer.Argument(help="advanced, general or dishonest.")],
    db: DbOption = DEFAULT_DB,
    store_url: StoreOption = None,
) -> None:
    """Set an enterprise's customs credit grade, which raises or lowers its inspection rate."""
    from cbec.store.risk import set_credit_grade

    with _store(db, store_url) as store:
        try:
            set_credit_grade(store, code, grade)
        except ValueError as error:
            raise fail(str(error), BAD_INPUT) from None
    console.print(f"{code}: credit grade {grade}", highlight=False)
