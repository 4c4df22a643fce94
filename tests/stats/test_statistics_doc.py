"""docs/statistics.md begins with an example that runs, as written, and says what it prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from cbec.cli import app

DOC = Path(__file__).parent.parent.parent / "docs" / "statistics.md"


def test_the_first_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text.startswith("# Statistics")
    example = re.search(r"```sh\n(.+?)\n```", text, flags=re.DOTALL)
    assert example is not None
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for line in example.group(1).splitlines():
        words = shlex.split(line)
        assert words[0] == "cbec", line
        result = runner.invoke(app, words[1:], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (line, result.output)
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.search(
        r"Imports reached [\d,.]+ CNY in 2024-Q2, (up|down) [\d.]+% on the year", report
    )
    provinces = pacsv.read_csv(tmp_path / "by_province.csv")
    assert provinces.column_names[:3] == ["quarter", "province", "province_name"]
    assert sum(provinces["declarations"].to_pylist()) == 3000
