"""docs/messages.md is checked against the code: the element mapping, the worked example's
receipts, and the receipt codes."""

from __future__ import annotations

import re
from pathlib import Path

from cbec.messages.reference import mapping_markdown
from cbec.pipeline import Policy, clear
from cbec.receipts import RECEIPT_CODES
from cbec.store.embedded import Store

ROOT = Path(__file__).parent.parent.parent
DOC = (ROOT / "docs" / "messages.md").read_text(encoding="utf-8")


def test_the_mapping_section_is_the_catalog() -> None:
    section = DOC.split("<!-- mapping:start -->\n", 1)[1].split("<!-- mapping:end -->", 1)[0]
    assert section == mapping_markdown()


def test_every_receipt_code_is_documented() -> None:
    for code in RECEIPT_CODES:
        assert f"| `{code}` |" in DOC, code


def test_the_worked_example_gives_the_receipts_shown(tmp_path: Path) -> None:
    store = Store(tmp_path / "demo.duckdb")
    try:
        clear([ROOT / "docs" / "examples" / "ceb"], store, tmp_path / "demo", Policy.load())
    finally:
        store.close()
    written = sorted(p.name for p in (tmp_path / "demo" / "receipts").iterdir())
    for name in re.findall(r"`(CEB\d{3}_[^`]+\.xml)`", DOC):
        assert name in written, name
    shown = re.findall(r"<!-- receipt: (\S+) -->\n```xml\n(.*?)```", DOC, flags=re.S)
    assert len(shown) == 2
    for name, text in shown:
        assert (tmp_path / "demo" / "receipts" / name).read_text(encoding="utf-8") == text
