"""The risk rule cases of tests/cases/risk/rules.yaml, through the rules and the selection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from test_selection import POLICY

from cbec.risk.rules import apply_rules, load_rules
from cbec.risk.scoring import hash_draw, score_and_select

CASES = yaml.safe_load(
    (Path(__file__).parent.parent / "cases" / "risk" / "rules.yaml").read_text(encoding="utf-8")
)
SEED = 4


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_risk_rule_case(case: dict[str, Any]) -> None:
    assert case["reference"]
    day = case["date"] if isinstance(case["date"], dt.date) else dt.date.fromisoformat(case["date"])
    features = pa.table({k: [float(v)] for k, v in case["features"].items()})
    rules = load_rules()
    result = apply_rules(features, pa.array([day]), rules)
    expect = case["expect"]
    assert result.score.tolist() == pytest.approx([expect["rule_score"]])
    assert result.fired.to_pylist() == [expect["fired"]]
    cop_no = "CASE0001"
    assert hash_draw(pa.array([cop_no]), SEED)[0] >= 0.002  # not drawn for exploration
    batch = features.append_column("agent_code", pa.array(["A"])).append_column(
        "cop_no", pa.array([cop_no])
    )
    batch = batch.append_column("decl_date", pa.array([day]))
    for name, value in POLICY.items():
        batch = batch.append_column(name, pa.array([value]))
    batch = batch.append_column("credit", pa.array([None], pa.string()))
    chosen = score_and_select(batch, rules, None, SEED).to_pylist()[0]
    assert chosen["status"] == expect["status"]
