"""Approved pilot zones for bonded import (1210): which customs areas may clear it, and when.

GACC Announcement 2014 No. 57 created 1210 for bonded import in the approved pilot cities' special
supervision zones and bonded logistics centres (B); GACC Announcement 2016 No. 75 created 1239 for
the places outside the ten cities it names, which keep 1210 (domain digest section 2). The file
has one row per zone and area: `code` is a 4-digit customs office, or a 2-digit customs
district standing for all its offices; `valid_from` inclusive, `valid_to` exclusive (empty: still
valid); a `source` on every row. An operator loads the official list in the same format
(`cbec clear --pilot-zones FILE`). docs/policy.md documents the format.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cbec.policy.lists import _code, _date, _read_rows, default_data_dir

# The file's column is `code` (as in the other policy files); the table's is `customs_code`.
_FILE_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("zone", pa.string()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),
        ("source", pa.string()),
    ]
)


def load_pilot_zones(path: Path | None = None) -> pa.Table:
    """The zone rows; a 1210 declaration's `customs_code` must fall in one valid on its date."""
    table = _read_rows(
        path or default_data_dir() / "pilot_zones.csv",
        _FILE_SCHEMA,
        {"code": _code((2, 4)), "valid_from": _date, "valid_to": _date},
        required=("code", "zone", "valid_from", "source"),
    )
    return table.rename_columns(["customs_code", *_FILE_SCHEMA.names[1:]])
