"""The keys that tie a declaration list to its order, payment and waybill (domain digest section
7; `clearance/frames.declarations_with_companions` joins on the same): the order and the payment
by `ebpCode` + `orderNo`, the waybill by `logisticsCode` + `logisticsNo`. Written as text
(`order:EBP:ORDER`), so that what one message provides and another needs compare as strings."""

from __future__ import annotations

from collections.abc import Mapping

# (document stem, kind, key columns) of what a message provides.
PROVIDED = (
    ("orders", "order", ("ebp_code", "order_no")),
    ("payments", "payment", ("ebp_code", "order_no")),
    ("waybills", "waybill", ("logistics_code", "logistics_no")),
)
# What a declaration list needs: the same kinds, from its own head's columns.
NEEDED = (
    ("order", ("ebp_code", "order_no")),
    ("payment", ("ebp_code", "order_no")),
    ("waybill", ("logistics_code", "logistics_no")),
)
NEEDED_COLUMNS = ("ebp_code", "order_no", "logistics_code", "logistics_no")


def key(kind: str, values: tuple[object, ...]) -> str | None:
    """The key, or None when a value is blank (such a node is answered by the checks, not
    awaited)."""
    if any(v is None or not str(v).strip() for v in values):
        return None
    return kind + ":" + ":".join(str(v).strip() for v in values)


def needed_by(head: Mapping[str, object]) -> list[str]:
    """The keys one declaration list's head needs."""
    found = (key(kind, tuple(head.get(c) for c in columns)) for kind, columns in NEEDED)
    return [k for k in found if k is not None]
