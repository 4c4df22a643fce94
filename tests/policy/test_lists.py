"""The shipped sample positive list and tariff, and the loader's errors on bad files."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cbec.policy.errors import PolicyDataError
from cbec.policy.lists import (
    POSITIVE_LIST_SCHEMA,
    REMARK_KINDS,
    TARIFF_SCHEMA,
    load_positive_list,
    load_tariff,
)

ILLUSTRATIVE = "illustrative"
Row = dict[str, Any]


@pytest.fixture(scope="module")
def positive_list() -> list[Row]:
    return load_positive_list().to_pylist()


@pytest.fixture(scope="module")
def tariff() -> list[Row]:
    return load_tariff().to_pylist()


def _valid_on(row: Row, day: dt.date) -> bool:
    since, until = row["valid_from"], row["valid_to"]
    return (since is None or since <= day) and (until is None or day < until)


def _on_list(rows: list[Row], gcode: str, day: dt.date) -> list[Row]:
    """Positive-list rows in force on `day` for a declared 10-digit gcode (first 8 digits)."""
    return [r for r in rows if r["code"] == gcode[:8] and _valid_on(r, day)]


def _tariff_row(rows: list[Row], gcode: str, day: dt.date) -> Row | None:
    """The tariff row in force on `day` whose code is the longest prefix of `gcode`."""
    matches = [r for r in rows if gcode.startswith(r["code"]) and _valid_on(r, day)]
    if not matches:
        return None
    longest = max(len(r["code"]) for r in matches)
    (row,) = [r for r in matches if len(r["code"]) == longest]
    return row


def _is_url_source(source: str) -> bool:
    return all(part.strip().startswith(("http://", "https://")) for part in source.split(";"))


# --- the shipped files ------------------------------------------------------------------------


def test_shipped_files_load_with_the_loader() -> None:
    positive = load_positive_list()
    tariff = load_tariff()
    assert positive.schema == POSITIVE_LIST_SCHEMA
    assert tariff.schema == TARIFF_SCHEMA
    assert positive.num_rows > 0
    assert tariff.num_rows > 0


def test_shipped_headers_are_exactly_the_documented_columns() -> None:
    data = Path(__file__).resolve().parents[2] / "src" / "cbec" / "policy" / "data"
    positive_header = (data / "positive_list.csv").read_text(encoding="utf-8").splitlines()[0]
    tariff_header = (data / "tariff.csv").read_text(encoding="utf-8").splitlines()[0]
    assert positive_header.split(",") == POSITIVE_LIST_SCHEMA.names
    assert tariff_header.split(",")[: len(TARIFF_SCHEMA.names)] == TARIFF_SCHEMA.names


@pytest.mark.parametrize("fixture", ["positive_list", "tariff"])
def test_every_row_has_a_source_that_is_a_url_or_illustrative(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    rows: list[Row] = request.getfixturevalue(fixture)
    for row in rows:
        source = row["source"]
        assert source and source.strip(), row
        if source != ILLUSTRATIVE:
            # A sourced row names where it was read: one or more URLs (the macadamia row of the
            # positive list combines two pages with " + ").
            first = source.split(" + ")[0].split(" (")[0]
            assert _is_url_source(first), row
        else:
            assert source == ILLUSTRATIVE


def test_sourced_reference_rows_are_all_kept(positive_list: list[Row], tariff: list[Row]) -> None:
    # positive_list_sample.csv: 36 first-batch + 17 second-batch rows; tariff_sample.csv: 40 rows.
    sourced_positive = [r for r in positive_list if r["source"] != ILLUSTRATIVE]
    assert len(sourced_positive) == 53
    by_edition: dict[dt.date, int] = defaultdict(int)
    for row in sourced_positive:
        by_edition[row["valid_from"]] += 1
    assert by_edition == {dt.date(2016, 4, 8): 36, dt.date(2016, 4, 16): 17}
    assert all(r["valid_to"] is None for r in sourced_positive)
    assert len([r for r in tariff if r["source"] != ILLUSTRATIVE]) == 40


def test_illustrative_rows_are_labelled(positive_list: list[Row], tariff: list[Row]) -> None:
    illustrative_positive = {r["code"] for r in positive_list if r["source"] == ILLUSTRATIVE}
    # The lines the reference did not have are all illustrative.
    for code in (
        "33049900", "33030000", "19011010", "21069090", "22042100", "22083000", "91021100",
        "61091000", "64039900", "42022100", "85183000", "85102000", "32151900", "17019990",
        "10063020",
    ):  # fmt: skip
        assert code in illustrative_positive
    # Remarks invented for the sample say so in the remark as well.
    for row in positive_list:
        if row["source"] == ILLUSTRATIVE and row["remark_kind"] in ("bonded_only", "excluded"):
            assert "(illustrative)" in row["remark"], row
    # Every tariff row the reference did not give is labelled, including the 8-digit fallbacks.
    assert {r["code"] for r in tariff if r["source"] == ILLUSTRATIVE} >= {"33049900", "91022100"}


def test_remark_kinds_are_shown_by_the_sample(positive_list: list[Row]) -> None:
    kinds = {r["remark_kind"] for r in positive_list}
    assert kinds == set(REMARK_KINDS)
    by_code = {r["code"]: r for r in positive_list if r["valid_to"] is None}
    assert by_code["22042900"]["remark_kind"] == "bonded_only"
    assert by_code["42022100"]["remark_kind"] == "excluded"
    assert by_code["32151900"]["remark_kind"] == "name_limit"
    assert by_code["17019990"]["remark_kind"] == "quantity_limit"
    assert by_code["10063020"]["remark_kind"] == "quantity_limit"
    # Source rows whose remark was blank in the reference (second batch) read as "none".
    assert by_code["04021000"]["remark_kind"] == "none"


def test_sample_covers_the_common_cross_border_goods(positive_list: list[Row]) -> None:
    codes = {r["code"] for r in positive_list}
    wanted = {
        "33041000", "33042000", "33043000", "33049100", "33049900", "33030000", "33051000",
        "33059000", "33073000", "19011010", "21069090", "22042100", "22042900", "22083000",
        "22089090", "22030000", "91021100", "91022100", "91019900", "61112000", "61091000",
        "62043200", "64039900", "64041100", "42021190", "42022100", "85183000", "85098090",
        "85102000", "48181000", "48182000", "63021010", "22011010", "32151900", "17019990",
        "10063020",
    }  # fmt: skip
    assert wanted <= codes


@pytest.mark.parametrize("fixture", ["positive_list", "tariff"])
def test_rows_of_one_code_never_overlap_in_time(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    rows: list[Row] = request.getfixturevalue(fixture)
    by_code: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_code[row["code"]].append(row)
    far_past, far_future = dt.date(1900, 1, 1), dt.date(9999, 1, 1)
    for code, group in by_code.items():
        spans = sorted((r["valid_from"] or far_past, r["valid_to"] or far_future) for r in group)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, code


def test_every_positive_list_line_has_a_tariff_row_covering_it(
    positive_list: list[Row], tariff: list[Row]
) -> None:
    for row in positive_list:
        days = [row["valid_from"], row["valid_from"] + dt.timedelta(days=400)]
        if row["valid_to"] is not None:
            days.append(row["valid_to"] - dt.timedelta(days=1))
        for day in days:
            if not _valid_on(row, day):
                continue
            # An 8-digit tariff row on the line itself covers any 10-digit gcode under it.
            covering = [t for t in tariff if t["code"] == row["code"] and _valid_on(t, day)]
            assert len(covering) == 1, (row["code"], day)
            assert _tariff_row(tariff, row["code"] + "99", day) is not None


def test_positive_list_is_matched_on_the_first_eight_digits(positive_list: list[Row]) -> None:
    day = dt.date(2024, 6, 15)
    assert _on_list(positive_list, "3304990099", day)
    assert _on_list(positive_list, "3304990011", day)
    assert not _on_list(positive_list, "3304999999", day)


def test_edition_mechanism_shows_lines_added_and_closed(positive_list: list[Row]) -> None:
    before, after = dt.date(2018, 12, 31), dt.date(2019, 1, 1)
    # Hair clippers: added by the (illustrative) 2018 edition.
    assert not _on_list(positive_list, "8510200000", before)
    assert _on_list(positive_list, "8510200000", after)
    # Deodorants: dropped by the (illustrative) 2018 edition.
    assert _on_list(positive_list, "3307200000", before)
    assert not _on_list(positive_list, "3307200000", after)
    # Health foods: the 2018 edition changes the remark; the earlier row is closed.
    (old,) = _on_list(positive_list, "2106909090", before)
    (new,) = _on_list(positive_list, "2106909090", after)
    assert (old["remark_kind"], new["remark_kind"]) == ("none", "excluded")
    # Second-batch lines are not on the list before 2016-04-16.
    assert not _on_list(positive_list, "0402100000", dt.date(2016, 4, 15))
    assert _on_list(positive_list, "0402100000", dt.date(2016, 4, 16))
    # Nothing is on the list before the first edition.
    assert not _on_list(positive_list, "0409000000", dt.date(2016, 4, 7))


def test_rule_case_cosmetic_row(tariff: list[Row]) -> None:
    row = _tariff_row(tariff, "3304990099", dt.date(2024, 6, 15))
    assert row is not None
    assert row["code"] == "3304990099"
    assert row["vat_rate"] == Decimal("0.13")
    assert row["consumption_rate"] == Decimal("0.15")
    assert row["consumption_min_unit_price"] == Decimal("10.00")
    assert row["source"] != ILLUSTRATIVE
    # Another subheading of the same line falls back to the 8-digit row.
    fallback = _tariff_row(tariff, "3304990011", dt.date(2024, 6, 15))
    assert fallback is not None and fallback["code"] == "33049900"
    assert fallback["consumption_min_unit_price"] == Decimal("10.00")


def test_consumption_tax_caveats_resolved(tariff: list[Row]) -> None:
    day = dt.date(2024, 6, 15)
    for gcode in ("3303000020", "3304100091", "3304200091", "3304990029", "3304910000"):
        row = _tariff_row(tariff, gcode, day)
        assert row is not None
        assert row["consumption_rate"] == Decimal("0.15")
        assert row["consumption_min_unit_price"] == Decimal("10.00"), gcode
    for gcode in ("9102110000", "9102210090", "9102210010", "9102210099"):
        row = _tariff_row(tariff, gcode, day)
        assert row is not None
        assert row["consumption_rate"] == Decimal("0.20")
        assert row["consumption_min_unit_price"] == Decimal("10000.00"), gcode
    for gcode, per_litre in (
        ("2203000000", "0.2530"),
        ("2206001000", "0.2495"),
        ("2208300000", "0.9120"),
        ("2208909099", "0.9120"),
    ):
        row = _tariff_row(tariff, gcode, day)
        assert row is not None
        assert row["consumption_specific"] == Decimal(per_litre)
        assert row["consumption_specific_unit"] == "095"  # litre
    # Specific rates always come with their unit, and the other way round.
    for row in tariff:
        assert (row["consumption_specific"] is None) == (row["consumption_specific_unit"] is None)


def test_stale_vat_row_is_dated(tariff: list[Row]) -> None:
    gcode = "9102210010"
    expected = {
        dt.date(2018, 4, 30): "0.17",
        dt.date(2018, 5, 1): "0.16",
        dt.date(2019, 3, 31): "0.16",
        dt.date(2019, 4, 1): "0.13",
        dt.date(2024, 6, 15): "0.13",
    }
    for day, vat in expected.items():
        row = _tariff_row(tariff, gcode, day)
        assert row is not None and row["code"] == gcode
        assert row["vat_rate"] == Decimal(vat), day
    # The 16% row is the sourced one; the rows around it are illustrative.
    (stale,) = [r for r in tariff if r["code"] == gcode and r["vat_rate"] == Decimal("0.16")]
    assert stale["source"] != ILLUSTRATIVE
    assert stale["valid_to"] == dt.date(2019, 4, 1)


def test_vat_rates_are_the_current_ones(tariff: list[Row]) -> None:
    current = [r for r in tariff if r["valid_to"] is None]
    assert {r["vat_rate"] for r in current} <= {Decimal("0.13"), Decimal("0.09")}
    by_code = {r["code"]: r for r in current}
    for code in ("10063020", "08081000", "07135090", "04090000"):
        assert by_code[code]["vat_rate"] == Decimal("0.09")


# --- loader errors -----------------------------------------------------------------------------

POSITIVE_HEADER = "code,name,remark_kind,remark,valid_from,valid_to,source"
POSITIVE_GOOD = "33049900,Skin care,none,,2016-04-08,,illustrative"
TARIFF_HEADER = (
    "code,name,mfn_rate,provisional_rate,vat_rate,consumption_rate,consumption_min_unit_price,"
    "consumption_specific,consumption_specific_unit,valid_from,valid_to,source"
)
TARIFF_GOOD = "3304990099,Skin care,0.01,,0.13,0.15,10.00,,,,,illustrative"


def _write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replace(row: str, header: str, column: str, value: str) -> str:
    fields = row.split(",")
    fields[header.split(",").index(column)] = value
    return ",".join(fields)


def test_temp_files_in_the_right_format_load(tmp_path: Path) -> None:
    positive = load_positive_list(_write(tmp_path, "p.csv", POSITIVE_HEADER, POSITIVE_GOOD))
    tariff = load_tariff(_write(tmp_path, "t.csv", TARIFF_HEADER, TARIFF_GOOD))
    assert positive.num_rows == tariff.num_rows == 1
    assert positive.column("valid_to").to_pylist() == [None]
    assert tariff.column("provisional_rate").to_pylist() == [None]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("remark_kind", "bonded"),
        ("remark_kind", "None"),
        ("code", "3304990"),
        ("code", "3304990099"),
        ("code", "3304-990"),
        ("valid_from", "2016/04/08"),
        ("name", ""),
    ],
)
def test_bad_positive_list_value_names_file_line_and_column(
    tmp_path: Path, column: str, value: str
) -> None:
    bad = _replace(POSITIVE_GOOD, POSITIVE_HEADER, column, value)
    path = _write(tmp_path, "positive.csv", POSITIVE_HEADER, POSITIVE_GOOD, bad)
    with pytest.raises(PolicyDataError) as info:
        load_positive_list(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert column in message


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("code", "3304990"),
        ("code", "330499009"),
        ("mfn_rate", "0.1234567"),
        ("vat_rate", "0.1300001"),
        ("consumption_rate", "0.1500000"),
        ("provisional_rate", "-0.01"),
        ("vat_rate", "13%"),
        ("consumption_min_unit_price", "10.001"),
        ("consumption_specific", "0.25301"),
        ("consumption_rate", "1"),
        ("vat_rate", ""),
    ],
)
def test_bad_tariff_value_names_file_line_and_column(
    tmp_path: Path, column: str, value: str
) -> None:
    bad = _replace(TARIFF_GOOD, TARIFF_HEADER, column, value)
    path = _write(tmp_path, "tariff.csv", TARIFF_HEADER, TARIFF_GOOD, TARIFF_GOOD, bad)
    with pytest.raises(PolicyDataError) as info:
        load_tariff(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 4" in message
    assert column in message


def test_valid_to_before_valid_from_is_refused(tmp_path: Path) -> None:
    bad = "33049900,Skin care,none,,2019-01-01,2016-04-08,illustrative"
    path = _write(tmp_path, "positive.csv", POSITIVE_HEADER, POSITIVE_GOOD, bad)
    with pytest.raises(PolicyDataError) as info:
        load_positive_list(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert "valid_to" in message


def test_equal_validity_dates_are_refused_in_the_tariff(tmp_path: Path) -> None:
    bad = _replace(
        _replace(TARIFF_GOOD, TARIFF_HEADER, "valid_from", "2019-04-01"),
        TARIFF_HEADER,
        "valid_to",
        "2019-04-01",
    )
    path = _write(tmp_path, "tariff.csv", TARIFF_HEADER, bad)
    with pytest.raises(PolicyDataError, match=r"line 2: valid_to"):
        load_tariff(path)


@pytest.mark.parametrize("column", ["code", "name", "remark_kind", "valid_from"])
def test_missing_positive_list_column_is_named(tmp_path: Path, column: str) -> None:
    names = POSITIVE_HEADER.split(",")
    keep = [i for i, name in enumerate(names) if name != column]
    header = ",".join(names[i] for i in keep)
    row = ",".join(POSITIVE_GOOD.split(",")[i] for i in keep)
    path = _write(tmp_path, "positive.csv", header, row)
    with pytest.raises(PolicyDataError) as info:
        load_positive_list(path)
    message = str(info.value)
    assert str(path) in message
    assert "missing column" in message
    assert column in message


@pytest.mark.parametrize("column", ["code", "name", "mfn_rate", "vat_rate"])
def test_missing_tariff_column_is_named(tmp_path: Path, column: str) -> None:
    names = TARIFF_HEADER.split(",")
    keep = [i for i, name in enumerate(names) if name != column]
    header = ",".join(names[i] for i in keep)
    row = ",".join(TARIFF_GOOD.split(",")[i] for i in keep)
    path = _write(tmp_path, "tariff.csv", header, row)
    with pytest.raises(PolicyDataError) as info:
        load_tariff(path)
    message = str(info.value)
    assert str(path) in message
    assert column in message


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "positive.csv",
        "code,name,remark_kind,valid_from",
        "04090000,Honey,none,2016-04-08",
    )
    (row,) = load_positive_list(path).to_pylist()
    assert row["source"] is None and row["valid_to"] is None


def test_unreadable_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyDataError, match="cannot read"):
        load_tariff(tmp_path / "absent.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes(POSITIVE_HEADER.encode() + b"\n04090000,Mi\xe9l,none,,2016-04-08,,x\n")
    with pytest.raises(PolicyDataError, match="cannot read"):
        load_positive_list(path)
