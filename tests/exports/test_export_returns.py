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
    # `export`: cbec's record of the list; `declared`: the export's data on the returned line
    export, declared = case.get("export"), case.get("declared", {})
    returned = pa.Table.from_pylist(
        [
            {
                "agent_code": "A1",
                "cop_no": "EC1",
                "gnum": 1,
                "returned_at": case["returned"],
                "unchanged": case.get("unchanged", True),
                "trade_mode": declared.get("mode"),
                "exported_at": declared.get("exported"),
                "gcode": declared.get("gcode"),
                "export_no": declared.get("export_no"),
            }
        ],
        schema=returns.RETURN,
    )
    records = [export] if export else []
    exported = pa.Table.from_pylist(
        [
            {
                "agent_code": "A1",
                "cop_no": "EC1",
                "status": 800,
                "trade_mode": e["mode"],
                "decided_at": e["exported"],
            }
            for e in records
        ],
        schema=returns.EXPORTED,
    )
    lines = pa.Table.from_pylist(
        [{"agent_code": "A1", "cop_no": "EC1", "gnum": 1, "gcode": e["gcode"]} for e in records],
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
        "agent_code,cop_no,gnum,returned_at,unchanged,trade_mode,exported_at,gcode,export_no\n"
        f"{AGENT},EC000001,1,2026-08-01 09:00:00,true,,,,\n"
        f"{AGENT},EC000001,2,2026-09-11 09:00:00,true,,,,\n"
        f"{AGENT},EC000009,1,2026-08-01 09:00:00,true,,,,\n"
        # a bonded export out of a zone, cleared outside cbec: judged on its own data
        f"{AGENT},ZB000001,1,2026-08-01 09:00:00,true,1210,2026-04-15 10:00:00,"
        "6404199000,531620260000123456\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["exports", "returns", str(path), "--db", str(db), "--out", str(tmp_path / "r")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    rows = pq.read_table(tmp_path / "r" / "export_returns.parquet").to_pylist()
    assert [
        (r["cop_no"], r["gnum"], r["relieved"], r["reason"], r["export_source"]) for r in rows
    ] == [
        ("EC000001", 1, True, None, "cbec"),
        ("EC000001", 2, False, "too_late", "cbec"),
        ("EC000009", 1, False, "unknown_export", None),
        ("ZB000001", 1, True, None, "declared"),
    ]
    assert rows[3]["export_no"] == "531620260000123456"
    bad = tmp_path / "bad.csv"
    bad.write_text("agent_code,cop_no,gnum,returned_at,unchanged\nA,EC1,x,2026-08-01,true\n")
    refused = runner.invoke(app, ["exports", "returns", str(bad), "--db", str(db)])
    assert refused.exit_code == 2 and "row 2" in refused.output
    partial = tmp_path / "partial.csv"
    partial.write_text(
        "agent_code,cop_no,gnum,returned_at,unchanged,trade_mode,exported_at\n"
        "A,ZB1,1,2026-08-01,true,1210,2026-04-15\n"
    )
    refused = runner.invoke(app, ["exports", "returns", str(partial), "--db", str(db)])
    assert refused.exit_code == 2 and "row 2: a 1210 export needs gcode" in refused.output
