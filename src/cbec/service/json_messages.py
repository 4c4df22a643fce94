"""CEB messages as JSON, both ways: a JSON body of `POST /v1/messages` becomes the CEB message it
stands for, and a receipt is read as JSON.

A JSON message names its type and `guid` and lists its business nodes; each node holds the head's
fields and its `lines`, with the canonical column names (snake_case of the CEB elements, as in the
JSON Lines input of `cbec clear` and in docs/messages.md):

    {"code": "311", "guid": "MSG-1",
     "nodes": [{"guid": "...", "order_no": "ORD1", ..., "lines": [{"gnum": 1, ...}]}],
     "base_transfer": {"cop_code": "3301964J31", "cop_name": "...", "dxp_mode": "DXP", ...}}

It is converted to the CEB XML the enterprise would have sent, which is what the intake log keeps
and the batcher clears: one path behind the door, whatever came in. A value that cannot be read,
or a field the document does not have, refuses the whole body (400 `json_unreadable`, naming the
node, line and field): unlike an XML node with a bad value, a JSON body is built by a program,
and silently leaving a field out would hide its bug.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cbec.documents.reading import conform
from cbec.messages.build import build_tables
from cbec.messages.catalog import MESSAGES, MessageType
from cbec.messages.parse import TRANSFER_FIELDS, parse_message
from cbec.service.auth import PERMISSIONS, Refusal


def _refuse(detail: str) -> Refusal:
    return Refusal(400, "json_unreadable", detail)


def to_xml(body: bytes) -> bytes:
    """The CEB message a JSON body stands for. Raises Refusal (400)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(f"The body is not JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise _refuse("The body must be a JSON object with code, guid and nodes.")
    code = str(data.get("code", "")).removeprefix("CEB")
    message = MESSAGES.get(code)
    if message is None or code not in PERMISSIONS:
        raise _refuse(f"code {data.get('code')!r}: accepted are {', '.join(sorted(PERMISSIONS))}.")
    nodes = data.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, dict) for n in nodes):
        raise _refuse("nodes must be a non-empty list of objects, one per business node.")
    unknown = set(data) - {"code", "guid", "nodes", "base_transfer"}
    if unknown:
        raise _refuse(f"unknown member(s) {', '.join(sorted(unknown))} of the message.")
    tables = _tables(message, nodes)
    transfer = _transfer(data.get("base_transfer"))
    guid = data.get("guid")
    return build_tables(
        message, tables, guid=str(guid) if guid is not None else "", transfer=transfer
    )


def _tables(message: MessageType, nodes: list[dict[str, Any]]) -> dict[str, pa.Table]:
    head_document = message.head.document
    heads: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    where: list[str] = []  # "node 2, line 1" of each line
    for number, node in enumerate(nodes, start=1):
        head = {k: v for k, v in node.items() if k != "lines"}
        _known(head, head_document.schema.names, f"node {number}")
        heads.append(head)
        node_lines = node.get("lines", [])
        if message.lines is None:
            if "lines" in node:
                raise _refuse(f"node {number}: CEB{message.code} has no lines.")
            continue
        if not isinstance(node_lines, list) or not all(isinstance(x, dict) for x in node_lines):
            raise _refuse(f"node {number}: lines must be a list of objects.")
        for index, line in enumerate(node_lines, start=1):
            _known(line, message.lines.document.schema.names, f"node {number}, line {index}")
            # A line belongs to its node: the head's keys (orderNo ...) are inherited.
            lines.append({**{c: head.get(c) for c in message.lines.inherit}, **line})
            where.append(f"node {number}, line {index}")
    tables = {
        head_document.stem: _conform(
            heads, message, True, [f"node {i}" for i in range(1, len(heads) + 1)]
        )
    }
    if message.lines is not None:
        tables[message.lines.document.stem] = _conform(lines, message, False, where)
    return tables


def _known(row: dict[str, Any], names: list[str], where: str) -> None:
    unknown = sorted(set(row) - set(names))
    if unknown:
        raise _refuse(
            f"{where}: unknown field(s) {', '.join(unknown)} (fields are the snake_case of the "
            "CEB elements, e.g. order_no for orderNo)."
        )


def _conform(
    rows: list[dict[str, Any]], message: MessageType, head: bool, where: list[str]
) -> pa.Table:
    part = message.head if head else message.lines
    assert part is not None
    document = part.document
    columns = {
        name: [_text(row.get(name)) for row in rows]
        for name in document.schema.names
        if any(name in row for row in rows)
    }
    table, errors, _, _ = conform(columns, len(rows), document, "body", list(range(len(rows))))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise _refuse(f"{where[first.row]}, {first.field}: {first.message}{more}.")
    return table


def _text(value: Any) -> Any:
    """Numbers as JSON gives them are read like the text of an element (money keeps its
    decimals: 12.5 is 12.50, 12.345 is refused)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


def _snake(element: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in element)


_TRANSFER = {_snake(element): element for element in TRANSFER_FIELDS}  # cop_code -> copCode


def _transfer(value: Any) -> dict[str, str | None] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _refuse("base_transfer must be an object.")
    unknown = sorted(set(value) - set(_TRANSFER))
    if unknown:
        raise _refuse(
            f"base_transfer: unknown field(s) {', '.join(unknown)}; fields: {', '.join(_TRANSFER)}."
        )
    return {_TRANSFER[k]: None if v is None else str(v) for k, v in value.items()}


def receipt_document(xml: str) -> dict[str, list[dict[str, Any]]]:
    """A receipt's business nodes as JSON: each part's rows by its document name, typed as in
    cbec's tables (codes and statuses as numbers, money as strings with two decimals, times in
    ISO 8601)."""
    parsed = parse_message(xml.encode("utf-8"))
    return {
        stem: [
            {k: _json_value(v) for k, v in row.items() if v is not None and k != "_node"}
            for row in table.to_pylist()
        ]
        for stem, table in parsed.clean_tables().items()
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
