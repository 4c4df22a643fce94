"""Shared test set-up: tests import their builders from this folder."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest

from fixtures import ClearedDay, simulate_and_clear


@pytest.fixture(scope="session")
def cleared_day(tmp_path_factory: pytest.TempPathFactory) -> ClearedDay:
    """A simulated day of 50,000 parcels, cleared once for the tests that read it."""
    return simulate_and_clear(tmp_path_factory.mktemp("cleared_day"))
