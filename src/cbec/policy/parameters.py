"""Dated policy parameters: YAML files with a value and a legal reference per effective date.

Each file under `params/` is one parameter (its path mirrors the law: `retail_import/annual_limit`).
A value holds from its date (inclusive) until the next value's date (exclusive). The pipeline joins
the parameters as a dated table on each declaration's own time, so one batch may mix years.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pyarrow as pa
import yaml

from cbec.policy.errors import PolicyDataError

PARAMS_PACKAGE_DIR = "params"


@dataclass(frozen=True)
class DatedValue:
    since: dt.date
    value: Decimal
    reference: str


@dataclass(frozen=True)
class Parameter:
    """One parameter: its name (path under params/), meaning, unit and dated values."""

    name: str
    description: str
    unit: str
    values: tuple[DatedValue, ...]

    def at(self, day: dt.date) -> DatedValue | None:
        """The value in force on `day`, or None before the first value."""
        current = None
        for dated in self.values:
            if dated.since <= day:
                current = dated
        return current

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def default_params_dir() -> Path:
    return Path(str(resources.files("cbec.policy").joinpath(PARAMS_PACKAGE_DIR)))


def _parse_file(path: Path, name: str) -> Parameter:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyDataError(f"{path}: cannot read parameter file: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("values"), dict) or not raw["values"]:
        raise PolicyDataError(f"{path}: expected a mapping with a non-empty 'values' mapping")
    values = []
    for since, entry in raw["values"].items():
        if not isinstance(since, dt.date):
            raise PolicyDataError(f"{path}: '{since}' is not a date (write YYYY-MM-DD)")
        if not isinstance(entry, dict) or "value" not in entry or not entry.get("reference"):
            raise PolicyDataError(f"{path}: value of {since} needs 'value' and 'reference'")
        try:
            value = Decimal(str(entry["value"]))
        except ArithmeticError as exc:
            raise PolicyDataError(f"{path}: value of {since} is not a number") from exc
        values.append(DatedValue(since, value, str(entry["reference"])))
    values.sort(key=lambda v: v.since)
    return Parameter(
        name=name,
        description=str(raw.get("description", "")).strip(),
        unit=str(raw.get("unit", "")),
        values=tuple(values),
    )


def load_parameters(params_dir: Path | None = None) -> dict[str, Parameter]:
    """All parameters under `params_dir` (the shipped ones by default), keyed by short name."""
    root = params_dir or default_params_dir()
    found: dict[str, Parameter] = {}
    for path in sorted(root.rglob("*.yaml")):
        name = path.relative_to(root).with_suffix("").as_posix()
        parameter = _parse_file(path, name)
        if parameter.short_name in found:
            raise PolicyDataError(f"{path}: parameter name {parameter.short_name} is defined twice")
        found[parameter.short_name] = parameter
    return found


def policy_periods(parameters: dict[str, Parameter]) -> pa.Table:
    """The parameters as a dated table: one row per period in which no value changes.

    Columns: `valid_from` (inclusive), `valid_to` (exclusive, null for the open end) as dates, then
    one DECIMAL(18,6) column per parameter (null where the parameter had no value yet).
    """
    dates = sorted({v.since for p in parameters.values() for v in p.values})
    names = sorted(parameters)
    columns: dict[str, list[object]] = {"valid_from": [], "valid_to": []}
    for name in names:
        columns[name] = []
    for i, since in enumerate(dates):
        columns["valid_from"].append(since)
        columns["valid_to"].append(dates[i + 1] if i + 1 < len(dates) else None)
        for name in names:
            dated = parameters[name].at(since)
            columns[name].append(None if dated is None else dated.value)
    fields = [pa.field("valid_from", pa.date32()), pa.field("valid_to", pa.date32())]
    fields += [pa.field(name, pa.decimal128(18, 6)) for name in names]
    return pa.table(columns, schema=pa.schema(fields))


def parameter_at(periods: pa.Table, name: str, day: dt.date) -> Decimal | None:
    """The value of parameter `name` in force on `day`, from a `policy_periods` table (None when
    it has no value then). For the few look-ups outside the columnar stages."""
    for row in periods.select(["valid_from", "valid_to", name]).to_pylist():
        start, end = row["valid_from"], row["valid_to"]
        if start <= day and (end is None or day < end):
            value = row[name]
            return None if value is None else Decimal(value)
    return None
