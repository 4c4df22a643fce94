"""The risk model: one seed, one set of scores; an unseen category is missing, not an error."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cbec.risk.model import RiskModel


def _table(rows: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Fraud is likelier for low value per kg and for origin "XX", with noise."""
    rng = np.random.default_rng(seed)
    value_per_kg = rng.lognormal(3.0, 1.0, rows)
    origin = rng.choice(["CN", "US", "XX", "JP"], rows)
    odds = np.where(value_per_kg < 10, 2.0, -1.5) + np.where(origin == "XX", 1.5, 0.0)
    labels = (rng.random(rows) < 1 / (1 + np.exp(-odds))).astype(np.int64)
    table = pa.table({"log_value_per_weight": np.log(value_per_kg), "origin": origin})
    return table, labels


def _scores(seed: int) -> np.ndarray:
    train, train_labels = _table(600, 1)
    valid, valid_labels = _table(200, 2)
    test, _ = _table(100, 3)
    model = RiskModel(numerics=["log_value_per_weight"], categoricals=["origin"], max_rounds=60)
    model.fit(train, train_labels, valid, valid_labels, seed=seed)
    return model.score(test)


def test_the_same_seed_gives_the_same_scores() -> None:
    first = _scores(seed=7)
    assert np.array_equal(first, _scores(seed=7))
    assert not np.array_equal(first, _scores(seed=8))  # subsampling follows the seed


def test_a_category_unseen_in_training_is_scored() -> None:
    train, train_labels = _table(600, 1)
    valid, valid_labels = _table(200, 2)
    model = RiskModel(numerics=["log_value_per_weight"], categoricals=["origin"], max_rounds=20)
    model.fit(train, train_labels, valid, valid_labels, seed=1)
    unseen = pa.table({"log_value_per_weight": [1.0, 1.0], "origin": ["ZZ", None]})
    scores = model.score(unseen)
    assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1))
