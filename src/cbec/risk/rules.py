"""Risk rules as data: named, dated conditions over risk features, each with a weight or a hard
outcome and its rationale (`cbec/policy/data/risk_rules.yaml`, docs/risk.md "Rules").

`apply_rules` evaluates every rule on an Arrow table of features at once (one vectorised
comparison per condition, no loop over rows), so it runs on any Arrow batch: DuckDB's, or a Spark
partition's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from cbec.policy.errors import PolicyDataError
from cbec.policy.lists import default_data_dir

COMPARISONS = {"below": pc.less, "at_most": pc.less_equal, "at_least": pc.greater_equal,
               "above": pc.greater}  # fmt: skip
OUTCOMES = ("inspect", "review")
# Hard outcomes as numbers, so that the strongest one of several rules is a maximum.
NO_OUTCOME, REVIEW, INSPECT = 0, 1, 2
_OUTCOME_CODE = {"review": REVIEW, "inspect": INSPECT}


@dataclass(frozen=True)
class Condition:
    feature: str
    comparison: str  # a key of COMPARISONS
    value: float


@dataclass(frozen=True)
class Rule:
    name: str
    since: dt.date
    until: dt.date | None
    conditions: tuple[Condition, ...]
    weight: float  # 0 for a rule with a hard outcome
    outcome: str | None  # "inspect", "review" or None
    rationale: str
    reference: str


def default_rules_path() -> Path:
    return default_data_dir() / "risk_rules.yaml"


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    """The rules of `path` (the shipped file by default); a bad rule raises `PolicyDataError`
    naming the file, the rule and what is wrong."""
    path = path or default_rules_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyDataError(f"{path}: cannot read the risk rules: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise PolicyDataError(f"{path}: expected a mapping with a 'rules' list")
    rules = [_rule(path, index, entry) for index, entry in enumerate(raw["rules"], start=1)]
    names = [rule.name for rule in rules]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PolicyDataError(f"{path}: rule name(s) used twice: {', '.join(repeated)}")
    return tuple(rules)


def _rule(path: Path, index: int, entry: object) -> Rule:
    where = f"{path}, rule {index}"
    if not isinstance(entry, dict) or not entry.get("name"):
        raise PolicyDataError(f"{where}: a rule is a mapping with a 'name'")
    where = f"{path}, rule {entry['name']!r}"
    for needed in ("since", "when", "rationale", "reference"):
        if not entry.get(needed):
            raise PolicyDataError(f"{where}: '{needed}' is missing")
    since, until = entry["since"], entry.get("until")
    if not isinstance(since, dt.date) or (until is not None and not isinstance(until, dt.date)):
        raise PolicyDataError(f"{where}: 'since' and 'until' are dates (YYYY-MM-DD)")
    has_weight, outcome = "weight" in entry, entry.get("outcome")
    if has_weight == (outcome is not None):
        raise PolicyDataError(f"{where}: give either 'weight' or 'outcome', not both or neither")
    if outcome is not None and outcome not in OUTCOMES:
        raise PolicyDataError(f"{where}: outcome must be one of {', '.join(OUTCOMES)}")
    weight = entry.get("weight", 0)
    if has_weight and (not isinstance(weight, int | float) or weight <= 0):
        raise PolicyDataError(f"{where}: weight must be a positive number")
    if not isinstance(entry["when"], dict):
        raise PolicyDataError(f"{where}: 'when' maps features to comparisons")
    conditions = []
    for feature, tests in entry["when"].items():
        if not isinstance(tests, dict) or not tests:
            raise PolicyDataError(f"{where}: {feature}: give a comparison such as {{below: 0.2}}")
        for comparison, value in tests.items():
            if comparison not in COMPARISONS or not isinstance(value, int | float):
                raise PolicyDataError(
                    f"{where}: {feature}: {comparison!r} must be one of "
                    f"{', '.join(COMPARISONS)} with a number"
                )
            conditions.append(Condition(str(feature), comparison, float(value)))
    return Rule(
        name=str(entry["name"]),
        since=since,
        until=until,
        conditions=tuple(conditions),
        weight=float(weight),
        outcome=outcome,
        rationale=" ".join(str(entry["rationale"]).split()),
        reference=" ".join(str(entry["reference"]).split()),
    )


def features_used(rules: tuple[Rule, ...]) -> set[str]:
    return {condition.feature for rule in rules for condition in rule.conditions}


@dataclass(frozen=True)
class RuleResult:
    score: npt.NDArray[np.float64]  # sum of the weights of the rules that hold
    outcome: npt.NDArray[np.int8]  # NO_OUTCOME, REVIEW or INSPECT: the strongest hard outcome
    fired: pa.Array  # list<string>: names of the rules that hold, in file order
    holds: dict[str, npt.NDArray[np.bool_]]  # per rule name


def apply_rules(
    features: pa.Table, days: pa.Array | pa.ChunkedArray, rules: tuple[Rule, ...]
) -> RuleResult:
    """Evaluate `rules` on each row of `features` (a rule holds only on the days it is in force:
    `days` gives each row's declaration date). A feature column that is absent or null makes
    its conditions false."""
    rows = features.num_rows
    day_numbers = np.asarray(pc.cast(days, pa.date32()).to_numpy(zero_copy_only=False))
    score = np.zeros(rows, dtype=np.float64)
    outcome = np.zeros(rows, dtype=np.int8)
    holds: dict[str, npt.NDArray[np.bool_]] = {}
    for rule in rules:
        held = (day_numbers >= np.datetime64(rule.since)) if rows else np.zeros(0, bool)
        if rule.until is not None:
            held &= day_numbers < np.datetime64(rule.until)
        for condition in rule.conditions:
            if condition.feature not in features.column_names:
                held &= False
                continue
            column = pc.cast(features[condition.feature], pa.float64())
            test = COMPARISONS[condition.comparison](column, condition.value)
            held &= np.asarray(pc.fill_null(test, False).to_numpy(zero_copy_only=False), bool)
        holds[rule.name] = held
        if rule.outcome is None:
            score += np.where(held, rule.weight, 0.0)
        else:
            outcome = np.maximum(outcome, np.where(held, _OUTCOME_CODE[rule.outcome], 0)).astype(
                np.int8
            )
    return RuleResult(score, outcome, _names(rules, holds, rows), holds)


def _names(rules: tuple[Rule, ...], holds: dict[str, npt.NDArray[np.bool_]], rows: int) -> pa.Array:
    """A list of the names of the rules that hold, per row, built without a loop over rows."""
    if not rules or rows == 0:
        return pa.array([[] for _ in range(rows)], pa.list_(pa.string()))
    matrix = np.column_stack([holds[rule.name] for rule in rules])  # rows x rules
    names = pa.array([rule.name for rule in rules], pa.string())
    _, rule_index = np.nonzero(matrix)  # row-major: rows ascending, rules in file order
    offsets = np.concatenate([[0], np.cumsum(matrix.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), names.take(pa.array(rule_index)))
