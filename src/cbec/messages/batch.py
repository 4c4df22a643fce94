"""CEB message files for the batch path: find them, read them in chunks, hand on their tables.

`cbec clear` accepts folders and files of CEB XML in any mix of message types and any order,
DXP-wrapped or not. Each file is one message. A file that cannot be read as a message is kept
with its refusal (answered by a CEB900); the others are parsed in chunks so that the column
conversion runs once per chunk and message type (see `parse.type_messages`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from lxml import etree

from cbec.messages.parse import (
    ENVELOPE_BYTES,
    MAX_MESSAGE_BYTES,
    MessageRefused,
    ParsedMessage,
    RawMessage,
    read_message,
    type_messages,
)

MESSAGE_SUFFIX = ".xml"
CHUNK = 1000  # messages typed together


@dataclass
class MessageFile:
    """One input file: its message when it could be read, or why it could not."""

    path: Path
    message: ParsedMessage | None = None
    refused: MessageRefused | None = None


def message_paths(paths: Iterable[Path]) -> list[Path]:
    """The XML files among `paths`: files as given, and every `*.xml` under each folder."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*") if p.suffix.lower() == MESSAGE_SUFFIX and p.is_file()
                )
            )
        elif path.is_file():
            found.append(path)
    return found


def _read_bounded(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > ENVELOPE_BYTES:  # a DXP envelope may hold a whole message in base64
            raise MessageRefused(f"message larger than {MAX_MESSAGE_BYTES} bytes")
        with path.open("rb") as handle:
            data = handle.read(ENVELOPE_BYTES + 1)
    except OSError as exc:
        raise MessageRefused(f"the file cannot be read: {exc.strerror}") from None
    if len(data) > ENVELOPE_BYTES:  # grew while we looked
        raise MessageRefused(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    return data


def read_message_files(
    paths: list[Path], strict: bool = False, advance: Callable[[int], None] | None = None
) -> list[MessageFile]:
    """Every file read; refusals kept, never raised."""
    files: list[MessageFile] = []
    for start in range(0, len(paths), CHUNK):
        raws: list[RawMessage] = []
        readable: list[MessageFile] = []
        for path in paths[start : start + CHUNK]:
            entry = MessageFile(path)
            files.append(entry)
            try:
                raws.append(read_message(_read_bounded(path), strict))
                readable.append(entry)
            except MessageRefused as exc:
                entry.refused = exc
            except (ValueError, TypeError, etree.LxmlError) as exc:  # never a crash
                entry.refused = MessageRefused(f"the message cannot be read: {exc}")
        for entry, parsed in zip(readable, type_messages(raws, strict), strict=True):
            entry.message = parsed
        if advance is not None:
            advance(len(paths[start : start + CHUNK]))
    return files


def digest(files: Iterable[MessageFile]) -> str:
    """One name for the documents a set of files gave: the store keeps them once."""
    combined = hashlib.sha256()
    for entry in sorted(files, key=lambda f: str(f.path)):
        if entry.message is not None:
            combined.update(hashlib.sha256(entry.message.raw).digest())
    return combined.hexdigest()


def concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([t.select(schema.names).cast(schema) for t in tables])
