"""A simulated day written as CEB XML messages, one message per file, as enterprises send them.

`simulate_messages(...)` simulates the day (`simulate_day`, into a scratch folder), keeps
`truth.parquet`, and writes each document family as the messages its senders would send:

- who sends: a message only carries the documents of ONE enterprise, named in its `BaseTransfer`
  `copCode`: the platform (`ebpCode`) sends the 311 orders, the payment enterprise (`payCode`) the
  411 payments, the logistics enterprise (`logisticsCode`) the 511 waybills, the declaring agent
  (`agentCode`, or else the e-commerce enterprise `ebcCode`) the 621 declaration lists;
- what goes together: each sender batches its own documents in the order of their `appTime`, at
  most `nodes_per_message` business nodes a message (lines travel with their head);
- in what order: orders, payments, waybills, then declaration lists; within a family, by the
  time a message can be sent at the earliest, the `appTime` of its newest document (then by
  sender code). Files are named `<ordinal>_CEB<code>.xml` (`0000001_CEB311.xml`), so that they
  sort in sending order;
- each message's `guid` is a uuid5 of the seed and the file's ordinal: the same seed gives the
  same bytes.

The XML is the codec's (`cbec.messages.build`, byte for byte), produced column by column: every
value is formatted and escaped by Arrow kernels, each row's elements are joined by Arrow, lines
are joined under their head and nodes under their message as Arrow list joins, so Python only
touches one string per message. Memory stays bounded whatever the day: the sending order is
planned on a few key columns (a few bytes per document); the rows are then read back in windows
of `WINDOW_ROWS` (for a larger family, one pass sorts the rows into per-window scratch files), and
rendered and written `RENDER_NODES` nodes at a time, file by file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cbec.documents.schemas import IMPORT_DOCUMENTS, TRUTH
from cbec.messages.build import format_value
from cbec.messages.catalog import MESSAGES, NAMESPACE, MessageType, Part
from cbec.messages.rules import DATE_ELEMENTS
from cbec.simulate.columns import digits
from cbec.simulate.defects import DefectRates
from cbec.simulate.simulator import SimulationSummary, simulate_day

NODES_PER_MESSAGE = 50
SENDING_ORDER = ("711", "311", "411", "511", "621")  # stock arrives before the day's sales
SENDERS: dict[str, tuple[tuple[str, str], ...]] = {
    # message code -> (code column, name column) of its sender, the first present one
    "711": (("operator_code", "operator_name"),),
    "311": (("ebp_code", "ebp_name"),),
    "411": (("pay_code", "pay_name"),),
    "511": (("logistics_code", "logistics_name"),),
    "621": (("agent_code", "agent_name"), ("ebc_code", "ebc_name")),
}
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "cbec:simulate:messages")
FILE_NAME = re.compile(r"^[0-9]{7,}_CEB[0-9]{3}\.xml$")
WINDOW_ROWS = 500_000  # head and line rows read back at once
RENDER_NODES = 5_000  # business nodes rendered (as XML) at once
XSI = "http://www.w3.org/2001/XMLSchema-instance"

Progress = Callable[[str, int, int], None]
"""`progress(stage, done, total)`: `done` units since the last call, of `total` in the stage
("simulating": parcels, "writing messages": messages)."""
Rows = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MessagesSummary:
    """The simulated day, and the messages written for it."""

    simulation: SimulationSummary
    messages: dict[str, int]  # message code -> messages (files)
    nodes: dict[str, int]  # message code -> business nodes
    seconds: float

    @property
    def files(self) -> int:
        return sum(self.messages.values())


def message_guid(seed: int, ordinal: int) -> str:
    """The guid of the message in file `ordinal` of the day simulated with `seed`."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{seed}:{ordinal}")).upper()


def file_name(ordinal: int, code: str, width: int = 7) -> str:
    return f"{ordinal:0{width}d}_CEB{code}.xml"


def simulate_messages(
    parcels: int,
    seed: int,
    day: dt.date,
    out: Path,
    defect_rate: float = 0.05,
    rates: DefectRates | None = None,
    nodes_per_message: int = NODES_PER_MESSAGE,
    progress: Progress | None = None,
) -> MessagesSummary:
    """`simulate_day`, written as CEB messages (and `truth.parquet`) into `out`.

    The documents are those `simulate_day` writes as Parquet with the same arguments, row for
    row. What an earlier run left in `out` (message files, the documents as Parquet) is removed
    first, so that `out` holds one day only.
    """
    if nodes_per_message < 1:
        raise ValueError("nodes_per_message must be at least 1")
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)

    def simulated(n: int) -> None:
        if progress is not None:
            progress("simulating", n, parcels)

    for document in IMPORT_DOCUMENTS:
        (out / f"{document.stem}.parquet").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cbec-simulate-", dir=out) as scratch:
        folder = Path(scratch)
        summary = simulate_day(parcels, seed, day, folder, defect_rate, rates, simulated)
        os.replace(folder / f"{TRUTH.stem}.parquet", out / f"{TRUTH.stem}.parquet")
        written = write_messages(folder, out, seed, nodes_per_message, progress)
    return MessagesSummary(
        simulation=summary,
        messages={code: messages for code, (messages, _) in written.items()},
        nodes={code: nodes for code, (_, nodes) in written.items()},
        seconds=time.perf_counter() - started,
    )


def remove_messages(folder: Path) -> int:
    """Remove the message files (`0000001_CEB311.xml` ...) an earlier run left in `folder`."""
    removed = 0
    if folder.is_dir():
        for path in folder.iterdir():
            if FILE_NAME.match(path.name) and path.is_file():
                path.unlink()
                removed += 1
    return removed


def write_messages(
    folder: Path,
    out: Path,
    seed: int,
    nodes_per_message: int = NODES_PER_MESSAGE,
    progress: Progress | None = None,
) -> dict[str, tuple[int, int]]:
    """Write the Parquet documents of `folder` as CEB messages into `out`, one per file.

    Returns (messages, business nodes) per message code.
    """
    if nodes_per_message < 1:
        raise ValueError("nodes_per_message must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    remove_messages(out)
    plans = [_plan(MESSAGES[code], folder, nodes_per_message) for code in SENDING_ORDER]
    total = sum(plan.messages for plan in plans)
    width = max(7, len(str(total)))
    ordinal = 0
    with tempfile.TemporaryDirectory(prefix=".cbec-windows-", dir=out) as scratch:
        for plan in plans:
            for first, bodies in _messages(plan, folder, Path(scratch)):
                data = _value_bytes(bodies)
                ends = np.frombuffer(bodies.buffers()[1], dtype=np.int32)
                ends = ends[bodies.offset : bodies.offset + len(bodies) + 1] - ends[bodies.offset]
                for index in range(len(bodies)):
                    ordinal += 1
                    head, tail = envelope(
                        plan.message,
                        message_guid(seed, ordinal),
                        plan.sender_codes[first + index],
                        plan.sender_names[first + index],
                    )
                    name = file_name(ordinal, plan.message.code, width)
                    with open(out / name, "wb") as file:
                        file.write(head)
                        file.write(data[ends[index] : ends[index + 1]].data)
                        file.write(tail)
                if progress is not None:
                    progress("writing messages", len(bodies), total)
    return {plan.message.code: (plan.messages, len(plan.heads)) for plan in plans}


# Planning: who sends what, in which message, in which order -----------------------------------


@dataclass
class _Plan:
    message: MessageType
    heads: Rows  # head rows of the Parquet file, in sending order
    node_offsets: Rows  # message k holds heads[node_offsets[k]:node_offsets[k + 1]]
    sender_codes: list[str | None]  # per message
    sender_names: list[str | None]
    lines: Rows | None = None  # line rows in sending order: by head, then as in the file
    line_counts: Rows | None = None  # per head in sending order, its number of lines

    @property
    def messages(self) -> int:
        return len(self.node_offsets) - 1


def _plan(message: MessageType, folder: Path, per_message: int) -> _Plan:
    """The sending order of a family, from its sender, time and key columns only."""
    senders = SENDERS[message.code]
    inherit = message.lines.inherit if message.lines is not None else ()
    wanted = {"app_time", *inherit} | {column for pair in senders for column in pair}
    keys = pq.read_table(_path(folder, message.head), columns=sorted(wanted))
    code, name = _sender(keys, senders)
    rows = keys.num_rows
    dictionary = pc.dictionary_encode(pc.fill_null(code, ""))
    ranks = np.argsort(np.argsort(np.array(dictionary.dictionary.to_pylist(), dtype=object)))
    sender = ranks[dictionary.indices.to_numpy(zero_copy_only=False)].astype(np.int64)
    lowest = np.iinfo(np.int64).min
    times = pc.fill_null(pc.cast(keys["app_time"], pa.int64()), lowest).to_numpy()

    # By sender, then time (then file row); each sender's documents cut into runs of per_message.
    index = np.arange(rows, dtype=np.int64)
    order = np.lexsort((index, times, sender))
    by_sender = sender[order]
    first_of_sender = np.ones(rows, dtype=bool)
    first_of_sender[1:] = by_sender[1:] != by_sender[:-1]
    position = index - np.maximum.accumulate(np.where(first_of_sender, index, 0))
    starts = np.flatnonzero(position % per_message == 0)
    ends = np.append(starts[1:], rows)
    # Messages in sending order: when their newest document exists, then sender, then run.
    sending = np.lexsort((position[starts], by_sender[starts], times[order][ends - 1]))
    sizes = (ends - starts)[sending]
    node_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    message_of = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    heads = order[starts[sending][message_of] + index - node_offsets[message_of]]
    first_rows = pa.array(heads[node_offsets[:-1]])
    plan = _Plan(
        message,
        heads,
        node_offsets,
        sender_codes=code.take(first_rows).to_pylist(),
        sender_names=name.take(first_rows).to_pylist(),
    )
    if message.lines is not None:
        line_keys = pq.read_table(_path(folder, message.lines), columns=list(inherit))
        line_head = _heads_of(line_keys, keys.select(list(inherit)), message)
        sent = np.empty(rows, dtype=np.int64)
        sent[heads] = index
        at = sent[line_head]  # each line's head's place in the sending order
        plan.lines = np.argsort(at, kind="stable")
        plan.line_counts = np.bincount(at, minlength=rows).astype(np.int64)
    return plan


def _path(folder: Path, part: Part) -> Path:
    return folder / f"{part.document.stem}.parquet"


def _sender(keys: pa.Table, senders: tuple[tuple[str, str], ...]) -> tuple[pa.Array, pa.Array]:
    """Per document, its sender's code and name: the first (code, name) whose code is present."""
    code, name = senders[-1]
    codes, names = keys[code].combine_chunks(), keys[name].combine_chunks()
    for code, name in reversed(senders[:-1]):
        present = pc.is_valid(keys[code]).combine_chunks()
        codes = pc.if_else(present, keys[code].combine_chunks(), codes)
        names = pc.if_else(present, keys[name].combine_chunks(), names)
    return codes, names


def _heads_of(lines: pa.Table, heads: pa.Table, message: MessageType) -> Rows:
    """Each line's head row, by the head's key (the columns the line inherits)."""
    keys = list(lines.column_names)
    joined = lines.append_column("_line", pa.array(np.arange(lines.num_rows))).join(
        heads.append_column("_head", pa.array(np.arange(heads.num_rows))),
        keys=keys,
        join_type="left outer",
    )
    if joined.num_rows != lines.num_rows:
        raise ValueError(f"CEB{message.code}: a head key is not unique")
    if joined["_head"].null_count:
        raise ValueError(f"CEB{message.code}: a line without its head")
    line = joined["_line"].to_numpy()
    head = np.empty(lines.num_rows, dtype=np.int64)
    head[line] = joined["_head"].to_numpy()
    return head


# Reading the rows back in sending order, window by window -------------------------------------


def _messages(plan: _Plan, folder: Path, scratch: Path) -> Iterator[tuple[int, pa.Array]]:
    """(first message, message bodies) in sending order, `RENDER_NODES` nodes at a time."""
    message = plan.message
    nodes = plan.node_offsets
    counts = plan.line_counts if plan.line_counts is not None else np.zeros(len(plan.heads), int)
    line_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = nodes + line_offsets[nodes]  # head and line rows before each message
    window = np.unique(np.append(np.searchsorted(rows, np.arange(0, rows[-1], WINDOW_ROWS)), 0))
    windows = np.append(window[window < plan.messages], plan.messages)
    head_bounds = nodes[windows]
    head_tables = _in_order(_path(folder, message.head), plan.heads, head_bounds, scratch)
    line_tables = None
    if message.lines is not None and plan.lines is not None:
        line_bounds = line_offsets[head_bounds]
        line_tables = _in_order(_path(folder, message.lines), plan.lines, line_bounds, scratch)
    per_batch = max(1, RENDER_NODES // max(1, int(np.diff(nodes).max(initial=1))))
    for low, high in itertools.pairwise(windows):
        heads = next(head_tables)
        lines = next(line_tables) if line_tables is not None else None
        for first in range(int(low), int(high), per_batch):
            last = min(int(high), first + per_batch)
            h0, h1 = int(nodes[first] - nodes[low]), int(nodes[last] - nodes[low])
            batch_lines = None
            if lines is not None:
                base = line_offsets[nodes[low]]
                l0, l1 = (
                    int(line_offsets[nodes[first]] - base),
                    int(line_offsets[nodes[last]] - base),
                )
                batch_lines = lines.slice(l0, l1 - l0)
            yield (
                first,
                render(
                    message,
                    heads.slice(h0, h1 - h0),
                    nodes[first : last + 1] - nodes[first],
                    batch_lines,
                    counts[nodes[first] : nodes[last]],
                ),
            )


def _in_order(path: Path, order: Rows, bounds: Rows, scratch: Path) -> Iterator[pa.Table]:
    """The rows `order[bounds[w]:bounds[w + 1]]` of a Parquet file, in that order, for each w.

    One window: the file is read whole. More: one pass sorts the rows into a scratch file per
    window (with their place in `order`), then each window is read and sorted on its own.
    """
    if len(bounds) <= 2:
        yield pq.read_table(path).take(pa.array(order))
        return
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order), dtype=np.int64)
    window_of = np.searchsorted(bounds, place, side="right") - 1
    source = pq.ParquetFile(path)
    schema = source.schema_arrow.append(pa.field("_place", pa.int64()))
    names = [scratch / f"{path.stem}-{w}.parquet" for w in range(len(bounds) - 1)]
    writers: dict[int, pq.ParquetWriter] = {}
    try:
        start = 0
        for batch in source.iter_batches(batch_size=100_000):
            stop = start + batch.num_rows
            windows = window_of[start:stop]
            by_window = np.argsort(windows, kind="stable")
            table = pa.Table.from_batches([batch]).append_column(
                "_place", pa.array(place[start:stop])
            )
            table = table.take(pa.array(by_window))
            sorted_windows = windows[by_window]
            cuts = np.flatnonzero(np.diff(sorted_windows)) + 1
            for low, high in zip([0, *cuts], [*cuts, len(by_window)], strict=True):
                w = int(sorted_windows[low])
                if w not in writers:
                    writers[w] = pq.ParquetWriter(names[w], schema, compression="lz4")
                writers[w].write_table(table.slice(low, high - low))
            start = stop
    finally:
        for writer in writers.values():
            writer.close()
    for w, name in enumerate(names):
        if w not in writers:
            yield schema.empty_table().drop_columns(["_place"])
            continue
        table = pq.read_table(name)
        name.unlink()
        yield table.take(pc.sort_indices(table["_place"])).drop_columns(["_place"])


# Rendering: the codec's XML, column by column --------------------------------------------------


def render(
    message: MessageType,
    heads: pa.Table,
    node_offsets: npt.ArrayLike,
    lines: pa.Table | None = None,
    line_counts: npt.ArrayLike | None = None,
) -> pa.Array:
    """The business nodes of consecutive messages, as `build_message` writes them.

    Message k holds the heads `node_offsets[k]:node_offsets[k + 1]`; head i holds the next
    `line_counts[i]` lines (lines grouped by head, in the heads' order). Returns, per message,
    the text between its root start tag and its `BaseTransfer` (a string array).
    """
    if message.node is None:
        nodes = _element(message.head.element, "  ", _fields(message.head, heads, "    "))
    else:
        head = _element(message.head.element, "    ", _fields(message.head, heads, "      "))
        items: list[pa.Array | str] = [f"  <ceb:{message.node}>", head]
        if message.lines is not None and lines is not None and line_counts is not None:
            counts = np.asarray(line_counts, dtype=np.int64)
            line = _element(message.lines.element, "    ", _fields(message.lines, lines, "      "))
            offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
            joined = pc.binary_join(pa.ListArray.from_arrays(offsets, line), "\n")
            items.append(pc.if_else(pa.array(counts == 0), pa.scalar(None, pa.string()), joined))
        items.append(f"  </ceb:{message.node}>")
        nodes = pc.binary_join_element_wise(*items, "\n", null_handling="skip")
    offsets = pa.array(np.asarray(node_offsets, dtype=np.int64), pa.int32())
    bodies: pa.Array = pc.binary_join(pa.ListArray.from_arrays(offsets, nodes), "\n")
    return bodies


def _element(element: str, indent: str, fields: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(
        f"{indent}<ceb:{element}>", fields, f"{indent}</ceb:{element}>", "\n", null_handling="skip"
    )


def _fields(part: Part, table: pa.Table, indent: str) -> pa.Array:
    """Per row, its present values as elements, one a line; null when it has none."""
    items = []
    for column, element in zip(part.columns, part.elements, strict=True):
        values = table[column].combine_chunks()
        if values.null_count == len(values):
            continue
        items.append(
            pc.binary_join_element_wise(
                f"{indent}<ceb:{element}>", _texts(values, element), f"</ceb:{element}>", ""
            )
        )
    if not items:
        return pa.nulls(table.num_rows, pa.string())
    joined = pc.binary_join_element_wise(*items, "\n", null_handling="skip")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


_NOT_XML = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\r", "&#13;"))
_CONTROL, _SPECIAL, _EF = 1, 2, 4  # byte flags: a character XML cannot carry, one to escape
_FLAGS = np.zeros(256, dtype=np.uint8)
_FLAGS[[*range(0, 9), 11, 12, *range(14, 32)]] = _CONTROL
_FLAGS[[ord(old) for old, _ in _ESCAPES]] = _SPECIAL
_FLAGS[0xEF] = _EF  # the lead byte of U+FFFE and U+FFFF (EF BF BE, EF BF BF)
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _texts(values: pa.Array, element: str) -> pa.Array:
    """A column's values as `cbec.messages.build.format_value` writes them (nulls stay null)."""
    dtype = values.type
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return _escaped(values.cast(pa.string()))
    if pa.types.is_decimal(dtype):
        text = values.cast(pa.string())
        if dtype.scale == 2 or dtype.scale <= 0:  # money keeps its two decimals
            return text
        return pc.replace_substring_regex(text, r"\.?0+$", "")  # no trailing zeros
    if pa.types.is_integer(dtype):
        return values.cast(pa.string())
    if pa.types.is_timestamp(dtype) and dtype.tz is None:
        text = _time_texts(values, element)
        if text is not None:
            return text
    return pa.array(  # any other type: the codec's own formatting, value by value
        [None if v is None else format_value(element, v) for v in values.to_pylist()], pa.string()
    )


def _escaped(text: pa.Array) -> pa.Array:
    """Text with the characters markup needs escaped; an error for one XML cannot carry."""
    data = _value_bytes(text)
    flags = _FLAGS[data]
    if not flags.any():  # the usual column: nothing to do
        return text
    forbidden = bool((flags & _CONTROL).any())
    if not forbidden and (flags & _EF).any():
        forbidden = bool(((data[:-2] == 0xEF) & (data[1:-1] == 0xBF) & (data[2:] >= 0xBE)).any())
    if forbidden:
        bad = pc.match_substring_regex(text, _NOT_XML)
        value = text.filter(bad)[0].as_py()
        raise ValueError(f"{value!r} holds a character XML cannot carry")
    if (flags & _SPECIAL).any():
        for old, new in _ESCAPES:
            text = pc.replace_substring(text, old, new)
    return text


def _value_bytes(text: pa.Array) -> npt.NDArray[np.uint8]:
    """The UTF-8 bytes of a string array's values, all together (no copy)."""
    _, offsets, data = text.buffers()
    if data is None or offsets is None or len(text) == 0:
        return np.zeros(0, dtype=np.uint8)
    bounds = np.frombuffer(offsets, dtype=np.int32)[text.offset : text.offset + len(text) + 1]
    return np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]]


def _time_texts(values: pa.Array, element: str) -> pa.Array | None:
    """`YYYYMMDDhhmmss` (`YYYYMMDD` for a date element at midnight), digit by digit; None when a
    year has not 4 digits (the codec's formatting then decides)."""
    per_second = _PER_SECOND[values.type.unit]
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    ticks = pc.fill_null(values.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    seconds = ticks // per_second
    days = seconds // 86_400
    clock = seconds - days * 86_400
    date = days.astype("datetime64[D]")
    year = date.astype("datetime64[Y]").astype(np.int64) + 1970
    if ((year < 1000) | (year > 9999))[valid].any():
        return None
    month = date.astype("datetime64[M]")
    matrix = np.hstack(
        [
            digits(year, 4),
            digits(month.astype(np.int64) % 12 + 1, 2),
            digits((date - month.astype("datetime64[D]")).astype(np.int64) + 1, 2),
            digits(clock // 3600, 2),
            digits(clock // 60 % 60, 2),
            digits(clock % 60, 2),
        ]
    )
    width = np.full(len(values), 14, dtype=np.int64)
    if element in DATE_ELEMENTS:
        width[ticks % (86_400 * per_second) == 0] = 8
    width[~valid] = 0
    data = matrix[np.arange(14) < width[:, None]]  # row by row, each its first `width` digits
    offsets = np.concatenate([[0], np.cumsum(width)]).astype(np.int32)
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [
            pa.py_buffer(np.packbits(valid, bitorder="little")),
            pa.py_buffer(offsets),
            pa.py_buffer(np.ascontiguousarray(data)),
        ],
        null_count=int((~valid).sum()),
    )


def envelope(
    message: MessageType, guid: str, code: str | None, name: str | None
) -> tuple[bytes, bytes]:
    """What comes before and after a message's business nodes, as `build_message` writes it:
    the root start tag, then the `BaseTransfer` and the root end tag."""
    transfer = {
        "copCode": code or None,
        "copName": name,
        "dxpMode": "DXP",
        "dxpId": f"DXPENT{code}" if code else None,  # a stand-in DXP id, from the code
    }
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ceb:{message.root} guid="{guid}" version="1.0" xmlns:ceb="{NAMESPACE}"'
        f' xmlns:xsi="{XSI}">\n'
    )
    tail = ["", "  <ceb:BaseTransfer>"]
    for field, value in transfer.items():
        if value is not None:
            tail.append(f"    <ceb:{field}>{format_value(field, value)}</ceb:{field}>")
    tail.append("  </ceb:BaseTransfer>")
    tail.append(f"</ceb:{message.root}>\n")
    return head.encode("utf-8"), "\n".join(tail).encode("utf-8")
