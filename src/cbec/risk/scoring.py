"""Score and select on Arrow batches: the same function on DuckDB's batches and, later, on a
Spark partition's (`mapInArrow`), so the outcome never depends on the engine or on the batch.

A declaration's fate depends only on its own row: its risk score (the registered model's, or the
rules' without a model) against a threshold fixed per model version, and a draw from a hash of
its `cop_no` and the store's risk seed. Nothing compares rows with each other ("the top 2 % of
this batch" would depend on the batch); DESIGN.md, "Determinism".
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cbec.risk.rules import INSPECT, REVIEW, Rule, apply_rules

RELEASED, REVIEWED, INSPECTED = 800, 300, 500
RULES_VERSION = "rules"  # the model version recorded when no model is registered
TOP_FEATURES = 3
# The calibration keeps the score at each of these quantiles of the calibration set.
QUANTILES = np.linspace(0.0, 1.0, 10_001)

_FNV_OFFSET, _FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3
_MASK = (1 << 64) - 1

# Columns of the batch selection reads, besides the features: the policy in force on the
# declaration's date and the credit grade of its parties (`credit`: advanced, dishonest or null).
POLICY_COLUMNS = ("inspection_rate", "exploration_share", "review_share",
                  "credit_advanced_factor", "credit_dishonest_rate", "rules_inspection_score",
                  "rules_review_score")  # fmt: skip

# Why a declaration was held, in the order the reasons are tried (the first that applies wins).
SELECTIONS = ("rule", "score", "exploration", "credit", "review_band")

RISK_DECISION = pa.schema(
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("status", pa.int32()),
        ("selection", pa.string()),  # rule, score, exploration, credit, review_band, or null
        ("model_version", pa.string()),
        ("risk_score", pa.float64()),
        ("rule_score", pa.float64()),
        ("fired_rules", pa.list_(pa.string())),
        ("top_features", pa.list_(pa.string())),
        ("draw", pa.float64()),
    ]
)


@dataclass
class ScoringModel:
    """A registered model version: the booster, its inputs and its score calibration."""

    version: str
    booster_text: str
    numerics: list[str]
    categoricals: list[str]
    categories: dict[str, list[str]]
    calibration: list[float]  # score at each of QUANTILES on the calibration set
    metrics: dict[str, Any] = field(default_factory=dict)
    _booster: Any = None

    @property
    def booster(self) -> Any:
        if self._booster is None:
            import lightgbm as lgb

            self._booster = lgb.Booster(model_str=self.booster_text)
        return self._booster

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "booster": base64.b64encode(self.booster_text.encode()).decode(),
                "numerics": self.numerics,
                "categoricals": self.categoricals,
                "categories": self.categories,
                "calibration": self.calibration,
                "metrics": self.metrics,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ScoringModel:
        raw = json.loads(text)
        return cls(
            version=raw["version"],
            booster_text=base64.b64decode(raw["booster"]).decode(),
            numerics=list(raw["numerics"]),
            categoricals=list(raw["categoricals"]),
            categories={k: list(v) for k, v in raw["categories"].items()},
            calibration=[float(x) for x in raw["calibration"]],
            metrics=dict(raw.get("metrics", {})),
        )

    def matrix(self, table: pa.Table) -> npt.NDArray[np.float64]:
        """The model's inputs: numbers as floats (null as NaN), categories as their codes."""
        columns = [_floats(_column(table, name)) for name in self.numerics]
        for name in self.categoricals:
            known = pa.array(self.categories.get(name, []), pa.string())
            text = pc.cast(_column(table, name), pa.string())
            columns.append(_floats(pc.index_in(text, value_set=known)))
        return np.column_stack(columns) if columns else np.empty((table.num_rows, 0))

    def threshold(self, share: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The score above which `share` of the calibration set lies (per row)."""
        level = np.clip(1.0 - share, 0.0, 1.0)
        cut = np.interp(level, QUANTILES, np.asarray(self.calibration, dtype=np.float64))
        # A share of 0 selects nothing, not the single highest score.
        return np.where(share > 0, cut, np.inf)


def calibration_of(scores: npt.NDArray[np.float64]) -> list[float]:
    """The calibration stored with a model version: its scores' quantiles."""
    return (
        [float(x) for x in np.quantile(scores, QUANTILES)]
        if len(scores)
        else [1.0] * len(QUANTILES)
    )


def hash_draw(cop_no: pa.Array | pa.ChunkedArray, seed: int) -> npt.NDArray[np.float64]:
    """A number in [0, 1) per `cop_no`: FNV-1a over its UTF-8 bytes from a seeded start, then
    SplitMix64's finalizer. Vectorised over rows (a loop over byte positions only)."""
    text = pc.cast(cop_no, pa.string())
    array = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    array = pc.fill_null(array, "")
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + n + 1]
    data_buffer = array.buffers()[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(1, np.uint8)
    )
    if data.size == 0:
        data = np.zeros(1, np.uint8)
    starts, lengths = offsets[:-1].astype(np.int64), np.diff(offsets).astype(np.int64)
    h = np.full(n, (_FNV_OFFSET ^ _splitmix(seed & _MASK)) & _MASK, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for position in range(int(lengths.max()) if n else 0):
            present = position < lengths
            byte = data[np.minimum(starts + position, data.size - 1)].astype(np.uint64)
            mixed = (h ^ byte) * np.uint64(_FNV_PRIME)
            h = np.where(present, mixed, h)
        z = h
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _splitmix(value: int) -> int:
    z = (value + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def score_and_select(
    batch: pa.Table | pa.RecordBatch,
    rules: tuple[Rule, ...],
    model: ScoringModel | None,
    seed: int,
) -> pa.Table:
    """The risk decision (RISK_DECISION) of each admitted declaration of `batch`.

    `batch` has the keys, `decl_date`, the feature columns, POLICY_COLUMNS and `credit`.
    """
    table = pa.table(batch) if isinstance(batch, pa.RecordBatch) else batch
    n = table.num_rows
    ruled = apply_rules(table, table["decl_date"], rules)
    draw = hash_draw(table["cop_no"], seed)
    policy = {name: _floats(_column(table, name)) for name in POLICY_COLUMNS}
    credit = pc.cast(_column(table, "credit"), pa.string())
    advanced = _mask(pc.equal(credit, "advanced"))
    dishonest = _mask(pc.equal(credit, "dishonest"))
    rate = np.nan_to_num(policy["inspection_rate"])
    rate = np.where(advanced, rate * np.nan_to_num(policy["credit_advanced_factor"], nan=1.0), rate)
    explore = rate * np.nan_to_num(policy["exploration_share"])
    by_score = rate - explore
    review = np.nan_to_num(policy["review_share"])

    top: pa.Array
    if model is None:
        score = ruled.score
        inspect_cut = np.nan_to_num(policy["rules_inspection_score"], nan=np.inf)
        review_cut = np.nan_to_num(policy["rules_review_score"], nan=np.inf)
        version = RULES_VERSION
        top = _empty_lists(n)
    else:
        features = table.append_column("rule_score", pa.array(ruled.score, pa.float64()))
        matrix = model.matrix(features)
        score = np.asarray(model.booster.predict(matrix), dtype=np.float64) if n else np.zeros(0)
        inspect_cut = model.threshold(by_score)
        review_cut = model.threshold(by_score + review)
        version = model.version
        top = _top_features(model, matrix) if n else _empty_lists(0)

    credit_pick = dishonest & (draw < np.nan_to_num(policy["credit_dishonest_rate"]))
    chosen = [
        ("rule", ruled.outcome == INSPECT),
        ("score", score >= inspect_cut),
        ("exploration", draw < explore),
        ("credit", credit_pick),
        ("rule", ruled.outcome == REVIEW),
        ("review_band", score >= review_cut),
    ]
    status = np.full(n, RELEASED, dtype=np.int32)
    selection = np.full(n, -1, dtype=np.int32)  # index into SELECTIONS; -1 none
    for index, (why, picked) in enumerate(chosen):
        now = (status == RELEASED) & picked  # the first reason in this order wins
        status = np.where(now, INSPECTED if index < 4 else REVIEWED, status)
        selection = np.where(now, SELECTIONS.index(why), selection)
    reasons = pa.DictionaryArray.from_arrays(
        pa.array(selection, pa.int32(), mask=selection < 0), pa.array(SELECTIONS, pa.string())
    )
    return pa.table(
        {
            "agent_code": table["agent_code"],
            "cop_no": table["cop_no"],
            "status": pa.array(status, pa.int32()),
            "selection": pc.cast(reasons, pa.string()),
            "model_version": pa.repeat(pa.scalar(version, pa.string()), n),
            "risk_score": pa.array(score, pa.float64()),
            "rule_score": pa.array(ruled.score, pa.float64()),
            "fired_rules": ruled.fired,
            "top_features": top,
            "draw": pa.array(draw, pa.float64()),
        },
        schema=RISK_DECISION,
    )


def _top_features(model: ScoringModel, matrix: npt.NDArray[np.float64]) -> pa.Array:
    """Names of the TOP_FEATURES inputs that raise each row's score most (LightGBM's
    contributions, `pred_contrib`; the last column is the bias and is left out)."""
    contributions = np.asarray(model.booster.predict(matrix, pred_contrib=True))[:, :-1]
    names = pa.array([*model.numerics, *model.categoricals], pa.string())
    k = min(TOP_FEATURES, contributions.shape[1])
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :k]
    positive = np.take_along_axis(contributions, order, axis=1) > 0
    offsets = np.concatenate([[0], np.cumsum(positive.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), names.take(pa.array(order[positive])))


def _empty_lists(n: int) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()))


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return table[name]
    return pa.chunked_array([pa.nulls(table.num_rows, pa.float64())])


def _mask(values: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _floats(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.float64]:
    floats = pc.cast(column, pa.float64())
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
