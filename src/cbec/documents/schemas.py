"""Canonical Arrow schemas of the import documents and of cbec's outputs.

Column names are the CEB element names in snake_case (`orderNo` -> `order_no`, `acturalPaid` ->
`actural_paid`, sic), so a field can be followed from the XML element to the column to the receipt.
Money is DECIMAL(18,2) in CNY; quantities DECIMAL(18,5); times are timestamps in China Standard
Time without a zone, as written in the messages (`appTime` 20240615100000 -> 2024-06-15 10:00:00).

Which fields are required is cbec's own choice (the official marks are not public): the digest in
shared/domain/china-cbec.md section 6. Everything else is optional.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

MONEY = pa.decimal128(18, 2)
QUANTITY = pa.decimal128(18, 5)
TIME = pa.timestamp("us")  # China Standard Time, as in the messages
TEXT = pa.string()
INT = pa.int32()


@dataclass(frozen=True)
class Document:
    """One document family: its file stem, its columns, its natural key and its required fields."""

    stem: str
    schema: pa.Schema
    key: tuple[str, ...]
    required: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, dtype) for name, dtype in fields])


_MESSAGE_HEAD = (
    ("guid", TEXT),
    ("app_type", TEXT),
    ("app_time", TIME),
    ("app_status", TEXT),
)

ORDER = Document(
    stem="orders",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("order_type", TEXT),
        ("order_no", TEXT),
        ("ebp_code", TEXT),
        ("ebp_name", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("goods_value", MONEY),
        ("freight", MONEY),
        ("discount", MONEY),
        ("tax_total", MONEY),
        ("actural_paid", MONEY),
        ("currency", TEXT),
        ("buyer_reg_no", TEXT),
        ("buyer_name", TEXT),
        ("buyer_telephone", TEXT),
        ("buyer_id_type", TEXT),
        ("buyer_id_number", TEXT),
        ("pay_code", TEXT),
        ("pay_name", TEXT),
        ("pay_transaction_id", TEXT),
        ("batch_numbers", TEXT),
        ("consignee", TEXT),
        ("consignee_telephone", TEXT),
        ("consignee_address", TEXT),
        ("consignee_district", TEXT),
        ("note", TEXT),
    ),
    key=("ebp_code", "order_no"),
    required=(
        "order_no",
        "ebp_code",
        "ebc_code",
        "goods_value",
        "freight",
        "actural_paid",
        "currency",
        "buyer_id_type",
        "buyer_id_number",
        "buyer_name",
        "consignee",
        "consignee_telephone",
        "consignee_address",
    ),
)

ORDER_LINE = Document(
    stem="order_lines",
    schema=_schema(
        ("ebp_code", TEXT),
        ("order_no", TEXT),
        ("gnum", INT),
        ("item_no", TEXT),
        ("item_name", TEXT),
        ("gmodel", TEXT),
        ("item_describe", TEXT),
        ("bar_code", TEXT),
        ("unit", TEXT),
        ("qty", QUANTITY),
        ("price", MONEY),
        ("total_price", MONEY),
        ("currency", TEXT),
        ("country", TEXT),
        ("note", TEXT),
    ),
    key=("ebp_code", "order_no", "gnum"),
    required=("ebp_code", "order_no", "gnum", "item_name", "qty", "price", "total_price"),
)

PAYMENT = Document(
    stem="payments",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("pay_code", TEXT),
        ("pay_name", TEXT),
        ("pay_transaction_id", TEXT),
        ("order_no", TEXT),
        ("ebp_code", TEXT),
        ("ebp_name", TEXT),
        ("payer_id_type", TEXT),
        ("payer_id_number", TEXT),
        ("payer_name", TEXT),
        ("telephone", TEXT),
        ("amount_paid", MONEY),
        ("currency", TEXT),
        ("pay_time", TIME),
        ("note", TEXT),
    ),
    key=("pay_code", "pay_transaction_id"),
    required=(
        "pay_code",
        "pay_transaction_id",
        "order_no",
        "ebp_code",
        "payer_id_type",
        "payer_id_number",
        "payer_name",
        "amount_paid",
        "currency",
        "pay_time",
    ),
)

WAYBILL = Document(
    stem="waybills",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        ("logistics_no", TEXT),
        ("bill_no", TEXT),
        ("order_no", TEXT),
        ("freight", MONEY),
        ("insured_fee", MONEY),
        ("currency", TEXT),
        ("weight", QUANTITY),
        ("pack_no", INT),
        ("goods_info", TEXT),
        ("consignee", TEXT),
        ("consignee_address", TEXT),
        ("consignee_telephone", TEXT),
        ("note", TEXT),
    ),
    key=("logistics_code", "logistics_no"),
    required=(
        "logistics_code",
        "logistics_no",
        "order_no",
        "consignee",
        "consignee_telephone",
        "consignee_address",
    ),
)

INVENTORY = Document(
    stem="inventories",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("order_no", TEXT),
        ("ebp_code", TEXT),
        ("ebp_name", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("logistics_no", TEXT),
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        ("cop_no", TEXT),
        ("pre_no", TEXT),
        ("assure_code", TEXT),
        ("ems_no", TEXT),
        ("invt_no", TEXT),
        ("ie_flag", TEXT),
        ("decl_time", TIME),
        ("customs_code", TEXT),
        ("port_code", TEXT),
        ("ie_date", TIME),
        ("buyer_id_type", TEXT),
        ("buyer_id_number", TEXT),
        ("buyer_name", TEXT),
        ("buyer_telephone", TEXT),
        ("consignee_address", TEXT),
        ("agent_code", TEXT),
        ("agent_name", TEXT),
        ("area_code", TEXT),
        ("area_name", TEXT),
        ("trade_mode", TEXT),
        ("traf_mode", TEXT),
        ("traf_no", TEXT),
        ("voyage_no", TEXT),
        ("bill_no", TEXT),
        ("loct_no", TEXT),
        ("license_no", TEXT),
        ("country", TEXT),
        ("freight", MONEY),
        ("insured_fee", MONEY),
        ("currency", TEXT),
        ("wrap_type", TEXT),
        ("pack_no", INT),
        ("gross_weight", QUANTITY),
        ("net_weight", QUANTITY),
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no"),
    required=(
        "order_no",
        "ebp_code",
        "ebc_code",
        "logistics_code",
        "logistics_no",
        "cop_no",
        "ie_flag",
        "decl_time",
        "customs_code",
        "buyer_id_type",
        "buyer_id_number",
        "buyer_name",
        "trade_mode",
        "currency",
        "freight",
    ),
)

INVENTORY_LINE = Document(
    stem="inventory_lines",
    schema=_schema(
        ("agent_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("item_record_no", TEXT),
        ("item_no", TEXT),
        ("item_name", TEXT),
        ("gcode", TEXT),
        ("gname", TEXT),
        ("gmodel", TEXT),
        ("bar_code", TEXT),
        ("country", TEXT),
        ("trade_country", TEXT),
        ("currency", TEXT),
        ("qty", QUANTITY),
        ("unit", TEXT),
        ("qty1", QUANTITY),
        ("unit1", TEXT),
        ("qty2", QUANTITY),
        ("unit2", TEXT),
        ("price", MONEY),
        ("total_price", MONEY),
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no", "gnum"),
    required=("cop_no", "gnum", "gcode", "gname", "qty", "unit", "price", "total_price"),
)

# Documents after the decision (the ledgers use them) ---------------------------------------

WAYBILL_STATUS = Document(  # CEB513: the logistics firm reports a parcel's status
    stem="waybill_statuses",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        ("logistics_no", TEXT),
        ("logistics_status", TEXT),
        ("logistics_time", TIME),
        ("note", TEXT),
    ),
    key=("logistics_code", "logistics_no", "logistics_status"),
    required=("logistics_code", "logistics_no", "logistics_status", "logistics_time"),
)

_DECLARATION_REFERENCE = (
    ("customs_code", TEXT),
    ("order_no", TEXT),
    ("ebp_code", TEXT),
    ("ebp_name", TEXT),
    ("ebc_code", TEXT),
    ("ebc_name", TEXT),
    ("logistics_no", TEXT),
    ("logistics_code", TEXT),
    ("logistics_name", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("invt_no", TEXT),
    ("buyer_id_type", TEXT),
    ("buyer_id_number", TEXT),
    ("buyer_name", TEXT),
    ("buyer_telephone", TEXT),
    ("agent_code", TEXT),
    ("agent_name", TEXT),
    ("reason", TEXT),
    ("note", TEXT),
)
_DECLARATION_REFERENCE_REQUIRED = (
    "order_no",
    "ebp_code",
    "ebc_code",
    "cop_no",
    "invt_no",
    "reason",
)

CANCELLATION = Document(  # CEB623: the declarant withdraws a declaration not yet released
    stem="cancellations",
    schema=_schema(*_MESSAGE_HEAD, *_DECLARATION_REFERENCE),
    key=("agent_code", "cop_no"),
    required=_DECLARATION_REFERENCE_REQUIRED,
)

RETURN = Document(  # CEB625 InvtRefundHead: the buyer returns goods after release
    stem="returns",
    # arrival_time: cbec's addition, when the goods were back at the supervision site.
    schema=_schema(*_MESSAGE_HEAD, *_DECLARATION_REFERENCE, ("arrival_time", TIME)),
    key=("agent_code", "cop_no"),
    required=_DECLARATION_REFERENCE_REQUIRED,
)

RETURN_LINE = Document(  # CEB625 InvtRefundList: the lines returned (all, or some)
    stem="return_lines",
    schema=_schema(
        ("agent_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("gcode", TEXT),
        ("gname", TEXT),
        ("qty", QUANTITY),
        ("unit", TEXT),
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no", "gnum"),
    required=("cop_no", "gnum", "qty"),
)

DELIVERY = Document(  # CEB711 DeliveryHead: goods enter a bonded warehouse's stock
    stem="deliveries",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("customs_code", TEXT),
        ("cop_no", TEXT),
        ("pre_no", TEXT),
        ("rkd_no", TEXT),
        ("operator_code", TEXT),
        ("operator_name", TEXT),
        ("ie_flag", TEXT),
        ("traf_mode", TEXT),
        ("traf_no", TEXT),
        ("voyage_no", TEXT),
        ("bill_no", TEXT),
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        ("unload_location", TEXT),
        ("note", TEXT),
        # cbec's additions after the standard's elements (not in the published CEB711): the
        # bonded account book and area the goods enter, for the stock ledger.
        ("ems_no", TEXT),
        ("area_code", TEXT),
    ),
    key=("operator_code", "cop_no"),
    required=("customs_code", "cop_no", "operator_code", "ie_flag"),
)

DELIVERY_LINE = Document(  # CEB711 DeliveryList: one parcel or item record entering stock
    stem="delivery_lines",
    schema=_schema(
        ("operator_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("logistics_no", TEXT),
        ("note", TEXT),
        # cbec's additions (not in the published CEB711): the account-book item entering stock
        # and its quantity in the legal unit, for the stock ledger.
        ("item_record_no", TEXT),
        ("gcode", TEXT),
        ("gname", TEXT),
        ("qty", QUANTITY),
        ("unit", TEXT),
    ),
    key=("operator_code", "cop_no", "gnum"),
    required=("cop_no", "gnum"),
)

LEDGER_DOCUMENTS: tuple[Document, ...] = (
    WAYBILL_STATUS,
    CANCELLATION,
    RETURN,
    RETURN_LINE,
    DELIVERY,
    DELIVERY_LINE,
)

IMPORT_DOCUMENTS: tuple[Document, ...] = (
    ORDER,
    ORDER_LINE,
    PAYMENT,
    WAYBILL,
    INVENTORY,
    INVENTORY_LINE,
)

# Outputs ------------------------------------------------------------------------------------

DECISION = Document(
    stem="decisions",
    schema=_schema(
        ("agent_code", TEXT),
        ("cop_no", TEXT),
        ("order_no", TEXT),
        ("invt_no", TEXT),
        ("status", INT),
        ("reasons", pa.list_(TEXT)),
        ("dutiable_value", MONEY),
        ("customs_tax", MONEY),
        ("value_added_tax", MONEY),
        ("consumption_tax", MONEY),
        ("tax_total", MONEY),
        ("buyer_id_number", TEXT),
        ("decl_time", TIME),
        ("decided_at", TIME),
        ("trade_mode", TEXT),
        ("customs_code", TEXT),
    ),
    key=("agent_code", "cop_no"),
    required=("agent_code", "cop_no", "status"),
)

TAX_LINE = Document(
    stem="tax_lines",
    schema=_schema(
        ("agent_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("gcode", TEXT),
        ("tax_price", MONEY),
        ("customs_tax", MONEY),
        ("value_added_tax", MONEY),
        ("consumption_tax", MONEY),
    ),
    key=("agent_code", "cop_no", "gnum"),
    required=("agent_code", "cop_no", "gnum"),
)

TRUTH = Document(
    stem="truth",
    schema=_schema(("agent_code", TEXT), ("cop_no", TEXT), ("defects", pa.list_(TEXT))),
    key=("agent_code", "cop_no"),
    required=("agent_code", "cop_no"),
)

# Columns whose absence means zero (domain digest section 6: discount, insured fee, tax total).
ZERO_WHEN_ABSENT: dict[str, tuple[str, ...]] = {
    "orders": ("discount", "tax_total"),
    "inventories": ("insured_fee",),
    "waybills": ("insured_fee",),
}
