"""The parser against hostile input: every file of `corpus/` is refused whole (a CEB900) or read
with a precise problem (a business receipt), never a crash, never a local file's content, and
never at the cost of the good messages of the same batch.

The corpus is written by `corpus/make_corpus.py`; `corpus/expected.tsv` says what each file must
get and `corpus/README.md` why. The external-entity and XInclude messages aimed at a secret are
built here, at test time, from the same generator.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest

from cbec.messages import parse
from cbec.messages.parse import MessageRefused, ParsedMessage, parse_message, read_message

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*/*.xml"))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


make_corpus = _generator()


def _expected() -> dict[str, tuple[str, str]]:
    """file -> (outcome, match), from `expected.tsv`."""
    lines = (CORPUS / "expected.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return {file: (outcome, match) for file, outcome, match, _ in (ln.split("\t") for ln in lines)}


EXPECTED = _expected()


def _cases() -> list[Any]:
    cases = []
    for path in FILES:
        cases.append(pytest.param(path, id=f"{path.parent.name}/{path.name}"))
    return cases


def _problems(message: ParsedMessage) -> list[parse.Problem]:
    return [problem for problems in message.problems.values() for problem in problems]


# The corpus itself ---------------------------------------------------------------------------


def test_corpus_size_and_kinds() -> None:
    kinds = Counter(path.parent.name for path in FILES)
    assert len(FILES) >= 100
    assert len(kinds) >= 10
    assert all(count >= 5 for count in kinds.values()), kinds
    assert set(EXPECTED) == {f"{p.parent.name}/{p.name}" for p in FILES}
    assert all(path.stat().st_size < 200_000 for path in FILES)


def test_good_messages_are_clean() -> None:
    for code, data in make_corpus.good_messages().items():
        message = parse_message(data)
        assert message.type.code == code
        assert message.problems == {}
        assert message.nodes >= 1


# Every file: a 900 or a business receipt with a precise reason -----------------------------


@pytest.mark.parametrize("path", _cases())
def test_refused_or_precise_problems(path: Path) -> None:
    outcome, match = EXPECTED[f"{path.parent.name}/{path.name}"]
    try:
        message = parse_message(path.read_bytes())
    except MessageRefused as refused:
        assert refused.reason.strip()
        assert outcome == "900", f"refused ({refused.reason}), expected a business receipt"
        assert match in refused.reason
        return
    assert outcome == "business", "read, expected a 900"
    problems = _problems(message)
    assert problems, "a bad message read without a problem"
    for problem in problems:
        assert problem.path.startswith("/CEB"), problem
        assert problem.expected.strip(), problem
        assert str(problem)
    assert any(match in problem.path for problem in problems), [p.path for p in problems]
    # What the receipt and the clearance path do next must not fail either.
    for table in (*message.tables.values(), *message.clean_tables().values()):
        table.to_pylist()


@pytest.mark.parametrize("path", [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in FILES])
def test_strict_mode_never_crashes(path: Path) -> None:
    """`cbec message validate` (strict) only adds problems: refused, or problems with paths."""
    try:
        message = parse_message(path.read_bytes(), strict=True)
    except MessageRefused as refused:
        assert refused.reason.strip()
        return
    for problem in _problems(message):
        assert problem.path.startswith("/CEB"), problem
        assert problem.expected.strip(), problem


def test_entities_are_never_expanded() -> None:
    """Every DTD is refused, so no bomb is expanded: no timer needed."""
    for path in FILES:
        if path.parent.name in ("entity_bomb", "external_entity"):
            with pytest.raises(MessageRefused):
                parse_message(path.read_bytes())


# No local file leaks ----------------------------------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> tuple[str, str]:
    """A local file holding a unique token: (its file:// URL, the token)."""
    token = f"cbec-secret-{secrets.token_hex(16)}"
    path = tmp_path / "secret.txt"
    path.write_text(token + "\n", encoding="utf-8")
    return path.as_uri(), token


def _everything(data: bytes, strict: bool) -> str:
    """Every string the parser produces for `data`, refused or read."""
    try:
        message = parse_message(data, strict)
    except MessageRefused as refused:
        return "\n".join(map(str, (refused, refused.reason, refused.guid, refused.message_type)))
    parts = [message.guid, message.version, message.transfer, message.envelope]
    parts += [str(problem) for problem in _problems(message)]
    parts += [repr(problem) for problem in _problems(message)]
    parts += [table.to_pydict() for table in message.tables.values()]
    return "\n".join(map(str, parts))


def test_no_local_file_leaks(secret: tuple[str, str]) -> None:
    url, token = secret
    attempts = [
        *make_corpus.external_entity_cases(url),
        *make_corpus.xinclude_cases(url),
        # The same, with the plain path instead of a file:// URL.
        *make_corpus.external_entity_cases(url.removeprefix("file://")),
    ]
    assert len(attempts) >= 20
    for case in attempts:
        for strict in (False, True):
            assert token not in _everything(case.data, strict), case.name


def test_external_entities_to_the_secret_are_refused(secret: tuple[str, str]) -> None:
    url, _ = secret
    for case in make_corpus.external_entity_cases(url):
        with pytest.raises(MessageRefused):
            parse_message(case.data)


def _utf7_parameter_entity(url: str) -> bytes:
    cases = {case.name: case for case in make_corpus.external_entity_cases(url)}
    return cases["utf7-parameter-entity"].data


def _reason(data: bytes) -> str:
    with pytest.raises(MessageRefused) as refused:
        parse_message(data)
    return refused.value.reason


def test_refusal_does_not_tell_whether_a_local_file_exists(secret: tuple[str, str]) -> None:
    url, _ = secret
    missing = url.replace("secret.txt", "no-such-file.txt")
    assert _reason(_utf7_parameter_entity(url)) == _reason(_utf7_parameter_entity(missing))


def test_no_leak_of_a_dtd_shaped_local_file(tmp_path: Path) -> None:
    """libxml2 reads the file as DTD text and names what it finds twice in its error."""
    token = f"cbecsecret{secrets.token_hex(8)}"
    path = tmp_path / "schema.dtd"
    path.write_text(f"<!ELEMENT {token} ANY><!ELEMENT {token} ANY>", encoding="utf-8")
    assert token not in _everything(_utf7_parameter_entity(path.as_uri()), strict=False)


def test_external_parameter_entity_to_an_endless_file() -> None:
    with pytest.raises(MessageRefused):
        parse_message(_utf7_parameter_entity("file:///dev/zero"))


# Good messages in the same batch ----------------------------------------------------------


def test_bad_messages_never_block_good_ones_in_a_batch() -> None:
    good = list(make_corpus.good_messages().values())
    alone = {data: parse_message(data) for data in good}
    batch: list[bytes] = []
    for index, path in enumerate(FILES):
        batch.append(path.read_bytes())
        if index % 10 == 0:
            batch.extend(good)
    batch.extend(good)
    raws, kept = [], []
    for data in batch:  # as the batch path does: a refused file gets its 900, the rest go on
        try:
            raws.append(read_message(data))
        except MessageRefused:
            continue
        kept.append(data)
    parsed = parse.type_messages(raws)
    assert len(parsed) == len(kept)
    goods = 0
    for data, message in zip(kept, parsed, strict=True):
        single = alone.get(data) or parse_message(data)
        assert message.type == single.type
        assert message.problems == single.problems
        assert message.tables.keys() == single.tables.keys()
        for stem, table in message.tables.items():
            assert table.equals(single.tables[stem]), stem
        if data in alone:
            goods += 1
            assert message.problems == {}
            assert all(t.num_rows for t in message.tables.values())
    assert goods == len(good) * ((len(FILES) + 9) // 10 + 1)


# The size limit ---------------------------------------------------------------------------


def _padded(data: bytes, size: int) -> bytes:
    """`data` made exactly `size` bytes long by comments before the root's end tag (of 1 MB
    each: libxml2 refuses a single comment or text of more than 10 MB)."""
    end = data.rindex(b"</")
    padding = size - len(data)
    comments = []
    while padding:
        length = min(padding, 1_000_000)
        if 0 < padding - length < len(b"<!---->"):
            length -= len(b"<!---->")
        comments.append(b"<!--" + b" " * (length - len(b"<!---->")) + b"-->")
        padding -= length
    return data[:end] + b"".join(comments) + data[end:]


def test_a_message_over_the_size_limit_is_refused() -> None:
    order = make_corpus.good_messages()["311"]
    at_limit = parse_message(_padded(order, parse.MAX_MESSAGE_BYTES))
    alone = parse_message(order)
    assert at_limit.problems == {}
    assert all(at_limit.tables[s].equals(t) for s, t in alone.tables.items())
    with pytest.raises(MessageRefused, match="larger than"):
        parse_message(_padded(order, parse.MAX_MESSAGE_BYTES + 1))
    with pytest.raises(MessageRefused):
        parse_message(make_corpus.dxp(_padded(order, parse.MAX_MESSAGE_BYTES + 1)).encode())


def test_an_envelope_carries_a_message_up_to_the_limit() -> None:
    order = make_corpus.good_messages()["311"]
    parse_message(make_corpus.dxp(_padded(order, parse.MAX_MESSAGE_BYTES)).encode())


def test_table_types_survive_a_hostile_batch() -> None:
    """The typed tables of a batch have the schema's types, whatever the batch held."""
    raws = []
    for path in FILES:
        try:
            raws.append(read_message(path.read_bytes()))
        except MessageRefused:
            continue
    for message in parse.type_messages(raws):
        for part in message.type.parts:
            table = message.tables[part.document.stem]
            schema = part.document.schema
            for column in part.document.columns:
                assert table.schema.field(column).type == schema.field(column).type
            assert table.schema.field(parse.NODE_COLUMN).type == pa.int32()
