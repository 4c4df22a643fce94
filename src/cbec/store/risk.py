"""The risk tables of the store: model versions, risk decisions, inspection and review outcomes,
enterprise credit grades, and the seed of the exploration draw.

The tables are created by the store's versioned migrations (`cbec.store.migrations`, version 3);
credit grades, the seed and model versions are written through the store (so PostgreSQL keeps
them).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

import duckdb

from cbec.risk.scoring import ScoringModel

if TYPE_CHECKING:
    from cbec.store.embedded import Store

CREDIT_GRADES = ("advanced", "general", "dishonest")

DEFAULT_SEED = 0


def risk_seed(con: duckdb.DuckDBPyConnection) -> int:
    """The store's seed of the exploration draw: DEFAULT_SEED until the operator sets a secret
    one (`cbec risk seed`), so that enterprises cannot predict which parcels are drawn."""
    rows = con.execute("SELECT value FROM store_meta WHERE key = 'risk_seed'").fetchall()
    return int(rows[0][0]) if rows else DEFAULT_SEED


def new_secret_seed() -> int:
    return secrets.randbits(62)


def set_risk_seed(store: Store, seed: int) -> None:
    store.insert_rows("store_meta", [("risk_seed", str(seed))], replace=("key",))


def latest_model(con: duckdb.DuckDBPyConnection) -> ScoringModel | None:
    """The model version registered last, or None (selection then uses the rules alone)."""
    rows = con.execute(
        "SELECT model_json FROM risk_models ORDER BY trained_at DESC, version DESC LIMIT 1"
    ).fetchall()
    return ScoringModel.from_json(rows[0][0]) if rows else None


def register_model(store: Store, model: ScoringModel, trained_at: Any, outcomes: int) -> None:
    """Registers a model version, written through the store (a PostgreSQL store keeps it, and
    every process reads it at its next refresh). A version already registered is refused."""
    store.insert_rows("risk_models", [(model.version, trained_at, outcomes, model.to_json())])


def set_credit_grade(store: Store, code: str, grade: str) -> None:
    """Sets an enterprise's customs credit grade (advanced, general, dishonest); written through
    the store, so that a PostgreSQL store keeps it."""
    if grade not in CREDIT_GRADES:
        raise ValueError(f"credit grade {grade!r} is not one of {', '.join(CREDIT_GRADES)}")
    now = dt.datetime.now().replace(microsecond=0)
    store.insert_rows("enterprise_credit", [(code, grade, now)], replace=("code",))
