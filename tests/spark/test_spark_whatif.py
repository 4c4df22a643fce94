"""`cbec whatif --engine spark` gives the report `cbec whatif` gives on DuckDB.

A day of 300 simulated parcels of 2018 and one hand-made parcel over the 2018 single limit (two
items of 1,500.00: 3,000 > 2,000, within the 2019 limit of 5,000) are recorded in a store on
DuckDB; the day is then replayed under the 2019 limits (docs/examples/reform-2019-limits.yaml),
the reform's clearing run on Spark and on DuckDB. Spark runs on the cluster of CBEC_SPARK_MASTER
when set (`.ci/run` starts one), else in this process (`local[1]`). On one machine a Spark run's
cost is its fixed cost per stage, so the day is small, and the baseline is the store's
(`--baseline recorded`: the period was cleared in one run under the current rules, where
tests/whatif check it is the re-cleared one): one Spark run keeps the test within minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from builders import declaration, write_jsonl
from cbec.cli import app
from cbec.engines.cluster import java_available
from cbec.pipeline import Policy, clear
from cbec.simulate import simulate_day
from cbec.store.embedded import Store

pytestmark = pytest.mark.skipif(not java_available(), reason="Spark needs Java 17")

REFORM = Path(__file__).resolve().parents[2] / "docs" / "examples" / "reform-2019-limits.yaml"
DAY = dt.date(2018, 6, 15)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark_whatif")
    simulated = root / "day"
    simulate_day(parcels=300, seed=1, day=DAY, out=simulated)
    over = [{"gcode": "6111200050", "qty": 2, "price": "1500.00"}]
    made = write_jsonl(root / "made", declaration("OVER1", over, when=f"{DAY}T10:00:00"))
    store = Store(root / "cbec.duckdb")
    try:
        clear([simulated, made], store, root / "out", Policy.load())
    finally:
        store.close()
    return root / "cbec.duckdb"


def _report(db: Path, out: Path, *engine: str) -> dict[str, Any]:
    command = ["whatif", "--db", str(db), "--period", DAY.isoformat(), "--reform", str(REFORM)]
    command += ["--baseline", "recorded"]
    done = CliRunner().invoke(app, [*command, "--format", "json", "--out", str(out), *engine])
    assert done.exit_code == 0, done.output
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def test_the_spark_report_is_the_duckdb_one(db: Path, tmp_path: Path) -> None:
    master = os.environ.get("CBEC_SPARK_MASTER") or "local[1]"
    on_duckdb = _report(db, tmp_path / "duckdb.json")
    on_spark = _report(db, tmp_path / "spark.json", "--engine", "spark", "--master", master)
    assert on_spark == on_duckdb
    assert on_duckdb["declarations"] == 301
    # The reform changed something to compare: at least the parcel over the 2018 single limit.
    assert on_duckdb["changes"]["newly_admitted"] >= 1
    assert on_duckdb["totals"]["baseline"]["over_single_limit"] >= 1
