"""The withholding agent's guarantee (GACC Announcement 2018 No. 194; DESIGN.md "Sequential
ledgers", step 4): a declaration whose tax exceeds what the agent's guarantee still covers is held
for manual review (300); agents with no guarantee are not limited; the outcome does not depend on
batch boundaries.

Worked example: guarantee 700.00; lists of 4,000 CNY of plain goods pay VAT 4,000 x 13 % x 70 %
= 364.00 and a list of 3,000 pays 273.00. In declaration-time order: 364.00 fits (336.00 left),
the next 364.00 does not (held), the 273.00 fits (63.00 left), the last 364.00 is held.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from builders import declaration, merge, write_jsonl, write_return
from cbec.cli import app
from cbec.messages.parse import parse_message
from cbec.pipeline import Policy, clear
from cbec.store import ledgers
from cbec.store.embedded import Store

AGENT = "3301960001"  # the builders' assureCode
runner = CliRunner()


def _list(cop_no: str, price: str, hour: int) -> dict[str, list[dict[str, object]]]:
    lines = [{"gcode": "6111200050", "qty": 1, "price": price}]
    return declaration(cop_no, lines, when=f"2024-06-15T{hour:02d}:00:00")


DAY = (("G1", "4000.00", 9), ("G2", "4000.00", 10), ("G3", "3000.00", 11), ("G4", "4000.00", 12))


def _clear(db: Path, folders: list[Path], out: Path) -> dict[str, dict[str, object]]:
    store = Store(db)
    try:
        clear(folders, store, out, Policy.load())
    finally:
        store.close()
    return {r["cop_no"]: r for r in pq.read_table(out / "decisions.parquet").to_pylist()}


def _set(db: Path, amount: str) -> None:
    done = runner.invoke(app, ["guarantee", "set", "--db", str(db), "--agent", AGENT,
                               "--amount", amount])  # fmt: skip
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize("runs", [1, 4])
def test_a_declaration_beyond_the_remaining_guarantee_is_held(tmp_path: Path, runs: int) -> None:
    db = tmp_path / "s.duckdb"
    _set(db, "700.00")
    decided: dict[str, dict[str, object]] = {}
    per_run = len(DAY) // runs
    for run in range(runs):  # one run or one run per declaration: the same outcome
        part = DAY[run * per_run : (run + 1) * per_run]
        folder = write_jsonl(tmp_path / f"in{run}", merge(*(_list(*d) for d in part)))
        decided.update(_clear(db, [folder], tmp_path / f"out{run}"))
    status = {cop: d["status"] for cop, d in decided.items()}
    assert status == {"G1": 800, "G2": 300, "G3": 800, "G4": 300}
    assert decided["G2"]["reasons"] == ["guarantee_insufficient"]
    # Held, its tax is assessed (the reviewer sees it); its bill comes only with its release.
    assert decided["G2"]["tax_total"] == Decimal("364.00")
    store = Store(db)
    try:
        table = ledgers.guarantees(store).to_pylist()
        # A held list keeps its allowance (DESIGN.md): all four count, 15,000.
        used = store.con.con.execute("SELECT sum(value) FROM allowance_ledger").fetchall()[0][0]
    finally:
        store.close()
    assert [(r["amount"], r["outstanding"], r["remaining"]) for r in table] == [
        (Decimal("700.00"), Decimal("637.00"), Decimal("63.00"))
    ]
    assert used == Decimal("15000.00")


def test_an_agent_with_no_guarantee_is_not_limited(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    folder = write_jsonl(tmp_path / "in", merge(*(_list(*d) for d in DAY)))
    decided = _clear(db, [folder], tmp_path / "out")
    assert {d["status"] for d in decided.values()} == {800}


def test_guarantee_commands_list_and_refuse_bad_input(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    _set(db, "50000")
    listed = runner.invoke(app, ["guarantee", "list", "--db", str(db)])
    assert listed.exit_code == 0 and AGENT in listed.output and "50,000.00" in listed.output
    for amount in ("-1", "12.345", "lots"):
        bad = runner.invoke(
            app, ["guarantee", "set", "--db", str(db), "--agent", AGENT, "--amount", amount]
        )
        assert bad.exit_code == 1 and "Traceback" not in bad.output, bad.output
    gone = runner.invoke(app, ["guarantee", "remove", "--db", str(db), "--agent", AGENT])
    assert gone.exit_code == 0
    again = runner.invoke(app, ["guarantee", "remove", "--db", str(db), "--agent", AGENT])
    assert again.exit_code == 1 and "no registered guarantee" in again.output


def test_a_held_list_can_be_cancelled_and_gives_back_what_it_kept(tmp_path: Path) -> None:
    # Domain digest section 3: a list not yet released (300) may be cancelled (CEB623); its
    # allowance (and stock, and yearly quantities) come back and it is closed (899).
    db = tmp_path / "s.duckdb"
    _set(db, "400.00")
    folder = write_jsonl(tmp_path / "in", merge(*(_list(*d) for d in DAY[:2])))
    decided = _clear(db, [folder], tmp_path / "out")
    assert (decided["G1"]["status"], decided["G2"]["status"]) == (800, 300)
    when = dt.datetime(2024, 6, 16, 9, 0)
    write_return(tmp_path / "c", "G2", str(decided["G2"]["invt_no"]), when, cancel=True)
    write_return(tmp_path / "c", "G1", str(decided["G1"]["invt_no"]), when, cancel=True)
    _clear(db, [tmp_path / "c"], tmp_path / "out2")
    answers = {
        r["cop_no"]: (r["return_status"], r["return_info"])
        for path in sorted((tmp_path / "out2" / "receipts").glob("CEB624_*.xml"))
        for r in parse_message(path.read_bytes()).clean_tables()["cancellation_returns"].to_pylist()
    }
    assert answers["G2"][0] == 120 and "cancel_accepted" in answers["G2"][1]
    assert answers["G1"][0] == 100 and "released_use_return" in answers["G1"][1]
    store = Store(db)
    try:
        used = store.con.con.execute("SELECT sum(value) FROM allowance_ledger").fetchall()[0][0]
        status = store.con.con.execute(
            "SELECT status FROM decisions WHERE cop_no = 'G2'"
        ).fetchall()[0][0]
    finally:
        store.close()
    assert (used, status) == (Decimal("4000.00"), 899)
    _clear(db, [tmp_path / "c"], tmp_path / "out3")  # sent again: refused, nothing changes
    store = Store(db)
    try:
        again = store.con.con.execute("SELECT sum(value) FROM allowance_ledger").fetchall()[0][0]
    finally:
        store.close()
    assert again == Decimal("4000.00")
