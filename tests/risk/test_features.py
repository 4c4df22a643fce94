"""Risk features: fraud history only from earlier days, smoothing, prices against the line."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import pyarrow as pa
import pytest

from cbec.risk.features import FeatureSpec, build_features

SPEC = FeatureSpec(entities=("importer",), smoothing=2.0)
# (id, day of June 2024, importer, declared value, label)
Row = tuple[str, int, str, float, int | None]


def _declarations(rows: list[Row]) -> pa.Table:
    """Declarations of 2 kg each on HS line 6111200050."""
    return pa.table(
        {
            "declaration_id": [r[0] for r in rows],
            "decl_day": [dt.date(2024, 6, r[1]) for r in rows],
            "hs_code": ["6111200050"] * len(rows),
            "declared_value": [r[3] for r in rows],
            "net_weight": [2.0] * len(rows),
            "quantity": pa.nulls(len(rows), pa.float64()),
            "importer": [r[2] for r in rows],
            "label": pa.array([r[4] for r in rows], pa.int64()),
        }
    )


HISTORY = [
    ("D1", 1, "A", 100.0, 1),
    ("D2", 1, "B", 100.0, 0),
    ("D3", 2, "A", 100.0, 0),
    ("D4", 3, "A", 300.0, 1),  # the row judged below
    ("D5", 3, "A", 100.0, 1),  # same day: not yet known
    ("D6", 4, "A", 100.0, 1),  # later: not known
]


def _features_of(rows: list[Row], key: str) -> dict[str, object]:
    table = ibis.memtable(_declarations(rows))
    features = build_features(table.drop("label"), table, SPEC).to_pyarrow().to_pylist()
    return next(row for row in features if row["declaration_id"] == key)


def test_history_counts_only_earlier_days() -> None:
    row = _features_of(HISTORY, "D4")
    assert row["importer__outcomes"] == 2  # D1, D3
    assert row["importer__frauds"] == 1
    # Overall before day 3: 1 fraud in 3 outcomes; smoothed: (1 + 2 x 1/3) / (2 + 2).
    assert row["importer__fraud_rate"] == pytest.approx((1 + 2 / 3) / 4)


def _relabel(rows: list[Row], days: range, label: int | None) -> list[Row]:
    return [(*r[:4], label) if r[1] in days else r for r in rows]


def test_own_and_later_labels_change_nothing() -> None:
    before = _features_of(HISTORY, "D4")
    assert _features_of(_relabel(HISTORY, range(3, 5), None), "D4") == before
    assert _features_of(_relabel(HISTORY, range(3, 5), 0), "D4") == before
    assert _features_of(_relabel(HISTORY, range(1, 3), 0), "D4") != before  # earlier ones do


def test_first_declaration_has_no_history() -> None:
    row = _features_of(HISTORY, "D1")
    assert row["importer__outcomes"] == 0
    assert row["importer__fraud_rate"] == 0.0


def test_price_against_the_line_and_value_per_weight() -> None:
    row = _features_of(HISTORY, "D4")
    # Unit price per kg: 50 for five rows and 150 for D4; the line's median is 50.
    assert row["log_price_to_reference"] == pytest.approx(math.log(3))
    assert row["log_value_per_weight"] == pytest.approx(math.log(150))


def test_zero_value_and_weight_are_missing_not_errors() -> None:
    rows: list[Row] = [("D1", 1, "A", 0.0, 1), ("D2", 2, "A", -5.0, None)]
    table = _declarations(rows).set_column(4, "net_weight", pa.array([0.0, 2.0]))
    features = build_features(ibis.memtable(table), ibis.memtable(table), SPEC).to_pyarrow()
    features = features.sort_by("declaration_id")
    assert features["log_value"].null_count == 2
    assert features["log_value_per_weight"].null_count == 2
    assert features["log_price_to_reference"][0].as_py() is None  # no weight, no unit price
