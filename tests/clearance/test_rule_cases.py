"""Runs the rule cases of tests/cases/: worked examples a customs officer can check by hand.

Each case is self-contained: its own tariff rows (`tariff`: the rates of every gcode it uses) and
positive list (`positive_list`; by default every gcode it uses is listed), the documents of one or
more parcels built consistent by tests/builders.py and then broken as the case says (`alter`,
`omit`), cleared through the real pipeline from JSON Lines files and CSV policy files.
"""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from builders import BUYER_ID, declaration, merge, stock_entry, write_jsonl
from cbec.pipeline import Policy, clear
from cbec.policy.lists import POSITIVE_LIST_SCHEMA, TARIFF_SCHEMA
from cbec.store.embedded import Store

CASES_DIR = Path(__file__).parent.parent / "cases"
TARIFF_COLUMNS = tuple(TARIFF_SCHEMA.names)
LIST_COLUMNS = tuple(POSITIVE_LIST_SCHEMA.names)
DECISION_FIELDS = (
    "status",
    "dutiable_value",
    "customs_tax",
    "value_added_tax",
    "consumption_tax",
    "tax_total",
)


def _load_cases() -> list[Any]:
    cases = []
    # tests/cases/risk/ holds the risk rules' cases, run by tests/risk/test_risk_rule_cases.py.
    paths = CASES_DIR.rglob("*.yaml")
    for path in sorted(p for p in paths if p.relative_to(CASES_DIR).parts[0] != "risk"):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            cases.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return cases


def _declarations(case: dict[str, Any]) -> list[dict[str, Any]]:
    if "declarations" in case:
        return list(case["declarations"])
    single = {
        k: case[k] for k in ("lines", "alter", "omit", "freight", "mode", "buyer_id") if k in case
    }
    return [
        {"cop_no": "C1", "when": f"{case['date']}T10:00:00", **single, "expect": case["expect"]}
    ]


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return path


def _policy(case: dict[str, Any], gcodes: set[str], folder: Path) -> Policy:
    rates = case.get("tariff", {})
    tariff_rows = [
        {
            "code": code,
            "name": f"goods {code}",
            "mfn_rate": rates.get("mfn_rate", "0"),
            "vat_rate": rates.get("vat_rate", "0.13"),
            "source": "test case",
            **rates,
        }
        for code in sorted(gcodes)
    ]
    if "positive_list" in case:
        list_rows = [
            {
                "name": "listed",
                "remark_kind": "none",
                "valid_from": "2016-04-08",
                "source": "test case",
                **row,
            }
            for row in case["positive_list"]
        ]
    else:
        list_rows = [
            {
                "code": code,
                "name": "listed",
                "remark_kind": "none",
                "valid_from": "2016-04-08",
                "source": "test case",
            }
            for code in sorted({g[:8] for g in gcodes})
        ]
    policy = Policy.load(
        tariff=_write_csv(folder / "tariff.csv", TARIFF_COLUMNS, tariff_rows),
        positive_list_file=_write_csv(folder / "positive_list.csv", LIST_COLUMNS, list_rows),
    )
    # The cases judge the clearance rules; the risk rules are judged in tests/risk (a case's
    # 8 CNY cosmetics would be held for inspection as far below its reference price).
    return dataclasses.replace(policy, risk_rules=())


def _stock(case: dict[str, Any], specs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The bonded stock of a case: `stock` (itemRecordNo -> qty) when it gives one, else ample
    stock of every item record its bonded declarations use (R1, R2 ... by line)."""
    if "stock" in case:
        return stock_entry(case["stock"])
    bonded = [s for s in specs if str(s.get("mode", case.get("mode", "9610"))) != "9610"]
    lines = max((len(s["lines"]) for s in bonded), default=0)
    return stock_entry({f"R{n}": 1000 for n in range(1, lines + 1)}) if bonded else {}


@pytest.mark.parametrize("case", _load_cases())
def test_rule_case(case: dict[str, Any], tmp_path: Path) -> None:
    assert case.get("reference"), "every rule case cites its regulation"
    specs = _declarations(case)
    parts = []
    for spec in specs:
        parts.append(
            declaration(
                cop_no=spec["cop_no"],
                lines=spec["lines"],
                when=spec.get("when", f"{case['date']}T10:00:00"),
                mode=str(spec.get("mode", case.get("mode", "9610"))),
                freight=spec.get("freight", case.get("freight", "0")),
                buyer_id=spec.get("buyer_id", case.get("buyer_id", BUYER_ID)),
                alter=spec.get("alter"),
                omit=tuple(spec.get("omit", ())),
            )
        )
    parts.append(_stock(case, specs))
    folder = write_jsonl(tmp_path / "in", merge(*parts))
    gcodes = {line["gcode"] for spec in specs for line in spec["lines"]}
    policy = _policy(case, gcodes, tmp_path)
    store = Store(tmp_path / "cbec.duckdb")
    try:
        result = clear([folder], store, tmp_path / "out", policy)
    finally:
        store.close()
    assert not result.errors, result.errors
    decisions = {
        row["cop_no"]: row
        for row in pq.read_table(tmp_path / "out" / "decisions.parquet").to_pylist()
    }
    lines = pq.read_table(tmp_path / "out" / "tax_lines.parquet").to_pylist()
    assert len(decisions) == len(specs)
    for spec in specs:
        expect = spec["expect"]
        decision = decisions[spec["cop_no"]]
        for name in DECISION_FIELDS:
            if name in expect:
                wanted = expect[name] if name == "status" else Decimal(str(expect[name]))
                assert decision[name] == wanted, (spec["cop_no"], name, decision)
        if "reasons" in expect:
            assert decision["reasons"] == expect["reasons"], (spec["cop_no"], decision)
        elif expect.get("status") == 800:
            assert decision["reasons"] == [], (spec["cop_no"], decision)
        for line_expect in expect.get("lines", []):
            line = next(
                row
                for row in lines
                if row["cop_no"] == spec["cop_no"] and row["gnum"] == line_expect["gnum"]
            )
            for name, value in line_expect.items():
                if name != "gnum":
                    assert line[name] == Decimal(str(value)), (spec["cop_no"], name, line)
