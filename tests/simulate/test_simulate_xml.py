"""`cbec simulate --format xml`: the simulated day as the CEB messages enterprises send.

A day of 300 parcels is written once as messages and once as Parquet with the same seed; every
message is parsed back with the codec (`parse_message`) and must give the Parquet tables exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import cbec.simulate.messages as writer
from cbec.cli import app
from cbec.documents.schemas import IMPORT_DOCUMENTS, INVENTORY, TRUTH
from cbec.messages.build import build_message, build_tables
from cbec.messages.catalog import MESSAGES
from cbec.messages.parse import NODE_COLUMN, ParsedMessage, parse_message
from cbec.simulate import DefectRates, simulate_day
from cbec.simulate.messages import (
    SENDERS,
    SENDING_ORDER,
    MessagesSummary,
    message_guid,
    render,
    simulate_messages,
    write_messages,
)

DAY = dt.date(2024, 6, 15)
PARCELS = 300
SEED = 7
NODES = 20  # small, so that every sender sends several messages
RATE = 0.3  # many defects: documents missing, mismatches, bad values
# Every injected defect but the one the parser itself reports (a required element left out).
READABLE = DefectRates(required_field_missing=0.0)
NAME = re.compile(r"^([0-9]{7})_CEB([0-9]{3})\.xml$")

Day = tuple[Path, Path, MessagesSummary]
Parsed = list[tuple[str, bytes, ParsedMessage]]


def _simulate(root: Path, rates: DefectRates | None) -> Day:
    xml, parquet = root / "xml", root / "parquet"
    calls: dict[str, list[tuple[int, int]]] = defaultdict(list)
    summary = simulate_messages(
        PARCELS,
        SEED,
        DAY,
        xml,
        defect_rate=RATE,
        rates=rates,
        nodes_per_message=NODES,
        progress=lambda stage, done, total: calls[stage].append((done, total)),
    )
    simulate_day(PARCELS, SEED, DAY, parquet, defect_rate=RATE, rates=rates)
    assert sum(done for done, _ in calls["simulating"]) == PARCELS
    assert sum(done for done, _ in calls["writing messages"]) == summary.files
    assert {total for _, total in calls["writing messages"]} == {summary.files}
    return xml, parquet, summary


def _parse(folder: Path) -> Parsed:
    found = []
    for path in sorted(folder.glob("*.xml")):
        data = path.read_bytes()
        found.append((path.name, data, parse_message(data)))
    return found


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return _simulate(tmp_path_factory.mktemp("readable"), READABLE)


@pytest.fixture(scope="module")
def parsed(day: Day) -> Parsed:
    return _parse(day[0])


def _union(parsed: Parsed, clean: bool) -> dict[str, pa.Table]:
    """Per document family, the rows of every message (of nodes without problems, if clean)."""
    parts: dict[str, list[pa.Table]] = defaultdict(list)
    for _, _, message in parsed:
        tables = message.clean_tables() if clean else message.tables
        for stem, table in tables.items():
            parts[stem].append(table.drop_columns([NODE_COLUMN]) if not clean else table)
    return {stem: pa.concat_tables(tables) for stem, tables in parts.items()}


def _sorted(table: pa.Table, key: tuple[str, ...]) -> pa.Table:
    return table.sort_by([(column, "ascending") for column in key]).combine_chunks()


def _sender(message: ParsedMessage) -> list[str | None]:
    """Each node's sender code, as the message's family defines it."""
    head = message.tables[message.type.head.document.stem]
    code = head[SENDERS[message.type.code][-1][0]]
    for column, _ in reversed(SENDERS[message.type.code][:-1]):
        code = pc.coalesce(head[column], code)
    return list(code.to_pylist())


# Files -------------------------------------------------------------------------------------


def test_files_are_named_in_sending_order(day: Day, parsed: Parsed) -> None:
    xml, _, summary = day
    assert sorted(p.name for p in xml.iterdir() if not p.name.endswith(".xml")) == [
        f"{TRUTH.stem}.parquet"
    ]  # no scratch folder left behind
    names = [name for name, _, _ in parsed]
    matches = [NAME.match(name) for name in names]
    assert all(matches)
    ordinals = [int(m.group(1)) for m in matches if m]
    codes = [m.group(2) for m in matches if m]
    assert ordinals == list(range(1, len(names) + 1))
    assert codes == sorted(codes, key=SENDING_ORDER.index)  # stock, orders ... lists
    assert [message.type.code for _, _, message in parsed] == codes
    assert {code: codes.count(code) for code in SENDING_ORDER} == summary.messages
    assert summary.files == len(names)


def test_each_message_has_at_most_n_nodes_and_one_sender(parsed: Parsed) -> None:
    for name, _, message in parsed:
        assert 1 <= message.nodes <= NODES, name
        assert message.transfer is not None
        senders = set(_sender(message))
        assert senders == {message.transfer["copCode"]}, name
        assert message.transfer["dxpMode"] == "DXP"


def test_each_sender_batches_its_documents_in_time_order(parsed: Parsed) -> None:
    sent: dict[tuple[str, str | None], list[int]] = defaultdict(list)  # (type, sender) -> nodes
    last_time: dict[str, dt.datetime] = {}
    for name, _, message in parsed:
        code = message.type.code
        times = message.tables[message.type.head.document.stem]["app_time"].to_pylist()
        assert times == sorted(times), name  # nodes in the order they were made
        assert times[-1] >= last_time.get(code, times[-1]), name  # sent when the newest exists
        last_time[code] = times[-1]
        assert message.transfer is not None
        sent[(code, message.transfer["copCode"])].append(message.nodes)
    for sender, sizes in sent.items():
        assert all(size == NODES for size in sizes[:-1]), sender  # full, but for the last one


def test_guids_come_from_the_seed_and_the_ordinal(parsed: Parsed) -> None:
    guids = [message.guid for _, _, message in parsed]
    assert guids == [message_guid(SEED, ordinal) for ordinal in range(1, len(parsed) + 1)]
    assert all(g is not None and len(g) == 36 and g == g.upper() for g in guids)
    assert len(set(guids)) == len(guids)
    assert message_guid(SEED + 1, 1) != message_guid(SEED, 1)


def test_messages_are_what_the_codec_builds(parsed: Parsed) -> None:
    for name, data, message in parsed:
        tables = {stem: t.drop_columns([NODE_COLUMN]) for stem, t in message.tables.items()}
        assert build_tables(message.type, tables, message.guid or "", message.transfer) == data, (
            name
        )


# Round trip ---------------------------------------------------------------------------------


def test_messages_parse_back_to_the_parquet_tables(day: Day, parsed: Parsed) -> None:
    _, parquet, summary = day
    assert all(not message.problems for _, _, message in parsed)
    union = _union(parsed, clean=True)
    for document in IMPORT_DOCUMENTS:
        expected = pq.read_table(parquet / f"{document.stem}.parquet")
        found = union[document.stem]
        assert found.schema.equals(expected.schema), document.stem
        assert _sorted(found, document.key).equals(_sorted(expected, document.key)), document.stem
    heads = {code: MESSAGES[code].head.document.stem for code in SENDING_ORDER}
    assert summary.nodes == {code: union[stem].num_rows for code, stem in heads.items()}
    truth = pq.read_table(day[0] / f"{TRUTH.stem}.parquet")
    assert truth.equals(pq.read_table(parquet / f"{TRUTH.stem}.parquet"))


def test_a_missing_required_field_is_the_only_problem(tmp_path: Path) -> None:
    xml, parquet, _ = _simulate(tmp_path, None)  # every defect, the missing customsCode too
    parsed = _parse(xml)
    truth = pq.read_table(xml / f"{TRUTH.stem}.parquet").to_pylist()
    expected = {
        (row["agent_code"], row["cop_no"])
        for row in truth
        if "required_field_missing" in row["defects"]
    }
    assert expected, "the day should hold a declaration without its customs code"
    flagged = set()
    for name, _, message in parsed:
        for node, problems in message.problems.items():
            assert message.type.code == "621", name
            assert [p.expected for p in problems] == ["a value (required)"], name
            assert problems[0].path.endswith("/InventoryHead/customsCode"), name
            head = message.tables[INVENTORY.stem].filter(
                pc.equal(message.tables[INVENTORY.stem][NODE_COLUMN], node)
            )
            flagged.add((head["agent_code"][0].as_py(), head["cop_no"][0].as_py()))
    assert flagged == expected
    union = _union(parsed, clean=False)  # the flagged nodes are read too, customsCode null
    for document in IMPORT_DOCUMENTS:
        found = _sorted(union[document.stem], document.key)
        expected_table = _sorted(pq.read_table(parquet / f"{document.stem}.parquet"), document.key)
        assert found.equals(expected_table), document.stem


# Determinism and streaming --------------------------------------------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.xml"))}


def test_the_same_seed_gives_the_same_bytes(day: Day, tmp_path: Path) -> None:
    again = simulate_messages(
        PARCELS, SEED, DAY, tmp_path, defect_rate=RATE, rates=READABLE, nodes_per_message=NODES
    )
    assert again.messages == day[2].messages
    assert _files(tmp_path) == _files(day[0])
    other = simulate_messages(
        PARCELS, SEED + 1, DAY, tmp_path, defect_rate=RATE, rates=READABLE, nodes_per_message=NODES
    )
    files = _files(tmp_path)
    assert len(files) == other.files  # the earlier run's files were replaced, not kept
    assert files != _files(day[0])


def test_windows_and_batches_do_not_change_the_bytes(
    day: Day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows read back in many small windows (scratch files) and rendered a few at a time."""
    monkeypatch.setattr(writer, "WINDOW_ROWS", 97)
    monkeypatch.setattr(writer, "RENDER_NODES", 30)
    written = write_messages(day[1], tmp_path, SEED, NODES)
    assert {code: n for code, (n, _) in written.items()} == day[2].messages
    assert _files(tmp_path) == _files(day[0])
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".xml")] == []


def test_one_node_per_message(day: Day, tmp_path: Path) -> None:
    written = write_messages(day[1], tmp_path, SEED, 1)
    assert {code: n for code, (n, _) in written.items()} == day[2].nodes
    with pytest.raises(ValueError, match="at least 1"):
        write_messages(day[1], tmp_path, SEED, 0)


# Values ---------------------------------------------------------------------------------------


def test_values_are_written_as_the_codec_writes_them(day: Day) -> None:
    """Escaping, money, quantities, dates at midnight, absent values: as `build_message`."""
    message = MESSAGES["621"]
    heads = pq.read_table(day[1] / "inventories.parquet").slice(0, 3)
    lines = pq.read_table(day[1] / "inventory_lines.parquet")
    mine = pc.is_in(lines["cop_no"], heads["cop_no"])
    lines = lines.filter(mine)
    odd = pa.array(['A&B <c> "d"\r\ne', None, "  spaced  "])
    heads = heads.set_column(heads.schema.get_field_index("buyer_name"), "buyer_name", odd)
    midnight = pa.array([dt.datetime(2024, 6, 15), dt.datetime(2024, 6, 15, 0, 0, 1), None])
    index = heads.schema.get_field_index("decl_time")
    heads = heads.set_column(index, "decl_time", midnight.cast(INVENTORY.schema.field(index).type))
    counts = [
        sum(1 for cop in lines["cop_no"].to_pylist() if cop == head)
        for head in heads["cop_no"].to_pylist()
    ]
    order = pc.sort_indices(
        pa.table({"h": pc.index_in(lines["cop_no"], heads["cop_no"]), "g": lines["gnum"]}),
        sort_keys=[("h", "ascending"), ("g", "ascending")],
    )
    lines = lines.take(order)
    body = render(message, heads, [0, 3], lines, counts)[0].as_py()
    built = build_message(message, heads.to_pylist(), lines.to_pylist()).decode()
    assert "\n".join(built.split("\n")[2:-2]) == body
    assert "A&amp;B &lt;c&gt; &quot;d&quot;&#13;\ne" in body
    assert "<ceb:declTime>20240615</ceb:declTime>" in body
    assert "<ceb:declTime>20240615000001</ceb:declTime>" in body


def test_a_character_xml_cannot_carry_is_an_error(day: Day) -> None:
    heads = pq.read_table(day[1] / "payments.parquet").slice(0, 2)
    index = heads.schema.get_field_index("payer_name")
    for bad in ("a\x01b", "a\ufffeb"):
        broken = heads.set_column(index, "payer_name", pa.array(["ok", bad]))
        with pytest.raises(ValueError, match="XML cannot carry"):
            render(MESSAGES["411"], broken, [0, 2])
    assert render(MESSAGES["411"], heads, [0, 1, 2]).to_pylist()[1].count("<ceb:Payment>") == 1


# The command ----------------------------------------------------------------------------------


def test_the_command_writes_messages(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "day"
    out.mkdir()
    (out / "orders.parquet").write_bytes(b"an earlier day")
    args = ["simulate", "--parcels", "200", "--seed", "3", "--out", str(out)]
    result = runner.invoke(app, [*args, "--format", "xml", "--nodes-per-message", "25"])
    assert result.exit_code == 0, result.output
    assert "messages" in result.output
    files = sorted(out.glob("*.xml"))
    # The bonded stock arrives first (CEB711), the declaration lists last.
    assert files[0].name == "0000001_CEB711.xml" and files[-1].name.endswith("_CEB621.xml")
    assert all(parse_message(f.read_bytes()).nodes <= 25 for f in files)
    assert pq.read_table(out / f"{TRUTH.stem}.parquet").num_rows == 200
    assert sorted(p.name for p in out.iterdir() if p.suffix != ".xml") == ["truth.parquet"]
    again = runner.invoke(app, args)  # Parquet into the same folder: the messages go
    assert again.exit_code == 0, again.output
    assert not list(out.glob("*.xml"))
    assert (out / "orders.parquet").exists()
    wrong = runner.invoke(app, [*args, "--format", "csv"])
    assert wrong.exit_code == 1
    assert "parquet or xml" in wrong.output
