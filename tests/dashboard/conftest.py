"""Fixtures of the dashboard tests: the served day and the browser (dashboard_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_world import Served, launch, serve


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with launch() as launched:
        yield launched
