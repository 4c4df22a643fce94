"""Hand-made documents for rule cases: one consistent declaration, then the one change a case makes.

`declaration(...)` returns the rows of the six import documents (order, its lines, payment,
waybill, inventory, its lines) for one parcel, consistent by construction; `alter` and `omit`
then break exactly what a case is about. Rows are JSON-ready (money as strings) and written as
JSON Lines, the format enterprises' systems can produce by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

BUYER_ID = "110101199003070011"  # valid: born 1990-03-07, check character 1
BUYER_NAME = "王小明"
OTHER_ID = "110101198512010012"  # valid as well: another person
STEMS = ("orders", "order_lines", "payments", "waybills", "inventories", "inventory_lines")

Rows = dict[str, list[dict[str, Any]]]


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def declaration(
    cop_no: str,
    lines: list[dict[str, Any]],
    when: str = "2024-06-15T10:00:00",
    mode: str = "9610",
    freight: Any = "0",
    insured_fee: Any = "0",
    buyer_id: str = BUYER_ID,
    buyer_name: str = BUYER_NAME,
    agent_code: str = "3301980001",
    alter: dict[str, dict[str, Any]] | None = None,
    omit: tuple[str, ...] = (),
) -> Rows:
    """The documents of one parcel. Each line: gcode, qty, price, optional name, qty1, unit1."""
    order_no = f"ORD{cop_no}"
    ebp = "3301964J31"
    logistics_no = f"YT{cop_no}"
    goods = sum(Decimal(str(line["price"])) * Decimal(str(line["qty"])) for line in lines)
    freight_d = Decimal(str(freight))
    paid = goods + freight_d
    head_time = when
    order = {
        "guid": f"G-ORDER-{cop_no}",
        "app_type": "1",
        "app_time": head_time,
        "app_status": "2",
        "order_type": "I",
        "order_no": order_no,
        "ebp_code": ebp,
        "ebp_name": "Platform",
        "ebc_code": "3301960001",
        "ebc_name": "Shop",
        "goods_value": _money(goods),
        "freight": _money(freight_d),
        "discount": "0",
        "tax_total": "0",
        "actural_paid": _money(paid),
        "currency": "142",
        "buyer_reg_no": "u1",
        "buyer_name": buyer_name,
        "buyer_telephone": "13800000000",
        "buyer_id_type": "1",
        "buyer_id_number": buyer_id,
        "pay_code": "3101960001",
        "pay_name": "Pay",
        "pay_transaction_id": f"PAY{cop_no}",
        "consignee": buyer_name,
        "consignee_telephone": "13800000000",
        "consignee_address": "北京市东城区1号",
    }
    order_lines = []
    inventory_lines = []
    for gnum, line in enumerate(lines, start=1):
        qty = Decimal(str(line["qty"]))
        price = Decimal(str(line["price"]))
        name = line.get("name", f"goods {line['gcode']}")
        order_lines.append(
            {
                "ebp_code": ebp,
                "order_no": order_no,
                "gnum": gnum,
                "item_name": name,
                "qty": str(qty),
                "price": _money(price),
                "total_price": _money(price * qty),
                "currency": "142",
                "unit": "011",
            }
        )
        inventory_lines.append(
            {
                "agent_code": agent_code,
                "cop_no": cop_no,
                "gnum": gnum,
                "item_record_no": f"R{gnum}" if mode != "9610" else None,
                "item_name": name,
                "gcode": line["gcode"],
                "gname": name,
                "country": "116",
                "currency": "142",
                "qty": str(qty),
                "unit": "011",
                "qty1": str(line.get("qty1", qty)),
                "unit1": line.get("unit1", "011"),
                "price": _money(price),
                "total_price": _money(price * qty),
            }
        )
    payment = {
        "guid": f"G-PAY-{cop_no}",
        "app_type": "1",
        "app_time": head_time,
        "app_status": "2",
        "pay_code": "3101960001",
        "pay_name": "Pay",
        "pay_transaction_id": f"PAY{cop_no}",
        "order_no": order_no,
        "ebp_code": ebp,
        "payer_id_type": "1",
        "payer_id_number": buyer_id,
        "payer_name": buyer_name,
        "amount_paid": _money(paid),
        "currency": "142",
        "pay_time": head_time,
    }
    waybill = {
        "guid": f"G-WAY-{cop_no}",
        "app_type": "1",
        "app_time": head_time,
        "app_status": "2",
        "logistics_code": "3201980001",
        "logistics_name": "Express",
        "logistics_no": logistics_no,
        "order_no": order_no,
        "freight": _money(freight_d),
        "insured_fee": _money(insured_fee),
        "currency": "142",
        "consignee": buyer_name,
        "consignee_address": "北京市东城区1号",
        "consignee_telephone": "13800000000",
    }
    inventory = {
        "guid": f"G-INV-{cop_no}",
        "app_type": "1",
        "app_time": head_time,
        "app_status": "2",
        "order_no": order_no,
        "ebp_code": ebp,
        "ebc_code": "3301960001",
        "logistics_no": logistics_no,
        "logistics_code": "3201980001",
        "cop_no": cop_no,
        "assure_code": "3301960001",
        "ie_flag": "I",
        "decl_time": when,
        "customs_code": "2991",
        "buyer_id_type": "1",
        "buyer_id_number": buyer_id,
        "buyer_name": buyer_name,
        "agent_code": agent_code,
        "trade_mode": mode,
        "currency": "142",
        "freight": _money(freight_d),
        "insured_fee": _money(insured_fee),
        "ems_no": "T2991W000001" if mode != "9610" else None,
        "area_code": "3301960002" if mode != "9610" else None,
    }
    rows: Rows = {
        "orders": [order],
        "order_lines": order_lines,
        "payments": [payment],
        "waybills": [waybill],
        "inventories": [inventory],
        "inventory_lines": inventory_lines,
    }
    for stem, changes in (alter or {}).items():
        if stem.endswith("_lines"):
            for line_row in rows[stem]:
                line_row.update(changes)
        else:
            rows[stem][0].update(changes)
    for stem in omit:
        rows[stem] = []
        if stem == "orders":
            rows["order_lines"] = []
    return rows


def merge(*parts: Rows) -> Rows:
    merged: Rows = {stem: [] for stem in STEMS}
    for part in parts:
        for stem, rows in part.items():
            merged.setdefault(stem, []).extend(rows)
    return merged


def stock_entry(
    items: dict[str, Any],
    when: str = "2000-01-01T00:00:00",
    ems_no: str = "T2991W000001",
    cop_no: str = "RK1",
) -> Rows:
    """A CEB711 entry list putting `items` (itemRecordNo -> qty, legal unit) into the account
    book `ems_no` (the builders' bonded declarations use T2991W000001 and R1, R2 ...)."""
    head = {
        "guid": f"G-ENTRY-{cop_no}",
        "app_type": "1",
        "app_time": when,
        "app_status": "2",
        "customs_code": "2991",
        "cop_no": cop_no,
        "operator_code": "3301960002",
        "operator_name": "Bonded warehouse",
        "ie_flag": "I",
        "ems_no": ems_no,
        "area_code": "3301960002",
    }
    lines = [
        {"operator_code": "3301960002", "cop_no": cop_no, "gnum": n, "item_record_no": item,
         "qty": str(qty)}
        for n, (item, qty) in enumerate(sorted(items.items()), start=1)
    ]  # fmt: skip
    return {"deliveries": [head], "delivery_lines": lines}


def write_jsonl(folder: Path, rows: Rows) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in (*STEMS, *(s for s in rows if s not in STEMS)):
        with (folder / f"{stem}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows.get(stem, []):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return folder


MESSAGE_CODES = {"orders": "311", "payments": "411", "waybills": "511", "inventories": "621"}


def write_messages(folder: Path, rows: Rows, prefix: str = "") -> list[Path]:
    """The rows as CEB messages, one message per family holding every node of it (orders with
    their lines, inventories with theirs), in the order an enterprise sends them."""
    from cbec.documents.reading import conform
    from cbec.documents.schemas import IMPORT_DOCUMENTS
    from cbec.messages.build import build_tables
    from cbec.messages.catalog import MESSAGES

    documents = {d.stem: d for d in IMPORT_DOCUMENTS}
    typed = {}
    for stem in STEMS:
        items = rows.get(stem, [])
        columns: dict[str, Any] = {
            name: [r.get(name) for r in items] for name in documents[stem].schema.names
        }
        table, errors, _, _ = conform(columns, len(items), documents[stem], stem, [1] * len(items))
        assert not errors, errors
        typed[stem] = table
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, (stem, code) in enumerate(MESSAGE_CODES.items(), start=1):
        if typed[stem].num_rows == 0:
            continue
        path = folder / f"{prefix}{number:02d}_CEB{code}.xml"
        tables = {stem: typed[stem]}
        lines = {"orders": "order_lines", "inventories": "inventory_lines"}.get(stem)
        if lines:
            tables[lines] = typed[lines]
        path.write_bytes(build_tables(MESSAGES[code], tables, guid=f"MSG-{prefix}{number}"))
        written.append(path)
    return written


@dataclass(frozen=True)
class Signer:
    """An enterprise's RSA key and self-signed certificate, as its UKey would hold them."""

    key_pem: bytes
    cert_pem: bytes
    serial: int


def signer(name: str, valid_from: dt.datetime, valid_to: dt.datetime) -> Signer:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    return Signer(key_pem, cert_pem, certificate.serial_number)


def write_return(
    folder: Path,
    cop_no: str,
    invt_no: str,
    when: dt.datetime,
    gnums: tuple[int, ...] = (),
    agent_code: str = "3301980001",
    name: str | None = None,
    cancel: bool = False,
    arrival: dt.datetime | None = None,
) -> Path:
    """A CEB625 return of the declaration list `cop_no` (its lines `gnums`, or all), or with
    `cancel` a CEB623 cancellation, applied for at `when`."""
    from cbec.messages.build import build_message
    from cbec.messages.catalog import MESSAGES

    head = {
        "guid": f"G-{'CANCEL' if cancel else 'RETURN'}-{cop_no}-{when:%Y%m%d%H%M}",
        "app_type": "1",
        "app_time": when,
        "app_status": "2",
        "customs_code": "2991",
        "order_no": f"ORD{cop_no}",
        "ebp_code": "3301964J31",
        "ebc_code": "3301960001",
        "logistics_no": f"YT{cop_no}",
        "logistics_code": "3201980001",
        "cop_no": cop_no,
        "invt_no": invt_no,
        "buyer_id_type": "1",
        "buyer_id_number": BUYER_ID,
        "buyer_name": BUYER_NAME,
        "agent_code": agent_code,
        "reason": "不想要了",
    }
    if arrival is not None:  # cbec's addition to CEB625: when the goods were back
        head["arrival_time"] = arrival
    lines = [
        {"agent_code": agent_code, "cop_no": cop_no, "gnum": g, "qty": Decimal(1)} for g in gnums
    ]
    code = "623" if cancel else "625"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"CEB{code}_{cop_no}_{when:%Y%m%d%H%M}.xml")
    path.write_bytes(build_message(MESSAGES[code], [head], lines, guid=head["guid"]))
    return path
