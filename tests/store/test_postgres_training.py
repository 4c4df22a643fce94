"""`cbec risk train --store`: a model trained on PostgreSQL is the model trained on DuckDB from the
same outcomes, and every process uses it. Against a real server (conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from cbec.cli import app
from cbec.pipeline import Policy, clear
from cbec.simulate import simulate_day
from cbec.store.embedded import Store
from cbec.store.postgres import PostgresStore
from cbec.store.risk import latest_model

runner = CliRunner()


def _held_day(store: Store, day: Path) -> list[tuple[str, str]]:
    """Clears the day and returns 60 released parcels to be recorded as inspected (the test puts
    them on hold, as a selection would have)."""
    clear([day], store, day.parent / f"out-{type(store).__name__}", Policy.load())
    rows = store.con.con.execute(
        "SELECT agent_code, cop_no FROM decisions WHERE status = 800 ORDER BY cop_no LIMIT 60"
    ).fetchall()
    return [(a, c) for a, c in rows]


def _outcomes(path: Path, keys: list[tuple[str, str]]) -> Path:
    rows = [
        {"agent_code": a, "cop_no": c, "found": i % 3 == 0,
         "finding": "undervaluation" if i % 3 == 0 else None}
        for i, (a, c) in enumerate(keys)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def _train(*target: str) -> dict[str, object]:
    done = runner.invoke(app, ["risk", "train", *target])
    assert done.exit_code == 0, done.output
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_a_model_trained_on_postgresql_is_the_duckdb_one_and_every_process_uses_it(
    pg_url: str, tmp_path: Path
) -> None:
    day = tmp_path / "day"
    simulate_day(parcels=1500, seed=5, day=dt.date(2024, 6, 15), out=day)
    outcomes = tmp_path / "outcomes.jsonl"

    db = tmp_path / "cbec.duckdb"
    store = Store(db)
    try:
        keys = _held_day(store, day)
        store.con.con.execute("UPDATE decisions SET status = 500 WHERE status = 800")
    finally:
        store.close()
    _outcomes(outcomes, keys)
    recorded = runner.invoke(app, ["inspect", "record", str(outcomes), "--db", str(db)])
    assert recorded.exit_code == 0, recorded.output
    on_duckdb = _train("--db", str(db))

    store = PostgresStore(pg_url)
    try:
        assert _held_day(store, day) == keys
    finally:
        store.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:  # held, as on DuckDB
        pg.execute("UPDATE decisions SET status = 500 WHERE status = 800")
    other = PostgresStore(pg_url)  # another process, open before the training
    try:
        recorded = runner.invoke(app, ["inspect", "record", str(outcomes), "--store", pg_url])
        assert recorded.exit_code == 0, recorded.output
        on_postgresql = _train("--store", pg_url)
        assert on_postgresql == on_duckdb  # version, outcomes, findings, calibration rows
        assert on_postgresql["version"] == "v1"
        other.refresh()
        model = latest_model(other.con.con)
        assert model is not None and model.version == "v1"
    finally:
        other.close()
    duck = Store(db)
    try:
        expected = latest_model(duck.con.con)
    finally:
        duck.close()
    assert expected is not None
    assert model.booster_text == expected.booster_text  # the same trees
    assert model.calibration == expected.calibration  # the same thresholds
