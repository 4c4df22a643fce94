"""Reform files: what they mean when applied, how they combine, and how a bad one is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from cbec.policy.reforms import (
    ReformError,
    Rules,
    apply_reforms,
    current_rules,
    diff,
    load_reform,
)

ROOT = Path(__file__).parent.parent.parent
D = dt.date


@pytest.fixture(scope="module")
def current() -> Rules:
    return current_rules()


def _reform(folder: Path, text: str, name: str = "reform.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _values(rules: Rules, name: str) -> list[tuple[dt.date, Decimal]]:
    return [(v.since, v.value) for v in rules.parameters[name].values]


def test_a_parameter_override_holds_from_its_date_and_replaces_later_values(
    tmp_path: Path, current: Rules
) -> None:
    path = _reform(
        tmp_path, "name: Lower limit\nparameters:\n  annual_limit: {2018-01-01: 22000}\n"
    )
    reformed = apply_reforms(current, [load_reform(path)])
    # The shipped 2019-01-01 value (26,000) is dropped: from 2018 the reform says 22,000.
    assert _values(reformed, "annual_limit") == [(D(2016, 4, 8), 20000), (D(2018, 1, 1), 22000)]
    assert reformed.parameters["annual_limit"].values[-1].reference == "reform: Lower limit"
    periods = reformed.periods.to_pylist()
    # Later periods start with other parameters: the credit measures (2018-05-01, 2021-11-01),
    # 2019-01-01.
    assert [p["annual_limit"] for p in periods] == [20000, 22000, 22000, 22000, 22000]
    assert _values(reformed, "single_limit") == _values(current, "single_limit")


def test_later_reforms_win(tmp_path: Path, current: Rules) -> None:
    first = _reform(
        tmp_path,
        "name: A\nparameters:\n  tax_factor: {2024-01-01: 0.6}\n"
        "  annual_limit: {2024-01-01: {value: 30000, reference: Notice A}}\n",
        "a.yaml",
    )
    second = _reform(tmp_path, "name: B\nparameters:\n  tax_factor: {2024-07-01: 0.5}\n", "b.yaml")
    reformed = apply_reforms(current, [load_reform(first), load_reform(second)])
    assert _values(reformed, "tax_factor") == [
        (D(2016, 4, 8), Decimal("0.7")),
        (D(2024, 1, 1), Decimal("0.6")),
        (D(2024, 7, 1), Decimal("0.5")),
    ]
    assert reformed.parameters["annual_limit"].values[-1].reference == "Notice A"
    second_first = apply_reforms(current, [load_reform(second), load_reform(first)])
    # B then A: A's 2024-01-01 value replaces B's later one.
    assert _values(second_first, "tax_factor")[-1] == (D(2024, 1, 1), Decimal("0.6"))


def test_list_edits_close_rows_on_their_date(tmp_path: Path, current: Rules) -> None:
    path = _reform(
        tmp_path,
        """
name: List edits
positive_list:
  remove: {2024-01-01: ["04021000"]}
  add:
    2024-01-01:
      - {code: "99999999", name: Test goods, remark_kind: bonded_only, remark: bonded only}
""",
    )
    reformed = apply_reforms(current, [load_reform(path)])
    rows = [r for r in reformed.positive_list.to_pylist() if r["code"] == "04021000"]
    assert [(r["valid_from"], r["valid_to"]) for r in rows] == [(D(2016, 4, 16), D(2024, 1, 1))]
    added = [r for r in reformed.positive_list.to_pylist() if r["code"] == "99999999"]
    assert added == [
        {
            "code": "99999999",
            "name": "Test goods",
            "remark_kind": "bonded_only",
            "remark": "bonded only",
            "valid_from": D(2024, 1, 1),
            "valid_to": None,
            "source": "reform: List edits",
        }
    ]
    changes = diff(current, reformed).positive_list
    assert changes.codes == ["04021000", "99999999"]
    assert len(changes.removed) == 1 and len(changes.added) == 2


def test_a_tariff_set_takes_what_it_does_not_give_from_the_row_in_force(
    tmp_path: Path, current: Rules
) -> None:
    path = _reform(
        tmp_path,
        """
name: Cosmetics VAT
tariff:
  set:
    2024-01-01:
      - {code: "3304990099", vat_rate: 0.09}
      - {code: "0402100010", consumption_rate: 0.05}
""",
    )
    reformed = apply_reforms(current, [load_reform(path)])
    rows = {
        (r["code"], r["valid_from"]): r
        for r in reformed.tariff.to_pylist()
        if r["code"] in ("3304990099", "0402100010")
    }
    cosmetics = rows[("3304990099", D(2024, 1, 1))]
    assert cosmetics["vat_rate"] == Decimal("0.09")
    assert cosmetics["consumption_rate"] == Decimal("0.15")  # kept from the row in force
    assert cosmetics["consumption_min_unit_price"] == Decimal("10.00")
    assert rows[("3304990099", None)]["valid_to"] == D(2024, 1, 1)
    # A new 10-digit row takes its 8-digit line's rates.
    milk = rows[("0402100010", D(2024, 1, 1))]
    assert (milk["mfn_rate"], milk["vat_rate"], milk["consumption_rate"]) == (
        Decimal("0.1"),
        Decimal("0.13"),
        Decimal("0.05"),
    )


def test_a_tariff_row_with_nothing_to_complete_it_is_refused(
    tmp_path: Path, current: Rules
) -> None:
    path = _reform(
        tmp_path, "name: X\ntariff:\n  set:\n    2024-01-01:\n      - {code: '99999999'}\n"
    )
    with pytest.raises(ReformError, match=r"tariff\.set\.2024-01-01\[0\]: .*give name"):
        apply_reforms(current, [load_reform(path)])


def test_a_list_file_replaces_the_list(tmp_path: Path, current: Rules) -> None:
    edition = tmp_path / "edition.csv"
    edition.write_text(
        "code,name,remark_kind,valid_from\n61112000,Baby garments,none,2016-04-08\n",
        encoding="utf-8",
    )
    path = _reform(tmp_path, "name: Edition\npositive_list: {file: edition.csv}\n")
    reformed = apply_reforms(current, [load_reform(path)])
    assert reformed.positive_list["code"].to_pylist() == ["61112000"]
    assert reformed.tariff.equals(current.tariff)


def test_the_shipped_2019_example_loads_and_changes_the_three_limits(current: Rules) -> None:
    reform = load_reform(ROOT / "docs" / "examples" / "reform-2019-limits.yaml")
    reformed = apply_reforms(current, [reform])
    changed = diff(current, reformed)
    assert [c.name for c in changed.parameters] == [
        "annual_limit",
        "indivisible_item_exception",
        "single_limit",
    ]
    day = D(2018, 6, 15)
    assert reformed.parameters["single_limit"].at(day).value == 5000  # type: ignore[union-attr]
    assert reformed.parameters["annual_limit"].at(day).value == 26000  # type: ignore[union-attr]
    assert current.parameters["single_limit"].at(day).value == 2000  # type: ignore[union-attr]
    # From 2019 on the reformed rules are the shipped ones.
    after = D(2019, 6, 15)
    for name in ("single_limit", "annual_limit", "indivisible_item_exception"):
        assert reformed.parameters[name].at(after).value == current.parameters[name].at(after).value  # type: ignore[union-attr]
    assert not changed.positive_list.added and not changed.tariff.added


PARAMETERS = "name: X\nparameters:\n  "
LIST = "name: X\npositive_list:\n  "
TARIFF = "name: X\ntariff:\n  "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PARAMETERS + "annual_limt: {2024-01-01: 1}", "parameters.annual_limt: no such parameter"),
        (PARAMETERS + "annual_limit: {2024-13-01: 1}", "2024-13-01: '2024-13-01' is not a date"),
        (PARAMETERS + "annual_limit: {someday: 1}", "'someday' is not a date"),
        (PARAMETERS + "annual_limit: {2024-01-01: lots}", "2024-01-01: 'lots' is not a number"),
        (PARAMETERS + "tax_factor: {2024-01-01: 60}", "tax_factor.2024-01-01: 60 is a fraction"),
        (PARAMETERS + "indivisible_item_exception: {2024-01-01: 2}", "is a flag"),
        (PARAMETERS + "annual_limit: {2024-01-01: -5}", "is negative"),
        (PARAMETERS + "annual_limit: {}", "give at least one dated value"),
        ("name: X\nlimits: {}", "limits: unknown field"),
        ("description: no name", "name: required"),
        (LIST + "remove: {2024-01-01: [04021000]}", "write codes in quotes"),
        (LIST + "add: {2024-01-01: [{code: '1234'}]}", "'1234' is not a code"),
        (LIST + "add: {2024-01-01: [{code: '12345678'}]}", "add.2024-01-01[0].name: required"),
        (LIST + "add: {2024-01-01: [{code: '12345678', name: n, remark_kind: odd}]}", "'odd'"),
        ("name: X\npositive_list: {file: missing.csv}", "positive_list.file: no such file"),
        (TARIFF + "set: {2024-01-01: [{code: '3304990099', vat_rate: 13%}]}", "'13%' is not"),
        (TARIFF + "set: {2024-01-01: [{code: '3304990099', colour: red}]}", "colour: unknown"),
        (TARIFF + "add: {}", "tariff.add: unknown field"),
        ("name: [unclosed", "line "),
        ("- just\n- a list", "expected a mapping"),
    ],
)
def test_a_bad_reform_names_the_file_and_the_field(
    tmp_path: Path, current: Rules, text: str, message: str
) -> None:
    path = _reform(tmp_path, text)
    with pytest.raises(ReformError) as raised:
        load_reform(path, current.parameters)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_reform_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReformError, match=r"nowhere\.yaml: cannot read the reform file"):
        load_reform(tmp_path / "nowhere.yaml")
