"""Reforms: named, dated edits of the rules, to ask "what if the rules were different?".

A reform is a small YAML file (docs/whatif.md documents it in full):

    name: Annual limit 30,000
    description: What if the annual allowance were raised to 30,000 CNY from 2024?
    parameters:
      annual_limit: {2024-01-01: 30000}          # or {2024-01-01: {value: 30000, reference: ...}}
    positive_list:
      file: positive_list_2019.csv               # replaces the list; relative to this file
      remove: {2024-01-01: ["33049900"]}
      add: {2024-01-01: [{code: "12345678", name: Sample goods, remark_kind: none}]}
    tariff:
      file: tariff_2025.csv                      # replaces the tariff; relative to this file
      remove: {2024-01-01: ["3304990099"]}
      set: {2024-01-01: [{code: "3304990099", vat_rate: 0.09}]}

Every edit holds from its date onward and replaces what the rules said from that date: a
parameter's values dated on or after the reform's first date for it are dropped, and a list or
tariff row of an edited code is closed on the edit's date (rows that would only start later are
dropped). So a reform never leaves two values in force at once, and it means what it says ("from
2024-01-01 the annual limit is 30,000") whatever later values the shipped rules carry.

Several reforms apply in the order given: a later one edits the result of the earlier ones, so
where two touch the same parameter or code, the later one wins from its date on.

Like the rest of `cbec.policy`, this module imports nothing of cbec outside the package: it turns
files into tables. The pipeline clears with the tables (`Rules` has the fields of its `Policy`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from cbec.policy.errors import PolicyDataError
from cbec.policy.lists import (
    POSITIVE_LIST_SCHEMA,
    TARIFF_SCHEMA,
    _below_one,
    _code,
    _decimal,
    _remark_kind,
    load_positive_list,
    load_tariff,
)
from cbec.policy.parameters import DatedValue, Parameter, load_parameters, policy_periods


class ReformError(PolicyDataError):
    """A reform file that cannot be used; the message names the file and the field."""


CURRENT = "current"  # the shipped rules (or the operator's files), as `cbec policy diff` names them

# Decimals a parameter may carry: the dated table holds them as DECIMAL(18,6).
PARAMETER_DECIMALS = 6

# Fields of the rows a reform adds, with their parsers (those of the CSV loaders).
_LIST_FIELDS: dict[str, Callable[[str], object]] = {
    "code": _code((8,)),
    "name": str,
    "remark_kind": _remark_kind,
    "remark": str,
}
_TARIFF_FIELDS: dict[str, Callable[[str], object]] = {
    "code": _code((8, 10)),
    "name": str,
    "mfn_rate": _decimal(6),
    "provisional_rate": _decimal(6),
    "vat_rate": _decimal(6),
    "consumption_rate": _below_one(_decimal(6)),
    "consumption_min_unit_price": _decimal(2),
    "consumption_specific": _decimal(4),
    "consumption_specific_unit": str,
}
_TARIFF_REQUIRED = ("name", "mfn_rate", "vat_rate")


@dataclass(frozen=True)
class RowEdit:
    """One dated edit of a list or tariff code: `remove` it, `add` a row, or `set` some fields."""

    since: dt.date
    action: str  # "remove" (first on a date), then "add" / "set"
    code: str
    values: dict[str, object]
    where: str  # the field in the file, for errors found when the edit is applied


@dataclass(frozen=True)
class TableEdits:
    """The edits of one table: a file that replaces it, then dated row edits in date order."""

    file: Path | None = None
    edits: tuple[RowEdit, ...] = ()


@dataclass(frozen=True)
class Reform:
    path: Path
    name: str
    description: str
    parameters: dict[str, tuple[DatedValue, ...]]
    positive_list: TableEdits = field(default_factory=TableEdits)
    tariff: TableEdits = field(default_factory=TableEdits)


@dataclass(frozen=True)
class Rules:
    """A whole set of rules: dated parameters, positive-list rows and tariff rows.

    `periods`, `positive_list` and `tariff` are the tables the pipeline's `Policy` holds.
    """

    parameters: dict[str, Parameter]
    positive_list: pa.Table
    tariff: pa.Table

    @property
    def periods(self) -> pa.Table:
        return policy_periods(self.parameters)


def current_rules(tariff: Path | None = None, positive_list: Path | None = None) -> Rules:
    """The rules cbec applies: shipped parameters, and the shipped list and tariff unless given."""
    return Rules(load_parameters(), load_positive_list(positive_list), load_tariff(tariff))


# Loading ---------------------------------------------------------------------------------------


class _Where:
    """A place in a reform file, for messages: `reform.yaml: parameters.annual_limit: ...`."""

    def __init__(self, path: Path, parts: tuple[str, ...] = ()):
        self.path = path
        self.parts = parts

    def __truediv__(self, part: object) -> _Where:
        text = part.isoformat() if isinstance(part, dt.date) else str(part)
        return _Where(self.path, (*self.parts, text))

    def at(self, index: int) -> _Where:
        last = self.parts[-1] if self.parts else ""
        return _Where(self.path, (*self.parts[:-1], f"{last}[{index}]"))

    @property
    def field(self) -> str:
        return ".".join(self.parts)

    def error(self, problem: str) -> ReformError:
        place = f"{self.path}: {self.field}" if self.parts else str(self.path)
        return ReformError(f"{place}: {problem}")


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that a date that does not exist (2024-13-01) stays text, so
    that the check of its field can name the field."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_reform(path: Path, known: dict[str, Parameter] | None = None) -> Reform:
    """Read and check a reform file; `known` are the parameters it may change (shipped ones)."""
    where = _Where(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as exc:
        raise where.error(f"cannot read the reform file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise where.error("not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise where.error(f"{line}{problem}") from None
    if not isinstance(raw, dict):
        raise where.error("expected a mapping with name, description, parameters, ...")
    allowed = ("name", "description", "parameters", "positive_list", "tariff")
    for key in raw:
        if key not in allowed:
            raise (where / key).error(f"unknown field; a reform has {', '.join(allowed)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise (where / "name").error("required: a short name for the reform")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise (where / "description").error("must be text")
    parameters = known if known is not None else load_parameters()
    return Reform(
        path=path,
        name=name.strip(),
        description=description.strip(),
        parameters=_parameters(raw.get("parameters"), where / "parameters", parameters, name),
        positive_list=_table_edits(
            raw.get("positive_list"), where / "positive_list", ("add", "remove"), _LIST_FIELDS
        ),
        tariff=_table_edits(raw.get("tariff"), where / "tariff", ("set", "remove"), _TARIFF_FIELDS),
    )


def _mapping(value: object, where: _Where, what: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(f"expected a mapping of {what}")
    return value


def _date(key: object, where: _Where) -> dt.date:
    if isinstance(key, dt.datetime) or not isinstance(key, dt.date):
        raise where.error(f"{key!r} is not a date; write YYYY-MM-DD")
    return key


def _number(value: object, where: _Where) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise where.error(f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise where.error(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise where.error(f"{value!r} is not a finite number")
    return number


def _parameters(
    raw: object, where: _Where, known: dict[str, Parameter], reform_name: str
) -> dict[str, tuple[DatedValue, ...]]:
    overrides: dict[str, tuple[DatedValue, ...]] = {}
    for name, dated in _mapping(raw, where, "parameter names to dated values").items():
        at = where / name
        if name not in known:
            raise at.error(f"no such parameter; known: {', '.join(sorted(known))}")
        unit = known[name].unit
        values = []
        for since, entry in _mapping(dated, at, "dates to values").items():
            at_date = at / since
            day = _date(since, at_date)
            reference = f"reform: {reform_name}"
            if isinstance(entry, dict):
                unknown = set(entry) - {"value", "reference"}
                if unknown or "value" not in entry:
                    raise at_date.error("write a number, or {value: ..., reference: ...}")
                reference = str(entry.get("reference") or reference)
                entry = entry["value"]
            values.append(DatedValue(day, _parameter_value(entry, unit, at_date), reference))
        if not values:
            raise at.error("give at least one dated value, e.g. {2024-01-01: 30000}")
        overrides[name] = tuple(sorted(values, key=lambda v: v.since))
    return overrides


def _parameter_value(entry: object, unit: str, where: _Where) -> Decimal:
    value = _number(entry, where)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PARAMETER_DECIMALS:
        raise where.error(f"{entry!r} has more than {PARAMETER_DECIMALS} decimals")
    if value < 0:
        raise where.error(f"{entry!r} is negative")
    if unit == "fraction" and value > 1:
        raise where.error(f"{entry!r} is a fraction: write 0.6 for 60 %")
    if unit == "flag" and value not in (0, 1):
        raise where.error(f"{entry!r} is a flag: write 1 (yes) or 0 (no)")
    return value


def _table_edits(
    raw: object,
    where: _Where,
    actions: tuple[str, str],
    fields: dict[str, Callable[[str], object]],
) -> TableEdits:
    table = _mapping(raw, where, "file, " + ", ".join(actions))
    for key in table:
        if key not in ("file", *actions):
            raise (where / key).error(f"unknown field; write file, {', '.join(actions)}")
    file = None
    if table.get("file") is not None:
        if not isinstance(table["file"], str) or not table["file"].strip():
            raise (where / "file").error("must be the path of a CSV file")
        file = where.path.parent / table["file"].strip()
        if not file.is_file():
            raise (where / "file").error(f"no such file: {file}")
    edits: list[RowEdit] = []
    for action in actions:
        at = where / action
        for since, rows in _mapping(table.get(action), at, "dates to lists").items():
            at_date = at / since
            day = _date(since, at_date)
            if not isinstance(rows, list):
                raise at_date.error("expected a list")
            for index, row in enumerate(rows):
                edits.append(_row_edit(action, day, row, at_date.at(index), fields))
    order = {"remove": 0, "add": 1, "set": 1}
    edits.sort(key=lambda e: (e.since, order[e.action]))
    return TableEdits(file, tuple(edits))


def _row_edit(
    action: str,
    day: dt.date,
    row: object,
    where: _Where,
    fields: dict[str, Callable[[str], object]],
) -> RowEdit:
    if action == "remove":
        return RowEdit(day, action, _code_of(row, where, fields), {}, where.field)
    if not isinstance(row, dict):
        raise where.error("expected a mapping with code and the fields to give")
    for key in row:
        if key not in fields:
            raise (where / key).error(f"unknown field; write {', '.join(fields)}")
    code = _code_of(row.get("code"), where / "code", fields)
    values: dict[str, object] = {}
    for key, value in row.items():
        if key == "code":
            continue
        if value is None:
            values[key] = None  # clears a value the row would otherwise inherit
            continue
        if isinstance(value, bool | dict | list):
            raise (where / key).error(f"{value!r} is not a value")
        try:
            values[key] = fields[key](str(value).strip())
        except (ValueError, InvalidOperation) as exc:
            raise (where / key).error(f"{value!r} is not valid ({exc})") from None
    if action == "add":
        if not values.get("name"):
            raise (where / "name").error("required for a row the list adds")
        values.setdefault("remark_kind", "none")
    return RowEdit(day, action, code, values, where.field)


def _code_of(value: object, where: _Where, fields: dict[str, Callable[[str], object]]) -> str:
    if not isinstance(value, str):
        raise where.error(f'{value!r}: write codes in quotes, e.g. "33049900"')
    try:
        return str(fields["code"](value.strip()))
    except ValueError as exc:
        raise where.error(f"{value!r} is not a code ({exc})") from None


# Applying --------------------------------------------------------------------------------------


def apply_reforms(rules: Rules, reforms: Sequence[Reform]) -> Rules:
    """The rules with each reform applied in turn (a later reform wins where two overlap)."""
    for reform in reforms:
        rules = apply_reform(rules, reform)
    return rules


def apply_reform(rules: Rules, reform: Reform) -> Rules:
    parameters = dict(rules.parameters)
    for name, values in reform.parameters.items():
        base = parameters[name]
        kept = tuple(v for v in base.values if v.since < values[0].since)
        parameters[name] = Parameter(base.name, base.description, base.unit, kept + values)
    source = f"reform: {reform.name}"
    positive_list = rules.positive_list
    if reform.positive_list.file is not None:
        positive_list = load_positive_list(reform.positive_list.file)
    tariff = rules.tariff
    if reform.tariff.file is not None:
        tariff = load_tariff(reform.tariff.file)
    return Rules(
        parameters,
        _edited(positive_list, POSITIVE_LIST_SCHEMA, reform.positive_list.edits, source, reform),
        _edited(tariff, TARIFF_SCHEMA, reform.tariff.edits, source, reform),
    )


Row = dict[str, Any]


def _edited(
    table: pa.Table, schema: pa.Schema, edits: Sequence[RowEdit], source: str, reform: Reform
) -> pa.Table:
    """`table` with the edits applied in order. Policy tables hold a few thousand rows at most,
    so this is plain Python over rows (it never touches a declaration)."""
    if not edits:
        return table
    rows: list[Row] = table.select(schema.names).to_pylist()
    for edit in edits:
        if edit.action == "set":
            new = _set_row(rows, edit, source, reform)
        else:
            new = {**dict.fromkeys(schema.names), **edit.values, "code": edit.code}
            new.update(valid_from=edit.since, valid_to=None, source=source)
        rows = _closed(rows, edit.code, edit.since)
        if edit.action != "remove":
            rows.append(new)
    rows.sort(key=lambda r: (r["code"], r["valid_from"] or dt.date.min))
    return pa.Table.from_pylist(rows, schema=schema)


def _closed(rows: list[Row], code: str, day: dt.date) -> list[Row]:
    """The rows with those of `code` ending by `day` (those that would start later dropped)."""
    kept = []
    for row in rows:
        if row["code"] == code:
            if row["valid_from"] is not None and row["valid_from"] >= day:
                continue
            if row["valid_to"] is None or row["valid_to"] > day:
                row = {**row, "valid_to": day}
        kept.append(row)
    return kept


def _valid_on(row: Row, day: dt.date) -> bool:
    since, until = row["valid_from"], row["valid_to"]
    return (since is None or since <= day) and (until is None or day < until)


def _set_row(rows: list[Row], edit: RowEdit, source: str, reform: Reform) -> Row:
    """A tariff row for `edit.code` from its date: the fields given, the others taken from the
    row in force on that date for the code, else for its longest prefix (its 8-digit line)."""
    in_force = [r for r in rows if _valid_on(r, edit.since) and edit.code.startswith(r["code"])]
    base: Row = max(in_force, key=lambda r: len(r["code"]), default={})
    new = {name: base.get(name) for name in TARIFF_SCHEMA.names}
    new.update(edit.values)
    new.update(code=edit.code, valid_from=edit.since, valid_to=None, source=source)
    missing = [name for name in _TARIFF_REQUIRED if new.get(name) is None]
    if missing:
        raise ReformError(
            f"{reform.path}: {edit.where}: no tariff row of {edit.code} or its line is in force "
            f"on {edit.since}; give {', '.join(missing)}"
        )
    return new


# Comparing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterChange:
    name: str
    unit: str
    before: tuple[DatedValue, ...]
    after: tuple[DatedValue, ...]


@dataclass(frozen=True)
class RowChanges:
    """Rows only in the rules before (`removed`) and only after (`added`), `source` aside."""

    added: list[Row]
    removed: list[Row]

    @property
    def codes(self) -> list[str]:
        return sorted({r["code"] for r in self.added} | {r["code"] for r in self.removed})


@dataclass(frozen=True)
class RulesDiff:
    parameters: list[ParameterChange]
    positive_list: RowChanges
    tariff: RowChanges

    @property
    def empty(self) -> bool:
        return not (
            self.parameters
            or self.positive_list.added
            or self.positive_list.removed
            or self.tariff.added
            or self.tariff.removed
        )


def diff(before: Rules, after: Rules) -> RulesDiff:
    """What changes from `before` to `after`: parameters whose dated values differ, list and
    tariff rows removed and added (a row closed earlier is one removed and one added)."""
    changes = []
    for name in sorted(set(before.parameters) | set(after.parameters)):
        old, new = before.parameters.get(name), after.parameters.get(name)
        old_values = old.values if old else ()
        new_values = new.values if new else ()
        if [(v.since, v.value) for v in old_values] != [(v.since, v.value) for v in new_values]:
            unit = next(p.unit for p in (new, old) if p is not None)
            changes.append(ParameterChange(name, unit, old_values, new_values))
    return RulesDiff(
        changes,
        _row_changes(before.positive_list, after.positive_list),
        _row_changes(before.tariff, after.tariff),
    )


def _row_changes(before: pa.Table, after: pa.Table) -> RowChanges:
    def keyed(table: pa.Table) -> dict[tuple[Any, ...], Row]:
        names = [n for n in table.column_names if n != "source"]
        return {tuple(row[n] for n in names): row for row in table.to_pylist()}

    old, new = keyed(before), keyed(after)

    def order(row: Row) -> tuple[str, dt.date]:
        return row["code"], row["valid_from"] or dt.date.min

    return RowChanges(
        added=sorted((new[k] for k in new.keys() - old.keys()), key=order),
        removed=sorted((old[k] for k in old.keys() - new.keys()), key=order),
    )
