"""The two frames every stage reads: declarations with their companion documents, and lines.

A declaration (inventory head) is joined to its order (ebpCode + orderNo), its payment (ebpCode +
orderNo) and its waybill (logisticsCode + logisticsNo); companion columns are prefixed `order_`,
`payment_`, `waybill_`. Each line carries its declaration's keys, date and mode. Stages add boolean
columns named `r_<reason code>`; `decide` turns them into the list of reasons.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cbec.documents.schemas import INVENTORY, ORDER, PAYMENT, WAYBILL, Document


def latest(table: ir.Table, document: Document, order_by: str = "app_time") -> ir.Table:
    """One row per natural key: the latest version (a resent or changed document replaces)."""
    window = ibis.window(group_by=list(document.key), order_by=[ibis.desc(order_by)])
    ranked = table.mutate(_version=ibis.row_number().over(window))
    return ranked.filter(ranked._version == 0).drop("_version")


def prefixed(table: ir.Table, prefix: str) -> ir.Table:
    return table.rename(f"{prefix}_{{name}}")


def declarations_with_companions(
    inventories: ir.Table, orders: ir.Table, payments: ir.Table, waybills: ir.Table
) -> ir.Table:
    """Each declaration with its order, payment and waybill (null columns where not found)."""
    order = prefixed(latest(orders, ORDER), "order")
    # One payment per order: the latest by payment time.
    pay_window = ibis.window(
        group_by=["ebp_code", "order_no"], order_by=[ibis.desc("pay_time"), ibis.desc("app_time")]
    )
    payment_ranked = latest(payments, PAYMENT).mutate(_n=ibis.row_number().over(pay_window))
    payment = prefixed(payment_ranked.filter(payment_ranked._n == 0).drop("_n"), "payment")
    waybill = prefixed(latest(waybills, WAYBILL), "waybill")
    inv = latest(inventories, INVENTORY)
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
        decl_date=joined.decl_time.date(),
        order_found=joined.order_order_no.notnull(),
        payment_found=joined.payment_pay_transaction_id.notnull()
        | joined.payment_order_no.notnull(),
        waybill_found=joined.waybill_logistics_no.notnull(),
    )


def lines_with_heads(lines: ir.Table, declarations: ir.Table) -> ir.Table:
    """Inventory lines (one per gnum) with their declaration's keys, date and mode."""
    window = ibis.window(group_by=["agent_code", "cop_no", "gnum"], order_by=["gcode"])
    ranked = lines.mutate(_n=ibis.row_number().over(window))
    unique = ranked.filter(ranked._n == 0).drop("_n")
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


def blank(value: ir.Value) -> ir.BooleanValue:
    """True where a field is absent: null, or only spaces for text."""
    if value.type().is_string():
        return value.isnull() | (value.strip() == "")
    return value.isnull()


def differs(left: ir.Value, right: ir.Value) -> ir.BooleanValue:
    """True where both fields are present and differ (text compared after trimming spaces).

    An absent field is the required-field check's business, not a mismatch.
    """
    if left.type().is_string():
        left, right = left.strip(), right.strip()
    return (left.notnull() & right.notnull() & (left != right)).fill_null(False)


def any_true(*flags: ir.BooleanValue) -> ir.BooleanValue:
    result = ibis.literal(False)
    for flag in flags:
        result = result | flag.fill_null(False)
    return result


def valid_on(table: ir.Table, day: ir.DateValue) -> ir.BooleanValue:
    """A dated row (valid_from inclusive, valid_to exclusive, either may be null) holds on `day`."""
    return (table.valid_from.isnull() | (table.valid_from <= day)) & (
        table.valid_to.isnull() | (day < table.valid_to)
    )


def with_policy(declarations: ir.Table, periods: ir.Table) -> ir.Table:
    """Each declaration with the policy parameters in force on its own declaration date."""
    joined = declarations.left_join(periods, valid_on(periods, declarations.decl_date))
    return joined.drop("valid_from", "valid_to")


def attach(
    table: ir.Table, extra: ir.Table, keys: tuple[str, ...] = ("agent_code", "cop_no")
) -> ir.Table:
    """`table` with the columns of `extra` joined on `keys` (left join: null where absent)."""
    joined = table.left_join(extra, list(keys))
    return joined.drop(*[f"{key}_right" for key in keys if f"{key}_right" in joined.columns])
