"""`cbec enterprise`: register, list and disable enterprises; bad input is one line and status 2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builders import signer
from cbec.cli import app
from cbec.enterprises import ROLES
from cbec.store.embedded import Store

runner = CliRunner()


def _certificate(folder: Path, name: str) -> tuple[Path, int]:
    """A self-signed certificate written as PEM beside its key; the file and the serial."""
    now = dt.datetime.now(dt.UTC)
    made = signer(name, now - dt.timedelta(days=1), now + dt.timedelta(days=365))
    path = folder / f"{name.replace(' ', '_')}.pem"
    path.write_bytes(made.cert_pem)
    (folder / f"{name.replace(' ', '_')}.key").write_bytes(made.key_pem)
    return path, made.serial


def _cbec(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _one_line_error(status: int, output: str) -> str:
    assert status == 2, output
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ")
    return lines[0]


def test_add_list_disable(tmp_path: Path) -> None:
    db = str(tmp_path / "cbec.duckdb")
    cert, serial = _certificate(tmp_path, "Platform 3301964J31")
    status, output = _cbec(
        "enterprise", "add", "3301964J31", "--name", "Hangzhou Platform",
        "--role", "platform", "--role", "agent", "--cert", str(cert), "--db", db,
    )  # fmt: skip
    assert status == 0, output
    assert "Registered 3301964J31" in output
    status, output = _cbec("enterprise", "add", "3301960001", "--name", "Shop",
                           "--role", "ecommerce,warehouse", "--db", db)  # fmt: skip
    assert status == 0, output

    status, output = _cbec("enterprise", "list", "--db", db)
    assert status == 0, output
    rows = {line.split()[1]: line for line in output.splitlines() if "33019" in line}
    assert "Hangzhou Platform" in rows["3301964J31"]
    assert "platform, agent" in rows["3301964J31"]
    assert f"serial {serial:x}" in rows["3301964J31"]
    assert "CN=Platform 3301964J31" in rows["3301964J31"]
    assert rows["3301964J31"].split()[-2] == "no"
    assert "ecommerce, warehouse" in rows["3301960001"]
    assert " - " in rows["3301960001"]

    status, output = _cbec("enterprise", "disable", "3301960001", "--db", db)
    assert status == 0, output
    store = Store(Path(db))
    try:
        shop = store.enterprise("3301960001")
        platform = store.enterprise("3301964J31")
    finally:
        store.close()
    assert shop is not None and shop.disabled and shop.cert_pem is None
    assert platform is not None and not platform.disabled
    assert platform.roles == ("platform", "agent")
    assert platform.cert_pem == cert.read_text()
    status, output = _cbec("enterprise", "list", "--db", db)
    shop_row = next(line for line in output.splitlines() if "3301960001" in line)
    assert shop_row.split()[-2] == "yes"


def test_adding_again_updates_name_roles_and_certificate(tmp_path: Path) -> None:
    db = str(tmp_path / "cbec.duckdb")
    first, _ = _certificate(tmp_path, "First")
    second, serial = _certificate(tmp_path, "Second")
    base = ("enterprise", "add", "3301980001", "--db", db)
    assert _cbec(*base, "--name", "Agent", "--role", "agent", "--cert", str(first))[0] == 0
    status, output = _cbec(*base, "--name", "Agent Ltd", "--role", "agent", "--role", "logistics")
    assert status == 0, output
    assert "Updated 3301980001" in output
    store = Store(Path(db))
    try:
        agent = store.enterprise("3301980001")
        assert agent is not None
        assert (agent.name, agent.roles) == ("Agent Ltd", ("logistics", "agent"))
        assert agent.cert_pem == first.read_text()  # no --cert: the registered one is kept
        created = agent.created_at
    finally:
        store.close()
    assert _cbec(*base, "--name", "Agent Ltd", "--role", "agent", "--cert", str(second))[0] == 0
    store = Store(Path(db))
    try:
        agents = store.enterprises()
    finally:
        store.close()
    assert len(agents) == 1
    assert agents[0].cert_pem == second.read_text()
    assert agents[0].created_at == created
    status, output = _cbec("enterprise", "list", "--db", db)
    assert f"serial {serial:x}" in output


def test_an_unknown_role_is_one_line_and_status_2(tmp_path: Path) -> None:
    db = tmp_path / "cbec.duckdb"
    status, output = _cbec(
        "enterprise", "add", "3301964J31", "--name", "P", "--role", "platfrom", "--db", str(db)
    )
    line = _one_line_error(status, output)
    assert "unknown role 'platfrom'" in line
    assert all(role in line for role in ROLES)
    assert not db.exists()


@pytest.mark.parametrize("content", ["not a certificate", "key", "missing"])
def test_a_bad_certificate_is_one_line_and_status_2(tmp_path: Path, content: str) -> None:
    db = tmp_path / "cbec.duckdb"
    cert, _ = _certificate(tmp_path, "Platform")
    if content == "key":  # the private key given instead of the certificate
        cert = cert.with_suffix(".key")
    elif content == "missing":
        cert = tmp_path / "nowhere.pem"
    else:
        cert = tmp_path / "bad.pem"
        cert.write_text(content)
    status, output = _cbec(
        "enterprise", "add", "3301964J31", "--name", "P", "--role", "platform",
        "--cert", str(cert), "--db", str(db),
    )  # fmt: skip
    line = _one_line_error(status, output)
    assert f"--cert {cert}" in line
    assert not db.exists()


def test_disabling_an_unknown_code_is_one_line_and_status_2(tmp_path: Path) -> None:
    db = str(tmp_path / "cbec.duckdb")
    assert _cbec("enterprise", "add", "3301964J31", "--name", "P", "--role", "platform",
                 "--db", db)[0] == 0  # fmt: skip
    status, output = _cbec("enterprise", "disable", "3301999999", "--db", db)
    assert "no enterprise '3301999999'" in _one_line_error(status, output)


def test_listing_a_store_that_is_not_there_is_one_line_and_status_2(tmp_path: Path) -> None:
    db = tmp_path / "typo.duckdb"
    status, output = _cbec("enterprise", "list", "--db", str(db))
    assert "no store there" in _one_line_error(status, output)
    assert not db.exists()


def test_an_empty_registry_lists_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cbec.duckdb"
    Store(db).close()
    status, output = _cbec("enterprise", "list", "--db", str(db))
    assert status == 0, output
    assert "No enterprises registered." in output


def test_the_store_refuses_an_unknown_role_or_a_bad_code(tmp_path: Path) -> None:
    store = Store(tmp_path / "cbec.duckdb")
    try:
        with pytest.raises(ValueError, match="unknown role 'customs'"):
            store.add_enterprise("3301964J31", "P", ["customs"])
        with pytest.raises(ValueError, match="at most 18"):
            store.add_enterprise("9" * 19, "P", ["platform"])
        assert store.enterprises() == []
        assert store.disable_enterprise("3301964J31") is False
    finally:
        store.close()
