"""Tax bills of a withholding agent: what each released declaration owes, and when.

One bill per released declaration list (CEB816, `taxNo` = `invtNo` + `01`). Its tax is the tax
assessed less that of the lines returned (`returned_lines`). The withholding agent (`assureCode`)
pays the bills of a period together: from `tax_payment_first_day` to `tax_payment_last_day`
after release (GACC Announcement 2018 No. 194: day 31 to day 45), unless the list was returned;
after the last day a late fee of `late_fee_daily_rate` of the tax a day runs (0.05 %). All three
are dated parameters, taken on the release date.

Statuses, as of a date: `open` (before the first day: returns may still come), `payable` (from
the first to the last day), `overdue` (after the last day, with its late fee), `returned` (nothing
left to pay), `paid` (a payment recorded on or before that date, `cbec tax pay`; its late fee is
the one counted on the day of payment). Each status is also a CEB818 tax-bill status code
(`STATUS_CODES`), and `events` lists the moves a bill made up to a date, for the 818 receipts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from cbec.policy.parameters import parameter_at

COLUMNS = (
    "tax_no",
    "invt_no",
    "cop_no",
    "order_no",
    "assure_code",
    "released_at",
    "tax_assessed",
    "tax_returned",
    "tax_due",
    "payable_from",
    "payable_until",
    "status",
    "days_overdue",
    "late_fee",
    "paid_at",
)
SCHEMA = pa.schema(
    [
        ("tax_no", pa.string()),
        ("invt_no", pa.string()),
        ("cop_no", pa.string()),
        ("order_no", pa.string()),
        ("assure_code", pa.string()),
        ("released_at", pa.timestamp("us")),
        ("tax_assessed", pa.decimal128(18, 2)),
        ("tax_returned", pa.decimal128(18, 2)),
        ("tax_due", pa.decimal128(18, 2)),
        ("payable_from", pa.date32()),
        ("payable_until", pa.date32()),
        ("status", pa.string()),
        ("days_overdue", pa.int32()),
        ("late_fee", pa.decimal128(18, 2)),
        ("paid_at", pa.timestamp("us")),
    ]
)
CENT = Decimal("0.01")
# CEB818 `status` of a tax bill. The standard's own code list is not public (domain digest
# section 6 gives the fields only): cbec's choice, docs/decisions.md. 1 is what a CEB816 carries.
STATUS_CODES = {"open": "1", "payable": "2", "paid": "3", "overdue": "4", "returned": "5"}


@dataclass(frozen=True)
class Terms:
    """When a bill released on a day is payable, and its late fee per day overdue."""

    payable_from: dt.date | None
    payable_until: dt.date | None
    daily_rate: Decimal

    @classmethod
    def on(cls, released_day: dt.date, periods: pa.Table) -> Terms:
        first = parameter_at(periods, "tax_payment_first_day", released_day)
        last = parameter_at(periods, "tax_payment_last_day", released_day)
        rate = parameter_at(periods, "late_fee_daily_rate", released_day) or Decimal(0)
        return cls(
            released_day + dt.timedelta(days=int(first)) if first else None,
            released_day + dt.timedelta(days=int(last)) if last else None,
            rate,
        )

    def days_overdue(self, day: dt.date) -> int:
        if self.payable_until is None or day <= self.payable_until:
            return 0
        return (day - self.payable_until).days

    def late_fee(self, due: Decimal, day: dt.date) -> Decimal:
        """The tax due x the daily rate x the days after the last day, half up to the cent."""
        return (due * self.daily_rate * self.days_overdue(day)).quantize(CENT, ROUND_HALF_UP)


def bills(released: pa.Table, as_of: dt.date, periods: pa.Table) -> pa.Table:
    """The bills of `released` (`Store.released_lists`: one row per released list with its
    `tax_total`, `tax_returned` and payment), as of `as_of`, with the payment days of its release
    date."""
    out = []
    for row in released.to_pylist():
        invt_no, released_at = row["invt_no"], row["decided_at"]
        assessed, returned = row["tax_total"], row["tax_returned"]
        due = assessed - returned
        terms = Terms.on(released_at.date(), periods)
        paid_at = row.get("paid_at")
        paid = paid_at is not None and paid_at.date() <= as_of
        overdue = terms.days_overdue(paid_at.date() if paid else as_of)
        if paid:
            status = "paid"
        elif due == 0:
            status = "returned" if returned else "payable"
        elif terms.payable_from is not None and as_of < terms.payable_from:
            status = "open"
        elif overdue:
            status = "overdue"
        else:
            status = "payable"
        fee = row["late_fee_paid"] if paid else terms.late_fee(due, as_of)
        out.append(
            {
                "tax_no": f"{invt_no}01",
                "invt_no": invt_no,
                "cop_no": row["cop_no"],
                "order_no": row["order_no"],
                "assure_code": row["assure_code"],
                "released_at": released_at,
                "tax_assessed": assessed,
                "tax_returned": Decimal(returned).quantize(CENT),
                "tax_due": Decimal(due).quantize(CENT),
                "payable_from": terms.payable_from,
                "payable_until": terms.payable_until,
                "status": status,
                "days_overdue": overdue,
                "late_fee": fee,
                "paid_at": paid_at if paid else None,
            }
        )
    return pa.Table.from_pylist(out, schema=SCHEMA)


def events(released: pa.Table, as_of: dt.date, periods: pa.Table) -> list[dict[str, Any]]:
    """The moves of each bill up to `as_of`, in time order, as CEB818 rows (`TaxHeadStatus`):
    issued at release, payable on the first day, overdue the day after the last, paid when paid,
    returned when a return left nothing to pay."""
    rows: list[dict[str, Any]] = []
    for row in released.to_pylist():
        released_at = row["decided_at"]
        terms = Terms.on(released_at.date(), periods)
        due = row["tax_total"] - row["tax_returned"]
        paid_at = row.get("paid_at")
        moves: list[tuple[dt.datetime, str]] = [(released_at, "open")]
        if due == 0 and row["tax_returned"]:
            moves.append((row["returned_at"] or released_at, "returned"))
        else:
            if terms.payable_from is not None:
                moves.append((_midnight(terms.payable_from), "payable"))
            if terms.payable_until is not None:
                late = _midnight(terms.payable_until + dt.timedelta(days=1))
                if paid_at is None or paid_at >= late:
                    moves.append((late, "overdue"))
            if paid_at is not None:
                moves.append((paid_at, "paid"))
        for when, status in moves:
            if when.date() > as_of:
                continue
            rows.append(
                {
                    "return_time": when,
                    "invt_no": row["invt_no"],
                    "tax_no": f"{row['invt_no']}01",
                    "status": STATUS_CODES[status],
                    "ent_duty_no": row["cop_no"],
                    "assure_code": row["assure_code"],
                }
            )
    return rows


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())
