"""The positive list and the tariff as rows with validity, read from CSV.

Both files have a header row; extra columns (a note, a date the source was read) are allowed
and ignored.
Dates are `YYYY-MM-DD`; `valid_from` is inclusive and `valid_to` exclusive (empty: still valid).
Rates are fractions (0.13) with at most 6 decimals. docs/policy.md documents both formats.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

import pyarrow as pa

from cbec.policy.errors import PolicyDataError

REMARK_KINDS = ("none", "bonded_only", "name_limit", "quantity_limit", "excluded")

RATE = pa.decimal128(18, 6)
# Specific consumption tax per legal unit, CNY. Four decimals keep the exact tax arithmetic
# within DECIMAL(38) (see clearance/money.py); real specific rates need at most three.
SPECIFIC = pa.decimal128(18, 4)

POSITIVE_LIST_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("name", pa.string()),
        ("remark_kind", pa.string()),
        ("remark", pa.string()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),
        ("source", pa.string()),
    ]
)

TARIFF_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("name", pa.string()),
        ("mfn_rate", RATE),
        ("provisional_rate", RATE),
        ("vat_rate", RATE),
        ("consumption_rate", RATE),
        ("consumption_min_unit_price", pa.decimal128(18, 2)),
        ("consumption_specific", SPECIFIC),
        ("consumption_specific_unit", pa.string()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),
        ("source", pa.string()),
    ]
)


def default_data_dir() -> Path:
    return Path(str(resources.files("cbec.policy").joinpath("data")))


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _decimal(places: int) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        value = Decimal(text)
        if not value.is_finite() or value < 0:
            raise ValueError("must be a finite number >= 0")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise ValueError(f"at most {places} decimals")
        return value

    return parse


def _below_one(parse: Callable[[str], Decimal]) -> Callable[[str], Decimal]:
    def parse_below_one(text: str) -> Decimal:
        value = parse(text)
        if value >= 1:
            raise ValueError("must be below 1 (the tax is computed over 1 - rate)")
        return value

    return parse_below_one


def _code(lengths: tuple[int, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.isdigit() or len(text) not in lengths:
            raise ValueError(f"must be {' or '.join(map(str, lengths))} digits")
        return text

    return parse


def _remark_kind(text: str) -> str:
    if text not in REMARK_KINDS:
        raise ValueError(f"must be one of {', '.join(REMARK_KINDS)}")
    return text


def _read_rows(
    path: Path,
    schema: pa.Schema,
    parsers: dict[str, Callable[[str], object]],
    required: tuple[str, ...],
) -> pa.Table:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [name for name in required if name not in header]
            if missing:
                raise PolicyDataError(f"{path}: missing column(s) {', '.join(missing)}")
            columns: dict[str, list[object]] = {name: [] for name in schema.names}
            line_numbers: list[int] = []
            for row in reader:
                line_no = reader.line_num
                line_numbers.append(line_no)
                for name in schema.names:
                    text = (row.get(name) or "").strip()
                    if not text:
                        if name in required:
                            raise PolicyDataError(f"{path}, line {line_no}, {name}: empty")
                        columns[name].append(None)
                        continue
                    parse = parsers.get(name, str)
                    try:
                        columns[name].append(parse(text))
                    except (ValueError, InvalidOperation) as exc:
                        raise PolicyDataError(
                            f"{path}, line {line_no}, {name}: {text!r} is not valid ({exc})"
                        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyDataError(f"{path}: cannot read: {exc}") from exc
    table = pa.table(columns, schema=schema)
    _check_validity(path, table, line_numbers)
    return table


def _check_validity(path: Path, table: pa.Table, line_numbers: list[int]) -> None:
    """Each row's period is not empty, and rows of one code never overlap in time (a changed
    remark or rate closes the old row and opens a new one)."""
    far_past, far_future = dt.date.min, dt.date.max
    periods: dict[str, list[tuple[dt.date, dt.date, int]]] = {}
    for code, since, until, line in zip(
        table["code"].to_pylist(),
        table["valid_from"].to_pylist(),
        table["valid_to"].to_pylist(),
        line_numbers,
        strict=True,
    ):
        start, end = since or far_past, until or far_future
        if end <= start:
            raise PolicyDataError(f"{path}, line {line}: valid_to must be after valid_from")
        periods.setdefault(code, []).append((start, end, line))
    for code, rows in periods.items():
        rows.sort()
        for (_, end, line), (start, _, next_line) in itertools.pairwise(rows):
            if start < end:
                raise PolicyDataError(
                    f"{path}, lines {line} and {next_line}: two rows of {code} are valid at once; "
                    "close the earlier row (valid_to) where the later one starts"
                )


def load_positive_list(path: Path | None = None) -> pa.Table:
    """Positive-list rows; a line is on the list on a date when one of its rows is valid then."""
    return _read_rows(
        path or default_data_dir() / "positive_list.csv",
        POSITIVE_LIST_SCHEMA,
        {
            "code": _code((8,)),
            "remark_kind": _remark_kind,
            "valid_from": _date,
            "valid_to": _date,
        },
        required=("code", "name", "remark_kind", "valid_from"),
    )


def load_tariff(path: Path | None = None) -> pa.Table:
    """Tariff rows keyed by an 8- or 10-digit code; the longest prefix of a `gcode` wins."""
    rate = _decimal(6)
    path = path or default_data_dir() / "tariff.csv"
    table = _read_rows(
        path,
        TARIFF_SCHEMA,
        {
            "code": _code((8, 10)),
            "mfn_rate": rate,
            "provisional_rate": rate,
            "vat_rate": rate,
            "consumption_rate": _below_one(rate),
            "consumption_min_unit_price": _decimal(2),
            "consumption_specific": _decimal(4),
            "valid_from": _date,
            "valid_to": _date,
        },
        required=("code", "name", "mfn_rate", "vat_rate"),
    )
    return table
