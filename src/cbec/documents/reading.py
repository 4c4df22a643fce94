"""Read document files (Parquet or JSON Lines) into the canonical schemas, row errors reported.

A well-formed Parquet file whose columns already have the canonical types is passed through
untouched (the engine reads it directly; nothing is decoded in Python). Anything else is
converted column by column; a value that cannot be converted is reported with file, row and field,
and its row is left out, while every other row is still read. Money and quantities may be numbers or
strings; times are ISO 8601 (`2024-06-15`, `2024-06-15T10:00:00`) or the messages' `YYYYMMDDhhmmss`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeAlias

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cbec.documents.schemas import IMPORT_DOCUMENTS, ZERO_WHEN_ABSENT, Document

# JSON Lines larger than this per line are refused (a hostile or broken file, not a document).
MAX_LINE_BYTES = 1_000_000


@dataclass(frozen=True)
class RowError:
    """One value that could not be read: where it is and what is wrong with it."""

    file: str
    row: int  # 1-based: the line of a JSON Lines file, the row of a Parquet file
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, {self.field}: {self.message}"


@dataclass
class DocumentSource:
    """What was read for one document family: clean Parquet files, converted tables, errors."""

    document: Document
    parquet_files: list[Path] = field(default_factory=list)  # canonical as they are
    tables: list[pa.Table] = field(default_factory=list)  # converted, canonical schema
    origins: list[Path] = field(default_factory=list)  # the file each table came from
    # The SHA-256 naming each table in the store; None: that of its origin file.
    digests: list[str | None] = field(default_factory=list)
    row_numbers: list[list[int]] = field(default_factory=list)  # each table row's file row
    errors: list[RowError] = field(default_factory=list)
    # Key fields of rows left out, so that a declaration whose row is unreadable is still answered.
    unreadable_keys: list[dict[str, str]] = field(default_factory=list)
    # Rows without `cop_no` or with an absent `agent_code` were seen: the keys need cleaning.
    keys_to_clean: bool = False

    @property
    def empty(self) -> bool:
        return not self.parquet_files and not self.tables


class UnreadableInput(Exception):
    """The input as a whole cannot be used (missing folder, unreadable file)."""


def _parse_decimal(scale: int) -> Callable[[object], Decimal]:
    def parse(value: object) -> Decimal:
        if isinstance(value, bool):
            raise ValueError("expected a number, got true/false")
        if isinstance(value, float):
            value = repr(value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > scale:
            rounded = number.quantize(Decimal(1).scaleb(-scale))
            if rounded != number:
                raise ValueError(f"{value!r} has more than {scale} decimals")
            number = rounded
        if abs(number) >= Decimal(10) ** (18 - scale):
            raise ValueError(f"{value!r} is too large")
        return number

    return parse


def _parse_time(value: object) -> dt.datetime:
    text = str(value).strip()
    if len(text) == 14 and text.isdigit():  # the messages' YYYYMMDDhhmmss
        return dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    if len(text) == 8 and text.isdigit():  # declTime, ieDate: YYYYMMDD
        return dt.datetime.strptime(text, "%Y%m%d")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a time (ISO 8601 or YYYYMMDDhhmmss)") from None
    if parsed.tzinfo is not None:  # stored as China Standard Time, as in the messages
        parsed = parsed.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    return parsed


def _parse_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got true/false")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    number = Decimal(text) if text else None
    if number is None or number != number.to_integral_value():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _parse_text(value: object) -> str:
    if isinstance(value, dict | list):
        raise ValueError("expected text, got a JSON object or list")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parser(dtype: pa.DataType) -> Callable[[object], object]:
    if pa.types.is_decimal(dtype):
        return _parse_decimal(dtype.scale)
    if pa.types.is_timestamp(dtype):
        return _parse_time
    if pa.types.is_integer(dtype):
        return _parse_int
    return _parse_text


def _convert(
    name: str, values: list[object], dtype: pa.DataType
) -> tuple[pa.Array, dict[int, str]]:
    """Values parsed one by one (the careful path): the array, and a message per bad index."""
    parse = _parser(dtype)
    converted: list[object] = []
    errors: dict[int, str] = {}
    for i, value in enumerate(values):
        if value is None or (isinstance(value, str) and not value.strip() and dtype != pa.string()):
            converted.append(None)
            continue
        try:
            converted.append(parse(value))
        except (ValueError, ArithmeticError, TypeError) as exc:
            errors[i] = str(exc)
            converted.append(None)
    return pa.array(converted, type=dtype), errors


def _fast_cast(column: pa.ChunkedArray, dtype: pa.DataType) -> pa.ChunkedArray | None:
    """A lossless vectorised cast, or None when values need the careful per-value path."""
    source = column.type
    if source == dtype:
        return column
    lossless = (
        (pa.types.is_integer(source) and (pa.types.is_integer(dtype) or pa.types.is_decimal(dtype)))
        or (pa.types.is_decimal(source) and pa.types.is_decimal(dtype))
        or (pa.types.is_timestamp(source) and pa.types.is_timestamp(dtype))
        or (pa.types.is_date(source) and pa.types.is_timestamp(dtype))
        or (pa.types.is_large_string(source) and pa.types.is_string(dtype))
        or pa.types.is_null(source)
    )
    if not lossless:
        return None
    try:
        return pc.cast(column, dtype, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


Column: TypeAlias = pa.ChunkedArray | list[object]


def conform(
    columns: dict[str, Column], rows: int, document: Document, file: str, row_numbers: list[int]
) -> tuple[pa.Table, list[RowError], list[dict[str, str]], list[int]]:
    """The given columns in the canonical schema of `document`; rows with bad values left out.

    `columns` holds Arrow columns (cast in bulk when lossless) or Python values (parsed one by
    one); `row_numbers` gives the file row of each index. Returns the clean table, one error per
    unreadable value, the key fields of the rows left out (as far as they could be read), and the
    file row of each row kept.
    """
    arrays: dict[str, pa.ChunkedArray | pa.Array] = {}
    errors: dict[int, list[RowError]] = {}
    for target in document.schema:
        column = columns.get(target.name)
        if column is None:
            arrays[target.name] = pa.nulls(rows, type=target.type)
            continue
        if isinstance(column, pa.ChunkedArray):
            fast = _fast_cast(column, target.type)
            if fast is not None:
                arrays[target.name] = fast
                continue
            column = column.to_pylist()
        array, bad = _convert(target.name, column, target.type)
        arrays[target.name] = array
        for i, message in bad.items():
            errors.setdefault(i, []).append(RowError(file, row_numbers[i], target.name, message))
    for name in ZERO_WHEN_ABSENT.get(document.stem, ()):
        dtype = document.schema.field(name).type
        arrays[name] = pc.fill_null(arrays[name], pa.scalar(Decimal(0), dtype))
    table = pa.table(arrays, schema=document.schema)
    if not errors:
        return table, [], [], row_numbers
    bad_rows = sorted(errors)
    keep = pa.array([i not in errors for i in range(rows)])
    lost = [
        {k: str(v) for k in document.key if (v := table[k][i].as_py()) is not None}
        for i in bad_rows
    ]
    flat = [error for i in bad_rows for error in errors[i]]
    kept = [number for i, number in enumerate(row_numbers) if i not in errors]
    return table.filter(keep), flat, lost, kept


def _read_json_lines(
    path: Path, document: Document
) -> tuple[pa.Table, list[RowError], list[dict[str, str]], list[int]]:
    records: list[dict[str, object]] = []
    line_numbers: list[int] = []
    errors: list[RowError] = []
    file = str(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if len(raw) > MAX_LINE_BYTES:
                errors.append(
                    RowError(file, number, "*", f"line longer than {MAX_LINE_BYTES} bytes")
                )
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                errors.append(
                    RowError(file, number, "*", f"not UTF-8 ({exc.reason} at byte {exc.start})")
                )
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                errors.append(RowError(file, number, "*", f"not JSON ({exc})"))
                continue
            if not isinstance(record, dict):
                errors.append(RowError(file, number, "*", "a line must be one JSON object"))
                continue
            records.append(record)
            line_numbers.append(number)
    columns: dict[str, Column] = {
        name: [r.get(name) for r in records] for name in document.schema.names
    }
    table, row_errors, lost, kept = conform(columns, len(records), document, file, line_numbers)
    return table, errors + row_errors, lost, kept


def _is_canonical(schema: pa.Schema, document: Document) -> bool:
    """A Parquet file the engine can read as it is: every column present with its canonical type."""
    for target in document.schema:
        index = schema.get_field_index(target.name)
        if index < 0 or schema.field(index).type != target.type:
            return False
    return True


# Families whose rows are answered by their key: a row without `cop_no` can never get its
# decision. (`agent_code`, not a required field of the standard, may be absent: it then keys as
# the empty code, on the declaration and its lines alike.)
ANSWERED_BY_KEY = {"inventories": ("cop_no",), "inventory_lines": ("cop_no",)}
_KEYLESS_SQL = (
    "SELECT file_row_number + 1 FROM read_parquet(?, file_row_number = true) "
    "WHERE cop_no IS NULL OR trim(cop_no) = '' ORDER BY 1"
)
_NO_AGENT_SQL = "SELECT count(*) FROM read_parquet(?) WHERE agent_code IS NULL"


def _report_keyless(source: DocumentSource) -> None:
    """Rows of a declaration without `agent_code` or `cop_no` are reported, never answered."""
    keys = ANSWERED_BY_KEY.get(source.document.stem)
    if not keys:
        return
    message = "no declaration number (cop_no); the row cannot be answered and is left out"
    if source.parquet_files:  # a connection costs more than a micro-batch's own checks
        _report_keyless_files(source, message)
    for path, table, numbers in zip(source.origins, source.tables, source.row_numbers, strict=True):
        blank = functools.reduce(
            pc.or_,
            (pc.fill_null(pc.equal(pc.utf8_trim_whitespace(table[k]), ""), True) for k in keys),
        )
        keyless = pc.indices_nonzero(blank).to_pylist()
        for index in keyless:
            source.errors.append(RowError(str(path), numbers[index], "cop_no", message))
        source.keys_to_clean |= bool(keyless) or table["agent_code"].null_count > 0


def _report_keyless_files(source: DocumentSource, message: str) -> None:
    """`_report_keyless` for the Parquet files, read where they lie."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for path in source.parquet_files:
        rows = con.execute(_KEYLESS_SQL, [str(path)]).fetchall()
        source.errors.extend(RowError(str(path), row, "cop_no", message) for (row,) in rows)
        no_agent = con.execute(_NO_AGENT_SQL, [str(path)]).fetchone()
        source.keys_to_clean |= bool(rows) or bool(no_agent and no_agent[0])


def read_folder(
    folders: Iterable[Path], documents: tuple[Document, ...] = IMPORT_DOCUMENTS
) -> dict[str, DocumentSource]:
    """Every document family found in `folders` (files `<stem>.parquet` or `<stem>.jsonl`)."""
    sources = {doc.stem: DocumentSource(doc) for doc in documents}
    for folder in folders:
        if not folder.is_dir():
            raise UnreadableInput(f"{folder}: no such folder")
        for doc in documents:
            source = sources[doc.stem]
            parquet = folder / f"{doc.stem}.parquet"
            if parquet.exists():
                _read_parquet(parquet, doc, source)
            jsonl = folder / f"{doc.stem}.jsonl"
            if jsonl.exists():
                table, errors, lost, kept = _read_json_lines(jsonl, doc)
                source.tables.append(table)
                source.origins.append(jsonl)
                source.digests.append(None)
                source.row_numbers.append(kept)
                source.errors.extend(errors)
                source.unreadable_keys.extend(lost)
    for source in sources.values():
        _report_keyless(source)
    return sources


def _read_parquet(path: Path, doc: Document, source: DocumentSource) -> None:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        source.errors.append(RowError(str(path), 0, "*", f"not a readable Parquet file: {exc}"))
        return
    if _is_canonical(schema, doc):
        source.parquet_files.append(path)
        return
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        source.errors.append(RowError(str(path), 0, "*", f"not a readable Parquet file: {exc}"))
        return
    columns: dict[str, Column] = {name: table[name] for name in table.column_names}
    numbers = list(range(1, table.num_rows + 1))
    clean, errors, lost, kept = conform(columns, table.num_rows, doc, str(path), numbers)
    source.tables.append(clean)
    source.origins.append(path)
    source.digests.append(None)
    source.row_numbers.append(kept)
    source.errors.extend(errors)
    source.unreadable_keys.extend(lost)
