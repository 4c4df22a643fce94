"""Hand-made export messages for tests: consistent parcels (303, 403, 505, 603), then what
follows a list (507, 509, 607, 605, 701), written as CEB XML; helpers to clear and read them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from cbec.documents import exports as e
from cbec.documents.schemas import Document
from cbec.messages import catalog
from cbec.messages.build import build_tables
from cbec.messages.parse import parse_message
from cbec.pipeline import ClearResult, Policy
from cbec.pipeline import clear as run_clear
from cbec.store.embedded import Store

Row = dict[str, Any]
EBP = "4401966ABC"
EBC = "4401960123"
LOGISTICS = "4401980456"
AGENT = "4401980789"
CUSTOMS = "5141"
SENT = dt.datetime(2024, 6, 15, 10, 30, 5)
TRANSFER = {"copCode": AGENT, "copName": "agent", "dxpMode": "DXP", "dxpId": "DXPENT0000012345"}
LINES = [
    ("T-shirt, cotton", Decimal("2"), Decimal("50.00")),
    ("Cap", Decimal("1"), Decimal("20.00")),
]


def head(n: int, guid: str, when: dt.datetime = SENT) -> Row:
    return {"guid": f"{guid}-{n:04d}", "app_type": "1", "app_time": when, "app_status": "2"}


def table(document: Document, rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=document.schema)


def parcel(
    n: int,
    lines: list[tuple[str, Decimal, Decimal]] | None = None,
    *,
    country: str = "502",
    gcodes: tuple[str, ...] = ("6109100022", "6505009900"),
    trade_mode: str = "9610",
    when: dt.datetime = SENT,
    port: str = CUSTOMS,
    customs: str = CUSTOMS,
) -> dict[str, Any]:
    """The four messages' tables of one parcel, consistent unless `lines` says otherwise."""
    order_no, pay_no, logistics_no, cop_no = (
        f"EO{n:06d}",
        f"PAY{n:06d}",
        f"LN{n:06d}",
        f"EC{n:06d}",
    )
    ordered = [(name, qty, qty * price) for name, qty, price in LINES]
    total = sum((t for _, _, t in ordered), Decimal(0))
    order = {
        "export_orders": table(
            e.EXPORT_ORDER,
            [
                {
                    **head(n, "A0000000-0000-4000-8000-00000000", when),
                    "order_type": "E",
                    "order_no": order_no,
                    "ebp_code": EBP,
                    "ebp_name": "platform",
                    "ebc_code": EBC,
                    "ebc_name": "seller",
                    "goods_value": total,
                    "freight": Decimal("0"),
                    "currency": "142",
                }
            ],
        ),
        "export_order_lines": table(
            e.EXPORT_ORDER_LINE,
            [
                {
                    "ebp_code": EBP,
                    "order_no": order_no,
                    "gnum": g,
                    "item_name": name,
                    "unit": "011",
                    "currency": "142",
                    "qty": qty,
                    "price": LINES[g - 1][2],
                    "total_price": line_total,
                }
                for g, (name, qty, line_total) in enumerate(ordered, 1)
            ],
        ),
    }
    collection = {
        "export_collections": table(
            e.EXPORT_COLLECTION,
            [
                {
                    **head(n, "B0000000-0000-4000-8000-00000000", when),
                    "ebp_code": EBP,
                    "ebp_name": "platform",
                    "ebc_code": EBC,
                    "ebc_name": "seller",
                    "order_no": order_no,
                    "pay_code": "4403169D3W",
                    "pay_name": "payer",
                    "pay_no": pay_no,
                    "charge": total,
                    "currency": "142",
                    "accounting_date": when,
                }
            ],
        )
    }
    waybill = {
        "export_waybills": table(
            e.EXPORT_WAYBILL,
            [
                {
                    **head(n, "C0000000-0000-4000-8000-00000000", when),
                    "logistics_code": LOGISTICS,
                    "logistics_name": "express",
                    "logistics_no": logistics_no,
                    "freight": Decimal("10.00"),
                    "currency": "142",
                    "gross_weight": Decimal("1.2"),
                    "pack_no": 1,
                }
            ],
        )
    }
    declared = [(name, qty, qty * price) for name, qty, price in (lines or LINES)]
    inventory = {
        "export_inventories": table(
            e.EXPORT_INVENTORY,
            [
                {
                    **head(n, "D0000000-0000-4000-8000-00000000", when),
                    "customs_code": customs,
                    "ebp_code": EBP,
                    "ebp_name": "platform",
                    "order_no": order_no,
                    "logistics_code": LOGISTICS,
                    "logistics_name": "express",
                    "logistics_no": logistics_no,
                    "cop_no": cop_no,
                    "ie_flag": "E",
                    "port_code": port,
                    "ie_date": dt.datetime(when.year, when.month, when.day),
                    "agent_code": AGENT,
                    "agent_name": "agent",
                    "ebc_code": EBC,
                    "ebc_name": "seller",
                    "trade_mode": trade_mode,
                    "country": country,
                    "gross_weight": Decimal("1.2"),
                }
            ],
        ),
        "export_inventory_lines": table(
            e.EXPORT_INVENTORY_LINE,
            [
                {
                    "agent_code": AGENT,
                    "cop_no": cop_no,
                    "gnum": g,
                    "item_name": name,
                    "gcode": gcodes[(g - 1) % len(gcodes)],
                    "gname": name,
                    "currency": "142",
                    "qty": qty,
                    "qty1": qty,
                    "unit": "011",
                    "unit1": "011",
                    "price": line_total / qty,
                    "total_price": line_total,
                }
                for g, (name, qty, line_total) in enumerate(declared, 1)
            ],
        ),
    }
    return {"303": order, "403": collection, "505": waybill, "603": inventory}


def write(folder: Path, parcels: list[dict[str, Any]], omit: dict[int, str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, parcel in enumerate(parcels):
        for code, tables in parcel.items():
            if (omit or {}).get(n) == code:
                continue
            message = catalog.MESSAGES[code]
            data = build_tables(
                message, tables, guid=f"F0000000-0000-4000-8000-{n:08d}{code}0", transfer=TRANSFER
            )
            (folder / f"CEB{code}_{n}.xml").write_bytes(data)


def clear_into(inputs: Path, db: Path, out: Path, policy: Policy) -> ClearResult:
    store = Store(db)
    try:
        return run_clear([inputs], store, out, policy)
    finally:
        store.close()


def receipts(out: Path) -> dict[str, list[tuple[str, Row]]]:
    """Receipts by file name prefix: (code, head row) of each file, in name order."""
    found: dict[str, list[tuple[str, Row]]] = {}
    for path in sorted((out / "receipts").glob("*.xml")):
        message = parse_message(path.read_bytes())
        assert not message.problems, path.name
        head = message.clean_tables()[message.type.head.document.stem].to_pylist()
        found.setdefault(message.type.code, []).append((path.name, head[0]))
    return found


def manifest(code: str, n: int, parcels: list[int], when: dt.datetime = SENT) -> dict[str, Any]:
    """A CEB507 arrival, CEB607 master waybill or CEB509 departure of the parcels `parcels`
    (their logisticsNo `LN<n>`), carried by LOGISTICS."""
    message = catalog.MESSAGES[code]
    head_doc, line_doc = message.head.document, message.lines.document  # type: ignore[union-attr]
    key = {
        "507": {"operator_code": AGENT},
        "607": {"agent_code": AGENT},
        "509": {},
    }[code]
    head_row: Row = {
        **head(n, f"E{code}0000-0000-4000-8000-00000000"),
        "app_time": when,
        "customs_code": CUSTOMS,
        "cop_no": f"M{code}{n:05d}",
        "logistics_code": LOGISTICS,
        "logistics_name": "express",
        "operator_name": "site",
        "ie_flag": "E",
        "traf_mode": "5",
        "bill_no": f"BILL{n:05d}",
        "leave_time": when,
        "agent_name": "agent",
        **key,
    }
    lines = [
        {
            **key,
            "logistics_code": LOGISTICS,
            "cop_no": head_row["cop_no"],
            "gnum": g,
            "logistics_no": f"LN{p:06d}",
        }
        for g, p in enumerate(parcels, 1)
    ]
    return {
        code: {
            head_doc.stem: table(head_doc, [{c: head_row.get(c) for c in head_doc.columns}]),
            line_doc.stem: table(
                line_doc, [{c: r.get(c) for c in line_doc.columns} for r in lines]
            ),
        }
    }


def cancellation(n: int, invt_no: str | None, when: dt.datetime = SENT) -> dict[str, Any]:
    """A CEB605 withdrawing the list of parcel `n` (copNo `EC<n>`)."""
    row = {
        **head(n, "F6050000-0000-4000-8000-00000000"),
        "app_time": when,
        "customs_code": CUSTOMS,
        "cop_no": f"EC{n:06d}",
        "invt_no": invt_no,
        "reason": "buyer cancelled",
        "agent_code": AGENT,
        "agent_name": "agent",
        "ebc_code": EBC,
        "ebc_name": "seller",
    }
    return {"605": {"export_cancellations": table(e.EXPORT_CANCELLATION, [row])}}


def summary_application(n: int, invt_nos: list[str], when: dt.datetime = SENT) -> dict[str, Any]:
    """A CEB701 asking to summarise the lists `invt_nos` of EBC, declared by AGENT."""
    cop_no = f"SA{n:06d}"
    row = {
        **head(n, "F7010000-0000-4000-8000-00000000"),
        "app_time": when,
        "customs_code": CUSTOMS,
        "cop_no": cop_no,
        "agent_code": AGENT,
        "agent_name": "agent",
        "ebc_code": EBC,
        "ebc_name": "seller",
        "decl_agent_code": AGENT,
        "decl_agent_name": "agent",
        "summary_flag": "1",
        "item_name_flag": "1",
        "msg_count": 1,
        "msg_seq_no": 1,
    }
    lines = [{"agent_code": AGENT, "cop_no": cop_no, "invt_no": i} for i in invt_nos]
    return {
        "701": {
            "export_summaries": table(e.EXPORT_SUMMARY, [row]),
            "export_summary_lines": table(e.EXPORT_SUMMARY_LINE, lines),
        }
    }
