"""The documentation is checked against the code: columns, reason codes, the README commands."""

from __future__ import annotations

import re
from pathlib import Path

from cbec.clearance.reasons import REASONS
from cbec.documents import schemas

ROOT = Path(__file__).parent.parent


def test_every_column_is_documented() -> None:
    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    documents = [*schemas.IMPORT_DOCUMENTS, schemas.DECISION, schemas.TAX_LINE, schemas.TRUTH]
    for document in documents:
        section = text.split(f"## `{document.stem}`", 1)[1].split("\n## ", 1)[0]
        for name in document.schema.names:
            assert f"| `{name}` |" in section, (document.stem, name)


def test_every_reason_code_is_documented() -> None:
    text = (ROOT / "docs" / "reasons.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)
    assert documented == [reason.code for reason in REASONS]


def test_readme_starts_with_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    top = text.split("## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", top, flags=re.DOTALL)
    assert len(commands) == 2
    main, tests = commands
    assert "cbec simulate --parcels 1000000" in main and "cbec clear" in main
    assert "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command" in ci
