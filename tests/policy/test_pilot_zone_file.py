"""An operator's own pilot-zone list (`cbec clear --pilot-zones FILE`): 1210 is cleared only
from a zone valid on the declaration's date (GACC Announcement 2016 No. 75; `valid_to`
exclusive), whatever the shipped sample says."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from builders import declaration, write_jsonl
from cbec.cli import app

runner = CliRunner()
HEADER = "code,zone,valid_from,valid_to,source\n"
# The parcel is declared on 2024-06-15 at customs office 2991 (Hangzhou district 29).
SHIRT = [{"gcode": "6111200050", "qty": 1, "price": "50.00"}]


@pytest.mark.parametrize(
    ("rows", "outside"),
    [
        ("29,Hangzhou,2016-04-08,2024-06-15,operator\n", True),  # ended the day before: out
        ("29,Hangzhou,2016-04-08,2024-06-16,operator\n", False),  # still valid that day
        ("2991,Hangzhou office,2024-06-15,,operator\n", False),  # the office itself, from that day
        ("2992,Another office,2016-04-08,,operator\n", True),  # another office of the district
    ],
)
def test_a_1210_list_is_judged_against_the_operators_zone_file(
    tmp_path: Path, rows: str, outside: bool
) -> None:
    zones = tmp_path / "zones.csv"
    zones.write_text(HEADER + rows, encoding="utf-8")
    folder = write_jsonl(tmp_path / "day", declaration("Z1", SHIRT, mode="1210"))
    result = runner.invoke(
        app,
        [
            "clear", str(folder), "--pilot-zones", str(zones),
            "--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    reasons = pq.read_table(tmp_path / "out" / "decisions.parquet").column("reasons").to_pylist()
    assert ("not_pilot_zone" in reasons[0]) is outside


def test_a_zone_file_without_its_source_is_refused(tmp_path: Path) -> None:
    zones = tmp_path / "zones.csv"
    zones.write_text(HEADER + "29,Hangzhou,2016-04-08,,\n", encoding="utf-8")
    folder = write_jsonl(tmp_path / "day", declaration("Z1", SHIRT, mode="1210"))
    result = runner.invoke(
        app,
        [
            "clear", str(folder), "--pilot-zones", str(zones),
            "--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "source" in result.output
    assert not (tmp_path / "out" / "decisions.parquet").exists()
