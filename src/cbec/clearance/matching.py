"""Three-document matching: the declaration against its order, payment and waybill.

Domain digest section 7 (GACC 2018 No. 194): each document is found by its keys; the order's
acturalPaid equals the payment's amountPaid; the payer is the buyer; consignee, telephone and
address agree between order and waybill; the declaration's buyer is the order's; its lines map one
to one to the order's by gnum with the same quantity and goods name; enterprise codes and logistics
numbers agree. A missing document is one reason, and the comparisons that need it are skipped.
"""

from __future__ import annotations

import ibis.expr.types as ir

from cbec.clearance.checks import line_total_wrong
from cbec.clearance.frames import any_true, blank, differs
from cbec.documents.schemas import ORDER_LINE
from cbec.engines.reuse import reused


@reused
def order_line_summary(order_lines: ir.Table, lines: ir.Table) -> ir.Table:
    """Per declaration: order lines matched one to one, and the order lines' own checks."""
    ol = order_lines
    per_order = ol.group_by(["ebp_code", "order_no"]).aggregate(
        order_line_count=ol.count(),
        order_line_required_missing=any_true(
            *(blank(ol[name]) for name in ORDER_LINE.required)
        ).any(),
        order_line_total_mismatch=line_total_wrong(ol.price, ol.qty, ol.total_price).any(),
        order_line_currency_not_cny=((ol.currency.notnull()) & (ol.currency != "142"))
        .fill_null(False)
        .any(),
    )
    ol_named = ol.select("ebp_code", "order_no", "gnum", ol_item_name="item_name", ol_qty="qty")
    paired = lines.left_join(ol_named, ["ebp_code", "order_no", "gnum"])
    inventory_name = paired.item_name.strip().nullif("").fill_null(paired.gname.strip())
    same = (
        paired.ol_qty.notnull()
        & (paired.ol_qty == paired.qty)
        & (paired.ol_item_name.strip() == inventory_name)
    ).fill_null(False)
    marked = paired.mutate(_same=same.cast("int64"))
    matched = marked.group_by(["agent_code", "cop_no", "ebp_code", "order_no"]).aggregate(
        matched_lines=marked._same.sum(), inventory_line_count=marked.count()
    )
    joined = matched.left_join(per_order, ["ebp_code", "order_no"])
    return joined.select(
        "agent_code",
        "cop_no",
        "matched_lines",
        "inventory_line_count",
        "order_line_count",
        "order_line_required_missing",
        "order_line_total_mismatch",
        "order_line_currency_not_cny",
    )


@reused
def findings(d: ir.Table) -> dict[str, ir.Value]:
    """The `r_*` flags of matching, as columns over `d`: the declarations frame (frames.py) with
    `order_line_summary` attached.

    Problems of the order's own lines (required fields, totals, currency) are reported here too,
    under the checks' reason codes, since only matching finds the order lines.
    """
    order, payment, waybill = d.order_found, d.payment_found, d.waybill_found
    line_count = d.inventory_line_count.fill_null(0)
    lines_ok = (d.matched_lines.fill_null(0) == line_count) & (
        d.order_line_count.fill_null(0) == line_count
    )
    return dict(
        r_order_missing=~order,
        r_payment_missing=~payment,
        r_waybill_missing=~waybill,
        r_required_field_missing=order & d.order_line_required_missing.fill_null(False),
        r_line_total_mismatch=order & d.order_line_total_mismatch.fill_null(False),
        r_currency_not_cny=order & d.order_line_currency_not_cny.fill_null(False),
        r_amount_paid_mismatch=order
        & payment
        & differs(d.order_actural_paid, d.payment_amount_paid),
        r_payer_not_buyer=order
        & payment
        & any_true(
            differs(d.payment_payer_id_number, d.order_buyer_id_number),
            differs(d.payment_payer_name, d.order_buyer_name),
        ),
        r_consignee_mismatch=order
        & waybill
        & any_true(
            differs(d.order_consignee, d.waybill_consignee),
            differs(d.order_consignee_telephone, d.waybill_consignee_telephone),
            differs(d.order_consignee_address, d.waybill_consignee_address),
        ),
        r_buyer_mismatch=order
        & any_true(
            differs(d.buyer_id_number, d.order_buyer_id_number),
            differs(d.buyer_name, d.order_buyer_name),
        ),
        r_lines_mismatch=order & (line_count > 0) & ~lines_ok,
        r_payment_reference_mismatch=order
        & payment
        & any_true(
            differs(d.order_pay_code, d.payment_pay_code),
            differs(d.order_pay_transaction_id, d.payment_pay_transaction_id),
        ),
        r_enterprise_mismatch=order & differs(d.ebc_code, d.order_ebc_code),
        r_logistics_mismatch=waybill & differs(d.order_no, d.waybill_order_no),
    )
