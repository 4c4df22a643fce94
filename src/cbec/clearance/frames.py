"""The two frames every stage reads: declarations with their companion documents, and lines.

A declaration (inventory head) is joined to its order (ebpCode + orderNo), its payment (ebpCode +
orderNo) and its waybill (logisticsCode + logisticsNo); companion columns are prefixed `order_`,
`payment_`, `waybill_`. Each line carries its declaration's keys, date and mode. Stages add boolean
columns named `r_<reason code>`; `decide` turns them into the list of reasons.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cbec.clearance.identity import leading_digits
from cbec.documents.schemas import INVENTORY, INVENTORY_LINE, ORDER, PAYMENT, WAYBILL
from cbec.engines.reuse import reused


@reused
def one_per_key(table: ir.Table, key: list[str], newest_first: list[str]) -> ir.Table:
    """One row per `key`: the first by `newest_first` (descending) where a key repeats.

    Keys rarely repeat, so only the repeated ones are ranked: a window over every row would sort
    the whole day, a count per key and an anti-join only hash it.
    """
    counts = table.group_by(key).aggregate(_copies=table.count())
    repeated = counts.filter(counts._copies > 1).select(*key)
    window = ibis.window(group_by=key, order_by=[ibis.desc(c) for c in newest_first])
    ranked = table.semi_join(repeated, key).mutate(_rank=ibis.row_number().over(window))
    newest = ranked.filter(ranked._rank == 0).drop("_rank")
    return table.anti_join(repeated, key).union(newest, distinct=False)


# Which row of a repeated key counts, per document family: the latest version (a resent or
# changed document replaces the earlier one), and one payment per order (the latest paid).
ONE_VERSION: dict[str, tuple[list[str], list[str]]] = {
    "inventories": (["agent_code", "cop_no"], ["app_time", "guid"]),
    "orders": (["ebp_code", "order_no"], ["app_time", "guid"]),
    "payments": (["ebp_code", "order_no"], ["pay_time", "app_time", "guid"]),
    "waybills": (["logistics_code", "logistics_no"], ["app_time", "guid"]),
    # Lines carry no version: a repeated gnum keeps one row by a fixed rule, so that the
    # outcome never depends on the order rows arrive in (DESIGN.md, "Determinism").
    "inventory_lines": (["agent_code", "cop_no", "gnum"], ["total_price", "gcode", "gname"]),
    "order_lines": (["ebp_code", "order_no", "gnum"], ["total_price", "item_name"]),
}


@reused
def one_version(table: ir.Table, stem: str) -> ir.Table:
    """`table` of the family `stem` with one row per key, as `ONE_VERSION` says.

    The frames below expect this of their inputs; the pipeline applies it where keys repeat.
    """
    key, newest_first = ONE_VERSION[stem]
    return one_per_key(table, key, newest_first)


@reused
def prefixed(table: ir.Table, prefix: str) -> ir.Table:
    return table.rename(f"{prefix}_{{name}}")


# The columns the stages read from each document: the frame carries nothing else, so that a
# national day's frame stays narrow (Parquet inputs are read column by column).
ORDER_FIELDS = (
    *ORDER.required,
    "app_time",
    "discount",
    "tax_total",
    "pay_code",
    "pay_transaction_id",
)
PAYMENT_FIELDS = (*PAYMENT.required, "app_time")
WAYBILL_FIELDS = (*WAYBILL.required, "app_time")
INVENTORY_FIELDS = (
    "agent_code",
    *INVENTORY.required,
    "app_time",
    "insured_fee",
    "ems_no",
    "area_code",
    "assure_code",
)

LINE_FIELDS = (
    *INVENTORY_LINE.required,
    "agent_code",
    "item_record_no",
    "item_name",
    "currency",
    "qty1",
    "unit1",
)


def _fields(table: ir.Table, names: tuple[str, ...]) -> ir.Table:
    return table.select(*dict.fromkeys(names))


@reused
def declarations(inventories: ir.Table) -> ir.Table:
    """The declarations (one row each: `one_version`) with the columns the stages read, the
    declaration date and the buyer identity's leading digits."""
    inv = _fields(inventories, INVENTORY_FIELDS)
    return inv.mutate(
        decl_date=inv.decl_time.date(), buyer_id_digits=leading_digits(inv.buyer_id_number)
    )


@reused
def declarations_with_companions(
    inv: ir.Table, orders: ir.Table, payments: ir.Table, waybills: ir.Table
) -> ir.Table:
    """Each declaration (from `declarations`) with its order, payment and waybill (null columns
    where not found). Each input has one row per key (`one_version`)."""
    order = prefixed(_fields(orders, ORDER_FIELDS), "order")
    payment = prefixed(_fields(payments, PAYMENT_FIELDS), "payment")
    waybill = prefixed(_fields(waybills, WAYBILL_FIELDS), "waybill")
    joined = inv.left_join(
        order, [inv.ebp_code == order.order_ebp_code, inv.order_no == order.order_order_no]
    )
    joined = joined.left_join(
        payment,
        [joined.ebp_code == payment.payment_ebp_code, joined.order_no == payment.payment_order_no],
    )
    joined = joined.left_join(
        waybill,
        [
            joined.logistics_code == waybill.waybill_logistics_code,
            joined.logistics_no == waybill.waybill_logistics_no,
        ],
    )
    return joined.mutate(
        order_found=joined.order_order_no.notnull(),
        payment_found=joined.payment_pay_transaction_id.notnull()
        | joined.payment_order_no.notnull(),
        waybill_found=joined.waybill_logistics_no.notnull(),
    )


@reused
def lines_with_heads(lines: ir.Table, declarations: ir.Table) -> ir.Table:
    """Inventory lines (one per gnum: `one_version`) with their declaration's keys, date and
    mode."""
    unique = _fields(lines, LINE_FIELDS)
    heads = declarations.select(
        "agent_code",
        "cop_no",
        "ebp_code",
        "order_no",
        "trade_mode",
        "decl_date",
        head_currency="currency",
    )
    return unique.inner_join(heads, ["agent_code", "cop_no"])


@reused
def blank(value: ir.Value) -> ir.BooleanValue:
    """True where a field is absent: null, or only whitespace for text.

    Trimming is costly; only text that starts with whitespace needs it, and CASE trims just those.
    """
    if not value.type().is_string():
        return value.isnull()
    text: ir.StringValue = value
    return ibis.cases(
        (text.isnull() | (text == ""), True),
        (text.left(1).isin(WHITESPACE), text.strip() == ""),
        else_=False,
    )


WHITESPACE = (" ", "\t", "\n", "\r")


@reused
def differs(left: ir.Value, right: ir.Value) -> ir.BooleanValue:
    """True where both fields are present and differ (text compared after trimming spaces).

    An absent field is the required-field check's business, not a mismatch. Text is first
    compared as it is, which settles almost every row; CASE trims only the unequal pairs.
    """
    if not left.type().is_string():
        return (left != right).fill_null(False)
    a: ir.StringValue = left
    b: ir.StringValue = right
    return ibis.cases(
        (a.isnull() | b.isnull() | (a == b), False),
        else_=(a.strip() != b.strip()).fill_null(False),
    )


@reused
def any_true(*flags: ir.BooleanValue) -> ir.BooleanValue:
    result = ibis.literal(False)
    for flag in flags:
        result = result | flag.fill_null(False)
    return result


@reused
def valid_on(table: ir.Table, day: ir.DateValue) -> ir.BooleanValue:
    """A dated row (valid_from inclusive, valid_to exclusive, either may be null) holds on `day`."""
    return (table.valid_from.isnull() | (table.valid_from <= day)) & (
        table.valid_to.isnull() | (day < table.valid_to)
    )


@reused
def with_policy(declarations: ir.Table, periods: ir.Table) -> ir.Table:
    """Each declaration with the policy parameters in force on its own declaration date."""
    joined = declarations.left_join(periods, valid_on(periods, declarations.decl_date))
    return joined.drop("valid_from", "valid_to")


@reused
def attach(
    table: ir.Table, extra: ir.Table, keys: tuple[str, ...] = ("agent_code", "cop_no")
) -> ir.Table:
    """`table` with the columns of `extra` joined on `keys` (left join: null where absent)."""
    joined = table.left_join(extra, list(keys))
    return joined.drop(*[f"{key}_right" for key in keys if f"{key}_right" in joined.columns])
