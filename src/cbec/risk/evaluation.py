"""How well a score ranks fraud: precision and recall at the top n %, and AUC.

Precision at n % is over the top ceil(n % of rows) by score, as in the KCDD paper; ties in score
are broken by row order (a stable sort), so the figures are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

TOP_PERCENTS = (1, 2, 5, 10)


def top_count(rows: int, percent: float) -> int:
    """How many rows the top `percent` % of `rows` holds: ceil, computed exactly for whole %."""
    return min(rows, math.ceil(rows * percent / 100 - 1e-9))


def _top(scores: np.ndarray, percent: float) -> np.ndarray:
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return order[: top_count(len(scores), percent)]


def precision_at(labels: np.ndarray, scores: np.ndarray, percent: float) -> float:
    """Share of frauds among the top `percent` % of rows by score."""
    top = _top(scores, percent)
    return float(np.asarray(labels)[top].mean()) if len(top) else 0.0


def recall_at(labels: np.ndarray, scores: np.ndarray, percent: float) -> float:
    """Share of all frauds that the top `percent` % of rows by score finds."""
    labels = np.asarray(labels)
    frauds = labels.sum()
    return float(labels[_top(scores, percent)].sum() / frauds) if frauds else 0.0


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    labels = np.asarray(labels).astype(bool)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs at least one fraud and one non-fraud")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


@dataclass(frozen=True)
class Run:
    """The measures of one scoring: AUC, and precision and recall per top percentage."""

    auc: float
    precision: dict[str, float]
    recall: dict[str, float]


def measures(labels: np.ndarray, scores: np.ndarray) -> Run:
    """AUC, precision and recall at each of `TOP_PERCENTS`, for one run."""
    return Run(
        auc=auc(labels, scores),
        precision={str(n): precision_at(labels, scores, n) for n in TOP_PERCENTS},
        recall={str(n): recall_at(labels, scores, n) for n in TOP_PERCENTS},
    )


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"mean": round(float(np.mean(values)), 4), "sd": round(float(np.std(values)), 4)}


def summarize(runs: Sequence[Run]) -> dict[str, object]:
    """Mean and (population) standard deviation of each measure over `runs`, rounded to 4 places."""
    return {
        "auc": _spread([run.auc for run in runs]),
        "precision": {str(n): _spread([r.precision[str(n)] for r in runs]) for n in TOP_PERCENTS},
        "recall": {str(n): _spread([r.recall[str(n)] for r in runs]) for n in TOP_PERCENTS},
    }
