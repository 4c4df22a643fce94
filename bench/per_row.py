"""The competitor: the same clearance rules as a per-row Python rule engine.

This is how rule engines over records are usually written: read the documents, index them in
dicts by their keys, then one pass over the declarations in the order the annual allowance needs
(buyer, declaration time, application time, declaration number), applying every rule to one
record at a time. No DataFrame, no SQL: pyarrow only reads the files (and, for a sample, keeps
the rows of the documents the sample needs, as an index look-up would), then each column becomes
a Python list once.

The rules are those of `cbec.clearance` as implemented (reason codes of clearance/reasons.py):
required fields, currency 142, buyer identity (type 1, GB 11643 check character and birth date),
line totals, the order's acturalPaid formula, three-document matching, the positive list in force
on the declaration date, the tariff row of the longest prefix, the single limit with the
indivisible-item exception, the annual allowance (sequential per buyer and year, a rejected
declaration consumes nothing; the ledger is empty before the run, as in a fresh store) and the
tax per line in exact decimals, rounded once to 0.01 half-up (formulas of clearance/tax.py).

Document versions: the latest by app_time per natural key (a key with a null part is one key, as
in a window partition); one payment per order, the latest by pay time then app time; inventory
lines one per gnum, the lowest gcode; order lines one per gnum, the first. Where these orders tie
(equal or null times, equal gcodes), the row first in the file wins; the pipeline picks any.
Equality joins never match a null key part. Text is trimmed of ASCII white space, as the engine's
`strip` does.

Outside its scope, as the canonical Parquet files of a simulated day never need them: rows that
cannot be read (`unreadable_document`) and allowance already used in earlier runs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cbec.clearance.reasons import CODES
from cbec.documents.schemas import (
    INVENTORY,
    INVENTORY_LINE,
    ORDER,
    ORDER_LINE,
    PAYMENT,
    WAYBILL,
    Document,
)

RELEASED = 800
REJECTED = 100

CNY = "142"
RETAIL_IMPORT_MODES = frozenset(("9610", "1210", "1239"))
BONDED_MODES = frozenset(("1210", "1239"))
LINE_TOTAL_TOLERANCE = Decimal("0.01")
MAX_DECLARATION_VALUE = Decimal("1000000")
MAX_QUANTITY = Decimal("1000000")
ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
RATE_SCALE = Decimal("0.000001")
# The characters `strip` removes (the engine trims ASCII white space, not all of Unicode's).
WHITESPACE = " \t\n\r\x0b\x0c"

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
EARLIEST_BIRTH = dt.date(1900, 1, 1)
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
MICROSECONDS_PER_DAY = 86_400_000_000

RANK = {code: i for i, code in enumerate(CODES)}

# The columns read from each file (what the rules look at, nothing else).
ORDER_COLUMNS = (
    *ORDER.required,
    "app_time",
    "discount",
    "tax_total",
    "pay_code",
    "pay_transaction_id",
)
PAYMENT_COLUMNS = (*PAYMENT.required, "app_time")
WAYBILL_COLUMNS = (*WAYBILL.required, "app_time")
INVENTORY_COLUMNS = (
    "agent_code",
    *INVENTORY.required,
    "app_time",
    "insured_fee",
    "ems_no",
    "area_code",
)
LINE_COLUMNS = (
    *INVENTORY_LINE.required,
    "agent_code",
    "item_record_no",
    "item_name",
    "currency",
    "qty1",
)
ORDER_LINE_COLUMNS = (*ORDER_LINE.required, "currency")

Columns = dict[str, list[Any]]
Key = tuple[Any, ...]


class PolicyTables(Protocol):
    """What `cbec.pipeline.Policy` holds: dated parameters, positive-list rows, tariff rows."""

    @property
    def periods(self) -> pa.Table: ...

    @property
    def positive_list(self) -> pa.Table: ...

    @property
    def tariff(self) -> pa.Table: ...


# Reading ------------------------------------------------------------------------------------


def _read(path: Path, names: Iterable[str], keep: tuple[str, set[Any]] | None = None) -> Columns:
    """The named columns of a Parquet file as Python lists; with `keep` = (column, values), only
    the rows whose column value is among `values`."""
    columns = list(dict.fromkeys(names))
    table = pq.read_table(path, columns=columns)
    if keep is not None:
        column, values = keep
        wanted = pa.array(list(values), type=table.schema.field(column).type)
        table = table.filter(pc.is_in(table[column], value_set=wanted))
    return {name: _pylist(table[name]) for name in columns}


def _read_head(path: Path, names: Iterable[str], limit: int | None) -> Columns:
    """The first `limit` rows (all rows when None) of the named columns."""
    columns = list(dict.fromkeys(names))
    if limit is None:
        return _read(path, columns)
    batches: list[pa.RecordBatch] = []
    rows = 0
    with pq.ParquetFile(path) as file:
        schema = pa.schema([file.schema_arrow.field(name) for name in columns])
        if limit > 0:
            for batch in file.iter_batches(batch_size=min(limit, 65_536), columns=columns):
                batches.append(batch.slice(0, limit - rows))
                rows += batches[-1].num_rows
                if rows >= limit:
                    break
    table = pa.Table.from_batches(batches, schema=schema)
    return {name: _pylist(table[name]) for name in columns}


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values, converted the cheap way where `to_pylist` is slow.

    Money and quantities (DECIMAL(18, s)) become `Decimal`s with their scale, built from the
    stored integers; times become integer microseconds (they are only ordered, and dated through
    a cache); everything else is `to_pylist`.
    """
    kind = column.type
    if pa.types.is_timestamp(kind):
        return column.cast(pa.int64()).to_pylist()
    if not (pa.types.is_decimal(kind) and kind.precision <= 18):
        return column.to_pylist()
    unit = Decimal(1).scaleb(-kind.scale)
    values: list[Any] = []
    for chunk in column.chunks:
        # A DECIMAL(18) fits in the low signed 64 bits of its 128-bit little-endian integer.
        words = np.frombuffer(
            chunk.buffers()[1], dtype=np.int64, count=2 * (chunk.offset + len(chunk))
        )
        stored = words[2 * chunk.offset :: 2].tolist()
        if chunk.null_count:
            valid = chunk.is_valid().to_pylist()
            values.extend(
                [Decimal(v) * unit if ok else None for v, ok in zip(stored, valid, strict=True)]
            )
        else:
            values.extend([Decimal(v) * unit for v in stored])
    return values


# Small helpers ------------------------------------------------------------------------------


def _blank_text(value: str | None) -> bool:
    return value is None or not value.strip(WHITESPACE)


def _differs(left: str | None, right: str | None) -> bool:
    """Both present and different after trimming (absence is the required-field check's)."""
    return (
        left is not None and right is not None and left.strip(WHITESPACE) != right.strip(WHITESPACE)
    )


def _differs_value(left: Any, right: Any) -> bool:
    return left is not None and right is not None and left != right


def _text_fields(document: Document, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """`names` split into text fields (blank when empty) and the others (blank when null)."""
    text: list[str] = []
    other: list[str] = []
    for name in names:
        (text if pa.types.is_string(document.schema.field(name).type) else other).append(name)
    return text, other


def _missing(row: int, text: list[list[Any]], other: list[list[Any]]) -> bool:
    """A required field of the record at `row` is absent: null, or text of white space only."""
    for column in text:
        value = column[row]
        # Most values start with a visible character: blank only needs a look when they do not.
        if not value or (value[0] in WHITESPACE and not value.strip(WHITESPACE)):
            return True
    # Identity, not `None in [...]`: that compares with ==, slow for Decimals (ABC checks).
    for column in other:  # noqa: SIM110 (a loop is faster than any() over a generator)
        if column[row] is None:
            return True
    return False


def identity_number_valid(number: str, on: dt.date | None) -> bool:
    """GB 11643-1999: 17 digits and the ISO 7064 MOD 11-2 check character, of someone born
    between 1900-01-01 and `on`."""
    if on is None or len(number) != 18 or not number.isascii():
        return False
    body = number[:17]
    if not body.isdigit():
        return False
    total = 0
    for digit, weight in zip(body, ID_WEIGHTS, strict=True):
        total += (ord(digit) - 48) * weight
    if ID_CHECK_CHARACTERS[total % 11] != number[17]:
        return False
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return EARLIEST_BIRTH <= born <= on


def _gcode_ok(gcode: str | None) -> bool:
    return gcode is not None and len(gcode) == 10 and gcode.isascii() and gcode.isdigit()


def _valid_on(since: dt.date | None, until: dt.date | None, day: dt.date | None) -> bool:
    """valid_from inclusive, valid_to exclusive, either open when null (SQL three-valued)."""
    return (since is None or (day is not None and since <= day)) and (
        until is None or (day is not None and day < until)
    )


def _later(candidate: Any, current: Any) -> bool:
    """Ordering by a time descending with nulls last: does `candidate` come first?"""
    return candidate is not None and (current is None or candidate > current)


# Policy as dicts ----------------------------------------------------------------------------


class Rules:
    """The policy tables as look-ups built once: parameters by date, list and tariff by code."""

    def __init__(self, policy: PolicyTables) -> None:
        periods = policy.periods.to_pylist()
        self.periods = [(p.pop("valid_from"), p.pop("valid_to"), p) for p in periods]
        self._by_date: dict[dt.date | None, dict[str, Decimal | None] | None] = {}
        self.listed: dict[str, list[tuple[dt.date | None, dt.date | None, str]]] = {}
        for row in policy.positive_list.to_pylist():
            self.listed.setdefault(row["code"], []).append(
                (row["valid_from"], row["valid_to"], row["remark_kind"])
            )
        # Tariff rows by code: 10-digit subheadings and 8-digit tariff lines apart.
        self.tariff10: dict[str, list[dict[str, Any]]] = {}
        self.tariff8: dict[str, list[dict[str, Any]]] = {}
        for row in policy.tariff.to_pylist():
            rows = self.tariff10 if len(row["code"]) == 10 else self.tariff8
            rows.setdefault(row["code"], []).append(row)

    def parameters(self, day: dt.date | None) -> dict[str, Decimal | None] | None:
        if day not in self._by_date:
            found = None
            for since, until, values in self.periods:
                if _valid_on(since, until, day):
                    found = values
                    break
            self._by_date[day] = found
        return self._by_date[day]

    def listing(self, tariff_line: str, day: dt.date | None) -> str | None:
        """The remark kind of the positive-list row valid on `day`, or None when not listed."""
        for since, until, kind in self.listed.get(tariff_line, ()):
            if _valid_on(since, until, day):
                return kind
        return None

    def rates(self, gcode: str | None, day: dt.date | None) -> dict[str, Any] | None:
        """The tariff row of the longest prefix (10 digits, then 8) valid on `day`."""
        if gcode is None:
            return None
        for row in self.tariff10.get(gcode, ()):
            if _valid_on(row["valid_from"], row["valid_to"], day):
                return row
        for row in self.tariff8.get(gcode[:8], ()):
            if _valid_on(row["valid_from"], row["valid_to"], day):
                return row
        return None


# Tax ----------------------------------------------------------------------------------------


def line_tax(
    line_total: Decimal,
    goods: Decimal,
    extras: Decimal,
    price: Decimal | None,
    qty1: Decimal | None,
    rates: dict[str, Any],
    full_tax: bool,
    tax_factor: Decimal,
    tariff_factor: Decimal,
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(tax price, duty, VAT, consumption tax) of one line, each rounded once to 0.01 half-up.

    P = L * (S + E) / S (pro-rata freight and insurance), D = P * t, B = P + D + Q*s,
    CT = F * (B * c / (1 - c) + Q*s), VAT = F * v * B / (1 - c); F = 0.7 within the limits and
    1 in full (clearance/tax.py). Each tax is one exact quotient, divided once (prec 60 holds
    every digit of the numerators) and rounded once.
    """
    duty_rate = rates["provisional_rate"]
    if duty_rate is None:
        duty_rate = rates["mfn_rate"] if rates["mfn_rate"] is not None else ZERO
    if full_tax:
        t, factor = duty_rate, ONE
    else:
        t = (duty_rate * tariff_factor).quantize(RATE_SCALE, ROUND_HALF_UP)
        factor = tax_factor
    floor = rates["consumption_min_unit_price"]
    applies = floor is None or (price is not None and price >= floor)
    c = (rates["consumption_rate"] or ZERO) if applies else ZERO
    v = rates["vat_rate"] or ZERO
    specific = (rates["consumption_specific"] or ZERO) * (qty1 or ZERO)
    share = line_total * (goods + extras)  # P * S
    base = share * (ONE + t) + specific * goods  # B * S
    den = goods * (ONE - c)
    return (
        (share / goods).quantize(CENT, ROUND_HALF_UP),
        (share * t / goods).quantize(CENT, ROUND_HALF_UP),
        (factor * v * base / den).quantize(CENT, ROUND_HALF_UP),
        (factor * (share * (ONE + t) * c + specific * goods) / den).quantize(CENT, ROUND_HALF_UP),
    )


# The engine ---------------------------------------------------------------------------------


def clear_per_row(
    folder: Path,
    limit: int | None,
    policy: PolicyTables | None = None,
    keep_decisions: bool = False,
) -> dict[str, Any]:
    """Clear the first `limit` declarations of `folder` (all when None), one record at a time.

    Returns {"declarations", "released", "rejected", "seconds" (reading included), "reasons"
    (a Counter of reason codes)}; with `keep_decisions`, also "decisions": (agent_code, cop_no)
    -> (status, reasons, dutiable value, customs tax, VAT, consumption tax).
    """
    if policy is None:
        from cbec.pipeline import Policy  # imports ibis: only for the default

        policy = Policy.load()
    started = time.perf_counter()
    with localcontext() as context:
        context.prec = 60
        result = _clear(folder, limit, Rules(policy), keep_decisions)
    result["seconds"] = time.perf_counter() - started
    return result


def _clear(folder: Path, limit: int | None, rules: Rules, keep_decisions: bool) -> dict[str, Any]:
    # --- read: the sample of declarations, then only the documents they need ---
    inv = _read_head(folder / "inventories.parquet", INVENTORY_COLUMNS, limit)
    sample = limit is not None
    order_nos = {n for n in inv["order_no"] if n is not None}
    orders = _read(
        folder / "orders.parquet", ORDER_COLUMNS, ("order_no", order_nos) if sample else None
    )
    payments = _read(
        folder / "payments.parquet", PAYMENT_COLUMNS, ("order_no", order_nos) if sample else None
    )
    waybill_nos = {n for n in inv["logistics_no"] if n is not None}
    waybills = _read(
        folder / "waybills.parquet",
        WAYBILL_COLUMNS,
        ("logistics_no", waybill_nos) if sample else None,
    )
    cop_nos = {n for n in inv["cop_no"] if n is not None}
    lines = _read(
        folder / "inventory_lines.parquet", LINE_COLUMNS, ("cop_no", cop_nos) if sample else None
    )
    order_lines = _read(
        folder / "order_lines.parquet",
        ORDER_LINE_COLUMNS,
        ("order_no", order_nos) if sample else None,
    )

    # --- index: the latest version of each document by its natural key ---
    def latest(columns: Columns, key: tuple[str, ...]) -> dict[Key, int]:
        """Natural key -> row of the latest version (by app_time; a null key is a key)."""
        found: dict[Key, int] = {}
        times = columns["app_time"]
        for row, k in enumerate(zip(*(columns[name] for name in key), strict=True)):
            current = found.get(k)
            if current is None or _later(times[row], times[current]):
                found[k] = row
        return found

    def joinable(found: dict[Key, int]) -> dict[Key, int]:
        """Keys that an equality join can match (no null part)."""
        return {k: row for k, row in found.items() if None not in k}

    order_at = joinable(latest(orders, ORDER.key))
    waybill_at = joinable(latest(waybills, WAYBILL.key))
    # One payment per order: the latest version of each payment, then the latest by pay time.
    payment_at: dict[Key, int] = {}
    pay_time, pay_app = payments["pay_time"], payments["app_time"]
    pay_ebp, pay_order = payments["ebp_code"], payments["order_no"]
    for row in latest(payments, PAYMENT.key).values():
        k = (pay_ebp[row], pay_order[row])
        if None in k:
            continue
        current = payment_at.get(k)
        if (
            current is None
            or _later(pay_time[row], pay_time[current])
            or (pay_time[row] == pay_time[current] and _later(pay_app[row], pay_app[current]))
        ):
            payment_at[k] = row
    declarations = list(latest(inv, INVENTORY.key).values())

    # Inventory lines per declaration, one per gnum (the lowest gcode, nulls last).
    line_gcode, line_gnum = lines["gcode"], lines["gnum"]
    lines_of: dict[Key, dict[Any, int]] = {}
    for row, k in enumerate(zip(lines["agent_code"], lines["cop_no"], strict=True)):
        if None in k:
            continue
        by_gnum = lines_of.setdefault(k, {})
        gnum = line_gnum[row]
        current = by_gnum.get(gnum)
        if current is None or (
            line_gcode[row] is not None
            and (line_gcode[current] is None or line_gcode[row] < line_gcode[current])
        ):
            by_gnum[gnum] = row
    # Order lines per order, one per gnum (the first).
    order_lines_of: dict[Key, dict[Any, int]] = {}
    ordered_gnum = order_lines["gnum"]
    for row, k in enumerate(zip(order_lines["ebp_code"], order_lines["order_no"], strict=True)):
        order_lines_of.setdefault(k, {}).setdefault(ordered_gnum[row], row)

    # --- columns as local names (one list per field) ---
    i_agent, i_cop, i_order, i_ebp, i_ebc = (
        inv["agent_code"],
        inv["cop_no"],
        inv["order_no"],
        inv["ebp_code"],
        inv["ebc_code"],
    )
    i_lcode, i_lno, i_decl, i_app = (
        inv["logistics_code"],
        inv["logistics_no"],
        inv["decl_time"],
        inv["app_time"],
    )
    i_buyer, i_buyer_name, i_buyer_type = (
        inv["buyer_id_number"],
        inv["buyer_name"],
        inv["buyer_id_type"],
    )
    i_mode, i_ie, i_currency, i_freight, i_insured = (
        inv["trade_mode"],
        inv["ie_flag"],
        inv["currency"],
        inv["freight"],
        inv["insured_fee"],
    )
    i_ems, i_area = inv["ems_no"], inv["area_code"]
    inv_text, inv_other = _text_fields(INVENTORY, INVENTORY.required)
    inv_req_text = [inv[n] for n in inv_text]
    inv_req_other = [inv[n] for n in inv_other]

    o_text, o_other = _text_fields(ORDER, ORDER.required)
    o_req_text, o_req_other = [orders[n] for n in o_text], [orders[n] for n in o_other]
    o_goods, o_freight, o_tax, o_discount, o_paid = (
        orders["goods_value"],
        orders["freight"],
        orders["tax_total"],
        orders["discount"],
        orders["actural_paid"],
    )
    o_currency, o_buyer_type, o_buyer, o_buyer_name, o_ebc = (
        orders["currency"],
        orders["buyer_id_type"],
        orders["buyer_id_number"],
        orders["buyer_name"],
        orders["ebc_code"],
    )
    o_consignee, o_phone, o_address = (
        orders["consignee"],
        orders["consignee_telephone"],
        orders["consignee_address"],
    )
    o_pay_code, o_txn = orders["pay_code"], orders["pay_transaction_id"]

    p_text, p_other = _text_fields(PAYMENT, PAYMENT.required)
    p_req_text, p_req_other = [payments[n] for n in p_text], [payments[n] for n in p_other]
    p_currency, p_type, p_payer, p_payer_name, p_amount, p_code, p_txn = (
        payments["currency"],
        payments["payer_id_type"],
        payments["payer_id_number"],
        payments["payer_name"],
        payments["amount_paid"],
        payments["pay_code"],
        payments["pay_transaction_id"],
    )

    w_text, w_other = _text_fields(WAYBILL, WAYBILL.required)
    w_req_text, w_req_other = [waybills[n] for n in w_text], [waybills[n] for n in w_other]
    w_consignee, w_phone, w_address, w_order = (
        waybills["consignee"],
        waybills["consignee_telephone"],
        waybills["consignee_address"],
        waybills["order_no"],
    )

    l_text, l_other = _text_fields(INVENTORY_LINE, INVENTORY_LINE.required)
    l_req_text, l_req_other = [lines[n] for n in l_text], [lines[n] for n in l_other]
    l_gcode, l_qty, l_price, l_total, l_currency = (
        lines["gcode"],
        lines["qty"],
        lines["price"],
        lines["total_price"],
        lines["currency"],
    )
    l_record, l_item, l_gname, l_qty1, l_gnum = (
        lines["item_record_no"],
        lines["item_name"],
        lines["gname"],
        lines["qty1"],
        lines["gnum"],
    )

    ol_text, ol_other = _text_fields(ORDER_LINE, ORDER_LINE.required)
    ol_req_text = [order_lines[n] for n in ol_text]
    ol_req_other = [order_lines[n] for n in ol_other]
    ol_qty, ol_price, ol_total, ol_currency, ol_name = (
        order_lines["qty"],
        order_lines["price"],
        order_lines["total_price"],
        order_lines["currency"],
        order_lines["item_name"],
    )

    # --- the pass, in the order of the annual allowance ---
    earliest = -(2**63)
    days: dict[int, dt.date] = {}  # day number since 1970-01-01 -> date

    def order_key(row: int) -> tuple[Any, ...]:
        app = i_app[row]
        return (
            i_buyer[row] or "",
            i_decl[row] if i_decl[row] is not None else earliest,
            app is None,
            app if app is not None else earliest,
            i_cop[row] or "",
            i_agent[row] or "",
        )

    declarations.sort(key=order_key)
    used: dict[tuple[str, int], Decimal] = {}
    reasons_count: Counter[str] = Counter()
    released = 0
    tax_total = ZERO
    decisions: dict[Key, tuple[int, tuple[str, ...], Decimal, Decimal, Decimal, Decimal]] = {}

    for row in declarations:
        found: list[str] = []
        flag = found.append
        decl_time = i_decl[row]  # microseconds since 1970-01-01, China Standard Time
        day: dt.date | None = None
        if decl_time is not None:
            number = decl_time // MICROSECONDS_PER_DAY
            day = days.get(number)
            if day is None:
                day = days[number] = dt.date.fromordinal(EPOCH_ORDINAL + number)
        mode = i_mode[row]
        ebp, order_no = i_ebp[row], i_order[row]

        o = order_at.get((ebp, order_no))
        p = payment_at.get((ebp, order_no))
        w = waybill_at.get((i_lcode[row], i_lno[row]))

        # Required fields of the declaration and of the companions found.
        if (
            _missing(row, inv_req_text, inv_req_other)
            or (o is not None and _missing(o, o_req_text, o_req_other))
            or (p is not None and _missing(p, p_req_text, p_req_other))
            or (w is not None and _missing(w, w_req_text, w_req_other))
        ):
            flag("required_field_missing")
        if mode is not None and mode not in RETAIL_IMPORT_MODES and mode.strip(WHITESPACE):
            flag("trade_mode_invalid")
        if i_ie[row] is not None and i_ie[row] != "I":
            flag("ie_flag_invalid")
        currency = i_currency[row]
        if (
            (currency is not None and currency != CNY)
            or (o is not None and o_currency[o] is not None and o_currency[o] != CNY)
            or (p is not None and p_currency[p] is not None and p_currency[p] != CNY)
        ):
            flag("currency_not_cny")
        if (
            (i_buyer_type[row] is not None and i_buyer_type[row] != "1")
            or (o is not None and o_buyer_type[o] is not None and o_buyer_type[o] != "1")
            or (p is not None and p_type[p] is not None and p_type[p] != "1")
        ):
            flag("buyer_id_type_invalid")
        buyer = i_buyer[row]
        if not _blank_text(buyer) and not identity_number_valid(buyer, day):
            flag("buyer_id_number_invalid")
        bonded = mode in BONDED_MODES
        freight, insured = i_freight[row], i_insured[row]
        if bonded and (_blank_text(i_ems[row]) or _blank_text(i_area[row])):
            flag("bonded_fields_missing")

        # The declaration's lines, one by one: checks, matching to the order's lines, list, tariff.
        by_gnum = lines_of.get((i_agent[row], i_cop[row]), {})
        ordered = order_lines_of.get((ebp, order_no), {}) if o is not None else {}
        line_rows = list(by_gnum.values())
        goods = ZERO
        qty_total: Decimal | None = None  # SUM: nulls ignored, null when all are
        matched = 0
        line_rates: list[dict[str, Any] | None] = []
        required = record = line_currency = gcode_bad = total_bad = out_of_range = False
        unlisted = excluded = bonded_only = unknown = specific_without_qty1 = False
        for line in line_rows:
            qty, price, total = l_qty[line], l_price[line], l_total[line]
            if total is not None:
                goods += total
            if qty is not None:
                qty_total = qty if qty_total is None else qty_total + qty
            if _missing(line, l_req_text, l_req_other):
                required = True
            if l_currency[line] is not None and l_currency[line] != CNY:
                line_currency = True
            gcode = l_gcode[line]
            well_formed = _gcode_ok(gcode)
            if not well_formed:
                gcode_bad = True
            if (
                price is not None
                and qty is not None
                and total is not None
                and abs(price * qty - total) > LINE_TOTAL_TOLERANCE
            ):
                total_bad = True
            if (
                (qty is not None and (qty <= 0 or qty > MAX_QUANTITY))
                or (price is not None and price < 0)
                or (total is not None and total < 0)
            ):
                out_of_range = True
            if bonded and _blank_text(l_record[line]):
                record = True
            # Matching: the order line of the same gnum, same quantity and goods name.
            gnum = l_gnum[line]
            ol = ordered.get(gnum) if gnum is not None else None
            if ol is not None and ol_qty[ol] is not None and ol_qty[ol] == qty:
                name = l_item[line]
                name = name.strip(WHITESPACE) if name is not None else None
                if not name:
                    gname = l_gname[line]
                    name = gname.strip(WHITESPACE) if gname is not None else None
                ordered_name = ol_name[ol]
                if (
                    name is not None
                    and ordered_name is not None
                    and ordered_name.strip(WHITESPACE) == name
                ):
                    matched += 1
            # Positive list: the row of the first 8 digits valid on the declaration date.
            if well_formed:
                assert gcode is not None
                kind = rules.listing(gcode[:8], day)
                if kind is None:
                    unlisted = True
                elif kind == "excluded":
                    excluded = True
                elif kind == "bonded_only" and mode == "9610":
                    bonded_only = True
            # Tariff: the longest prefix valid then.
            rates = rules.rates(gcode, day)
            line_rates.append(rates)
            if rates is None:
                if well_formed:
                    unknown = True
            elif (
                rates["consumption_specific"] is not None
                and rates["consumption_specific"] > 0
                and l_qty1[line] is None
            ):
                specific_without_qty1 = True

        line_count = len(line_rows)
        if required or specific_without_qty1:
            flag("required_field_missing")
        if line_currency:
            flag("currency_not_cny")
        if gcode_bad:
            flag("gcode_invalid")
        if record:
            flag("bonded_fields_missing")
        extras = (freight or ZERO) + (insured or ZERO)
        dutiable = goods + extras
        if (
            out_of_range
            or (freight is not None and freight < 0)
            or (insured is not None and insured < 0)
            or dutiable > MAX_DECLARATION_VALUE
        ):
            flag("value_out_of_range")
        if total_bad:
            flag("line_total_mismatch")
        if o is not None:
            goods_value, order_freight = o_goods[o], o_freight[o]
            if (
                goods_value is not None
                and order_freight is not None
                and o_paid[o] is not None
                and o_paid[o]
                != goods_value + order_freight + (o_tax[o] or ZERO) - (o_discount[o] or ZERO)
            ):
                flag("actural_paid_mismatch")
        if line_count == 0:
            flag("inventory_lines_missing")

        # Matching: the three documents against the declaration.
        if o is None:
            flag("order_missing")
        if p is None:
            flag("payment_missing")
        if w is None:
            flag("waybill_missing")
        if o is not None:
            if line_count:
                # The order's own lines (found only through matching; checks' reason codes).
                ol_required = ol_bad_total = ol_bad_currency = False
                for ol in ordered.values():
                    if _missing(ol, ol_req_text, ol_req_other):
                        ol_required = True
                    q, pr, tot = ol_qty[ol], ol_price[ol], ol_total[ol]
                    if (
                        q is not None
                        and pr is not None
                        and tot is not None
                        and abs(pr * q - tot) > LINE_TOTAL_TOLERANCE
                    ):
                        ol_bad_total = True
                    if ol_currency[ol] is not None and ol_currency[ol] != CNY:
                        ol_bad_currency = True
                if ol_required:
                    flag("required_field_missing")
                if ol_bad_total:
                    flag("line_total_mismatch")
                if ol_bad_currency:
                    flag("currency_not_cny")
                if not (matched == line_count and len(ordered) == line_count):
                    flag("lines_mismatch")
            if p is not None:
                if _differs_value(o_paid[o], p_amount[p]):
                    flag("amount_paid_mismatch")
                if _differs(p_payer[p], o_buyer[o]) or _differs(p_payer_name[p], o_buyer_name[o]):
                    flag("payer_not_buyer")
                if _differs(o_pay_code[o], p_code[p]) or _differs(o_txn[o], p_txn[p]):
                    flag("payment_reference_mismatch")
            if w is not None and (
                _differs(o_consignee[o], w_consignee[w])
                or _differs(o_phone[o], w_phone[w])
                or _differs(o_address[o], w_address[w])
            ):
                flag("consignee_mismatch")
            if _differs(buyer, o_buyer[o]) or _differs(i_buyer_name[row], o_buyer_name[o]):
                flag("buyer_mismatch")
            if _differs(i_ebc[row], o_ebc[o]):
                flag("enterprise_mismatch")
        if w is not None and _differs(order_no, w_order[w]):
            flag("logistics_mismatch")

        if unlisted:
            flag("not_on_positive_list")
        if bonded_only:
            flag("bonded_only_goods")
        if excluded:
            flag("excluded_goods")
        if unknown:
            flag("tariff_line_unknown")

        # Limits: the single limit (with the indivisible item), then the annual allowance.
        params = rules.parameters(day)
        full_tax = False
        if not found and params is not None:
            single = params["single_limit"]
            if single is not None and dutiable > single:
                if line_count == 1 and qty_total == 1 and params["indivisible_item_exception"] == 1:
                    full_tax = True
                else:
                    flag("over_single_limit")
        if not found:
            assert day is not None and buyer is not None
            annual = params["annual_limit"] if params is not None else None
            ledger_key = (buyer, day.year)
            spent = used.get(ledger_key, ZERO)
            if annual is not None and spent + dutiable > annual:
                flag("over_annual_limit")
            else:
                used[ledger_key] = spent + dutiable

        if found:
            reasons = tuple(sorted(set(found), key=RANK.__getitem__))
            reasons_count.update(reasons)
            if keep_decisions:
                decisions[(i_agent[row], i_cop[row])] = (
                    REJECTED,
                    reasons,
                    dutiable,
                    ZERO,
                    ZERO,
                    ZERO,
                )
            continue

        # Tax, per line, for a released declaration.
        released += 1
        customs = vat = consumption = ZERO
        if goods > 0:
            assert params is not None
            tax_factor = params["tax_factor"] or ZERO
            tariff_factor = params["tariff_factor"] or ZERO
            for line, rates in zip(line_rows, line_rates, strict=True):
                assert rates is not None  # a released line has a tariff row
                _, duty, added, excise = line_tax(
                    l_total[line],
                    goods,
                    extras,
                    l_price[line],
                    l_qty1[line],
                    rates,
                    full_tax,
                    tax_factor,
                    tariff_factor,
                )
                customs += duty
                vat += added
                consumption += excise
        tax_total += customs + vat + consumption
        if keep_decisions:
            decisions[(i_agent[row], i_cop[row])] = (
                RELEASED,
                (),
                dutiable,
                customs,
                vat,
                consumption,
            )

    result: dict[str, Any] = {
        "declarations": len(declarations),
        "released": released,
        "rejected": len(declarations) - released,
        "reasons": reasons_count,
        "tax_total": tax_total,
    }
    if keep_decisions:
        result["decisions"] = decisions
    return result
