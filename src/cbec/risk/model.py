"""A LightGBM risk model over feature tables: fit with early stopping, then score.

Categorical columns are coded from the training table (sorted distinct values, so the codes do
not depend on row order); a value not seen in training gets no code (LightGBM's missing).
Training is deterministic for a seed: LightGBM's `deterministic` mode on a fixed thread count.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Chosen by hand and checked on the KCDD validation split (docs/risk.md). Row and column
# subsampling make the seed matter, so that the spread over seeds says something.
DEFAULT_PARAMS: Mapping[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 63,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "cat_smooth": 10.0,
}


@dataclass
class RiskModel:
    """A gradient-boosted classifier of fraud over the named feature columns."""

    numerics: Sequence[str]
    categoricals: Sequence[str] = ()
    params: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    # True: category codes are plain numbers to the trees (label encoding), not LightGBM categories.
    codes_as_numbers: bool = False
    max_rounds: int = 2000
    patience: int = 100
    booster: lgb.Booster | None = None
    best_round: int = 0
    _categories: dict[str, pa.Array] = field(default_factory=dict)

    def fit(
        self,
        train: pa.Table,
        train_labels: np.ndarray,
        valid: pa.Table,
        valid_labels: np.ndarray,
        seed: int,
    ) -> RiskModel:
        """Train on `train`, stopping when AUC on `valid` has not improved for `patience` rounds."""
        self._categories = {name: _distinct(train[name]) for name in self.categoricals}
        params = {
            **self.params,
            "metric": "auc",
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbosity": -1,
        }
        names = self.feature_names()
        categorical = [] if self.codes_as_numbers else list(self.categoricals)
        train_set = lgb.Dataset(
            self.matrix(train),
            train_labels,
            feature_name=names,
            categorical_feature=categorical,
            free_raw_data=False,
        )
        valid_set = lgb.Dataset(
            self.matrix(valid),
            valid_labels,
            reference=train_set,
            feature_name=names,
            categorical_feature=categorical,
            free_raw_data=False,
        )
        self.booster = lgb.train(
            params,
            train_set,
            num_boost_round=self.max_rounds,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(self.patience, verbose=False)],
        )
        self.best_round = self.booster.best_iteration or self.max_rounds
        print(f"risk model: seed {seed}, stopped at round {self.best_round}", file=sys.stderr)
        return self

    def score(self, table: pa.Table) -> np.ndarray:
        """The fraud probability of each row of `table`."""
        if self.booster is None:
            raise RuntimeError("the risk model is not trained: call fit() first")
        scores = self.booster.predict(self.matrix(table), num_iteration=self.best_round)
        return np.asarray(scores, dtype=np.float64)

    def feature_names(self) -> list[str]:
        return [*self.numerics, *self.categoricals]

    def matrix(self, table: pa.Table) -> np.ndarray:
        """The feature columns of `table` as one float matrix (null as NaN, categories coded)."""
        columns = [_floats(table[name]) for name in self.numerics]
        for name in self.categoricals:
            text = pc.cast(table[name], pa.string())
            columns.append(_floats(pc.index_in(text, value_set=self._categories[name])))
        return np.column_stack(columns) if columns else np.empty((table.num_rows, 0))


def _distinct(column: pa.ChunkedArray) -> pa.Array:
    values = pc.unique(pc.cast(column, pa.string()).drop_null())
    return pc.take(values, pc.sort_indices(values))


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    floats = pc.cast(column, pa.float64())
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
