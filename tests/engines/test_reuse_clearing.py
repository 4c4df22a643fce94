"""Micro-batches cleared on one store kept open (the online service: expressions reused from
batch to batch) decide exactly what the same batches decide on a store opened anew for each
(nothing reused), and a store re-opened on the same file starts afresh."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cbec.pipeline import Policy, clear
from cbec.simulate.messages import simulate_messages
from cbec.store.embedded import Store

AS_OF = dt.datetime(2024, 6, 15, 23, 0)  # each batch decides a minute after the one before
FAMILIES = ("CEB311", "CEB411", "CEB511", "CEB621")  # orders, payments, waybills, lists
BATCHES = 3


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A simulated day of 120 parcels, one node a message, in three batches that each hold a
    third of every family (the service's batches mix them)."""
    root = tmp_path_factory.mktemp("reuse")
    simulate_messages(120, 3, dt.date(2024, 6, 15), root / "day", nodes_per_message=1)
    files = sorted((root / "day").rglob("*.xml"))
    folders = []
    for number in range(BATCHES):
        folder = root / f"batch{number}"
        folder.mkdir()
        for family in FAMILIES:
            mine = [f for f in files if f.stem.endswith(family)]
            share = -(-len(mine) // BATCHES)
            for f in mine[number * share : (number + 1) * share]:
                shutil.copy(f, folder / f.name)
        folders.append(folder)
    return folders


def _answers(out: Path, receipts: list) -> tuple[list, list, list]:  # type: ignore[type-arg]
    decisions = pq.read_table(out / "decisions.parquet").sort_by("cop_no").to_pylist()
    order = [("cop_no", "ascending"), ("gnum", "ascending")]
    tax = pq.read_table(out / "tax_lines.parquet").sort_by(order).to_pylist()
    made = sorted((r.answers, r.code, r.file_name) for r in receipts)
    return decisions, tax, made


def test_a_store_kept_open_decides_as_one_opened_for_each_batch(
    batches: list[Path], tmp_path: Path
) -> None:
    policy = Policy.load()
    kept = Store(tmp_path / "kept.duckdb")
    kept_answers = []
    try:
        for number, folder in enumerate(batches):
            out = tmp_path / f"kept{number}"
            result = clear([folder], kept, out, policy, as_of=_moment(number), keep_receipts=True)
            kept_answers.append(_answers(out, result.kept_receipts))
        reused = kept.con.compile.built.hits
    finally:
        kept.close()
    assert reused > 50  # the later batches were built mostly from the first's expressions

    fresh_answers = []
    for number, folder in enumerate(batches):
        fresh = Store(tmp_path / "fresh.duckdb")  # the same file each time, a new connection
        try:
            out = tmp_path / f"fresh{number}"
            result = clear([folder], fresh, out, policy, as_of=_moment(number), keep_receipts=True)
            fresh_answers.append(_answers(out, result.kept_receipts))
        finally:
            fresh.close()

    assert kept_answers == fresh_answers
    decided = [d for decisions, _, _ in kept_answers for d in decisions]
    assert {d["status"] for d in decided} >= {800, 100}  # released and rejected both met
    assert sum(len(tax) for _, tax, _ in kept_answers) > 0
    for number, (decisions, _, _) in enumerate(kept_answers):  # its own time, not the first's
        assert _moment(number) in {d["decided_at"] for d in decisions}


def _moment(batch: int) -> dt.datetime:
    return AS_OF + dt.timedelta(minutes=batch)
