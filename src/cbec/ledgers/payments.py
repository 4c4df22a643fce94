"""Payments of tax bills: each payment is accepted when it pays a released list's bill, once, in
its payment window or later, for exactly the tax due plus the late fee counted on the day of
payment (GACC Announcement 2018 No. 194: payable from day 31 to day 45 after release; Customs Law
art. 60: 0.05 % a day after that). An accepted payment makes the bill `paid` (CEB818) and gives
the agent's guarantee back the tax it covered (`cbec.ledgers.guarantee`).

Payments are few (one per bill, by file): judged row by row over the bills they name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from cbec.ledgers.tax_bills import Terms

ACCEPTED = "accepted"
REFUSED = "refused"


@dataclass(frozen=True)
class Payment:
    """One row of a payment file: which bill, how much, when (`line`: where in the file)."""

    line: int
    tax_no: str
    amount: Decimal
    paid_at: dt.datetime


RESULT = pa.schema(
    [
        ("line", pa.int32()),
        ("tax_no", pa.string()),
        ("amount", pa.decimal128(18, 2)),
        ("paid_at", pa.timestamp("us")),
        ("result", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("assure_code", pa.string()),
        ("tax_paid", pa.decimal128(18, 2)),
        ("late_fee", pa.decimal128(18, 2)),
    ]
)


def judge_payments(
    payments: Iterable[Payment],
    released: dict[str, dict[str, Any]],
    periods: pa.Table,
) -> list[dict[str, Any]]:
    """One result per payment, in file order. `released` maps a bill's `tax_no` to its list's
    row (`Store.released_lists`, with the payment recorded before, if any)."""
    paid = {tax_no for tax_no, row in released.items() if row.get("paid_at") is not None}
    results = []
    for payment in payments:
        row = released.get(payment.tax_no)
        result: dict[str, Any] = {
            "line": payment.line,
            "tax_no": payment.tax_no,
            "amount": payment.amount,
            "paid_at": payment.paid_at,
            "result": REFUSED,
        }
        reason = _refusal(payment, row, paid, periods)
        if reason is not None:
            result["reason"], result["detail"] = reason
        else:
            assert row is not None
            due, fee = _owed(row, payment.paid_at.date(), periods)
            paid.add(payment.tax_no)
            result.update(
                result=ACCEPTED,
                agent_code=row["agent_code"],
                cop_no=row["cop_no"],
                assure_code=row["assure_code"],
                tax_paid=due,
                late_fee=fee,
            )
        results.append(result)
    return results


def _owed(row: dict[str, Any], day: dt.date, periods: pa.Table) -> tuple[Decimal, Decimal]:
    due = Decimal(row["tax_total"] - row["tax_returned"])
    return due, Terms.on(row["decided_at"].date(), periods).late_fee(due, day)


def _refusal(
    payment: Payment, row: dict[str, Any] | None, paid: set[str], periods: pa.Table
) -> tuple[str, str] | None:
    if row is None:
        return ("unknown_bill", f"no released declaration list has the tax bill {payment.tax_no}")
    if payment.tax_no in paid:
        return ("already_paid", f"the bill {payment.tax_no} is paid already")
    due, fee = _owed(row, payment.paid_at.date(), periods)
    if due == 0:
        return ("nothing_due", "the list was returned: its bill owes nothing")
    terms = Terms.on(row["decided_at"].date(), periods)
    if terms.payable_from is not None and payment.paid_at.date() < terms.payable_from:
        return (
            "not_yet_payable",
            f"payable from {terms.payable_from} (returns may still change the tax until then)",
        )
    if payment.amount != due + fee:
        days = terms.days_overdue(payment.paid_at.date())
        return (
            "amount_mismatch",
            f"{payment.amount:.2f} paid, {due + fee:.2f} owed on {payment.paid_at:%Y-%m-%d} "
            f"(tax {due:.2f} + late fee {fee:.2f} for {days} day(s) overdue)",
        )
    return None


def read_payments(path: Path) -> tuple[list[Payment], list[dict[str, Any]]]:
    """The payments of a CSV (header `tax_no,amount,paid_at`) or JSON Lines file, and a refused
    result for each row that cannot be read (with its line and what is wrong). `paid_at` is a
    date (2024-07-20), a time (2024-07-20T10:30:00) or a CEB time (20240720103000).
    Raises ValueError when the file itself cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = _json_rows(text)
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in ("tax_no", "amount", "paid_at") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = [(reader.line_num, row) for row in reader]
    payments: list[Payment] = []
    unreadable: list[dict[str, Any]] = []
    for line, row in rows:
        try:
            payments.append(_payment(line, row))
        except ValueError as exc:
            unreadable.append(
                {
                    "line": line,
                    "tax_no": str(row.get("tax_no") or "") if isinstance(row, dict) else "",
                    "result": REFUSED,
                    "reason": "unreadable_row",
                    "detail": f"{path.name}, line {line}: {exc}",
                }
            )
    return payments, unreadable


def _json_rows(text: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            rows.append((number, {"_error": f"not JSON ({exc.msg})"}))
    return rows


def _payment(line: int, row: Any) -> Payment:
    if not isinstance(row, dict):
        raise ValueError("not an object with tax_no, amount, paid_at")
    if "_error" in row:
        raise ValueError(row["_error"])
    tax_no = str(row.get("tax_no") or "").strip()
    if not tax_no:
        raise ValueError("tax_no is empty")
    try:
        amount = Decimal(str(row.get("amount") or "").strip())
    except InvalidOperation:
        raise ValueError(f"amount {row.get('amount')!r} is not a number") from None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or amount < 0 or (isinstance(exponent, int) and exponent < -2):
        raise ValueError(f"amount {row.get('amount')!r}: a number >= 0, at most two decimals")
    return Payment(line, tax_no, amount, parse_time(str(row.get("paid_at") or "").strip()))


def parse_time(text: str) -> dt.datetime:
    for pattern in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValueError(f"paid_at {text!r} is not a date (2024-07-20) or a time (2024-07-20T10:30:00)")
