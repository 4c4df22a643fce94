"""`cbec enterprise add --issue-key`, the operator's token, and the settings from the
environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cbec.cli import app
from cbec.service import auth
from cbec.service.journal import open_journal
from cbec.service.settings import Settings, SettingsError
from cbec.store.embedded import Store, StoreError

runner = CliRunner()
ISSUE = ("--issue-key", "--db")


def test_issue_key_prints_the_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    result = runner.invoke(
        app,
        ["enterprise", "add", "3301980001", "--name", "Agent", "--role", "agent", *ISSUE, f"{db}"],
    )
    assert result.exit_code == 0, result.output
    key = result.output.split("API key (shown once, only its SHA-256 is stored): ")[1].split()[0]
    store = Store(db)
    try:
        assert auth.enterprise_by_key(open_journal(store), key).code == "3301980001"
        stored = store.enterprise("3301980001")
        assert stored is not None and stored.api_key_sha256 == auth.key_sha256(key)
    finally:
        store.close()
    listed = runner.invoke(
        app,
        ["enterprise", "add", "3301980001", "--name", "Agent", "--role", "agent", "--db", f"{db}"],
    )
    assert "API key" not in listed.output


def test_the_admin_token_is_generated_once_or_taken_from_the_environment(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    journal = open_journal(store)
    try:
        generated = auth.set_admin_token(journal, None)
        assert generated is not None and auth.is_admin(journal, generated)
        assert auth.set_admin_token(journal, None) is None  # not printed again
        assert auth.set_admin_token(journal, "from-env") is None
        assert auth.is_admin(journal, "from-env")
        assert not auth.is_admin(journal, generated)
    finally:
        journal.close()
        store.close()


def test_settings_come_from_cbec_variables() -> None:
    settings = Settings.from_env(
        {"CBEC_BATCH_MAX_MESSAGES": "50", "CBEC_BATCH_MAX_SECONDS": "0.1", "CBEC_ADMIN_TOKEN": "t"}
    )
    assert (settings.batch_max_messages, settings.batch_max_seconds) == (50, 0.1)
    assert settings.admin_token == "t"
    with pytest.raises(SettingsError, match="CBEC_RATE_BURST"):
        Settings.from_env({"CBEC_RATE_BURST": "many"})
    assert Settings.from_env({}).duckdb_threads is None  # DuckDB's own: one per core
    assert Settings.from_env({"CBEC_DUCKDB_THREADS": "2"}).duckdb_threads == 2
    with pytest.raises(SettingsError, match="CBEC_DUCKDB_THREADS"):
        Settings.from_env({"CBEC_DUCKDB_THREADS": "0"})


def _duckdb_default_threads() -> int:
    with duckdb.connect() as con:
        return int(con.execute("SELECT current_setting('threads')").fetchone()[0])  # type: ignore[index]


@pytest.mark.parametrize(
    ("variable", "threads"), [(None, _duckdb_default_threads()), ("1", 1), ("3", 3)]
)
def test_serve_opens_the_store_with_the_threads_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str | None, threads: int
) -> None:
    """The micro-batches run on the store's connection with CBEC_DUCKDB_THREADS threads (by
    default DuckDB's: one per core)."""
    seen: list[int] = []

    def stop_here(store: Store, settings: object) -> None:
        seen.append(store.con.con.execute("SELECT current_setting('threads')").fetchone()[0])
        raise StoreError("stopped by the test once the store is open")

    if variable is None:
        monkeypatch.delenv("CBEC_DUCKDB_THREADS", raising=False)
    else:
        monkeypatch.setenv("CBEC_DUCKDB_THREADS", variable)
    monkeypatch.setattr("cbec.service.app.create_service", stop_here)
    result = runner.invoke(app, ["serve", "--db", f"{tmp_path / 's.duckdb'}"])
    assert result.exit_code == 1, result.output
    assert seen == [threads]


def test_serve_is_a_command() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output


def test_serve_closes_the_store_when_the_service_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when PostgreSQL refuses the journal's connections after the store's own: the store
    opened first is closed, so another process can open the DuckDB file at once."""
    db = tmp_path / "s.duckdb"

    def refused(store: object, settings: object) -> None:
        raise StoreError("cannot connect to the store's journal: too many connections")

    monkeypatch.setattr("cbec.service.app.create_service", refused)
    result = runner.invoke(app, ["serve", "--db", f"{db}"])
    assert result.exit_code == 1, result.output
    other = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", f"{db}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 0, other.stderr
