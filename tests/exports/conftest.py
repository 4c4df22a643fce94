from __future__ import annotations

import pytest

from cbec.pipeline import Policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()
