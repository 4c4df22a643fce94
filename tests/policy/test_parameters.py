"""The shipped dated parameters, resolved at dates and as a table of periods."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from cbec.policy.errors import PolicyDataError
from cbec.policy.parameters import Parameter, load_parameters, policy_periods

SHIPPED = {
    "annual_limit",
    "credit_advanced_factor",
    "credit_dishonest_rate",
    "exploration_share",
    "indivisible_item_exception",
    "inspection_rate",
    "late_fee_daily_rate",
    "return_application_days",
    "return_arrival_days",
    "review_share",
    "rules_inspection_score",
    "rules_review_score",
    "single_limit",
    "tariff_factor",
    "tax_factor",
    "tax_payment_first_day",
    "tax_payment_last_day",
}


@pytest.fixture(scope="module")
def parameters() -> dict[str, Parameter]:
    return load_parameters()


def _value(parameters: dict[str, Parameter], name: str, day: dt.date) -> Decimal:
    dated = parameters[name].at(day)
    assert dated is not None, (name, day)
    return dated.value


def test_shipped_parameters_load(parameters: dict[str, Parameter]) -> None:
    assert set(parameters) == SHIPPED
    for parameter in parameters.values():
        # Retail import rules, and the risk selection's parameters (issue 5).
        assert parameter.name in (
            f"retail_import/{parameter.short_name}",
            f"risk/{parameter.short_name}",
        )
        assert parameter.description
        assert parameter.unit
        assert parameter.values
        assert all(dated.reference for dated in parameter.values)
        assert [d.since for d in parameter.values] == sorted(d.since for d in parameter.values)


@pytest.mark.parametrize(
    ("day", "single", "annual", "indivisible"),
    [
        (dt.date(2016, 4, 8), 2000, 20000, 0),
        (dt.date(2018, 6, 1), 2000, 20000, 0),
        (dt.date(2018, 12, 31), 2000, 20000, 0),
        (dt.date(2019, 1, 1), 5000, 26000, 1),
        (dt.date(2024, 6, 15), 5000, 26000, 1),
    ],
)
def test_limits_at_dates(
    parameters: dict[str, Parameter],
    day: dt.date,
    single: int,
    annual: int,
    indivisible: int,
) -> None:
    assert _value(parameters, "single_limit", day) == single
    assert _value(parameters, "annual_limit", day) == annual
    assert _value(parameters, "indivisible_item_exception", day) == indivisible
    assert _value(parameters, "tax_factor", day) == Decimal("0.7")
    assert _value(parameters, "tariff_factor", day) == 0
    if day >= dt.date(2019, 1, 1):  # the return windows come with GACC 2018 No. 194
        assert _value(parameters, "return_application_days", day) == 30
        assert _value(parameters, "return_arrival_days", day) == 45
    else:
        assert parameters["return_application_days"].at(day) is None


def test_references_name_the_law(parameters: dict[str, Parameter]) -> None:
    early = parameters["single_limit"].at(dt.date(2018, 6, 1))
    late = parameters["single_limit"].at(dt.date(2024, 6, 15))
    assert early is not None and "[2016] No. 18" in early.reference
    assert late is not None and "[2018] No. 49" in late.reference


def test_no_value_before_the_first_date(parameters: dict[str, Parameter]) -> None:
    for parameter in parameters.values():
        assert parameter.at(dt.date(2016, 4, 7)) is None


def test_policy_periods_table_shape(parameters: dict[str, Parameter]) -> None:
    table = policy_periods(parameters)
    assert table.column_names == ["valid_from", "valid_to", *sorted(SHIPPED)]
    assert table.schema.field("valid_from").type == pa.date32()
    assert table.schema.field("valid_to").type == pa.date32()
    for name in SHIPPED:
        assert table.schema.field(name).type == pa.decimal128(18, 6)
    # 2018-05-01 and 2021-11-01: the customs credit measures (risk/credit_*).
    starts = [dt.date(2016, 4, 8), dt.date(2018, 5, 1), dt.date(2019, 1, 1), dt.date(2021, 11, 1)]
    assert table.column("valid_from").to_pylist() == starts
    assert table.column("valid_to").to_pylist() == [*starts[1:], None]


@pytest.mark.parametrize(
    ("day", "single", "annual", "indivisible"),
    [
        (dt.date(2018, 6, 1), 2000, 20000, 0),
        (dt.date(2019, 1, 1), 5000, 26000, 1),
        (dt.date(2024, 6, 15), 5000, 26000, 1),
    ],
)
def test_a_date_picks_the_right_period(
    parameters: dict[str, Parameter],
    day: dt.date,
    single: int,
    annual: int,
    indivisible: int,
) -> None:
    periods = policy_periods(parameters).to_pylist()
    (period,) = [
        p
        for p in periods
        if p["valid_from"] <= day and (p["valid_to"] is None or day < p["valid_to"])
    ]
    assert period["single_limit"] == single
    assert period["annual_limit"] == annual
    assert period["indivisible_item_exception"] == indivisible
    assert period["tax_factor"] == Decimal("0.7")
    assert period["tariff_factor"] == 0


def test_periods_leave_null_where_a_parameter_has_no_value_yet(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "description: a\nunit: CNY\nvalues:\n  2016-04-08: {value: 1, reference: r}\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(
        "description: b\nunit: CNY\nvalues:\n  2019-01-01: {value: 2, reference: r}\n",
        encoding="utf-8",
    )
    table = policy_periods(load_parameters(tmp_path))
    assert table.column("a").to_pylist() == [1, 1]
    assert table.column("b").to_pylist() == [None, 2]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("values: {}\n", "non-empty 'values'"),
        ("values:\n  soon: {value: 1, reference: r}\n", "not a date"),
        ("values:\n  2019-01-01: {value: 1}\n", "needs 'value' and 'reference'"),
        ("values:\n  2019-01-01: {value: abc, reference: r}\n", "not a number"),
        ("values: [unclosed\n", "cannot read"),
    ],
)
def test_bad_parameter_file_names_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "retail_import" / "broken.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyDataError) as info:
        load_parameters(tmp_path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_a_short_name_defined_twice_is_refused(tmp_path: Path) -> None:
    text = "values:\n  2019-01-01: {value: 1, reference: r}\n"
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "limit.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyDataError, match="defined twice"):
        load_parameters(tmp_path)
