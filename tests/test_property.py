"""The simulator and the pipeline check each other: on a simulated day, the pipeline finds exactly
the defects the simulator injected (and the annual-limit rejections its own ledger predicts)."""

from __future__ import annotations

from collections import Counter

from fixtures import PARCELS, ClearedDay


def test_the_pipeline_finds_exactly_the_injected_defects(cleared_day: ClearedDay) -> None:
    truth = {
        (r["agent_code"], r["cop_no"]): sorted(r["defects"]) for r in cleared_day.truth.to_pylist()
    }
    found = {
        (r["agent_code"], r["cop_no"]): sorted(r["reasons"])
        for r in cleared_day.decisions.select(["agent_code", "cop_no", "reasons"]).to_pylist()
    }
    assert len(found) == len(truth) == PARCELS
    wrong = {key: (truth[key], found.get(key)) for key in truth if found.get(key) != truth[key]}
    assert not wrong, f"{len(wrong)} declarations differ, e.g. {list(wrong.items())[:5]}"
    # The day is a real test: defects of many kinds, and buyers who reach their limit.
    kinds = Counter(d for defects in truth.values() for d in defects)
    assert len(kinds) >= 15, kinds
    assert kinds["over_annual_limit"] > 0


def test_released_declarations_pay_tax_and_rejected_ones_none(cleared_day: ClearedDay) -> None:
    rows = cleared_day.decisions.to_pylist()
    released = [r for r in rows if r["status"] == 800]
    rejected = [r for r in rows if r["status"] == 100]
    assert released and rejected
    assert all(r["reasons"] == [] for r in released)
    assert all(r["reasons"] for r in rejected)
    assert all(r["tax_total"] == 0 for r in rejected)
    assert sum(r["tax_total"] for r in released) > 0
    for r in released:
        assert r["tax_total"] == r["customs_tax"] + r["value_added_tax"] + r["consumption_tax"]
