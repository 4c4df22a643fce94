"""The element-to-column mapping of every message, as Markdown (docs/messages.md holds it; a test
keeps the two equal)."""

from __future__ import annotations

import pyarrow as pa

from cbec.messages.catalog import MESSAGES, MessageType, Part
from cbec.messages.rules import rules_for


def _type(dtype: pa.DataType) -> str:
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMP"
    if pa.types.is_integer(dtype):
        return "INTEGER"
    return "TEXT"


def _part(message: MessageType, part: Part) -> list[str]:
    where = f"{message.node}/{part.element}" if message.node else part.element
    required = set(part.document.required) | {"guid", "app_type", "app_time", "app_status"}
    lines = [
        f"`{where}` → table `{part.document.stem}`"
        + (
            f" (plus the head's {', '.join(f'`{c}`' for c in part.inherit)})"
            if part.inherit
            else ""
        ),
        "",
        "| element | column | type | required | rule |",
        "|---|---|---|---|---|",
    ]
    schema = part.document.schema
    for column, element in zip(part.columns, part.elements, strict=True):
        dtype = schema.field(column).type
        rules = "; ".join(
            rule.expected + (" (validate only)" if rule.strict else "")
            for rule in rules_for(element, dtype, strict=True)
        )
        needed = "yes" if column in required and column in schema.names else ""
        lines.append(f"| `{element}` | `{column}` | {_type(dtype)} | {needed} | {rules} |")
    lines.append("")
    return lines


def mapping_markdown() -> str:
    out: list[str] = []
    for code in sorted(MESSAGES):
        message = MESSAGES[code]
        reply = f", answered by CEB{message.reply}" if message.reply else ""
        sender = "customs" if message.receipt else "enterprise"
        out.append(f"### CEB{code}: {message.title} ({message.direction}, from {sender}{reply})")
        out.append("")
        for part in message.parts:
            out.extend(_part(message, part))
    return "\n".join(out).rstrip() + "\n"
