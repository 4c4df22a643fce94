"""`part_texts`, what the service reads of a message before acknowledging it, gives every text
column exactly as the typed parse does: a blank value, or one that breaks its element's rule,
is None. Checked on a simulated day with defects and on values a sender gets wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from builders import declaration, write_messages
from cbec.messages.parse import (
    MessageRefused,
    RawMessage,
    part_texts,
    read_message,
    type_messages,
)
from cbec.simulate.messages import simulate_messages

T_SHIRT = [{"gcode": "6111200050", "qty": 2, "price": "50.00"}]


def _assert_as_typed(raw: RawMessage) -> None:
    (typed,) = type_messages([raw])
    for part in raw.type.parts:
        stem = part.document.stem
        text = [c for c in part.columns if pa.types.is_string(part.document.schema.field(c).type)]
        expected = typed.tables[stem].select(text).to_pylist()
        assert part_texts(raw, stem, text) == expected, (raw.type.code, stem)


def test_a_simulated_day_with_defects_reads_as_typed(tmp_path: Path) -> None:
    simulate_messages(60, 7, dt.date(2024, 6, 15), tmp_path, defect_rate=0.3, nodes_per_message=5)
    files = sorted(tmp_path.rglob("*.xml"))
    assert len(files) > 10
    for path in files:
        _assert_as_typed(read_message(path.read_bytes()))


@pytest.mark.parametrize(
    "element, value",
    [
        ("ebpCode", ""),  # blank
        ("ebpCode", " 3301964J31"),  # a space: not the code
        ("ebpCode", "3301964J3"),  # nine characters
        ("ebpCode", "３３０１９６４J31"),  # full-width digits: not the code's digits
        ("appStatus", "3"),
        ("appStatus", "2\n"),
        ("guid", "G" * 65),  # longer than a guid may be
        ("guid", "G" * 64),
        ("orderNo", "O" * 256),  # longer than a text may be
        ("currency", "14"),
    ],
)
def test_values_a_sender_gets_wrong_read_as_typed(tmp_path: Path, element: str, value: str) -> None:
    order = write_messages(tmp_path, declaration("P1", T_SHIRT))[0]
    body = order.read_text(encoding="utf-8")
    start = body.index(f"<ceb:{element}>") + len(f"<ceb:{element}>")
    end = body.index(f"</ceb:{element}>")
    raw = read_message((body[:start] + value + body[end:]).encode("utf-8"))
    _assert_as_typed(raw)


def test_what_the_rules_refuse_is_none_and_the_rest_is_kept(tmp_path: Path) -> None:
    body = write_messages(tmp_path, declaration("P1", T_SHIRT))[0].read_text(encoding="utf-8")
    for value, kept in (("G" * 64, True), ("G" * 65, False), ("", False)):
        raw = read_message(body.replace("G-ORDER-P1", value).encode("utf-8"))
        assert part_texts(raw, "orders", ["guid"]) == [{"guid": value if kept else None}]
    for value, kept in (("1", True), ("3", False)):
        changed = body.replace("<ceb:appStatus>2<", f"<ceb:appStatus>{value}<")
        raw = read_message(changed.encode("utf-8"))
        assert part_texts(raw, "orders", ["app_status"]) == [
            {"app_status": value if kept else None}
        ]


def test_a_part_the_message_does_not_have_and_a_column_that_is_not_text(tmp_path: Path) -> None:
    order = write_messages(tmp_path, declaration("P1", T_SHIRT))[0]
    raw = read_message(order.read_bytes())
    assert part_texts(raw, "inventories", ["cop_no"]) is None
    with pytest.raises(ValueError, match=r"orders\.goods_value is not text"):
        part_texts(raw, "orders", ["goods_value"])
    with pytest.raises(MessageRefused):
        read_message(b"<not-ceb/>")
