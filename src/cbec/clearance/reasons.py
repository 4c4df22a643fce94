"""Stable reason codes of a rejection, in the order the stages find them.

A decision lists every reason found. The codes are part of cbec's interface (receipts, files,
reports): never rename one; add new ones. docs/reasons.md is checked against this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    stage: str
    meaning: str
    reference: str


REASONS: tuple[Reason, ...] = (
    # checks: one document at a time
    Reason(
        "required_field_missing",
        "checks",
        "A field cbec requires is absent or empty in the declaration, its lines, or a companion "
        "document found for it.",
        "cbec's required fields, docs/schema.md",
    ),
    Reason(
        "unreadable_document",
        "checks",
        "A row of the declaration or of its lines could not be read (wrong type, bad value); "
        "the input error report names the file, row and field.",
        "cbec input rules",
    ),
    Reason(
        "trade_mode_invalid",
        "checks",
        "tradeMode is not a retail import mode (9610, 1210, 1239).",
        "GACC 2014 No. 12, 2014 No. 57, 2016 No. 75",
    ),
    Reason("ie_flag_invalid", "checks", "ieFlag is not I (import).", "CEB621 message standard"),
    Reason(
        "currency_not_cny",
        "checks",
        "A currency on the declaration, its lines, the order or the payment is not 142 (CNY).",
        "CEB message standard: currency 142",
    ),
    Reason(
        "buyer_id_type_invalid",
        "checks",
        "buyerIdType (or the payer's) is not 1, the resident identity card.",
        "CEB311/411/621 message standard",
    ),
    Reason(
        "buyer_id_number_invalid",
        "checks",
        "The buyer's identity number has a wrong length, format, check character or birth date.",
        "GB 11643-1999 (ISO 7064 MOD 11-2)",
    ),
    Reason(
        "gcode_invalid",
        "checks",
        "gcode is not a 10-digit tariff number.",
        "CEB621 message standard",
    ),
    Reason(
        "bonded_fields_missing",
        "checks",
        "A bonded declaration (1210, 1239) lacks emsNo, areaCode or a line's itemRecordNo.",
        "CEB621 message standard; GACC 2014 No. 57",
    ),
    Reason(
        "not_pilot_zone",
        "checks",
        "A bonded import (1210) declared at a customs office (customsCode) that is in no approved "
        "pilot zone on the declaration date (the pilot-zone list, docs/policy.md).",
        "GACC Announcement 2014 No. 57; 2016 No. 75",
    ),
    Reason(
        "value_out_of_range",
        "checks",
        "A quantity is not positive, an amount is negative, or the declaration exceeds "
        "1,000,000 CNY (beyond any retail-import limit; see docs/decisions.md).",
        "cbec input rules",
    ),
    Reason(
        "line_total_mismatch",
        "checks",
        "A line's totalPrice differs from price x qty by more than 0.01.",
        "CEB311/621 message standard",
    ),
    Reason(
        "actural_paid_mismatch",
        "checks",
        "The order's acturalPaid differs from goodsValue + freight + taxTotal - discount.",
        "CEB311 message standard",
    ),
    Reason(
        "inventory_lines_missing",
        "checks",
        "The declaration has no lines.",
        "CEB621 message standard",
    ),
    # matching: the three documents against the declaration
    Reason(
        "order_missing",
        "matching",
        "No order (ebpCode + orderNo) was received for the declaration.",
        "GACC 2018 No. 194; domain digest section 7",
    ),
    Reason(
        "payment_missing",
        "matching",
        "No payment for the order (ebpCode + orderNo) was received.",
        "GACC 2018 No. 194; domain digest section 7",
    ),
    Reason(
        "waybill_missing",
        "matching",
        "No waybill (logisticsCode + logisticsNo) was received.",
        "GACC 2018 No. 194; domain digest section 7",
    ),
    Reason(
        "amount_paid_mismatch",
        "matching",
        "The order's acturalPaid differs from the payment's amountPaid.",
        "domain digest section 7",
    ),
    Reason(
        "payer_not_buyer",
        "matching",
        "The payer's identity number or name differs from the order's buyer.",
        "domain digest sections 5 and 7",
    ),
    Reason(
        "consignee_mismatch",
        "matching",
        "The order's consignee, telephone or address differs from the waybill's.",
        "domain digest section 7",
    ),
    Reason(
        "buyer_mismatch",
        "matching",
        "The declaration's buyer (identity number or name) differs from the order's buyer.",
        "domain digest section 7",
    ),
    Reason(
        "lines_mismatch",
        "matching",
        "The declaration's lines do not map one to one to the order's lines by gnum with the "
        "same quantity and goods name.",
        "domain digest section 7",
    ),
    Reason(
        "payment_reference_mismatch",
        "matching",
        "The order's payCode or payTransactionId differs from the payment's.",
        "CEB311/411 message standard",
    ),
    Reason(
        "enterprise_mismatch",
        "matching",
        "The declaration's ebcCode differs from the order's.",
        "domain digest section 7",
    ),
    Reason(
        "logistics_mismatch",
        "matching",
        "The waybill's orderNo differs from the declaration's.",
        "domain digest section 7",
    ),
    # positive list
    Reason(
        "not_on_positive_list",
        "positive_list",
        "A line's tariff code is not on the positive list in force on the declaration date.",
        "Positive list (2016 No. 40, 2018 No. 157, 2019, 2022 No. 7)",
    ),
    Reason(
        "bonded_only_goods",
        "positive_list",
        "A line's goods may be imported in bonded mode only, and the declaration is 9610.",
        "Positive list remarks",
    ),
    Reason(
        "excluded_goods",
        "positive_list",
        "A line's goods are excluded from retail import by the positive list remark.",
        "Positive list remarks",
    ),
    Reason(
        "tariff_line_unknown",
        "tax",
        "No tariff row covers a line's gcode on the declaration date, so its tax cannot be "
        "computed.",
        "Customs Tariff of the PRC",
    ),
    # limits
    Reason(
        "over_single_limit",
        "limits",
        "The dutiable value exceeds the single-transaction limit (and the declaration is not "
        "one indivisible item admitted from 2019-01-01).",
        "Cai Guan Shui [2016] No. 18; [2018] No. 49",
    ),
    Reason(
        "stock_insufficient",
        "stock",
        "A bonded declaration (1210, 1239): the stock of an item record in its account book "
        "(emsNo, itemRecordNo), entered by CEB711 entry lists less what earlier releases took, "
        "does not cover its lines (qty1, else qty).",
        "GACC Announcement 2018 No. 194 (bonded import: goods in stock before sale)",
    ),
    Reason(
        "over_quantity_limit",
        "limits",
        "The buyer's admitted quantity of a tariff line this calendar year plus this "
        "declaration's exceeds the per-person yearly limit of the positive list's remark (for "
        "example rice 20 kg, sugar 2 kg); quantities in the legal unit (qty1, else qty).",
        "Positive list remarks (11 departments 2016 No. 40 and later editions)",
    ),
    Reason(
        "over_annual_limit",
        "limits",
        "The buyer's admitted value this calendar year plus this declaration exceeds the annual "
        "limit.",
        "Cai Guan Shui [2016] No. 18; [2018] No. 49",
    ),
    # risk: after the parcel was held for inspection (500) or manual review (300)
    Reason(
        "inspection_finding",
        "risk",
        "Inspection or manual review of the held parcel found fraud (undervaluation, tariff "
        "misdeclaration, split order, identity borrowing, goods other than declared); recorded "
        "with `cbec inspect record` or `cbec review decide`.",
        "Customs Law of the PRC, arts. 28 and 86",
    ),
    Reason(
        "guarantee_insufficient",
        "guarantee",
        "Held for manual review (300), not rejected: the declaration's tax exceeds what the "
        "withholding agent's (assureCode) registered guarantee still covers (its released tax "
        "not yet paid nor returned is deducted).",
        "GACC Announcement 2018 No. 194 (the withholding agent holds a guarantee)",
    ),
)

CODES: tuple[str, ...] = tuple(reason.code for reason in REASONS)
