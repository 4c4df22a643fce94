"""Every CEB message cbec reads or writes: its code, its business node, and the tables it maps to.

A message `CEBnnnMessage` carries one or more business nodes. A node is either a wrapper element
(`Order`) holding one head (`OrderHead`) and its repeated lines (`OrderList`), or a flat element
(`OrderReturn`) whose children are the fields. Each part maps to one canonical table of
`cbec.documents`: the elements are the table's columns, in order, written in camelCase
(`order_no` -> `orderNo`), so the mapping is written once, in the schemas. Lines carry their
head's key columns (`inherit`), which are not elements of the line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cbec.documents import exports as e
from cbec.documents import receipts as r
from cbec.documents import schemas as s
from cbec.documents.schemas import Document

NAMESPACE = "http://www.chinaport.gov.cn/ceb"
DXP_NAMESPACE = "http://www.chinaport.gov.cn/dxp"
SIGNATURE_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"

# Element names that camelCase does not give (the standard's own spelling).
IRREGULAR_ELEMENTS: dict[str, str] = {"pod": "POD"}


def element_name(column: str) -> str:
    """`buyer_id_number` -> `buyerIdNumber`: the CEB element of a canonical column."""
    if column in IRREGULAR_ELEMENTS:
        return IRREGULAR_ELEMENTS[column]
    first, *rest = column.split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


@dataclass(frozen=True)
class Part:
    """One element of a business node and the table it maps to."""

    element: str  # "OrderHead"
    document: Document
    inherit: tuple[str, ...] = ()  # head columns a line carries (not elements of the line)

    @functools.cached_property
    def columns(self) -> tuple[str, ...]:
        """The columns written as elements, in the standard's order."""
        return tuple(c for c in self.document.columns if c not in self.inherit)

    @functools.cached_property
    def elements(self) -> tuple[str, ...]:
        return tuple(element_name(c) for c in self.columns)

    @functools.cached_property
    def tags(self) -> tuple[tuple[str, str, str, str], ...]:
        """(column, element, `<ceb:element>`, `</ceb:element>`) in order: built once, written
        for every node of every message."""
        return tuple(
            (c, e, f"<ceb:{e}>", f"</ceb:{e}>")
            for c, e in zip(self.columns, self.elements, strict=True)
        )


@dataclass(frozen=True)
class MessageType:
    code: str  # "311"
    title: str  # "order"
    direction: str  # "import" or "export"
    node: str | None  # wrapper element of one business node, or None when the head is the node
    head: Part
    lines: Part | None = None
    reply: str | None = None  # the receipt's code
    receipt: bool = False  # sent by customs, not by enterprises

    @property
    def root(self) -> str:
        return f"CEB{self.code}Message"

    @property
    def parts(self) -> tuple[Part, ...]:
        return (self.head,) if self.lines is None else (self.head, self.lines)


def _flat(code: str, title: str, direction: str, element: str, document: Document) -> MessageType:
    """A receipt: each business node is one flat element whose children are the fields."""
    return MessageType(code, title, direction, None, Part(element, document), receipt=True)


def _lines(element: str, document: Document, head: Document) -> Part:
    """The repeated line part: it inherits the head's key columns that it shares."""
    return Part(element, document, inherit=tuple(c for c in head.key if c in document.columns))


IMPORT_MESSAGES: tuple[MessageType, ...] = (
    MessageType(
        "311",
        "order",
        "import",
        "Order",
        Part("OrderHead", s.ORDER),
        _lines("OrderList", s.ORDER_LINE, s.ORDER),
        reply="312",
    ),
    MessageType("411", "payment", "import", "Payment", Part("PaymentHead", s.PAYMENT), reply="412"),
    MessageType(
        "511", "waybill", "import", "Logistics", Part("LogisticsHead", s.WAYBILL), reply="512"
    ),
    MessageType(
        "513",
        "waybill status",
        "import",
        None,
        Part("LogisticsStatus", s.WAYBILL_STATUS),
        reply="514",
    ),
    MessageType(
        "621",
        "declaration list (inventory)",
        "import",
        "Inventory",
        Part("InventoryHead", s.INVENTORY),
        _lines("InventoryList", s.INVENTORY_LINE, s.INVENTORY),
        reply="622",
    ),
    MessageType(
        "623", "cancellation", "import", None, Part("InvtCancel", s.CANCELLATION), reply="624"
    ),
    MessageType(
        "625",
        "return",
        "import",
        "InvtRefund",
        Part("InvtRefundHead", s.RETURN),
        _lines("InvtRefundList", s.RETURN_LINE, s.RETURN),
        reply="626",
    ),
    MessageType(
        "711",
        "bonded warehouse entry list",
        "import",
        "Delivery",
        Part("DeliveryHead", s.DELIVERY),
        _lines("DeliveryList", s.DELIVERY_LINE, s.DELIVERY),
        reply="712",
    ),
)

IMPORT_RECEIPTS: tuple[MessageType, ...] = (
    _flat("312", "order receipt", "import", "OrderReturn", r.ORDER_RETURN),
    _flat("412", "payment receipt", "import", "PaymentReturn", r.PAYMENT_RETURN),
    _flat("512", "waybill receipt", "import", "LogisticsReturn", r.WAYBILL_RETURN),
    _flat(
        "514",
        "waybill status receipt",
        "import",
        "LogisticsStatusReturn",
        r.WAYBILL_STATUS_RETURN,
    ),
    _flat("622", "declaration list receipt", "import", "InventoryReturn", r.INVENTORY_RETURN),
    _flat("624", "cancellation receipt", "import", "InvtCancelReturn", r.CANCELLATION_RETURN),
    _flat("626", "return receipt", "import", "InvtRefundReturn", r.RETURN_RETURN),
    _flat("712", "entry list receipt", "import", "DeliveryReturn", r.DELIVERY_RETURN),
    MessageType(
        "816",
        "tax bill",
        "import",
        "Tax",
        Part("TaxHeadRd", r.TAX_BILL),
        Part("TaxListRd", r.TAX_BILL_LINE, inherit=("tax_no",)),
        receipt=True,
    ),
    MessageType(
        "818",
        "tax bill status",
        "import",
        "Tax",
        Part("TaxHeadStatus", r.TAX_BILL_STATUS),
        receipt=True,
    ),
    _flat("900", "format error", "import", "MessageReturn", r.FORMAT_ERROR),
)

# Export messages and their receipts (9610, 9710, 9810): see EXPORT_MESSAGES below.
EXPORT_MESSAGES: tuple[MessageType, ...] = (
    MessageType(
        "303",
        "export order",
        "export",
        "Order",
        Part("OrderHead", e.EXPORT_ORDER),
        _lines("OrderList", e.EXPORT_ORDER_LINE, e.EXPORT_ORDER),
        reply="304",
    ),
    MessageType(
        "403",
        "export payment collection",
        "export",
        None,
        Part("Receipts", e.EXPORT_COLLECTION),
        reply="404",
    ),
    MessageType(
        "505", "export waybill", "export", None, Part("Logistics", e.EXPORT_WAYBILL), reply="506"
    ),
    MessageType(
        "507",
        "export arrival",
        "export",
        "Arrival",
        Part("ArrivalHead", e.EXPORT_ARRIVAL),
        _lines("ArrivalList", e.EXPORT_ARRIVAL_LINE, e.EXPORT_ARRIVAL),
        reply="508",
    ),
    MessageType(
        "509",
        "export departure",
        "export",
        "Departure",
        Part("DepartureHead", e.EXPORT_DEPARTURE),
        _lines("DepartureList", e.EXPORT_DEPARTURE_LINE, e.EXPORT_DEPARTURE),
        reply="510",
    ),
    MessageType(
        "603",
        "export declaration list (inventory)",
        "export",
        "Inventory",
        Part("InventoryHead", e.EXPORT_INVENTORY),
        _lines("InventoryList", e.EXPORT_INVENTORY_LINE, e.EXPORT_INVENTORY),
        reply="604",
    ),
    MessageType(
        "605",
        "export cancellation",
        "export",
        None,
        Part("InvtCancel", e.EXPORT_CANCELLATION),
        reply="606",
    ),
    MessageType(
        "607",
        "export master/sub waybill list",
        "export",
        "WayBill",
        Part("WayBillHead", e.EXPORT_MASTER_WAYBILL),
        _lines("WayBillList", e.EXPORT_MASTER_WAYBILL_LINE, e.EXPORT_MASTER_WAYBILL),
        reply="608",
    ),
    MessageType(
        "701",
        "export summary application",
        "export",
        "SummaryApply",
        Part("SummaryApplyHead", e.EXPORT_SUMMARY),
        _lines("SummaryApplyList", e.EXPORT_SUMMARY_LINE, e.EXPORT_SUMMARY),
        reply="702",
    ),
)
EXPORT_RECEIPTS: tuple[MessageType, ...] = (
    _flat("304", "export order receipt", "export", "OrderReturn", e.EXPORT_ORDER_RETURN),
    _flat(
        "404",
        "export payment collection receipt",
        "export",
        "ReceiptsReturn",
        e.EXPORT_COLLECTION_RETURN,
    ),
    _flat("506", "export waybill receipt", "export", "LogisticsReturn", e.EXPORT_WAYBILL_RETURN),
    _flat("508", "export arrival receipt", "export", "ArrivalReturn", e.EXPORT_ARRIVAL_RETURN),
    _flat(
        "510", "export departure receipt", "export", "DepartureReturn", e.EXPORT_DEPARTURE_RETURN
    ),
    _flat(
        "604",
        "export declaration list receipt",
        "export",
        "InventoryReturn",
        e.EXPORT_INVENTORY_RETURN,
    ),
    _flat(
        "606",
        "export cancellation receipt",
        "export",
        "InvtCancelReturn",
        e.EXPORT_CANCELLATION_RETURN,
    ),
    _flat(
        "608",
        "export waybill list receipt",
        "export",
        "WayBillReturn",
        e.EXPORT_MASTER_WAYBILL_RETURN,
    ),
    _flat("702", "export summary receipt", "export", "SummaryReturn", e.EXPORT_SUMMARY_RETURN),
    MessageType(
        "792",
        "export summary result",
        "export",
        "SummaryResult",
        Part("SummaryResultHead", e.EXPORT_SUMMARY_RESULT),
        _lines("SummaryResultList", e.EXPORT_SUMMARY_RESULT_LINE, e.EXPORT_SUMMARY_RESULT),
        receipt=True,
    ),
)


def _registry(*groups: tuple[MessageType, ...]) -> dict[str, MessageType]:
    registry: dict[str, MessageType] = {}
    for group in groups:
        for message in group:
            if message.code in registry:
                raise ValueError(f"CEB{message.code} is defined twice")
            registry[message.code] = message
    return registry


MESSAGES: dict[str, MessageType] = _registry(
    IMPORT_MESSAGES, IMPORT_RECEIPTS, EXPORT_MESSAGES, EXPORT_RECEIPTS
)
BY_ROOT: dict[str, MessageType] = {m.root: m for m in MESSAGES.values()}
