"""Build CEB XML messages from canonical tables: the inverse of `cbec.messages.parse`.

Written as text, element by element in the standard's order, with the `ceb:` prefix the real
messages use. Absent (null) values are left out. Money is written with two decimals, quantities
without trailing zeros, times as `YYYYMMDDhhmmss` (`declTime` and `ieDate` as `YYYYMMDD` when
they fall at midnight).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cbec.messages.catalog import DXP_NAMESPACE, NAMESPACE, MessageType, Part
from cbec.messages.parse import ENVELOPE_FIELDS, TRANSFER_FIELDS
from cbec.messages.rules import DATE_ELEMENTS

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_ESCAPE = re.compile(r'[&<>"]')
# Characters XML 1.0 cannot carry at all (controls other than tab, newline, carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Row = Mapping[str, Any]


# Any character `_text` must look at: most values have none, and are written as they are.
_SPECIAL = re.compile('[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')


def _text(value: str) -> str:
    if _SPECIAL.search(value) is None:
        return value
    if _NOT_XML.search(value):
        raise ValueError(f"{value!r} holds a character XML cannot carry")
    escaped = _ESCAPE.sub(lambda m: _ESCAPES[m.group()], value)
    return escaped.replace("\r", "&#13;")  # a raw CR would be read back as a newline


def format_value(element: str, value: object) -> str:
    """One value as the messages write it."""
    if type(value) is str:  # most values: checked first
        return _text(value)
    if isinstance(value, Decimal):
        if value.as_tuple().exponent == -2:  # money keeps its two decimals
            return f"{value:.2f}"
        text = f"{value:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, dt.datetime):
        if element in DATE_ELEMENTS and value.time() == dt.time():
            return value.strftime("%Y%m%d")
        if value.microsecond:  # as the published receipts write milliseconds
            return value.strftime("%Y%m%d%H%M%S") + f"{value.microsecond // 1000:03d}"
        return value.strftime("%Y%m%d%H%M%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    return _text(str(value))


def _fields(out: list[str], part: Part, row: Row, indent: str, empty: bool) -> None:
    for column, element, opening, closing in part.tags:
        value = row.get(column)
        if value is None:
            if empty:
                out.append(indent + opening + closing)
            continue
        out.append(indent + opening + format_value(element, value) + closing)


def build_message(
    message: MessageType,
    heads: Iterable[Row],
    lines: Iterable[Row] = (),
    guid: str = "",
    transfer: Mapping[str, str | None] | None = None,
    empty: bool = False,
) -> bytes:
    """A CEB message with one business node per head row; lines go to the node whose head has
    their key (`Part.inherit`). Absent values are left out, or written as empty elements when
    `empty` (receipts: every element of the standard present, as enterprises' parsers expect)."""
    by_head: dict[tuple[Any, ...], list[Row]] = {}
    if message.lines is not None:
        inherit = message.lines.inherit
        for line in lines:
            by_head.setdefault(tuple(line.get(c) for c in inherit), []).append(line)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ceb:{message.root} guid="{_text(guid)}" version="1.0" xmlns:ceb="{NAMESPACE}"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ]
    for head in heads:
        if message.node is None:
            out.append(f"  <ceb:{message.head.element}>")
            _fields(out, message.head, head, "    ", empty)
            out.append(f"  </ceb:{message.head.element}>")
            continue
        out.append(f"  <ceb:{message.node}>")
        out.append(f"    <ceb:{message.head.element}>")
        _fields(out, message.head, head, "      ", empty)
        out.append(f"    </ceb:{message.head.element}>")
        if message.lines is not None:
            key = tuple(head.get(c) for c in message.lines.inherit)
            for line in by_head.get(key, ()):
                out.append(f"    <ceb:{message.lines.element}>")
                _fields(out, message.lines, line, "      ", empty)
                out.append(f"    </ceb:{message.lines.element}>")
        out.append(f"  </ceb:{message.node}>")
    if transfer is not None:
        out.append("  <ceb:BaseTransfer>")
        for name in TRANSFER_FIELDS:
            value = transfer.get(name)
            if value is not None:
                out.append(f"    <ceb:{name}>{_text(value)}</ceb:{name}>")
        out.append("  </ceb:BaseTransfer>")
    out.append(f"</ceb:{message.root}>")
    return ("\n".join(out) + "\n").encode("utf-8")


def build_tables(
    message: MessageType,
    tables: Mapping[str, pa.Table],
    guid: str = "",
    transfer: Mapping[str, str | None] | None = None,
) -> bytes:
    """`build_message` from the canonical tables of a message's parts."""
    heads = tables[message.head.document.stem].to_pylist()
    lines = tables[message.lines.document.stem].to_pylist() if message.lines else []
    return build_message(message, heads, lines, guid, transfer)


def wrap_dxp(message: bytes, info: Mapping[str, str | None]) -> bytes:
    """The DXP transport envelope around a CEB message (its Data is the message in base64)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(f'<dxp:DxpMsg ver="1.0" xmlns:dxp="{DXP_NAMESPACE}">')
    out.append("  <dxp:TransInfo>")
    for name in ENVELOPE_FIELDS:
        value = info.get(name)
        if value is None:
            continue
        if name == "ReceiverId":
            out.append(
                f"    <dxp:ReceiverIds><dxp:ReceiverId>{_text(value)}</dxp:ReceiverId>"
                "</dxp:ReceiverIds>"
            )
        else:
            out.append(f"    <dxp:{name}>{_text(value)}</dxp:{name}>")
    out.append("  </dxp:TransInfo>")
    out.append(f"  <dxp:Data>{base64.b64encode(message).decode('ascii')}</dxp:Data>")
    out.append("</dxp:DxpMsg>")
    return ("\n".join(out) + "\n").encode("utf-8")
