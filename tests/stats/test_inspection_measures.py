"""Inspection rate, hit rate and tax collected, from what the risk selection, the inspectors
and the withholding agents recorded.

On a copy of the hand-checked store (conftest.py), the risk tables say: B1 and B2 were selected
for inspection (500); B1's inspection found nothing, B2's found undervalued goods; B4 was held
for manual review (300), which is not an inspection. In June 2024 (B1, B2, B3, B5) the inspection
rate is 2 / 4 = 50 %, the hit rate 1 found in 2 recorded = 50 %; over 2023 it is 0 and n/a.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from stats_world import StatsStore

from cbec.stats import Period, operations
from cbec.stats.facts import Facts
from cbec.store.embedded import Store


def _copy(stats_store: StatsStore, tmp_path: Path) -> Path:
    db = tmp_path / stats_store.db.name
    shutil.copy(stats_store.db, db)
    documents = stats_store.db.with_name(stats_store.db.name + ".documents")
    shutil.copytree(documents, db.with_name(db.name + ".documents"))
    return db


def _record(store: Store) -> None:
    raw = store.con.con
    agents = {
        cop: agent for agent, cop in raw.sql("SELECT agent_code, cop_no FROM decisions").fetchall()
    }
    for cop, status in (("B1", 500), ("B2", 500), ("B4", 300)):
        raw.execute(
            "INSERT INTO risk_decisions VALUES (?, ?, ?, 'score', 'v1', 0.9, 0, [], [], 0.5, 'b')",
            [agents[cop], cop, status],
        )
    for cop, found in (("B1", False), ("B2", True)):
        raw.execute(
            "INSERT INTO risk_outcomes (agent_code, cop_no, held_status, found, finding, action, "
            "status, recorded_at) VALUES (?, ?, 500, ?, ?, ?, 800, '2024-06-06 10:00:00')",
            [agents[cop], cop, found, "undervalued" if found else None, "release"],
        )


def test_inspection_rate_and_hit_rate(stats_store: StatsStore, tmp_path: Path) -> None:
    store = Store(_copy(stats_store, tmp_path))
    try:
        _record(store)
        source = Facts(store)
        june = Period.parse("2024-06")
        ops = operations(source, june.start, june.end)
        assert (ops.declarations, ops.selected) == (4, 2)
        assert ops.inspection_rate == pytest.approx(0.5)
        assert (ops.inspections_recorded, ops.inspections_found) == (2, 1)
        assert ops.inspection_hit_rate == pytest.approx(0.5)
        assert ops.inspected == 0  # both were released after their inspection
        year_2023 = Period.parse("2023")
        earlier = operations(source, year_2023.start, year_2023.end)
        assert earlier.inspection_rate == 0.0 and earlier.inspection_hit_rate is None
    finally:
        store.close()


def test_tax_collected_is_what_the_agents_paid(stats_store: StatsStore, tmp_path: Path) -> None:
    """B1 (tax 18.20) is paid with a late fee of 0.09; B2 (78.28) is not paid yet: June's tax
    collected is 18.20 of the 96.48 assessed, with 0.09 in late fees."""
    store = Store(_copy(stats_store, tmp_path))
    try:
        raw = store.con.con
        (agent,) = raw.sql("SELECT agent_code FROM decisions WHERE cop_no = 'B1'").fetchall()[0]
        raw.execute(
            "INSERT INTO tax_payments VALUES ('T1', ?, 'B1', 'A', 18.20, 0.09, "
            "'2024-07-21 10:00:00', '2024-07-21 10:00:00')",
            [agent],
        )
        june = Period.parse("2024-06")
        ops = operations(Facts(store), june.start, june.end)
        assert str(ops.tax_total) == "96.48"
        assert (str(ops.tax_collected), str(ops.late_fees)) == ("18.20", "0.09")
    finally:
        store.close()
