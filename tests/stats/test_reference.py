"""The shipped reference data: the provinces of GB/T 2260, customs districts, pilot zones."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from cbec.stats.reference import Reference, ReferenceDataError


def _stdnum_provinces() -> dict[str, str]:
    """python-stdnum's copy of GB/T 2260: the provincial rows of stdnum/cn/loc.dat."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    found = {}
    for line in text.splitlines():
        if line[:2].isdigit() and " province=" in line:
            found[line[:2]] = line.split('province="', 1)[1].rstrip('"')
    return found


def test_the_31_provinces_agree_with_gb_t_2260() -> None:
    provinces = Reference.load().provinces
    shipped = dict(
        zip(provinces["code"].to_pylist(), provinces["name_zh"].to_pylist(), strict=True)
    )
    assert len(shipped) == 31
    standard = _stdnum_provinces()
    # The mainland's 31: the standard also codes Taiwan (71), Hong Kong (81) and Macao (82).
    assert shipped == {code: name for code, name in standard.items() if code < "70"}


def test_every_zone_and_office_names_a_known_province() -> None:
    reference = Reference.load()
    known = set(reference.provinces["code"].to_pylist())
    assert set(reference.zones["province"].to_pylist()) <= known
    assert set(reference.customs["province"].to_pylist()) <= known
    # The published batches this registry ships in full (docs/statistics.md).
    batches = reference.zones["batch"].to_pylist()
    assert {batch: batches.count(batch) for batch in set(batches)} == {1: 1, 2: 12, 3: 22, 5: 46}
    sources = reference.customs["source"].to_pylist()
    assert all(source for source in sources)


def test_a_bad_operator_file_names_file_line_and_column(tmp_path: Path) -> None:
    zones = tmp_path / "zones.csv"
    zones.write_text("code,name,province,batch,year\n3301,Hangzhou,33,first,2015\n")
    with pytest.raises(ReferenceDataError, match=r"zones.csv: line 2, batch: 'first'"):
        Reference.load(zones=zones)
    zones.write_text("code,name,province\n3301,Hangzhou,33\n")
    with pytest.raises(ReferenceDataError, match="line 1: the header lacks batch, year"):
        Reference.load(zones=zones)
    customs = tmp_path / "customs.csv"
    customs.write_text("code,name,province\n2991,Xiasha,33\n2991,Again,33\n")
    with pytest.raises(ReferenceDataError, match="code 2991 is given twice"):
        Reference.load(customs=customs)
    with pytest.raises(ReferenceDataError, match="cannot read"):
        Reference.load(customs=tmp_path / "missing.csv")
