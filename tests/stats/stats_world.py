"""Names the statistics tests share with their fixtures (conftest.py): imported by this module's
own name, since every test folder has a `conftest` and pytest may have loaded another one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OTHER_PLATFORM = "1105910159"


@dataclass(frozen=True)
class StatsStore:
    db: Path
    root: Path
