"""Build then parse keeps every field, for every message type (property test over generated
documents); and the strict checks name the element path and what was expected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbec.messages.build import build_tables, wrap_dxp
from cbec.messages.catalog import MESSAGES, MessageType, Part
from cbec.messages.parse import MessageRefused, parse_message
from cbec.messages.rules import ELEMENT_RULES, LONG_TEXT, TEXT_LENGTH

# Text as senders write it: Chinese, ASCII, XML's special characters, inner spaces and newlines.
# (A value of only spaces reads back as absent: XML parsers drop blank text.)
_CHARS = st.sampled_from(list("王小明北京市东城区号abcXYZ019 -_/&<>\"'\t\n\r#;:[]()"))


def _text(element: str) -> st.SearchStrategy[str]:
    limit = 60 if element not in LONG_TEXT else 120
    rule = ELEMENT_RULES.get(element)
    if rule is not None and rule.pattern is not None:
        return st.from_regex(f"^(?:{rule.pattern})$", fullmatch=True)
    if rule is not None and rule.max_length is not None:
        limit = min(limit, rule.max_length)
    return st.text(_CHARS, min_size=1, max_size=min(limit, TEXT_LENGTH)).filter(
        lambda t: t.strip() != ""
    )


def _value(element: str, dtype: pa.DataType) -> st.SearchStrategy[Any]:
    if pa.types.is_decimal(dtype):
        bound = Decimal(10) ** (dtype.precision - dtype.scale) - 1
        return st.decimals(-bound, bound, places=dtype.scale, allow_nan=False)
    if pa.types.is_integer(dtype):
        return st.integers(-(10**9) + 1, 10**9 - 1)
    if pa.types.is_timestamp(dtype):
        return st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2089, 12, 31)).map(
            lambda t: t.replace(microsecond=0)
        )
    return _text(element)


@st.composite
def _row(draw: st.DrawFn, part: Part) -> dict[str, Any]:
    schema = part.document.schema
    required = set(part.document.required) | {"guid", "app_type", "app_time", "app_status"}
    row: dict[str, Any] = {}
    for column, element in zip(part.columns, part.elements, strict=True):
        value = _value(element, schema.field(column).type)
        row[column] = draw(value if column in required else st.none() | value)
    return row


@st.composite
def _message(draw: st.DrawFn, message: MessageType) -> dict[str, pa.Table]:
    inherit = message.lines.inherit if message.lines is not None else ()
    heads = draw(  # each node's lines find their own head by its key
        st.lists(
            _row(message.head),
            min_size=1,
            max_size=3,
            unique_by=lambda row: tuple(row.get(c) for c in inherit),
        )
    )
    lines: list[dict[str, Any]] = []
    if message.lines is not None:
        for head in heads:
            for line in draw(st.lists(_row(message.lines), max_size=3)):
                lines.append({**line, **{c: head[c] for c in inherit}})
    tables = {message.head.document.stem: _table(heads, message.head)}
    if message.lines is not None:
        tables[message.lines.document.stem] = _table(lines, message.lines)
    return tables


def _table(rows: list[dict[str, Any]], part: Part) -> pa.Table:
    schema = part.document.schema
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_build_then_parse_keeps_every_field(code: str) -> None:
    message = MESSAGES[code]

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(tables=_message(message))
    def round_trip(tables: dict[str, pa.Table]) -> None:
        data = build_tables(message, tables, guid="0F8FAD5B-D9CB-469F-A165-70867728950E")
        for wire in (data, wrap_dxp(data, {"MsgType": message.root, "SenderId": "X"})):
            parsed = parse_message(wire)
            assert parsed.problems == {}
            assert parsed.type is message
            clean = parsed.clean_tables()
            for stem, table in tables.items():
                assert clean[stem].equals(table), stem

    round_trip()


def test_strict_validation_names_the_path_and_what_was_expected() -> None:
    message = MESSAGES["621"]
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ceb:CEB621Message guid="not-a-uuid" version="v1.0" '
        b'xmlns:ceb="http://www.chinaport.gov.cn/ceb"><ceb:Inventory><ceb:InventoryHead>'
        b"<ceb:guid>abc</ceb:guid><ceb:appType>7</ceb:appType><ceb:appTime>20240230100000</ceb:appTime>"
        b"<ceb:appStatus>2</ceb:appStatus><ceb:copNo>C1</ceb:copNo><ceb:freight>1.234</ceb:freight>"
        b"<ceb:currency>CNY</ceb:currency><ceb:madeUp>x</ceb:madeUp>"
        b"</ceb:InventoryHead><ceb:InventoryList><ceb:gnum>1</ceb:gnum><ceb:gcode>61112000</ceb:gcode>"
        b"<ceb:gcode>6111200050</ceb:gcode></ceb:InventoryList></ceb:Inventory></ceb:CEB621Message>"
    )
    parsed = parse_message(data, strict=True)
    assert parsed.type is message
    found = {str(p) for problems in parsed.problems.values() for p in problems}
    head = "/CEB621Message/Inventory[1]/InventoryHead"
    line = "/CEB621Message/Inventory[1]/InventoryList[1]"
    expected = {
        "/CEB621Message/@version: expected version \"1.0\", found 'v1.0'",
        f"{head}/guid: expected 36 characters, upper-case hexadecimal in groups 8-4-4-4-12, "
        "found 'abc'",
        f"{head}/appType: expected 1 (add), 2 (change) or 3 (delete), found '7'",
        f"{head}/appTime: expected a real date and time, found '20240230100000'",
        f"{head}/freight: expected a number with at most 2 decimals, found '1.234'",
        f"{head}/currency: expected a 3-digit GACC code, found 'CNY'",
        f"{head}/madeUp: expected an element of InventoryHead, found 'unknown'",
        f"{head}/orderNo: missing; expected a value (required)",
        f"{line}/gcode: expected the element once, found 'repeated'",
        f"{line}/gcode: expected a 10-digit HS code, found '61112000'",
    }
    assert expected <= found, sorted(found)
    # Clearance is tolerant of what real senders send: the guid and version pass there.
    tolerant = {str(p) for ps in parse_message(data).problems.values() for p in ps}
    assert not any("guid" in p or "version" in p or "madeUp" in p for p in tolerant)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<a/>", "not in the CEB namespace"),
        (b'<ceb:CEB999Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"/>', "unknown message"),
        (b'<ceb:CEB311Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"/>', "no Order"),
        (b"<?xml version='1.0'?><!DOCTYPE a><a/>", "DTD"),
        (b"<a><b></a>", "not well-formed"),
        (b"", "not well-formed"),
    ],
)
def test_a_message_that_cannot_be_read_is_refused_whole(data: bytes, reason: str) -> None:
    with pytest.raises(MessageRefused, match=reason):
        parse_message(data)
