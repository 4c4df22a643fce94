"""Canonical Arrow schemas of the export (outbound) CEB messages and of customs' replies to them.

Export retail e-commerce (supervision modes 9610, 9710, 9810, 1210 out) uses its own family of
messages: the order (CEB303), the collection receipt (CEB403), the waybill (CEB505), the arrival
and departure manifests (CEB507, CEB509), the export declaration list (CEB603), its cancellation
(CEB605), the master/sub waybill list (CEB607) and the summary application (CEB701); customs
answers each (CEB304 ... CEB702) and sends the summary result (CEB792).

Conventions are those of `cbec.documents.schemas`: column names are the CEB element names in
snake_case, in the standard's element order; a field shared with an import message has the same
column name and type there and here (money DECIMAL(18,2), quantities and weights DECIMAL(18,5),
times timestamps in China Standard Time; `ieDate` is a date, `YYYYMMDD`). Stems start with
`export_` so that they never meet the import stems.

Element names and order follow public references: the sample messages published with the GACC
enterprise message standard (announcement 2018 No. 113) and the JAXB bindings of the public
repository fucl123/crs (`common/.../pojo/vo/request` and `.../response`); where the two differ the
published sample is followed and the difference is noted at the document.

Which fields are required is cbec's own choice (the official required/optional marks are not
public): the business keys plus the fields no customs system can do without. Everything else is
optional.
"""

from __future__ import annotations

import pyarrow as pa

from cbec.documents.schemas import INT, MONEY, QUANTITY, TEXT, TIME, Document


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, dtype) for name, dtype in fields])


_MESSAGE_HEAD = (
    ("guid", TEXT),
    ("app_type", TEXT),
    ("app_time", TIME),
    ("app_status", TEXT),
)
_BATCH = (("msg_count", INT), ("msg_seq_no", INT))  # a manifest split over several messages

# Enterprise messages --------------------------------------------------------------------------

EXPORT_ORDER = Document(  # CEB303 Order/OrderHead (orderType E); no buyer: the buyer is abroad
    stem="export_orders",
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
        ("currency", TEXT),
        ("note", TEXT),
    ),
    key=("ebp_code", "order_no"),
    required=("order_type", "order_no", "ebp_code", "ebc_code", "goods_value", "currency"),
)

EXPORT_ORDER_LINE = Document(  # CEB303 Order/OrderList (its order differs from CEB311's list)
    stem="export_order_lines",
    schema=_schema(
        ("ebp_code", TEXT),
        ("order_no", TEXT),
        ("gnum", INT),
        ("item_no", TEXT),
        ("item_name", TEXT),
        ("item_describe", TEXT),
        ("bar_code", TEXT),
        ("unit", TEXT),
        ("currency", TEXT),
        ("qty", QUANTITY),
        ("price", MONEY),
        ("total_price", MONEY),
        ("note", TEXT),
    ),
    key=("ebp_code", "order_no", "gnum"),
    required=(
        "ebp_code",
        "order_no",
        "gnum",
        "item_name",
        "unit",
        "currency",
        "qty",
        "price",
        "total_price",
    ),
)

EXPORT_COLLECTION = Document(  # CEB403 Receipts: the seller has been paid for an export order
    stem="export_collections",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("ebp_code", TEXT),
        ("ebp_name", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("order_no", TEXT),
        ("pay_code", TEXT),
        ("pay_name", TEXT),
        ("pay_no", TEXT),
        ("charge", MONEY),
        ("currency", TEXT),
        ("accounting_date", TIME),  # YYYYMMDDhhmmss in the published sample
        ("note", TEXT),
    ),
    key=("pay_code", "pay_no"),
    required=(
        "ebp_code",
        "ebc_code",
        "order_no",
        "pay_code",
        "pay_no",
        "charge",
        "currency",
        "accounting_date",
    ),
)

EXPORT_WAYBILL = Document(  # CEB505 Logistics (flat): not the same fields as CEB511's
    stem="export_waybills",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        ("logistics_no", TEXT),
        ("freight", MONEY),
        ("insured_fee", MONEY),
        ("currency", TEXT),
        ("gross_weight", QUANTITY),
        ("pack_no", INT),
        ("goods_info", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("ebc_telephone", TEXT),
        ("note", TEXT),
    ),
    key=("logistics_code", "logistics_no"),
    required=("logistics_code", "logistics_no", "freight", "currency", "gross_weight", "pack_no"),
)

EXPORT_ARRIVAL = (
    Document(  # CEB507 Arrival/ArrivalHead: parcels arrive at the exit supervision site
        stem="export_arrivals",
        schema=_schema(
            *_MESSAGE_HEAD,
            ("customs_code", TEXT),
            ("cop_no", TEXT),
            ("operator_code", TEXT),
            ("operator_name", TEXT),
            ("loct_no", TEXT),
            ("ie_flag", TEXT),
            ("traf_mode", TEXT),
            ("bill_no", TEXT),
            ("domestic_traf_no", TEXT),
            ("logistics_code", TEXT),
            ("logistics_name", TEXT),
            *_BATCH,
            ("note", TEXT),
        ),
        key=("operator_code", "cop_no"),
        required=("customs_code", "cop_no", "operator_code", "ie_flag", "logistics_code"),
    )
)

EXPORT_ARRIVAL_LINE = Document(  # CEB507 ArrivalList: one parcel (waybill) arrived
    stem="export_arrival_lines",
    schema=_schema(
        ("operator_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("logistics_no", TEXT),
        ("total_package_no", TEXT),
        ("note", TEXT),
    ),
    key=("operator_code", "cop_no", "gnum"),
    required=("operator_code", "cop_no", "gnum", "logistics_no"),
)

EXPORT_DEPARTURE = Document(  # CEB509 Departure/DepartureHead: the conveyance leaves the country
    stem="export_departures",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("customs_code", TEXT),
        ("cop_no", TEXT),
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        ("traf_mode", TEXT),
        ("traf_name", TEXT),
        ("voyage_no", TEXT),
        ("bill_no", TEXT),
        ("leave_time", TIME),  # no published value seen: taken as YYYYMMDDhhmmss like appTime
        *_BATCH,
        ("note", TEXT),
    ),
    key=("logistics_code", "cop_no"),
    required=("customs_code", "cop_no", "logistics_code", "traf_mode", "leave_time"),
)

EXPORT_DEPARTURE_LINE = Document(  # CEB509 DepartureList (totalPackageNo before logisticsNo)
    stem="export_departure_lines",
    schema=_schema(
        ("logistics_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("total_package_no", TEXT),
        ("logistics_no", TEXT),
        ("note", TEXT),
    ),
    key=("logistics_code", "cop_no", "gnum"),
    required=("logistics_code", "cop_no", "gnum", "logistics_no"),
)

EXPORT_INVENTORY = Document(  # CEB603 Inventory/InventoryHead: the export declaration list
    stem="export_inventories",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("customs_code", TEXT),
        ("ebp_code", TEXT),
        ("ebp_name", TEXT),
        ("order_no", TEXT),
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        ("logistics_no", TEXT),
        ("cop_no", TEXT),
        ("ie_flag", TEXT),
        ("port_code", TEXT),
        ("ie_date", TIME),  # a date, YYYYMMDD (rules.DATE_ELEMENTS)
        ("statistics_flag", TEXT),
        ("agent_code", TEXT),
        ("agent_name", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("owner_code", TEXT),
        ("owner_name", TEXT),
        ("iac_code", TEXT),
        ("iac_name", TEXT),
        ("ems_no", TEXT),
        ("trade_mode", TEXT),
        ("traf_mode", TEXT),
        ("traf_name", TEXT),
        ("voyage_no", TEXT),
        ("bill_no", TEXT),
        ("total_package_no", TEXT),
        ("loct_no", TEXT),
        ("license_no", TEXT),
        ("country", TEXT),  # the country of destination
        ("pod", TEXT),  # element `POD` (catalog.IRREGULAR_ELEMENTS): port of destination
        ("freight", MONEY),
        ("f_currency", TEXT),
        ("f_flag", TEXT),  # 1 rate, 2 per unit, 3 total
        ("insured_fee", MONEY),
        ("i_currency", TEXT),
        ("i_flag", TEXT),
        ("wrap_type", TEXT),
        ("pack_no", INT),
        ("gross_weight", QUANTITY),
        ("net_weight", QUANTITY),
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no"),
    required=(
        "customs_code",
        "ebp_code",
        "order_no",
        "logistics_code",
        "logistics_no",
        "cop_no",
        "ie_flag",
        "port_code",
        "ie_date",
        "agent_code",
        "ebc_code",
        "trade_mode",
        "country",
        "gross_weight",
    ),
)

EXPORT_INVENTORY_LINE = Document(  # CEB603 InventoryList (qty qty1 qty2 before unit unit1 unit2)
    stem="export_inventory_lines",
    schema=_schema(
        ("agent_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("item_no", TEXT),
        ("item_record_no", TEXT),
        ("item_name", TEXT),
        ("gcode", TEXT),
        ("gname", TEXT),
        ("gmodel", TEXT),
        ("bar_code", TEXT),
        ("country", TEXT),
        ("currency", TEXT),
        ("qty", QUANTITY),
        ("qty1", QUANTITY),
        ("qty2", QUANTITY),
        ("unit", TEXT),
        ("unit1", TEXT),
        ("unit2", TEXT),
        ("price", MONEY),
        ("total_price", MONEY),
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no", "gnum"),
    required=(
        "agent_code",
        "cop_no",
        "gnum",
        "gcode",
        "gname",
        "currency",
        "qty",
        "qty1",
        "unit",
        "unit1",
        "price",
        "total_price",
    ),
)

EXPORT_CANCELLATION = Document(  # CEB605 InvtCancel (flat): withdraw an export declaration list
    stem="export_cancellations",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("customs_code", TEXT),
        ("cop_no", TEXT),
        ("pre_no", TEXT),  # in fucl123/crs; the published sample leaves it out
        ("invt_no", TEXT),
        ("reason", TEXT),
        ("agent_code", TEXT),
        ("agent_name", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no"),
    required=("customs_code", "cop_no", "invt_no", "reason", "agent_code", "ebc_code"),
)

EXPORT_MASTER_WAYBILL = Document(  # CEB607 WayBill/WayBillHead: the master bill over sub-waybills
    stem="export_master_waybills",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("customs_code", TEXT),
        ("cop_no", TEXT),
        ("agent_code", TEXT),
        ("agent_name", TEXT),
        ("loct_no", TEXT),
        ("traf_mode", TEXT),
        ("traf_name", TEXT),
        ("voyage_no", TEXT),
        ("bill_no", TEXT),
        ("domestic_traf_no", TEXT),
        ("gross_weight", QUANTITY),
        ("logistics_code", TEXT),
        ("logistics_name", TEXT),
        *_BATCH,
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no"),
    required=("customs_code", "cop_no", "agent_code", "traf_mode", "bill_no", "logistics_code"),
)

EXPORT_MASTER_WAYBILL_LINE = Document(  # CEB607 WayBillList: one sub-waybill (parcel)
    stem="export_master_waybill_lines",
    schema=_schema(
        ("agent_code", TEXT),
        ("cop_no", TEXT),
        ("gnum", INT),
        ("total_package_no", TEXT),
        ("logistics_no", TEXT),
        ("note", TEXT),
    ),
    key=("agent_code", "cop_no", "gnum"),
    required=("agent_code", "cop_no", "gnum", "logistics_no"),
)

EXPORT_SUMMARY = Document(  # CEB701 SummaryApply/SummaryApplyHead (no note in this head)
    stem="export_summaries",
    schema=_schema(
        *_MESSAGE_HEAD,
        ("customs_code", TEXT),
        ("cop_no", TEXT),
        ("agent_code", TEXT),
        ("agent_name", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("decl_agent_code", TEXT),
        ("decl_agent_name", TEXT),
        ("summary_flag", TEXT),
        ("item_name_flag", TEXT),
        *_BATCH,
    ),
    key=("agent_code", "cop_no"),
    required=(
        "customs_code",
        "cop_no",
        "agent_code",
        "ebc_code",
        "decl_agent_code",
        "summary_flag",
    ),
)

EXPORT_SUMMARY_LINE = Document(  # CEB701 SummaryApplyList: one declaration list summarised
    stem="export_summary_lines",
    schema=_schema(("agent_code", TEXT), ("cop_no", TEXT), ("invt_no", TEXT)),
    key=("agent_code", "cop_no", "invt_no"),
    required=("agent_code", "cop_no", "invt_no"),
)

EXPORT_DOCUMENTS: tuple[Document, ...] = (
    EXPORT_ORDER,
    EXPORT_ORDER_LINE,
    EXPORT_COLLECTION,
    EXPORT_WAYBILL,
    EXPORT_ARRIVAL,
    EXPORT_ARRIVAL_LINE,
    EXPORT_DEPARTURE,
    EXPORT_DEPARTURE_LINE,
    EXPORT_INVENTORY,
    EXPORT_INVENTORY_LINE,
    EXPORT_CANCELLATION,
    EXPORT_MASTER_WAYBILL,
    EXPORT_MASTER_WAYBILL_LINE,
    EXPORT_SUMMARY,
    EXPORT_SUMMARY_LINE,
)

# Customs' replies -----------------------------------------------------------------------------
# As the import receipts (`cbec.documents.receipts`): the fields of the document answered, then
# returnStatus, returnTime, returnInfo. Published samples write returnTime with milliseconds
# (17 digits, YYYYMMDDhhmmssSSS); the column is a timestamp as in the import receipts.

_ANSWER = (("return_status", INT), ("return_time", TIME), ("return_info", TEXT))


def _receipt(stem: str, *fields: tuple[str, pa.DataType]) -> Document:
    schema = _schema(("guid", TEXT), *fields, *_ANSWER)
    return Document(stem, schema, key=("guid", "return_status"), required=("guid", "return_status"))


EXPORT_ORDER_RETURN = _receipt(  # CEB304 OrderReturn
    "export_order_returns", ("ebp_code", TEXT), ("ebc_code", TEXT), ("order_no", TEXT)
)
EXPORT_COLLECTION_RETURN = _receipt(  # CEB404 ReceiptsReturn
    "export_collection_returns", ("ebc_code", TEXT), ("order_no", TEXT), ("pay_no", TEXT)
)
EXPORT_WAYBILL_RETURN = _receipt(  # CEB506 LogisticsReturn
    "export_waybill_returns", ("logistics_code", TEXT), ("logistics_no", TEXT)
)
EXPORT_ARRIVAL_RETURN = _receipt(  # CEB508 ArrivalReturn
    "export_arrival_returns",
    ("operator_code", TEXT),
    ("logistics_code", TEXT),
    ("pre_no", TEXT),
    ("cop_no", TEXT),
    ("bill_no", TEXT),
    ("msg_seq_no", INT),
)
EXPORT_DEPARTURE_RETURN = _receipt(  # CEB510 DepartureReturn
    "export_departure_returns",
    ("logistics_code", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("msg_seq_no", INT),
)
EXPORT_INVENTORY_RETURN = _receipt(  # CEB604 InventoryReturn
    "export_inventory_returns",
    ("agent_code", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("invt_no", TEXT),
    # ebcCode before ebpCode as in both published samples (2018, 202205); fucl123/crs swaps them.
    ("ebc_code", TEXT),
    ("ebp_code", TEXT),
    ("order_no", TEXT),
    ("statistics_flag", TEXT),
)
EXPORT_CANCELLATION_RETURN = _receipt(  # CEB606 InvtCancelReturn
    "export_cancellation_returns",
    ("agent_code", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("invt_no", TEXT),
    ("msg_seq_no", INT),  # in fucl123/crs; the published sample leaves it out
)
EXPORT_MASTER_WAYBILL_RETURN = _receipt(  # CEB608 WayBillReturn
    "export_master_waybill_returns",
    ("agent_code", TEXT),
    ("logistics_code", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("bill_no", TEXT),
    ("msg_seq_no", INT),
)
EXPORT_SUMMARY_RETURN = _receipt(  # CEB702 SummaryReturn
    "export_summary_returns",
    ("agent_code", TEXT),
    ("ebc_code", TEXT),
    ("cop_no", TEXT),
    ("pre_no", TEXT),
    ("sum_no", TEXT),
    ("msg_seq_no", INT),
)

EXPORT_SUMMARY_RESULT = Document(  # CEB792 SummaryResult/SummaryResultHead: customs' summary
    stem="export_summary_results",
    schema=_schema(
        ("guid", TEXT),
        ("customs_code", TEXT),
        ("sum_no", TEXT),
        ("op_date", TIME),  # the published sample writes 17 digits, like returnTime
        ("decl_seq_no", TEXT),
        ("dec_state", TEXT),
        ("agent_code", TEXT),
        ("agent_name", TEXT),
        ("ebc_code", TEXT),
        ("ebc_name", TEXT),
        ("decl_agent_code", TEXT),
        ("decl_agent_name", TEXT),
        ("gross_weight", QUANTITY),
        ("net_weight", QUANTITY),
        *_BATCH,
    ),
    key=("sum_no",),
    required=("guid", "customs_code", "sum_no", "dec_state", "agent_code", "ebc_code"),
)

EXPORT_SUMMARY_RESULT_LINE = Document(  # CEB792 SummaryResultList: one goods line summarised
    stem="export_summary_result_lines",
    schema=_schema(
        ("sum_no", TEXT),
        ("invt_no", TEXT),
        ("logistics_no", TEXT),
        ("gnum", INT),
        ("gcode", TEXT),
    ),
    key=("sum_no", "invt_no", "gnum"),
    required=("sum_no", "invt_no", "gnum", "gcode"),
)

EXPORT_RECEIPT_DOCUMENTS: tuple[Document, ...] = (
    EXPORT_ORDER_RETURN,
    EXPORT_COLLECTION_RETURN,
    EXPORT_WAYBILL_RETURN,
    EXPORT_ARRIVAL_RETURN,
    EXPORT_DEPARTURE_RETURN,
    EXPORT_INVENTORY_RETURN,
    EXPORT_CANCELLATION_RETURN,
    EXPORT_MASTER_WAYBILL_RETURN,
    EXPORT_SUMMARY_RETURN,
    EXPORT_SUMMARY_RESULT,
    EXPORT_SUMMARY_RESULT_LINE,
)
