"""Canonical tables of the receipts customs sends back (CEB312 ... CEB900), one row per receipt.

`return_status` is the CEB `returnStatus` code (120 accepted, 100 rejected, 800 released, ...);
`return_time` is China Standard Time; `return_info` lists reason codes and short descriptions,
`[Code:order_missing;Desc:...]`. A receipt's `guid` is the `guid` of the document it answers.
"""

from __future__ import annotations

import pyarrow as pa

from cbec.documents.schemas import INT, MONEY, TEXT, TIME, Document

_ANSWER = (("return_status", INT), ("return_time", TIME), ("return_info", TEXT))


def _receipt(stem: str, *fields: tuple[str, pa.DataType], key: tuple[str, ...]) -> Document:
    schema = pa.schema([pa.field(n, t) for n, t in (("guid", TEXT), *fields, *_ANSWER)])
    return Document(stem, schema, key=(*key, "return_status"), required=("guid", "return_status"))


ORDER_RETURN = _receipt(  # CEB312
    "order_returns", ("ebp_code", TEXT), ("ebc_code", TEXT), ("order_no", TEXT), key=("guid",)
)
PAYMENT_RETURN = _receipt(  # CEB412
    "payment_returns", ("pay_code", TEXT), ("pay_transaction_id", TEXT), key=("guid",)
)
WAYBILL_RETURN = _receipt(  # CEB512
    "waybill_returns", ("logistics_code", TEXT), ("logistics_no", TEXT), key=("guid",)
)
WAYBILL_STATUS_RETURN = _receipt(  # CEB514
    "waybill_status_returns",
    ("logistics_code", TEXT),
    ("logistics_no", TEXT),
    ("logistics_status", TEXT),
    key=("guid",),
)
_DECLARATION = (
    ("customs_code", TEXT),
    ("ebp_code", TEXT),
    ("ebc_code", TEXT),
    ("agent_code", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("invt_no", TEXT),
)
INVENTORY_RETURN = _receipt("inventory_returns", *_DECLARATION, key=("guid",))  # CEB622
CANCELLATION_RETURN = _receipt("cancellation_returns", *_DECLARATION, key=("guid",))  # CEB624
RETURN_RETURN = _receipt("return_returns", *_DECLARATION, key=("guid",))  # CEB626
DELIVERY_RETURN = _receipt(  # CEB712
    "delivery_returns",
    ("customs_code", TEXT),
    ("operator_code", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("rkd_no", TEXT),
    key=("guid",),
)

TAX_BILL = Document(  # CEB816 TaxHeadRd: the electronic tax bill of a released declaration
    "tax_bills",
    pa.schema(
        [
            ("guid", TEXT),
            ("return_time", TIME),
            ("invt_no", TEXT),
            ("tax_no", TEXT),
            ("customs_tax", MONEY),
            ("value_added_tax", MONEY),
            ("consumption_tax", MONEY),
            ("status", TEXT),
            ("ent_duty_no", TEXT),
            ("note", TEXT),
            ("assure_code", TEXT),
            ("ebc_code", TEXT),
            ("logistics_code", TEXT),
            ("agent_code", TEXT),
            ("customs_code", TEXT),
            ("order_no", TEXT),
            ("logistics_no", TEXT),
        ]
    ),
    key=("tax_no",),
    required=("guid", "invt_no", "tax_no", "customs_tax", "value_added_tax", "consumption_tax"),
)

TAX_BILL_LINE = Document(  # CEB816 TaxListRd: one line's taxes
    "tax_bill_lines",
    pa.schema(
        [
            ("tax_no", TEXT),
            ("gnum", INT),
            ("gcode", TEXT),
            ("tax_price", MONEY),
            ("customs_tax", MONEY),
            ("value_added_tax", MONEY),
            ("consumption_tax", MONEY),
        ]
    ),
    key=("tax_no", "gnum"),
    required=("tax_no", "gnum"),
)

TAX_BILL_STATUS = Document(  # CEB818 TaxHeadStatus: a tax bill moves through its periods
    "tax_bill_statuses",
    pa.schema(
        [
            ("guid", TEXT),
            ("return_time", TIME),
            ("invt_no", TEXT),
            ("tax_no", TEXT),
            ("status", TEXT),
            ("ent_duty_no", TEXT),
            ("assure_code", TEXT),
        ]
    ),
    key=("tax_no", "status"),
    required=("guid", "tax_no", "status"),
)

FORMAT_ERROR = Document(  # CEB900 MessageReturn: a message that could not be read as a whole
    "format_errors",
    pa.schema(
        [
            ("guid", TEXT),
            ("return_status", INT),
            ("return_info", TEXT),
            ("return_time", TIME),
            ("ori_cop_msg_id", TEXT),
            ("ori_message_type", TEXT),
            ("ori_biz_message", TEXT),  # cbec leaves it empty: never echo a hostile payload
        ]
    ),
    key=("guid",),
    required=("guid", "return_status", "return_info"),
)

IMPORT_RECEIPTS: tuple[Document, ...] = (
    ORDER_RETURN,
    PAYMENT_RETURN,
    WAYBILL_RETURN,
    WAYBILL_STATUS_RETURN,
    INVENTORY_RETURN,
    CANCELLATION_RETURN,
    RETURN_RETURN,
    DELIVERY_RETURN,
    TAX_BILL,
    TAX_BILL_LINE,
    TAX_BILL_STATUS,
    FORMAT_ERROR,
)
