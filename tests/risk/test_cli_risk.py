"""`cbec risk evaluate kcdd` on a small sample of the public KCDD files: JSON only, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KCDD = Path(__file__).parents[3] / "shared" / "data" / "kcdd"
TRAIN = KCDD / "df_syn_train_eng.csv"
VALID = KCDD / "df_syn_valid_eng.csv"

pytestmark = pytest.mark.skipif(
    not TRAIN.is_file(), reason="the KCDD files are not beside the repo"
)


def _sample(source: Path, rows: int, target: Path) -> Path:
    with source.open(encoding="utf-8") as lines:
        target.write_text("".join(next(lines) for _ in range(rows + 1)), encoding="utf-8")
    return target


def _cbec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbec.cli", "risk", "evaluate", "kcdd", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        timeout=300,
    )


def test_prints_only_the_json_report(tmp_path: Path) -> None:
    train = _sample(TRAIN, 1500, tmp_path / "train.csv")
    valid = _sample(VALID, 400, tmp_path / "valid.csv")
    done = _cbec("--train", str(train), "--valid", str(valid), "--test", str(valid), "--seeds", "2")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"models"}
    assert set(report["models"]) == {"cbec", "published", "random"}
    for measures in report["models"].values():
        assert set(measures) == {"auc", "precision", "recall"}
        assert set(measures["auc"]) == {"mean", "sd"}
        for name in ("precision", "recall"):
            assert set(measures[name]) == {"1", "2", "5", "10"}
            for spread in measures[name].values():
                assert set(spread) == {"mean", "sd"}
                assert 0.0 <= spread["mean"] <= 1.0 and spread["sd"] >= 0.0
    assert "seed 1" in done.stderr


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    done = _cbec("--train", "nowhere.csv", "--valid", str(VALID), "--test", str(VALID))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "nowhere.csv: no such file" in done.stderr
    assert done.stdout == ""


def test_wrong_columns_are_one_line(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Declaration ID,Date\n1,2020-01-01\n", encoding="utf-8")
    done = _cbec("--train", str(wrong), "--valid", str(VALID), "--test", str(VALID))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "missing columns" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_date_or_a_single_class_is_one_line(tmp_path: Path) -> None:
    sample = _sample(VALID, 50, tmp_path / "valid.csv").read_text(encoding="utf-8")
    header, first, *rest = sample.splitlines()
    bad_date = tmp_path / "bad_date.csv"
    bad_date.write_text("\n".join([header, first.replace("2021-", "2021/", 1), *rest]) + "\n")
    no_fraud = tmp_path / "no_fraud.csv"
    no_fraud.write_text("\n".join([header, *(r for r in rest if r.split(",")[20] == "0")]) + "\n")
    for wrong in (bad_date, no_fraud):
        done = _cbec("--train", str(TRAIN), "--valid", str(VALID), "--test", str(wrong))
        assert done.returncode == 1, wrong
        assert done.stderr.strip().count("\n") == 0, done.stderr
        assert wrong.name in done.stderr and "Traceback" not in done.stderr
