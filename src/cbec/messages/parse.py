"""Parse CEB XML messages, hardened: no entities, no DTD, no network, bounded size and depth.

A message is refused whole (answered with a CEB900) when it cannot be read as a CEB message:
too large, not well-formed, a DTD or entity declaration, a wrong namespace, an unknown message
type, an envelope that does not decode. Otherwise every business node is read; a node whose
values break a field rule (`cbec.messages.rules`) is kept with its problems, each naming the
element path and what was expected, so that it gets its own business receipt and the other nodes
of the message go on.

Values are collected as text and converted column by column (Arrow), so parsing costs one pass
over the elements in Python and no per-value conversion there.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from cbec.messages.catalog import (
    BY_ROOT,
    DXP_NAMESPACE,
    NAMESPACE,
    SIGNATURE_NAMESPACE,
    MessageType,
    Part,
)
from cbec.messages.rules import DATE_ELEMENTS, Rule, rules_for

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a CEB message of 50 business nodes is well under 1 MB
# Depth needs no limit of its own: libxml2 refuses more than 256 levels, and an element inside
# a field (the only place nesting can hide) is found by the element count of `_walk`.
ENVELOPE_BYTES = MAX_MESSAGE_BYTES * 4 // 3 + 64 * 1024  # a message, base64, and TransInfo
GUID_LENGTH = 64
NODE_COLUMN = "_node"  # each row's business node, 0-based, in the order of the message
TRANSFER_FIELDS = ("copCode", "copName", "dxpMode", "dxpId", "note")
ENVELOPE_FIELDS = ("CopMsgId", "SenderId", "ReceiverId", "CreatTime", "MsgType")


class MessageRefused(Exception):
    """The message cannot be read as a whole: answered with a CEB900."""

    def __init__(self, reason: str, guid: str | None = None, message_type: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.guid = guid
        self.message_type = message_type


@dataclass(frozen=True)
class Problem:
    """One value that breaks a field rule: where it is, what was expected, what was found."""

    path: str  # /CEB621Message/Inventory[2]/InventoryList[1]/gcode
    expected: str
    found: str | None = None  # None: the element is missing or empty
    missing_required: bool = False  # a required element absent or empty (and nothing else)

    def __str__(self) -> str:
        if self.found is None:
            return f"{self.path}: missing; expected {self.expected}"
        shown = self.found if len(self.found) <= 40 else self.found[:37] + "..."
        return f"{self.path}: expected {self.expected}, found {shown!r}"


@dataclass
class ParsedMessage:
    """One CEB message: its type, header, and one typed table per part, rows tagged by node."""

    type: MessageType
    guid: str | None
    version: str | None
    nodes: int
    tables: dict[str, pa.Table]  # document stem -> rows, with NODE_COLUMN
    problems: dict[int, list[Problem]] = field(default_factory=dict)  # node -> problems
    transfer: dict[str, str | None] | None = None  # BaseTransfer, when present
    envelope: dict[str, str | None] | None = None  # DXP TransInfo, when the message came wrapped
    signed: bool = False
    raw: bytes = b""  # the CEB message itself (unwrapped), for signature checks

    def clean_tables(self) -> dict[str, pa.Table]:
        """The rows of nodes without problems, NODE_COLUMN dropped."""
        bad = pa.array(sorted(self.problems), type=pa.int32())
        return {
            stem: table.filter(pc.invert(pc.is_in(table[NODE_COLUMN], bad))).drop_columns(
                [NODE_COLUMN]
            )
            for stem, table in self.tables.items()
        }


class _DenyAll(etree.Resolver):
    """Resolves every external reference to nothing: no file or URL is ever opened, even where
    libxml2 would try despite `load_dtd=False` (a DTD hidden by an encoding the byte scan cannot
    see, such as UTF-7)."""

    def resolve(self, url: str | None, pubid: str | None, context: object) -> object:
        return self.resolve_string("", context)


def _parser(huge: bool = False) -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=huge,  # only for a DXP envelope, already bounded by ENVELOPE_BYTES
        remove_blank_text=True,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    parser.resolvers.add(_DenyAll())
    return parser


# Encodings a CEB message may declare; others (UTF-7 can hide markup from any byte scan) are
# refused before parsing.
ENCODINGS = {"utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "gbk", "gb2312", "gb18030"}
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _declared_encoding(data: bytes) -> str | None:
    found = _DECLARED.match(data[:200])
    return found.group(1).decode("ascii").lower() if found else None


_DTD_MARKS = (b"<!DOCTYPE", b"<!ENTITY")


def _declares_dtd(data: bytes) -> bool:
    """A DTD or entity declaration, in any of the encodings XML allows."""
    if b"!" not in data:  # one byte scan: "<!" needs a "!" in every encoding XML allows
        return False
    for mark in _DTD_MARKS:
        for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
            if mark.decode().encode(encoding) in data:
                return True
        if mark in data:
            return True
    return False


def _read_tree(data: bytes, limit: int = ENVELOPE_BYTES, huge: bool = False) -> etree._Element:
    if len(data) > limit:
        raise MessageRefused(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    if _declares_dtd(data):
        raise MessageRefused("a DTD or entity declaration is not allowed in a CEB message")
    encoding = _declared_encoding(data)
    if encoding is not None and encoding not in ENCODINGS:
        raise MessageRefused(
            f"encoding {encoding!r} is not accepted; send UTF-8 (or UTF-16, GB18030)"
        )
    try:
        root = etree.fromstring(data, _parser(huge))
    except etree.XMLSyntaxError as exc:
        raise MessageRefused(f"not well-formed XML: {exc}") from None
    except ValueError as exc:  # for example an unsupported encoding declaration
        raise MessageRefused(f"not readable XML: {exc}") from None
    if root is None:
        raise MessageRefused("empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise MessageRefused("a DTD or entity declaration is not allowed in a CEB message")
    return root


def _local(tag: object) -> tuple[str | None, str]:
    if not isinstance(tag, str):  # an entity reference left unresolved
        return None, ""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return None, tag


def _looks_like_envelope(data: bytes) -> bool:
    """A DXP envelope's Data is one long text node (a message in base64), beyond libxml2's
    default 10 MB text limit for messages near ours: such a file is parsed with that limit off
    (its size is bounded by ENVELOPE_BYTES and it can declare no DTD)."""
    return len(data) > 5_000_000 and DXP_NAMESPACE.encode() in data[:2000]


def parse_message(data: bytes, strict: bool = False) -> ParsedMessage:
    """Parse one CEB message (or a DXP envelope holding one). Raises MessageRefused."""
    return type_messages([read_message(data, strict)], strict)[0]


def read_message(data: bytes, strict: bool = False) -> RawMessage:
    """The first, per-message half of parsing: the tree walked into rows of text.

    Raises MessageRefused. `type_messages` then converts many messages' rows at once, column by
    column, which is where batching pays (one Arrow call per column for a whole batch).
    """
    root = _read_tree(data, huge=_looks_like_envelope(data))
    envelope = None
    namespace, name = _local(root.tag)
    if namespace == DXP_NAMESPACE and name == "DxpMsg":
        envelope, data = _unwrap(root)
        root = _read_tree(data, MAX_MESSAGE_BYTES)
        namespace, name = _local(root.tag)
    elif len(data) > MAX_MESSAGE_BYTES:
        raise MessageRefused(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    guid = root.get("guid")
    if namespace != NAMESPACE:
        raise MessageRefused(
            f"root element {name!r} is not in the CEB namespace {NAMESPACE}", guid, name
        )
    message_type = BY_ROOT.get(name)
    if message_type is None:
        raise MessageRefused(f"unknown message type {name!r}", guid, name)
    try:
        raw = _walk(root, message_type, strict, careful=False)
    except _Nested:
        raw = _walk(root, message_type, strict, careful=True)
    raw.envelope = envelope
    raw.raw = data
    if guid is not None and len(guid) > GUID_LENGTH:  # echoed in every receipt: bounded
        raw.problems.setdefault(-1, []).append(
            Problem(f"/{name}/@guid", f"a guid of at most {GUID_LENGTH} characters", guid)
        )
    if strict:
        version = root.get("version")
        if version != "1.0":
            raw.problems.setdefault(-1, []).append(
                Problem(f"/{name}/@version", 'version "1.0"', version)
            )
        if guid is None:
            raw.problems.setdefault(-1, []).append(Problem(f"/{name}/@guid", "the message guid"))
    return raw


def _unwrap(root: etree._Element) -> tuple[dict[str, str | None], bytes]:
    """The DXP transport envelope: TransInfo and the base64 CEB message in Data."""
    info: dict[str, str | None] = dict.fromkeys(ENVELOPE_FIELDS)
    payload = None
    for element in root.iter():
        namespace, name = _local(element.tag)
        if namespace != DXP_NAMESPACE:
            continue
        if name in info and info[name] is None:
            info[name] = (element.text or "").strip() or None
        elif name == "Data":
            if payload is not None:
                raise MessageRefused("DXP envelope with more than one Data")
            payload = element.text or ""
    if payload is None:
        raise MessageRefused("DXP envelope without Data")
    if len(payload) > MAX_MESSAGE_BYTES * 4 // 3 + 4:
        raise MessageRefused(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        inner = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise MessageRefused("DXP Data is not base64") from None
    if inner.lstrip()[:1] == b"<" and b"DxpMsg" in inner[:200]:
        raise MessageRefused("a DXP envelope inside a DXP envelope")
    return info, inner


@dataclass
class RawMessage:
    """A message walked but not yet typed: each part's rows as {Clark tag: text}."""

    type: MessageType
    guid: str | None
    version: str | None
    nodes: int = 0
    rows: dict[str, list[dict[str, str | None]]] = field(default_factory=dict)  # stem -> rows
    row_nodes: dict[str, list[int]] = field(default_factory=dict)
    row_paths: dict[str, list[str]] = field(default_factory=dict)  # each row's element path
    problems: dict[int, list[Problem]] = field(default_factory=dict)
    transfer: dict[str, str | None] | None = None
    envelope: dict[str, str | None] | None = None
    signed: bool = False
    raw: bytes = b""


def _clark(element: str) -> str:
    return f"{{{NAMESPACE}}}{element}"


def _walk(root: etree._Element, message: MessageType, strict: bool, careful: bool) -> RawMessage:
    """Every business node's parts as rows of text. A part whose children are exactly known,
    unrepeated, flat elements (the normal case) is read in one comprehension; any other is read
    element by element, each oddity a problem with its path. When the element count shows an
    element nested where none may be, the whole message is walked again `careful`ly: every part
    element by element, so that the nesting is found and named."""
    raw = RawMessage(message, root.get("guid"), root.get("version"))
    parts, known = _tags(message)
    for part in message.parts:
        stem = part.document.stem
        raw.rows[stem], raw.row_nodes[stem], raw.row_paths[stem] = [], [], []
    node_tag = _clark(message.node or message.head.element)
    seen = 1  # elements walked, to find nesting where no element may be
    for child in root:
        tag = child.tag
        seen += 1
        if tag == node_tag:
            node = raw.nodes
            raw.nodes += 1
            path = f"/{message.root}/{_local(tag)[1]}[{node + 1}]"
            if message.node is None:
                seen += _read_part(raw, message.head, child, node, path, known, strict, careful)
                continue
            seen += _read_node(raw, message, child, node, path, parts, known, strict, careful)
        elif tag == f"{{{SIGNATURE_NAMESPACE}}}Signature":
            raw.signed = True
            seen += sum(1 for _ in child.iter()) - 1
        elif tag == _clark("BaseTransfer"):
            if raw.transfer is not None:
                raw.problems.setdefault(-1, []).append(
                    Problem(f"/{message.root}/BaseTransfer", "one BaseTransfer", "a second one")
                )
            raw.transfer = dict.fromkeys(TRANSFER_FIELDS)
            for item in child:
                seen += 1
                name = _local(item.tag)[1]
                if len(item):
                    seen += sum(1 for _ in item.iter()) - 1
                    raw.problems.setdefault(-1, []).append(
                        Problem(
                            f"/{message.root}/BaseTransfer/{name}", "a value", "nested elements"
                        )
                    )
                elif name in raw.transfer:
                    raw.transfer[name] = item.text
        else:
            expected = f"{_local(node_tag)[1]} or BaseTransfer"
            raw.problems.setdefault(-1, []).append(
                Problem(f"/{message.root}/{_local(tag)[1]}", expected, "another element")
            )
            seen += sum(1 for _ in child.iter()) - 1
    if raw.nodes == 0:
        raise MessageRefused(
            f"no {_local(node_tag)[1]} in the message", root.get("guid"), message.root
        )
    if not careful and seen != int(root.xpath("count(//*)")):
        raise _Nested()
    return raw


@functools.cache
def _tags(message: MessageType) -> tuple[dict[str, Part], dict[str, frozenset[str]]]:
    """A message type's parts by Clark tag, and each part's field tags (computed once)."""
    parts = {_clark(p.element): p for p in message.parts}
    known = {p.element: frozenset(_clark(e) for e in p.elements) for p in message.parts}
    return parts, known


class _Nested(Exception):
    """Elements inside a field somewhere: walk again, element by element."""


def _read_node(
    raw: RawMessage,
    message: MessageType,
    element: etree._Element,
    node: int,
    path: str,
    parts: dict[str, Part],
    known: dict[str, frozenset[str]],
    strict: bool,
    careful: bool,
) -> int:
    seen = 0
    heads = 0
    lines = 0
    for part_element in element:
        seen += 1
        part = parts.get(part_element.tag)
        name = part.element if part is not None else _local(part_element.tag)[1]
        if part is message.head:
            heads += 1
            if heads > 1:
                raw.problems.setdefault(node, []).append(
                    Problem(f"{path}/{name}", f"one {name}", "a second one")
                )
                seen += sum(1 for _ in part_element.iter()) - 1
                continue
            seen += _read_part(
                raw, part, part_element, node, f"{path}/{name}", known, strict, careful
            )
        elif part is not None:
            lines += 1
            line_path = f"{path}/{name}[{lines}]"
            seen += _read_part(raw, part, part_element, node, line_path, known, strict, careful)
        else:
            expected = " or ".join(p.element for p in message.parts)
            raw.problems.setdefault(node, []).append(
                Problem(f"{path}/{name}", expected, "another element")
            )
            seen += sum(1 for _ in part_element.iter()) - 1
    if heads == 0:
        raw.problems.setdefault(node, []).append(
            Problem(f"{path}/{message.head.element}", f"the {message.head.element}")
        )
    return seen


def _read_part(
    raw: RawMessage,
    part: Part,
    element: etree._Element,
    node: int,
    path: str,
    known: dict[str, frozenset[str]],
    strict: bool,
    careful: bool,
) -> int:
    pairs = [(child.tag, child.text) for child in element]
    row = dict(pairs)
    if careful or len(row) != len(pairs) or not known[part.element].issuperset(row):
        row = _careful_row(raw, part, element, node, path, known, strict)
    stem = part.document.stem
    raw.rows[stem].append(row)
    raw.row_nodes[stem].append(node)
    raw.row_paths[stem].append(path)
    return len(pairs)


def _careful_row(
    raw: RawMessage,
    part: Part,
    element: etree._Element,
    node: int,
    path: str,
    known: dict[str, frozenset[str]],
    strict: bool,
) -> dict[str, str | None]:
    """One part read element by element: repeated, unknown (strict) and nested elements are
    problems; the first of each known element is kept."""
    row: dict[str, str | None] = {}
    for child in element:
        name = _local(child.tag)[1]
        if child.tag not in known[part.element]:
            # Tolerant of a CEB element of a later version of the standard; never of another
            # namespace's (xi:include and the like are not ignored silently).
            if strict or _local(child.tag)[0] != NAMESPACE:
                raw.problems.setdefault(node, []).append(
                    Problem(f"{path}/{name}", f"an element of {part.element}", "unknown")
                )
            elif len(child):
                raw.problems.setdefault(node, []).append(
                    Problem(f"{path}/{name}", "a value", "nested elements")
                )
            continue
        if child.tag in row:
            raw.problems.setdefault(node, []).append(
                Problem(f"{path}/{name}", "the element once", "repeated")
            )
            continue
        if len(child):
            raw.problems.setdefault(node, []).append(
                Problem(f"{path}/{name}", "a value", "nested elements")
            )
            continue
        row[child.tag] = child.text
    return row


def part_texts(
    raw: RawMessage, stem: str, columns: Sequence[str]
) -> list[dict[str, str | None]] | None:
    """Each row of the message's part `stem` (None when it has none): its text `columns` as
    `type_messages` gives them, a value that is empty or breaks its element's rule None.

    What the service reads of a message before acknowledging it (sender codes, guids, companion
    keys), without typing it: `type_messages` costs about 10 ms a message on its own, most of it
    fixed per column, which pays for a batch but not for one message."""
    part = next((p for p in raw.type.parts if p.document.stem == stem), None)
    if part is None:
        return None
    elements = dict(zip(part.columns, part.elements, strict=True))
    checks = []
    for column in columns:
        if not pa.types.is_string(part.document.schema.field(column).type):
            raise ValueError(f"{stem}.{column} is not text: type the message (type_messages)")
        checks.append((column, _clark(elements[column]), _text_rules(elements[column])))
    return [
        {column: _checked(row.get(tag), rules) for column, tag, rules in checks}
        for row in raw.rows[stem]
    ]


@functools.cache
def _text_rules(element: str) -> tuple[tuple[re.Pattern[str] | None, int | None], ...]:
    # ASCII: as Arrow's RE2 reads the rules' classes (Python's \d would take any digit).
    return tuple(
        (re.compile(f"(?:{rule.pattern})", re.ASCII) if rule.pattern else None, rule.max_length)
        for rule in rules_for(element, pa.string(), strict=False)
    )


def _checked(
    text: str | None, rules: tuple[tuple[re.Pattern[str] | None, int | None], ...]
) -> str | None:
    if not text:
        return None
    for pattern, max_length in rules:
        if pattern is not None and pattern.fullmatch(text) is None:
            return None
        if max_length is not None and len(text) > max_length:
            return None
    return text


def type_messages(raws: list[RawMessage], strict: bool = False) -> list[ParsedMessage]:
    """Convert the rows of many messages to typed tables, one Arrow pass per column per
    message type; each message gets its slice and its problems."""
    parsed: list[ParsedMessage | None] = [None] * len(raws)
    by_code: dict[str, list[int]] = {}
    for index, raw in enumerate(raws):
        by_code.setdefault(raw.type.code, []).append(index)
    for indices in by_code.values():
        message = raws[indices[0]].type
        group = [raws[i] for i in indices]
        # Global node numbers, so that lines find their head across the whole batch.
        starts = []
        total = 0
        for raw in group:
            starts.append(total)
            total += raw.nodes
        problems: dict[int, list[Problem]] = {}
        tables: dict[str, pa.Table] = {}
        for part in message.parts:
            stem = part.document.stem
            rows = [row for raw in group for row in raw.rows[stem]]
            nodes = [
                start + n
                for raw, start in zip(group, starts, strict=True)
                for n in raw.row_nodes[stem]
            ]
            paths = [p for raw in group for p in raw.row_paths[stem]]
            tables[stem] = _typed(part, rows, nodes, paths, problems, strict)
        if message.lines is not None:
            stem = message.lines.document.stem
            tables[stem] = _inherit(tables[stem], tables, message)
        offsets = dict.fromkeys(tables, 0)  # each message's rows are contiguous in the batch
        for index, raw, start in zip(indices, group, starts, strict=True):
            end = start + raw.nodes
            mine = {}
            for stem, table in tables.items():
                count = len(raw.rows[stem])
                mine[stem] = _renumbered(table.slice(offsets[stem], count), start)
                offsets[stem] += count
            own = dict(raw.problems)
            for node in range(start, end):
                if node in problems:
                    own.setdefault(node - start, []).extend(problems[node])
            parsed[index] = ParsedMessage(
                type=message,
                guid=raw.guid,
                version=raw.version,
                nodes=raw.nodes,
                tables=mine,
                problems=own,
                transfer=raw.transfer,
                envelope=raw.envelope,
                signed=raw.signed,
                raw=raw.raw,
            )
    return [p for p in parsed if p is not None]


def _renumbered(table: pa.Table, start: int) -> pa.Table:
    """One message's rows, their nodes numbered from 0 again."""
    index = table.schema.get_field_index(NODE_COLUMN)
    nodes = pc.cast(pc.subtract(table[NODE_COLUMN], start), pa.int32())
    return table.set_column(index, NODE_COLUMN, nodes)


def _typed(
    part: Part,
    rows: list[dict[str, str | None]],
    nodes: list[int],
    paths: list[str],
    problems: dict[int, list[Problem]],
    strict: bool,
) -> pa.Table:
    """The rows' text as the part's canonical types; bad values null, each a problem."""
    schema = part.document.schema
    arrays: dict[str, pa.Array] = {}
    required = set(part.document.required) | {"guid", "app_type", "app_time", "app_status"}
    tags = [_clark(element) for element in part.elements]
    # A list of dicts to a struct array is one C++ pass (Table.from_pylist loops in Python).
    struct = pa.array(rows, type=pa.struct([(tag, pa.string()) for tag in tags]))
    for column, element, texts in zip(part.columns, part.elements, struct.flatten(), strict=True):
        dtype = schema.field(column).type
        if not pa.types.is_string(dtype):
            texts = pc.utf8_trim_whitespace(texts)
        texts = pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)
        if column in required:  # absent, empty, or only spaces (U+3000 included)
            blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(texts), ""), True)
            for index in pc.indices_nonzero(blank).to_pylist():
                problems.setdefault(nodes[index], []).append(
                    Problem(f"{paths[index]}/{element}", "a value (required)", None, True)
                )
        bad = _check(texts, element, dtype, strict)
        for index, rule in bad:
            problems.setdefault(nodes[index], []).append(
                Problem(f"{paths[index]}/{element}", rule.expected, texts[index].as_py())
            )
        if bad:
            mask = pc.is_in(pa.array(range(len(texts))), pa.array([i for i, _ in bad]))
            texts = pc.if_else(mask, pa.scalar(None, pa.string()), texts)
        arrays[column] = _convert(texts, element, dtype)
    arrays[NODE_COLUMN] = pa.array(nodes, type=pa.int32())
    return pa.table(arrays)


def _check(
    texts: pa.Array, element: str, dtype: pa.DataType, strict: bool
) -> list[tuple[int, Rule]]:
    """The (index, rule) of each present value that breaks a rule; one rule per value."""
    broken: dict[int, Rule] = {}
    present = pc.is_valid(texts)
    for rule in rules_for(element, dtype, strict):
        failed = None
        if rule.pattern is not None:
            matches = pc.match_substring_regex(texts, f"^(?:{rule.pattern})$")
            failed = pc.and_(present, pc.invert(pc.fill_null(matches, True)))
        if rule.max_length is not None:
            long = pc.greater(pc.fill_null(pc.utf8_length(texts), 0), rule.max_length)
            failed = long if failed is None else pc.or_(failed, long)
        if failed is None:
            continue
        for index in pc.indices_nonzero(failed).to_pylist():
            broken.setdefault(index, rule)
    if pa.types.is_timestamp(dtype):
        for index in _impossible_times(texts, element, broken):
            broken.setdefault(index, Rule("a real date and time"))
    return sorted(broken.items())


def _seconds_part(texts: pa.Array) -> pa.Array:
    """YYYYMMDDhhmmss of a time written with milliseconds (17 digits): the rest is added back
    by `_convert`."""
    return pc.utf8_slice_codeunits(texts, 0, 14)


def _time_formats(element: str) -> tuple[str, ...]:
    if element in DATE_ELEMENTS:
        return ("%Y%m%d", "%Y%m%d%H%M%S")
    return ("%Y%m%d%H%M%S",)


_WIDTHS = {"%Y%m%d": 8, "%Y%m%d%H%M%S": 14}


def _impossible_times(texts: pa.Array, element: str, broken: dict[int, Rule]) -> list[int]:
    """Indices of well-shaped times that are not real ones (20240230, hour 25)."""
    bad: list[int] = []
    for fmt in _time_formats(element):
        width = _WIDTHS[fmt]
        lengths = pc.utf8_length(texts)
        shaped = pc.equal(lengths, width)
        if width == 14:
            shaped = pc.or_(shaped, pc.equal(lengths, 17))
        shaped = pc.fill_null(shaped, False)
        seconds = _seconds_part(texts) if width == 14 else texts
        parsed = pc.strptime(seconds, format=fmt, unit="s", error_is_null=True)
        back = pc.strftime(parsed, format=fmt)  # in seconds: no fraction after %S
        wrong = pc.and_(shaped, pc.invert(pc.fill_null(pc.equal(back, seconds), False)))
        bad.extend(i for i in pc.indices_nonzero(wrong).to_pylist() if i not in broken)
    return bad


def _convert(texts: pa.Array, element: str, dtype: pa.DataType) -> pa.Array:
    """Checked text to the column's type (every value here has passed its rules)."""
    if pa.types.is_string(dtype):
        return texts
    if pa.types.is_timestamp(dtype):
        result = None
        for fmt in _time_formats(element):
            source = _seconds_part(texts) if fmt.endswith("%S") else texts
            parsed = pc.strptime(source, format=fmt, unit="us", error_is_null=True)
            if fmt.endswith("%S"):
                parsed = _with_milliseconds(parsed, texts)
                # a date element written YYYYMMDD is read by the date format, not this one
                short = pc.fill_null(pc.equal(pc.utf8_length(texts), 8), False)
                parsed = pc.if_else(short, pa.scalar(None, parsed.type), parsed)
            result = parsed if result is None else pc.coalesce(result, parsed)
        return pc.cast(result, dtype)
    return pc.cast(texts, dtype)


def _with_milliseconds(parsed: pa.Array, texts: pa.Array) -> pa.Array:
    """Adds the milliseconds of 17-digit times (YYYYMMDDhhmmssfff) to their parsed seconds."""
    is_long = pc.fill_null(pc.equal(pc.utf8_length(texts), 17), False)
    digits = pc.if_else(is_long, pc.utf8_slice_codeunits(texts, 14, 17), "0")
    micros = pc.multiply(pc.cast(digits, pa.int64()), 1000)
    return pc.add(parsed, pc.cast(micros, pa.duration("us")))


def _inherit(lines: pa.Table, tables: dict[str, pa.Table], message: MessageType) -> pa.Table:
    """Lines carry their head's key columns, taken from the head of the same node."""
    assert message.lines is not None
    heads = tables[message.head.document.stem]
    index = pc.index_in(lines[NODE_COLUMN], heads[NODE_COLUMN])
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for column in message.lines.document.columns:
        if column in message.lines.inherit:
            columns[column] = pc.take(heads[column], index)
        else:
            columns[column] = lines[column]
    columns[NODE_COLUMN] = lines[NODE_COLUMN]
    return pa.table(columns)
