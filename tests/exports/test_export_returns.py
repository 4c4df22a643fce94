"""Export returns (MOF/GACC/STA 2026 No. 16): the hand-checked cases of
tests/exports/cases/returns.yaml, and the command over a store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from cbec.cli import app
from cbec.exports import returns
from cbec.pipeline import Policy
from export_builders import AGENT, clear_into, parcel, write

CASES = Path(__file__).parent / "cases" / "returns.yaml"


def _cases() -> list[Any]:
    found = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in found]


@pytest.mark.parametrize("case", _cases())
def test_return_case(case: dict[str, Any]) -> None:
    export = case["export"]
    returned = pa.Table.from_pylist(
        [
            {
                "agent_code": "A1",
                "cop_no": "EC1",
                "gnum": 1,
                "returned_at": case["returned"],
                "unchanged": case.get("unchanged", True),
            }
        ],
        schema=returns.RETURN,
    )
    exported = pa.Table.from_pylist(
        [
            {
                "agent_code": "A1",
                "cop_no": "EC1",
                "status": 800,
                "trade_mode": export["mode"],
                "decided_at": export["exported"],
            }
        ],
        schema=returns.EXPORTED,
    )
    lines = pa.Table.from_pylist(
        [{"agent_code": "A1", "cop_no": "EC1", "gnum": 1, "gcode": export["gcode"]}],
        schema=returns.EXPORTED_LINE,
    )
    judged = returns.relief(returned, exported, lines).to_pylist()
    assert len(judged) == 1
    for field, value in case["expect"].items():
        assert judged[0][field] == value, field


def test_returns_command(tmp_path: Path, policy: Policy) -> None:
    when = dt.datetime(2026, 3, 10, 10, 0, 0)
    write(tmp_path / "in", [parcel(1, when=when)])
    db = tmp_path / "s.duckdb"
    clear_into(tmp_path / "in", db, tmp_path / "out", policy)
    path = tmp_path / "returns.csv"
    path.write_text(
        "agent_code,cop_no,gnum,returned_at,unchanged\n"
        f"{AGENT},EC000001,1,2026-08-01 09:00:00,true\n"
        f"{AGENT},EC000001,2,2026-09-11 09:00:00,true\n"
        f"{AGENT},EC000009,1,2026-08-01 09:00:00,true\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["exports", "returns", str(path), "--db", str(db), "--out", str(tmp_path / "r")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    rows = pq.read_table(tmp_path / "r" / "export_returns.parquet").to_pylist()
    assert [(r["gnum"], r["relieved"], r["reason"]) for r in rows] == [
        (1, True, None),
        (2, False, "too_late"),
        (1, False, "unknown_export"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("agent_code,cop_no,gnum,returned_at,unchanged\nA,EC1,x,2026-08-01,true\n")
    refused = runner.invoke(app, ["exports", "returns", str(bad), "--db", str(db)])
    assert refused.exit_code == 2 and "row 2" in refused.output
