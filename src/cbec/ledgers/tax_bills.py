"""Tax bills of a withholding agent: what each released declaration owes, and when.

One bill per released declaration list (CEB816, `taxNo` = `invtNo` + `01`). Its tax is the tax
assessed less that of the lines returned (`returned_lines`). The withholding agent (`assureCode`)
pays the bills of a period together: from `tax_payment_first_day` to `tax_payment_last_day`
after release (GACC Announcement 2018 No. 194: day 31 to day 45), unless the list was returned;
after the last day a late fee of `late_fee_daily_rate` of the tax a day runs (0.05 %). All three
are dated parameters, taken on the release date.

Statuses, as of a date: `open` (before the first day: returns may still come), `payable` (from
the first to the last day), `overdue` (after the last day, with its late fee), `returned` (nothing
left to pay). Payments are not recorded yet: a bill never shows as paid.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

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
    ]
)
CENT = Decimal("0.01")


def bills(released: pa.Table, as_of: dt.date, periods: pa.Table) -> pa.Table:
    """The bills of `released` (`Store.released_lists`: one row per released list with its
    `tax_total` and `tax_returned`), as of `as_of`, with the payment days of its release date."""
    out = []
    for row in released.to_pylist():
        invt_no, cop_no, released_at = row["invt_no"], row["cop_no"], row["decided_at"]
        assessed, returned = row["tax_total"], row["tax_returned"]
        released_day = released_at.date()
        due = assessed - returned
        first = parameter_at(periods, "tax_payment_first_day", released_day)
        last = parameter_at(periods, "tax_payment_last_day", released_day)
        rate = parameter_at(periods, "late_fee_daily_rate", released_day) or Decimal(0)
        payable_from = released_day + dt.timedelta(days=int(first)) if first else None
        payable_until = released_day + dt.timedelta(days=int(last)) if last else None
        overdue = 0
        if due == 0:
            status = "returned" if returned else "payable"
        elif payable_from is not None and as_of < payable_from:
            status = "open"
        elif payable_until is not None and as_of > payable_until:
            status = "overdue"
            overdue = (as_of - payable_until).days
        else:
            status = "payable"
        fee = (due * rate * overdue).quantize(CENT, ROUND_HALF_UP)
        out.append(
            {
                "tax_no": f"{invt_no}01",
                "invt_no": invt_no,
                "cop_no": cop_no,
                "order_no": row["order_no"],
                "assure_code": row["assure_code"],
                "released_at": released_at,
                "tax_assessed": assessed,
                "tax_returned": Decimal(returned).quantize(CENT),
                "tax_due": Decimal(due).quantize(CENT),
                "payable_from": payable_from,
                "payable_until": payable_until,
                "status": status,
                "days_overdue": overdue,
                "late_fee": fee,
            }
        )
    return pa.Table.from_pylist(out, schema=SCHEMA)
