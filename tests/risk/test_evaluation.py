"""Precision and recall at the top n %, and AUC, on examples worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from cbec.risk.evaluation import auc, measures, precision_at, recall_at, summarize, top_count

# Ten declarations, best score first once sorted: frauds at ranks 1, 2, 4 and 7.
SCORES = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.05, 0.4, 0.5])
LABELS = np.array([1, 0, 1, 0, 0, 0, 1, 0, 1, 0])
# Ranked by score: 0.9(1) 0.8(1) 0.7(0) 0.6(1) 0.5(0) 0.4(1) 0.3(0) 0.2(0) 0.1(0) 0.05(0)


def test_the_top_is_rounded_up() -> None:
    assert top_count(10, 10) == 1
    assert top_count(10, 25) == 3  # 2.5 rows -> 3
    assert top_count(8134, 5) == 407  # 406.7 -> 407
    assert top_count(200, 5) == 10  # exactly 10, not 11 from float error
    assert top_count(3, 1) == 1


def test_precision_at_the_top() -> None:
    assert precision_at(LABELS, SCORES, 10) == 1.0  # top 1: 0.9 fraud
    assert precision_at(LABELS, SCORES, 30) == pytest.approx(2 / 3)  # 0.9, 0.8, 0.7
    assert precision_at(LABELS, SCORES, 50) == pytest.approx(3 / 5)


def test_recall_at_the_top() -> None:
    assert recall_at(LABELS, SCORES, 10) == pytest.approx(1 / 4)
    assert recall_at(LABELS, SCORES, 40) == pytest.approx(3 / 4)
    assert recall_at(LABELS, SCORES, 60) == 1.0


def test_auc_counts_ordered_pairs() -> None:
    # Pairs (fraud, non-fraud) = 4 x 6 = 24; a fraud outranks a non-fraud in: 0.9: 6, 0.8: 6,
    # 0.6: 5 (not 0.7), 0.4: 4 (not 0.7, 0.5) -> 21 of 24.
    assert auc(LABELS, SCORES) == pytest.approx(21 / 24)
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5  # a tie counts half
    with pytest.raises(ValueError, match="at least one fraud"):
        auc(np.array([0, 0]), np.array([0.1, 0.2]))


def test_ties_in_score_keep_row_order() -> None:
    labels = np.array([0, 1, 1, 0])
    assert precision_at(labels, np.zeros(4), 25) == 0.0  # first row wins the tie


def test_summary_is_mean_and_standard_deviation() -> None:
    runs = [measures(LABELS, SCORES), measures(LABELS, -SCORES)]
    summary = summarize(runs)
    assert summary["auc"] == {"mean": 0.5, "sd": 0.375}  # 21/24 and 3/24
    precision = summary["precision"]
    assert isinstance(precision, dict)
    assert set(precision) == {"1", "2", "5", "10"}
    assert precision["10"] == {"mean": 0.5, "sd": 0.5}  # 1.0 and 0.0 over the top row
