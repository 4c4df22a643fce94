"""The export messages (CEB303 ... CEB792): each one written from hand-made tables and read back.

Every export message type is built with `build_tables` from two business nodes (with lines where
the type has lines), parsed with `parse_message` in strict mode, and must come back as the very
same tables without a single problem. The rows fill every column at least once, so each element
of the catalog makes the round trip.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from cbec.documents import exports as e
from cbec.documents import receipts, schemas
from cbec.documents.schemas import Document
from cbec.messages import catalog
from cbec.messages.build import build_tables
from cbec.messages.parse import parse_message

Row = dict[str, Any]

EBP = "4401966ABC"  # the platform
EBP_NAME = "广州跨境优选网络科技有限公司"
EBC = "4401960123"  # the e-commerce enterprise (the seller)
EBC_NAME = "广州美物出口贸易有限公司"
LOGISTICS = "4401980456"
LOGISTICS_NAME = "广州环球速递物流有限公司"
AGENT = "4401980789"  # the declaring agent
AGENT_NAME = "广州通关报关服务有限公司"
CUSTOMS = "5141"  # Guangzhou Baiyun airport customs
SENT = dt.datetime(2024, 6, 15, 10, 30, 5)
ANSWERED = dt.datetime(2024, 6, 15, 10, 31, 40)
TRANSFER = {
    "copCode": AGENT,
    "copName": AGENT_NAME,
    "dxpMode": "DXP",
    "dxpId": "DXPENT0000012345",
    "note": None,
}


def _guid(n: int) -> str:
    return f"8F1C2A3B-4D5E-4F60-9A7B-{n:012d}"


def _head(n: int) -> Row:
    return {"guid": _guid(n), "app_type": "1", "app_time": SENT, "app_status": "2"}


def _answer(n: int, status: int, info: str) -> Row:
    return {
        "guid": _guid(n),
        "return_status": status,
        "return_time": ANSWERED,
        "return_info": info,
    }


def _table(document: Document, rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=document.schema)


def _order() -> dict[str, pa.Table]:
    heads = [
        {
            **_head(1),
            "order_type": "E",
            "order_no": "EO2024061500001",
            "ebp_code": EBP,
            "ebp_name": EBP_NAME,
            "ebc_code": EBC,
            "ebc_name": EBC_NAME,
            "goods_value": Decimal("389.00"),
            "freight": Decimal("45.50"),
            "currency": "142",
            "note": "Ship to Osaka",
        },
        {
            **_head(2),
            "order_type": "E",
            "order_no": "EO2024061500002",
            "ebp_code": EBP,
            "ebp_name": EBP_NAME,
            "ebc_code": EBC,
            "ebc_name": EBC_NAME,
            "goods_value": Decimal("59.90"),
            "freight": Decimal("0.00"),
            "currency": "142",
        },
    ]
    lines = [
        {
            "ebp_code": EBP,
            "order_no": "EO2024061500001",
            "gnum": 1,
            "item_no": "SKU-TEA-250",
            "item_name": "西湖龙井茶 250克",
            "item_describe": "Green tea, tin of 250 g",
            "bar_code": "6901234567892",
            "unit": "122",
            "currency": "142",
            "qty": Decimal("2"),
            "price": Decimal("168.00"),
            "total_price": Decimal("336.00"),
            "note": "gift wrap",
        },
        {
            "ebp_code": EBP,
            "order_no": "EO2024061500001",
            "gnum": 2,
            "item_no": "SKU-CUP-01",
            "item_name": "青瓷茶杯",
            "unit": "011",
            "currency": "142",
            "qty": Decimal("1"),
            "price": Decimal("53.00"),
            "total_price": Decimal("53.00"),
        },
        {
            "ebp_code": EBP,
            "order_no": "EO2024061500002",
            "gnum": 1,
            "item_no": "SKU-SILK-S",
            "item_name": "真丝围巾",
            "unit": "011",
            "currency": "142",
            "qty": Decimal("1"),
            "price": Decimal("59.90"),
            "total_price": Decimal("59.90"),
        },
    ]
    return {
        e.EXPORT_ORDER.stem: _table(e.EXPORT_ORDER, heads),
        e.EXPORT_ORDER_LINE.stem: _table(e.EXPORT_ORDER_LINE, lines),
    }


def _collection() -> dict[str, pa.Table]:
    rows = [
        {
            **_head(3),
            "ebp_code": EBP,
            "ebp_name": EBP_NAME,
            "ebc_code": EBC,
            "ebc_name": EBC_NAME,
            "order_no": "EO2024061500001",
            "pay_code": "31222699S7",
            "pay_name": "跨境通支付有限公司",
            "pay_no": "PAY20240615000001",
            "charge": Decimal("434.50"),
            "currency": "142",
            "accounting_date": dt.datetime(2024, 6, 16, 9, 12, 0),
            "note": "settled in CNY",
        },
        {
            **_head(4),
            "ebp_code": EBP,
            "ebc_code": EBC,
            "order_no": "EO2024061500002",
            "pay_code": "31222699S7",
            "pay_no": "PAY20240615000002",
            "charge": Decimal("59.90"),
            "currency": "142",
            "accounting_date": dt.datetime(2024, 6, 16, 9, 15, 30),
        },
    ]
    return {e.EXPORT_COLLECTION.stem: _table(e.EXPORT_COLLECTION, rows)}


def _waybill() -> dict[str, pa.Table]:
    rows = [
        {
            **_head(5),
            "logistics_code": LOGISTICS,
            "logistics_name": LOGISTICS_NAME,
            "logistics_no": "GZ240615000001",
            "freight": Decimal("45.50"),
            "insured_fee": Decimal("3.00"),
            "currency": "142",
            "gross_weight": Decimal("1.35"),
            "pack_no": 1,
            "goods_info": "茶叶, 茶杯",
            "ebc_code": EBC,
            "ebc_name": EBC_NAME,
            "ebc_telephone": "020-86120000",
            "note": "fragile",
        },
        {
            **_head(6),
            "logistics_code": LOGISTICS,
            "logistics_name": LOGISTICS_NAME,
            "logistics_no": "GZ240615000002",
            "freight": Decimal("0.00"),
            "currency": "142",
            "gross_weight": Decimal("0.125"),
            "pack_no": 1,
            "goods_info": "围巾",
            "ebc_code": EBC,
        },
    ]
    return {e.EXPORT_WAYBILL.stem: _table(e.EXPORT_WAYBILL, rows)}


def _arrival() -> dict[str, pa.Table]:
    heads = [
        {
            **_head(7),
            "customs_code": CUSTOMS,
            "cop_no": "ARR20240615001",
            "operator_code": LOGISTICS,
            "operator_name": LOGISTICS_NAME,
            "loct_no": "5141W001",
            "ie_flag": "E",
            "traf_mode": "5",
            "bill_no": "784-12345675",
            "domestic_traf_no": "粤A12345",
            "logistics_code": LOGISTICS,
            "logistics_name": LOGISTICS_NAME,
            "msg_count": 1,
            "msg_seq_no": 1,
            "note": "first truck",
        },
        {
            **_head(8),
            "customs_code": CUSTOMS,
            "cop_no": "ARR20240615002",
            "operator_code": LOGISTICS,
            "ie_flag": "E",
            "traf_mode": "5",
            "bill_no": "784-12345686",
            "logistics_code": LOGISTICS,
            "msg_count": 2,
            "msg_seq_no": 1,
        },
    ]
    lines = [
        {
            "operator_code": LOGISTICS,
            "cop_no": "ARR20240615001",
            "gnum": 1,
            "logistics_no": "GZ240615000001",
            "total_package_no": "TP0001",
            "note": "bag 1",
        },
        {
            "operator_code": LOGISTICS,
            "cop_no": "ARR20240615001",
            "gnum": 2,
            "logistics_no": "GZ240615000002",
            "total_package_no": "TP0001",
        },
        {
            "operator_code": LOGISTICS,
            "cop_no": "ARR20240615002",
            "gnum": 1,
            "logistics_no": "GZ240615000003",
        },
    ]
    return {
        e.EXPORT_ARRIVAL.stem: _table(e.EXPORT_ARRIVAL, heads),
        e.EXPORT_ARRIVAL_LINE.stem: _table(e.EXPORT_ARRIVAL_LINE, lines),
    }


def _departure() -> dict[str, pa.Table]:
    heads = [
        {
            **_head(9),
            "customs_code": CUSTOMS,
            "cop_no": "DEP20240615001",
            "logistics_code": LOGISTICS,
            "logistics_name": LOGISTICS_NAME,
            "traf_mode": "5",
            "traf_name": "CZ385",
            "voyage_no": "CZ385/16JUN",
            "bill_no": "784-12345675",
            "leave_time": dt.datetime(2024, 6, 16, 1, 45, 0),
            "msg_count": 1,
            "msg_seq_no": 1,
            "note": "night flight",
        },
        {
            **_head(10),
            "customs_code": CUSTOMS,
            "cop_no": "DEP20240615002",
            "logistics_code": LOGISTICS,
            "traf_mode": "5",
            "traf_name": "CZ8101",
            "voyage_no": "CZ8101/16JUN",
            "bill_no": "784-12345686",
            "leave_time": dt.datetime(2024, 6, 16, 9, 5, 0),
            "msg_count": 1,
            "msg_seq_no": 1,
        },
    ]
    lines = [
        {
            "logistics_code": LOGISTICS,
            "cop_no": "DEP20240615001",
            "gnum": 1,
            "total_package_no": "TP0001",
            "logistics_no": "GZ240615000001",
            "note": "bag 1",
        },
        {
            "logistics_code": LOGISTICS,
            "cop_no": "DEP20240615001",
            "gnum": 2,
            "total_package_no": "TP0001",
            "logistics_no": "GZ240615000002",
        },
        {
            "logistics_code": LOGISTICS,
            "cop_no": "DEP20240615002",
            "gnum": 1,
            "logistics_no": "GZ240615000003",
        },
    ]
    return {
        e.EXPORT_DEPARTURE.stem: _table(e.EXPORT_DEPARTURE, heads),
        e.EXPORT_DEPARTURE_LINE.stem: _table(e.EXPORT_DEPARTURE_LINE, lines),
    }


def _inventory() -> dict[str, pa.Table]:
    common = {
        "customs_code": CUSTOMS,
        "ebp_code": EBP,
        "logistics_code": LOGISTICS,
        "ie_flag": "E",
        "port_code": CUSTOMS,
        "ie_date": dt.datetime(2024, 6, 16),  # a date: YYYYMMDD
        "agent_code": AGENT,
        "ebc_code": EBC,
        "trade_mode": "9610",
        "traf_mode": "5",
        "country": "116",
    }
    heads = [
        {
            **_head(11),
            **common,
            "ebp_name": EBP_NAME,
            "order_no": "EO2024061500001",
            "logistics_name": LOGISTICS_NAME,
            "logistics_no": "GZ240615000001",
            "cop_no": "INV20240615001",
            "statistics_flag": "A",
            "agent_name": AGENT_NAME,
            "ebc_name": EBC_NAME,
            "owner_code": EBC,
            "owner_name": EBC_NAME,
            "iac_code": "4401960999",
            "iac_name": "广州出口监管作业场所有限公司",
            "ems_no": "T5141W000001",
            "traf_name": "CZ385",
            "voyage_no": "CZ385/16JUN",
            "bill_no": "784-12345675",
            "total_package_no": "TP0001",
            "loct_no": "5141W001",
            "license_no": "24-AA-000001",
            "pod": "JPOSA",
            "freight": Decimal("45.50"),
            "f_currency": "142",
            "f_flag": "3",
            "insured_fee": Decimal("3.00"),
            "i_currency": "142",
            "i_flag": "3",
            "wrap_type": "2",
            "pack_no": 1,
            "gross_weight": Decimal("1.35"),
            "net_weight": Decimal("1.1"),
            "note": "9610 retail export",
        },
        {
            **_head(12),
            **common,
            "order_no": "EO2024061500002",
            "logistics_no": "GZ240615000002",
            "cop_no": "INV20240615002",
            "pack_no": 1,
            "gross_weight": Decimal("0.125"),
            "net_weight": Decimal("0.1"),
        },
    ]
    lines = [
        {
            "agent_code": AGENT,
            "cop_no": "INV20240615001",
            "gnum": 1,
            "item_no": "SKU-TEA-250",
            "item_record_no": "T0001",
            "item_name": "西湖龙井茶 250克",
            "gcode": "0902109000",
            "gname": "绿茶",
            "gmodel": "250克/罐",
            "bar_code": "6901234567892",
            "country": "142",
            "currency": "142",
            "qty": Decimal("2"),
            "qty1": Decimal("0.5"),
            "qty2": Decimal("2"),
            "unit": "122",
            "unit1": "035",
            "unit2": "122",
            "price": Decimal("168.00"),
            "total_price": Decimal("336.00"),
            "note": "gift wrap",
        },
        {
            "agent_code": AGENT,
            "cop_no": "INV20240615001",
            "gnum": 2,
            "item_name": "青瓷茶杯",
            "gcode": "6912001000",
            "gname": "瓷制茶杯",
            "currency": "142",
            "qty": Decimal("1"),
            "qty1": Decimal("1"),
            "unit": "011",
            "unit1": "011",
            "price": Decimal("53.00"),
            "total_price": Decimal("53.00"),
        },
        {
            "agent_code": AGENT,
            "cop_no": "INV20240615002",
            "gnum": 1,
            "item_name": "真丝围巾",
            "gcode": "6214100000",
            "gname": "丝围巾",
            "currency": "142",
            "qty": Decimal("1"),
            "qty1": Decimal("1"),
            "unit": "011",
            "unit1": "011",
            "price": Decimal("59.90"),
            "total_price": Decimal("59.90"),
        },
    ]
    return {
        e.EXPORT_INVENTORY.stem: _table(e.EXPORT_INVENTORY, heads),
        e.EXPORT_INVENTORY_LINE.stem: _table(e.EXPORT_INVENTORY_LINE, lines),
    }


def _cancellation() -> dict[str, pa.Table]:
    rows = [
        {
            **_head(13),
            "customs_code": CUSTOMS,
            "cop_no": "INV20240615001",
            "pre_no": "E20240615000000001",
            "invt_no": "51412024E000000101",
            "reason": "订单取消, 买家退款",
            "agent_code": AGENT,
            "agent_name": AGENT_NAME,
            "ebc_code": EBC,
            "ebc_name": EBC_NAME,
            "note": "withdrawn before departure",
        },
        {
            **_head(14),
            "customs_code": CUSTOMS,
            "cop_no": "INV20240615002",
            "invt_no": "51412024E000000102",
            "reason": "重复申报",
            "agent_code": AGENT,
            "ebc_code": EBC,
        },
    ]
    return {e.EXPORT_CANCELLATION.stem: _table(e.EXPORT_CANCELLATION, rows)}


def _master_waybill() -> dict[str, pa.Table]:
    heads = [
        {
            **_head(15),
            "customs_code": CUSTOMS,
            "cop_no": "WB20240615001",
            "agent_code": AGENT,
            "agent_name": AGENT_NAME,
            "loct_no": "5141W001",
            "traf_mode": "5",
            "traf_name": "CZ385",
            "voyage_no": "CZ385/16JUN",
            "bill_no": "784-12345675",
            "domestic_traf_no": "粤A12345",
            "gross_weight": Decimal("1.475"),
            "logistics_code": LOGISTICS,
            "logistics_name": LOGISTICS_NAME,
            "msg_count": 1,
            "msg_seq_no": 1,
            "note": "two parcels",
        },
        {
            **_head(16),
            "customs_code": CUSTOMS,
            "cop_no": "WB20240615002",
            "agent_code": AGENT,
            "traf_mode": "5",
            "bill_no": "784-12345686",
            "gross_weight": Decimal("0.2"),
            "logistics_code": LOGISTICS,
            "msg_count": 1,
            "msg_seq_no": 1,
        },
    ]
    lines = [
        {
            "agent_code": AGENT,
            "cop_no": "WB20240615001",
            "gnum": 1,
            "total_package_no": "TP0001",
            "logistics_no": "GZ240615000001",
            "note": "bag 1",
        },
        {
            "agent_code": AGENT,
            "cop_no": "WB20240615001",
            "gnum": 2,
            "total_package_no": "TP0001",
            "logistics_no": "GZ240615000002",
        },
        {
            "agent_code": AGENT,
            "cop_no": "WB20240615002",
            "gnum": 1,
            "logistics_no": "GZ240615000003",
        },
    ]
    return {
        e.EXPORT_MASTER_WAYBILL.stem: _table(e.EXPORT_MASTER_WAYBILL, heads),
        e.EXPORT_MASTER_WAYBILL_LINE.stem: _table(e.EXPORT_MASTER_WAYBILL_LINE, lines),
    }


def _summary() -> dict[str, pa.Table]:
    heads = [
        {
            **_head(17),
            "customs_code": CUSTOMS,
            "cop_no": "SUM202406001",
            "agent_code": AGENT,
            "agent_name": AGENT_NAME,
            "ebc_code": EBC,
            "ebc_name": EBC_NAME,
            "decl_agent_code": AGENT,
            "decl_agent_name": AGENT_NAME,
            "summary_flag": "1",
            "item_name_flag": "1",
            "msg_count": 1,
            "msg_seq_no": 1,
        },
        {
            **_head(18),
            "customs_code": CUSTOMS,
            "cop_no": "SUM202406002",
            "agent_code": AGENT,
            "ebc_code": EBC,
            "decl_agent_code": AGENT,
            "summary_flag": "2",
            "msg_count": 1,
            "msg_seq_no": 1,
        },
    ]
    lines = [
        {"agent_code": AGENT, "cop_no": "SUM202406001", "invt_no": "51412024E000000101"},
        {"agent_code": AGENT, "cop_no": "SUM202406001", "invt_no": "51412024E000000102"},
        {"agent_code": AGENT, "cop_no": "SUM202406002", "invt_no": "51412024E000000103"},
    ]
    return {
        e.EXPORT_SUMMARY.stem: _table(e.EXPORT_SUMMARY, heads),
        e.EXPORT_SUMMARY_LINE.stem: _table(e.EXPORT_SUMMARY_LINE, lines),
    }


def _summary_result() -> dict[str, pa.Table]:
    heads = [
        {
            "guid": _guid(17),
            "customs_code": CUSTOMS,
            "sum_no": "514120240000000001",
            "op_date": ANSWERED,
            "decl_seq_no": "514120240000000011",
            "dec_state": "A",
            "agent_code": AGENT,
            "agent_name": AGENT_NAME,
            "ebc_code": EBC,
            "ebc_name": EBC_NAME,
            "decl_agent_code": AGENT,
            "decl_agent_name": AGENT_NAME,
            "gross_weight": Decimal("1.475"),
            "net_weight": Decimal("1.2"),
            "msg_count": 1,
            "msg_seq_no": 1,
        },
        {
            "guid": _guid(18),
            "customs_code": CUSTOMS,
            "sum_no": "514120240000000002",
            "op_date": ANSWERED,
            "dec_state": "A",
            "agent_code": AGENT,
            "ebc_code": EBC,
            "gross_weight": Decimal("0.2"),
            "net_weight": Decimal("0.1"),
            "msg_count": 1,
            "msg_seq_no": 1,
        },
    ]
    lines = [
        {
            "sum_no": "514120240000000001",
            "invt_no": "51412024E000000101",
            "logistics_no": "GZ240615000001",
            "gnum": 1,
            "gcode": "0902109000",
        },
        {
            "sum_no": "514120240000000001",
            "invt_no": "51412024E000000101",
            "logistics_no": "GZ240615000001",
            "gnum": 2,
            "gcode": "6912001000",
        },
        {
            "sum_no": "514120240000000002",
            "invt_no": "51412024E000000103",
            "logistics_no": "GZ240615000003",
            "gnum": 1,
            "gcode": "6214100000",
        },
    ]
    return {
        e.EXPORT_SUMMARY_RESULT.stem: _table(e.EXPORT_SUMMARY_RESULT, heads),
        e.EXPORT_SUMMARY_RESULT_LINE.stem: _table(e.EXPORT_SUMMARY_RESULT_LINE, lines),
    }


def _returns(document: Document, fields: list[Row]) -> dict[str, pa.Table]:
    """Two receipts: one accepted (120), one rejected (100)."""
    rows = [
        {**fields[0], **_answer(1, 120, "[Code:2600;Desc:逻辑校验通过]")},
        {**fields[1], **_answer(2, 100, "[Code:1310;Desc:企业备案信息不存在]")},
    ]
    return {document.stem: _table(document, rows)}


CASES = {
    "303": _order,
    "403": _collection,
    "505": _waybill,
    "507": _arrival,
    "509": _departure,
    "603": _inventory,
    "605": _cancellation,
    "607": _master_waybill,
    "701": _summary,
    "792": _summary_result,
    "304": lambda: _returns(
        e.EXPORT_ORDER_RETURN,
        [
            {"ebp_code": EBP, "ebc_code": EBC, "order_no": "EO2024061500001"},
            {"ebp_code": EBP, "ebc_code": EBC, "order_no": "EO2024061500002"},
        ],
    ),
    "404": lambda: _returns(
        e.EXPORT_COLLECTION_RETURN,
        [
            {"ebc_code": EBC, "order_no": "EO2024061500001", "pay_no": "PAY20240615000001"},
            {"ebc_code": EBC, "order_no": "EO2024061500002", "pay_no": "PAY20240615000002"},
        ],
    ),
    "506": lambda: _returns(
        e.EXPORT_WAYBILL_RETURN,
        [
            {"logistics_code": LOGISTICS, "logistics_no": "GZ240615000001"},
            {"logistics_code": LOGISTICS, "logistics_no": "GZ240615000002"},
        ],
    ),
    "508": lambda: _returns(
        e.EXPORT_ARRIVAL_RETURN,
        [
            {
                "operator_code": LOGISTICS,
                "logistics_code": LOGISTICS,
                "pre_no": "A20240615000000001",
                "cop_no": "ARR20240615001",
                "bill_no": "784-12345675",
                "msg_seq_no": 1,
            },
            {
                "operator_code": LOGISTICS,
                "logistics_code": LOGISTICS,
                "cop_no": "ARR20240615002",
                "bill_no": "784-12345686",
                "msg_seq_no": 1,
            },
        ],
    ),
    "510": lambda: _returns(
        e.EXPORT_DEPARTURE_RETURN,
        [
            {
                "logistics_code": LOGISTICS,
                "cop_no": "DEP20240615001",
                "pre_no": "D20240615000000001",
                "msg_seq_no": 1,
            },
            {"logistics_code": LOGISTICS, "cop_no": "DEP20240615002", "msg_seq_no": 1},
        ],
    ),
    "604": lambda: _returns(
        e.EXPORT_INVENTORY_RETURN,
        [
            {
                "agent_code": AGENT,
                "cop_no": "INV20240615001",
                "pre_no": "E20240615000000001",
                "invt_no": "51412024E000000101",
                "ebc_code": EBC,
                "ebp_code": EBP,
                "order_no": "EO2024061500001",
                "statistics_flag": "A",
            },
            {
                "agent_code": AGENT,
                "cop_no": "INV20240615002",
                "ebc_code": EBC,
                "ebp_code": EBP,
                "order_no": "EO2024061500002",
            },
        ],
    ),
    "606": lambda: _returns(
        e.EXPORT_CANCELLATION_RETURN,
        [
            {
                "agent_code": AGENT,
                "cop_no": "INV20240615001",
                "pre_no": "E20240615000000001",
                "invt_no": "51412024E000000101",
                "msg_seq_no": 1,
            },
            {"agent_code": AGENT, "cop_no": "INV20240615002", "invt_no": "51412024E000000102"},
        ],
    ),
    "608": lambda: _returns(
        e.EXPORT_MASTER_WAYBILL_RETURN,
        [
            {
                "agent_code": AGENT,
                "logistics_code": LOGISTICS,
                "cop_no": "WB20240615001",
                "pre_no": "W20240615000000001",
                "bill_no": "784-12345675",
                "msg_seq_no": 1,
            },
            {
                "agent_code": AGENT,
                "logistics_code": LOGISTICS,
                "cop_no": "WB20240615002",
                "bill_no": "784-12345686",
                "msg_seq_no": 1,
            },
        ],
    ),
    "702": lambda: _returns(
        e.EXPORT_SUMMARY_RETURN,
        [
            {
                "agent_code": AGENT,
                "ebc_code": EBC,
                "cop_no": "SUM202406001",
                "pre_no": "S20240615000000001",
                "sum_no": "514120240000000001",
                "msg_seq_no": 1,
            },
            {"agent_code": AGENT, "ebc_code": EBC, "cop_no": "SUM202406002", "msg_seq_no": 1},
        ],
    ),
}

EXPORT_TYPES = catalog.EXPORT_MESSAGES + catalog.EXPORT_RECEIPTS


def test_every_export_message_has_a_case() -> None:
    assert sorted(CASES) == sorted(m.code for m in EXPORT_TYPES)
    assert len(EXPORT_TYPES) == 19


@pytest.mark.parametrize("message", EXPORT_TYPES, ids=lambda m: f"CEB{m.code}")
@pytest.mark.parametrize("strict", [False, True], ids=["tolerant", "strict"])
def test_round_trip(message: catalog.MessageType, strict: bool) -> None:
    tables = CASES[message.code]()
    assert set(tables) == {p.document.stem for p in message.parts}
    transfer = None if message.receipt else TRANSFER
    data = build_tables(message, tables, guid=_guid(99), transfer=transfer)

    parsed = parse_message(data, strict=strict)

    assert parsed.type is message
    assert parsed.problems == {}, [str(p) for ps in parsed.problems.values() for p in ps]
    assert parsed.nodes == 2
    assert parsed.transfer == transfer
    clean = parsed.clean_tables()
    assert set(clean) == set(tables)
    for stem, expected in tables.items():
        assert clean[stem].schema.equals(expected.schema), stem
        assert clean[stem].to_pylist() == expected.to_pylist(), stem
        assert clean[stem].equals(expected), stem


@pytest.mark.parametrize("message", EXPORT_TYPES, ids=lambda m: f"CEB{m.code}")
def test_cases_fill_every_column(message: catalog.MessageType) -> None:
    """Each element makes the round trip at least once (and an absent optional one too)."""
    tables = CASES[message.code]()
    for stem, table in tables.items():
        empty = [c for c in table.column_names if table[c].null_count == len(table)]
        assert empty == [], stem


@pytest.mark.parametrize("message", catalog.EXPORT_MESSAGES, ids=lambda m: f"CEB{m.code}")
def test_enterprise_messages_name_their_receipt(message: catalog.MessageType) -> None:
    assert message.direction == "export"
    assert not message.receipt
    assert message.reply is not None
    assert message.reply in catalog.MESSAGES
    reply = catalog.MESSAGES[message.reply]
    assert reply.receipt
    assert reply.direction == "export"


def test_customs_messages_are_receipts() -> None:
    for message in catalog.EXPORT_RECEIPTS:
        assert message.receipt, message.code
        assert message.reply is None, message.code
        assert message.direction == "export", message.code


def test_export_documents_are_the_catalog_parts() -> None:
    parts = [p.document for m in EXPORT_TYPES for p in m.parts]
    assert sorted(d.stem for d in parts) == sorted(
        d.stem for d in e.EXPORT_DOCUMENTS + e.EXPORT_RECEIPT_DOCUMENTS
    )


def test_stems_are_distinct_from_the_import_stems() -> None:
    exported = [d.stem for d in e.EXPORT_DOCUMENTS + e.EXPORT_RECEIPT_DOCUMENTS]
    assert len(set(exported)) == len(exported)
    assert all(stem.startswith("export_") for stem in exported)
    imported = {
        p.document.stem for m in catalog.IMPORT_MESSAGES + catalog.IMPORT_RECEIPTS for p in m.parts
    }
    imported |= {d.stem for d in schemas.IMPORT_DOCUMENTS + schemas.LEDGER_DOCUMENTS}
    imported |= {d.stem for d in receipts.IMPORT_RECEIPTS}
    imported |= {schemas.DECISION.stem, schemas.TAX_LINE.stem, schemas.TRUTH.stem}
    assert imported.isdisjoint(exported)


@pytest.mark.parametrize(
    "document", e.EXPORT_DOCUMENTS + e.EXPORT_RECEIPT_DOCUMENTS, ids=lambda d: d.stem
)
def test_keys_and_required_fields_are_columns(document: Document) -> None:
    assert set(document.key) <= set(document.columns)
    assert set(document.required) <= set(document.columns)
    assert set(document.key) <= set(document.required)


def test_shared_columns_have_the_import_types() -> None:
    """A field an export message shares with an import message has the same type in both."""
    import_types: dict[str, set[pa.DataType]] = {}
    for m in catalog.IMPORT_MESSAGES + catalog.IMPORT_RECEIPTS:
        for p in m.parts:
            for f in p.document.schema:
                import_types.setdefault(f.name, set()).add(f.type)
    for document in e.EXPORT_DOCUMENTS + e.EXPORT_RECEIPT_DOCUMENTS:
        for f in document.schema:
            if f.name in import_types:
                assert import_types[f.name] == {f.type}, (document.stem, f.name)


def test_lines_inherit_their_head_key() -> None:
    for message in EXPORT_TYPES:
        if message.lines is None:
            continue
        assert message.lines.inherit == message.head.document.key, message.code
        assert set(message.lines.document.key) > set(message.head.document.key), message.code
