"""Payments of tax bills (`cbec tax pay`) and their CEB818 statuses (`cbec tax status`); a paid
bill restores the agent's guarantee.

Worked example: guarantee 400.00; P1 (4,000 CNY, VAT 364.00) released on 2024-06-15, payable
2024-07-16 to 2024-07-30; P2 the same an hour later is held (364.00 > 36.00 left). P1 paid on
2024-08-05, six days late: 364.00 + 364.00 x 0.05 % x 6 = 364.00 + 1.09 = 365.09. Then the
guarantee covers 400.00 again, and a third list of 364.00 is released.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
from lxml import etree
from typer.testing import CliRunner

from builders import declaration, merge, write_jsonl
from cbec.cli import app
from cbec.pipeline import Policy, clear
from cbec.store import ledgers
from cbec.store.embedded import Store

AGENT = "3301960001"
FOUR_THOUSAND = [{"gcode": "6111200050", "qty": 1, "price": "4000.00"}]
runner = CliRunner()


def _clear(db: Path, folder: Path, out: Path) -> dict[str, dict[str, object]]:
    store = Store(db)
    try:
        clear([folder], store, out, Policy.load())
    finally:
        store.close()
    return {r["cop_no"]: r for r in pq.read_table(out / "decisions.parquet").to_pylist()}


def _remaining(db: Path) -> Decimal:
    store = Store(db)
    try:
        return ledgers.guarantees(store).to_pylist()[0]["remaining"]
    finally:
        store.close()


def test_a_paid_bill_is_paid_and_restores_the_guarantee(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    runner.invoke(app, ["guarantee", "set", "--db", str(db), "--agent", AGENT, "--amount", "400"])
    day1 = merge(
        declaration("P1", FOUR_THOUSAND, when="2024-06-15T10:00:00"),
        declaration("P2", FOUR_THOUSAND, when="2024-06-15T11:00:00"),
    )
    decided = _clear(db, write_jsonl(tmp_path / "day1", day1), tmp_path / "out1")
    assert (decided["P1"]["status"], decided["P2"]["status"]) == (800, 300)
    assert _remaining(db) == Decimal("36.00")
    tax_no = f"{decided['P1']['invt_no']}01"
    payments = tmp_path / "payments.csv"
    payments.write_text(
        "tax_no,amount,paid_at\n"
        f"{tax_no},365.00,2024-08-05\n"  # one cent short of the late fee
        f"{tax_no},364.00,2024-07-10\n"  # before the window opens
        "NOSUCHBILL01,1.00,2024-08-05\n"
        f"{tax_no},lots,2024-08-05\n"
        f"{tax_no},365.09,2024-08-05T15:00:00\n"  # exact: accepted
        f"{tax_no},365.09,2024-08-05\n",  # twice
        encoding="utf-8",
    )
    done = runner.invoke(
        app, ["tax", "pay", str(payments), "--db", str(db), "--receipts", str(tmp_path / "r")]
    )
    assert done.exit_code == 1, done.output  # some refused
    out = done.output
    assert "line 2:" in out and "amount_mismatch" in out and "365.09 owed" in out
    assert "not_yet_payable" in out and "unknown_bill" in out and "unreadable_row" in out
    assert "already_paid" in out and "1 payment(s) recorded, 5 refused" in out
    assert _remaining(db) == Decimal("400.00")
    receipt = etree.parse(str(next((tmp_path / "r").glob("CEB818_*_3.xml"))))
    assert receipt.findtext(".//{*}status") == "3" and receipt.findtext(".//{*}taxNo") == tax_no

    bills = tmp_path / "bills.csv"
    runner.invoke(app, ["tax", "bills", "--db", str(db), "--agent", AGENT, "--period",
                        "2024-06", "--as-of", "2024-09-01", "--format", "csv",
                        "--out", str(bills)])  # fmt: skip
    text = bills.read_text(encoding="utf-8")
    assert '"paid",6,1.09,' in text  # paid six days late with its fee, not counted on to Sept.

    day2 = merge(declaration("P3", FOUR_THOUSAND, when="2024-08-06T10:00:00"))
    assert (
        _clear(db, write_jsonl(tmp_path / "day2", day2), tmp_path / "out2")["P3"]["status"] == 800
    )


def test_818_receipts_follow_each_bill_and_pay_by_period(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    day1 = merge(declaration("Q1", FOUR_THOUSAND, when="2024-06-15T10:00:00"))
    _clear(db, write_jsonl(tmp_path / "day1", day1), tmp_path / "out1")
    folder = tmp_path / "r818"
    status = runner.invoke(app, ["tax", "status", "--db", str(db), "--agent", AGENT,
                                 "--period", "2024-06", "--as-of", "2024-08-05",
                                 "--receipts", str(folder)])  # fmt: skip
    assert status.exit_code == 0, status.output
    moves = sorted(etree.parse(str(p)).findtext(".//{*}status") or "" for p in folder.iterdir())
    assert moves == ["1", "2", "4"]  # issued, payable on 2024-07-16, overdue from 2024-07-31
    paid = runner.invoke(app, ["tax", "pay", "--db", str(db), "--agent", AGENT, "--period",
                               "2024-06", "--paid-at", "2024-07-20"])  # fmt: skip
    assert paid.exit_code == 0 and "paid 364.00" in paid.output, paid.output
    runner.invoke(app, ["tax", "status", "--db", str(db), "--agent", AGENT, "--period",
                        "2024-06", "--as-of", "2024-08-05", "--receipts", str(folder)])  # fmt: skip
    moves = sorted(etree.parse(str(p)).findtext(".//{*}status") or "" for p in folder.iterdir())
    assert moves == ["1", "2", "3"]  # paid in the window: never overdue
    bad = runner.invoke(app, ["tax", "pay", "--db", str(db), "--agent", AGENT])
    assert bad.exit_code == 1 and "give a payment FILE" in bad.output
