"""Reference data of the statistics: provinces, customs offices and the pilot-zone registry.

Three CSV files with a header row ship in `cbec/stats/data/`; extra columns are ignored:

- `provinces.csv`: `code,name_zh,name_en,source`, the 31 provincial-level divisions of the
  mainland, `code` being the first two digits of the 6-digit administrative division code of the
  national standard GB/T 2260 (11 Beijing, 33 Zhejiang, ...).
- `customs.csv`: `code,name,name_en,province,kind,source`. The customs districts (`kind`
  `district`, codes ending `00`) come from public code tables; the simulator's offices are
  labelled `illustrative` in `source`.
- `pilot_zones.csv`: `code,name,name_en,province,batch,year,source`, the registry of the
  comprehensive cross-border e-commerce pilot zones. `code` is the prefix of the declared
  `area_code`s that belong to the zone (the city's administrative division code, 2 digits for
  the municipalities, 4 for the other cities; empty where the zone is not a whole city, until an
  operator gives one); `name`, `province`, `batch` and `year` are required.

Operators replace the customs table or the pilot-zone registry with their own file in the same
format (`--customs FILE`, `--zones FILE`); `province` may be written as the 2-digit code or as
the province's Chinese or English name. An unusable file raises `ReferenceDataError` naming the
file, line and column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pyarrow as pa

PROVINCE_SCHEMA = pa.schema(
    [("code", pa.string()), ("name_zh", pa.string()), ("name_en", pa.string())]
)
CUSTOMS_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("name", pa.string()),
        ("name_en", pa.string()),
        ("province", pa.string()),
        ("kind", pa.string()),
        ("source", pa.string()),
    ]
)
ZONE_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("name", pa.string()),
        ("name_en", pa.string()),
        ("province", pa.string()),
        ("batch", pa.int32()),
        ("year", pa.int32()),
        ("source", pa.string()),
    ]
)


class ReferenceDataError(ValueError):
    """A reference file that cannot be used; the message says which file, line and column."""


def data_dir() -> Path:
    return Path(str(resources.files("cbec.stats").joinpath("data")))


@dataclass(frozen=True)
class Reference:
    """The provinces, customs offices and pilot zones the statistics name things by."""

    provinces: pa.Table
    customs: pa.Table
    zones: pa.Table

    @classmethod
    def load(cls, customs: Path | None = None, zones: Path | None = None) -> Reference:
        """The shipped tables, with the customs table or zone registry replaced by a file."""
        provinces = _read(data_dir() / "provinces.csv", PROVINCE_SCHEMA, {}, required=("code",))
        known = _province_names(provinces)
        province = _province_parser(known)
        customs_table = _read(
            customs or data_dir() / "customs.csv",
            CUSTOMS_SCHEMA,
            {"code": _digits(4), "province": province},
            required=("code", "name"),
        )
        zone_table = _read(
            zones or data_dir() / "pilot_zones.csv",
            ZONE_SCHEMA,
            {"code": _prefix, "province": province, "batch": _count, "year": _year},
            required=("name", "province", "batch", "year"),
        )
        return cls(provinces, customs_table, zone_table)

    def province_name(self, code: str | None) -> str:
        names = dict(
            zip(
                self.provinces["code"].to_pylist(),
                self.provinces["name_en"].to_pylist(),
                strict=True,
            )
        )
        return names.get(code or "", "unknown")


def _province_names(provinces: pa.Table) -> dict[str, str]:
    known: dict[str, str] = {}
    for code, zh, en in zip(
        provinces["code"].to_pylist(),
        provinces["name_zh"].to_pylist(),
        provinces["name_en"].to_pylist(),
        strict=True,
    ):
        known[code] = code
        known[zh] = code
        known[en.lower()] = code
    return known


def _province_parser(known: dict[str, str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        code = known.get(text) or known.get(text.lower())
        if code is None:
            raise ValueError(
                "not a province: write its 2-digit GB/T 2260 code (e.g. 33) or its name"
            )
        return code

    return parse


def _digits(length: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not re.fullmatch(rf"\d{{{length}}}", text):
            raise ValueError(f"must be {length} digits")
        return text

    return parse


def _prefix(text: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z]{1,10}", text):
        raise ValueError("must be the first 1 to 10 characters of the zone's area codes")
    return text


def _count(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise ValueError("must be a whole number from 1")
    return value


def _year(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if not 2000 <= value <= 2100:
        raise ValueError("must be a year such as 2015")
    return value


def _read(
    path: Path,
    schema: pa.Schema,
    parsers: dict[str, Callable[[str], object]],
    required: tuple[str, ...],
) -> pa.Table:
    columns: dict[str, list[object]] = {name: [] for name in schema.names}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [name for name in required if name not in header]
            if missing:
                raise ReferenceDataError(
                    f"{path}: line 1: the header lacks {', '.join(missing)}; "
                    f"write {','.join(schema.names)}"
                )
            for row in reader:
                line = reader.line_num
                for name in schema.names:
                    text = (row.get(name) or "").strip()
                    if not text:
                        if name in required:
                            raise ReferenceDataError(f"{path}: line {line}, {name}: empty")
                        columns[name].append(None)
                        continue
                    parse = parsers.get(name)
                    try:
                        columns[name].append(parse(text) if parse else text)
                    except ValueError as exc:
                        raise ReferenceDataError(
                            f"{path}: line {line}, {name}: {text!r} {exc}"
                        ) from None
    except OSError as exc:
        raise ReferenceDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ReferenceDataError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    table = pa.table(columns, schema=schema)
    codes = [code for code in table["code"].to_pylist() if code]
    if len(codes) != len(set(codes)):
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        raise ReferenceDataError(f"{path}: code {repeated[0]} is given twice")
    return table
