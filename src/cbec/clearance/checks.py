"""Stateless checks: required fields, formats and enumerations, one document at a time.

Required fields are cbec's documented choice (domain digest section 6); currency must be 142
(CNY); the buyer's identity is type 1 with a valid number (GB 11643-1999); a line's total is its
price times its quantity (within 0.01); the order's `acturalPaid` is goodsValue + freight +
taxTotal - discount (CEB311).
"""

from __future__ import annotations

from decimal import Decimal

import ibis.expr.types as ir

from cbec.clearance.frames import any_true, blank
from cbec.clearance.identity import identity_number_valid
from cbec.documents.schemas import INVENTORY, INVENTORY_LINE, ORDER, PAYMENT, WAYBILL
from cbec.engines.reuse import reused

CNY = "142"
RETAIL_IMPORT_MODES = ("9610", "1210", "1239")
BONDED_MODES = ("1210", "1239")
LINE_TOTAL_TOLERANCE = Decimal("0.01")
# Beyond any retail-import limit, and the bound of exact tax arithmetic (clearance/money.py).
MAX_DECLARATION_VALUE = Decimal("1000000")
MAX_QUANTITY = Decimal("1000000")


@reused
def _missing(table: ir.Table, fields: tuple[str, ...], prefix: str = "") -> ir.BooleanValue:
    return any_true(*(blank(table[f"{prefix}{name}"]) for name in fields))


@reused
def line_total_wrong(
    price: ir.DecimalValue, qty: ir.DecimalValue, total: ir.DecimalValue
) -> ir.BooleanValue:
    # Widened before multiplying so that the product cannot overflow (engines keep the scale).
    product = price.cast("decimal(38, 2)") * qty.cast("decimal(38, 5)")
    return ((product - total.cast("decimal(38, 2)")).abs() > LINE_TOTAL_TOLERANCE).fill_null(False)


@reused
def line_summary(lines: ir.Table) -> ir.Table:
    """Per declaration: how many lines, their total, and which line checks failed."""
    flagged = lines.mutate(
        _required=_missing(lines, INVENTORY_LINE.required),
        _currency=(lines.currency.notnull() & (lines.currency != CNY)).fill_null(False),
        _gcode=~lines.gcode.re_search(r"^[0-9]{10}$").fill_null(False),
        _total=line_total_wrong(lines.price, lines.qty, lines.total_price),
        _range=(
            (lines.qty <= 0)
            | (lines.qty > MAX_QUANTITY)
            | (lines.price < 0)
            | (lines.total_price < 0)
        ).fill_null(False),
        _record=blank(lines.item_record_no) & lines.trade_mode.isin(BONDED_MODES),
    )
    return flagged.group_by(["agent_code", "cop_no"]).aggregate(
        line_count=flagged.count(),
        qty_total=flagged.qty.cast("decimal(38, 5)").sum(),
        goods_total=flagged.total_price.cast("decimal(38, 2)").sum(),
        line_required_missing=flagged._required.any(),
        line_currency_not_cny=flagged._currency.any(),
        line_gcode_invalid=flagged._gcode.any(),
        line_total_mismatch=flagged._total.any(),
        line_out_of_range=flagged._range.any(),
        line_record_missing=flagged._record.any(),
    )


@reused
def findings(d: ir.Table) -> dict[str, ir.Value]:
    """The `r_*` flags of the stateless checks, with the line figures later stages need
    (`goods_total`, `dutiable_value`), as columns over `d`: the declarations frame with
    `line_summary` attached.
    """
    goods_total = d.goods_total.fill_null(0)
    freight = d.freight.fill_null(0).cast("decimal(38, 2)")
    insured = d.insured_fee.fill_null(0).cast("decimal(38, 2)")
    dutiable = goods_total + freight + insured
    order_paid_formula = (
        d.order_goods_value.cast("decimal(38, 2)")
        + d.order_freight.cast("decimal(38, 2)")
        + d.order_tax_total.fill_null(0).cast("decimal(38, 2)")
        - d.order_discount.fill_null(0).cast("decimal(38, 2)")
    )
    id_present = ~blank(d.buyer_id_number)
    return {
        "goods_total": goods_total,
        "dutiable_value": dutiable,
        "line_count": d.line_count.fill_null(0),
        "qty_total": d.qty_total,
        # Identity first: an engine shares the digits' common part only in a first operand.
        "r_buyer_id_number_invalid": ~identity_number_valid(
            d.buyer_id_number, d.decl_date, d.buyer_id_digits
        )
        & id_present,
        "r_required_field_missing": any_true(
            _missing(d, INVENTORY.required),
            d.line_required_missing,
            d.order_found & _missing(d, ORDER.required, "order_"),
            d.payment_found & _missing(d, PAYMENT.required, "payment_"),
            d.waybill_found & _missing(d, WAYBILL.required, "waybill_"),
        ),
        "r_trade_mode_invalid": ~d.trade_mode.isin(RETAIL_IMPORT_MODES).fill_null(True)
        & ~blank(d.trade_mode),
        "r_ie_flag_invalid": (d.ie_flag != "I").fill_null(False),
        "r_currency_not_cny": any_true(
            d.currency != CNY,
            d.line_currency_not_cny,
            d.order_currency != CNY,
            d.payment_currency != CNY,
        ),
        "r_buyer_id_type_invalid": any_true(
            d.buyer_id_type != "1", d.order_buyer_id_type != "1", d.payment_payer_id_type != "1"
        ),
        "r_gcode_invalid": d.line_gcode_invalid.fill_null(False),
        "r_bonded_fields_missing": d.trade_mode.isin(BONDED_MODES).fill_null(False)
        & any_true(blank(d.ems_no), blank(d.area_code), d.line_record_missing),
        "r_value_out_of_range": any_true(
            d.line_out_of_range,
            d.freight < 0,
            d.insured_fee < 0,
            dutiable > MAX_DECLARATION_VALUE,
        ),
        "r_line_total_mismatch": d.line_total_mismatch.fill_null(False),
        "r_actural_paid_mismatch": d.order_found
        & (d.order_actural_paid.cast("decimal(38, 2)") != order_paid_formula).fill_null(False),
        "r_inventory_lines_missing": d.line_count.isnull() | (d.line_count == 0),
    }
