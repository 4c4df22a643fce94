"""`GET /v1/declarations/{cop_no}`: the decision on one of the caller's declaration lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cbec.service import auth
from cbec.service.deps import CallerDep, ServiceDep

router = APIRouter(tags=["declarations"])


@router.get("/v1/declarations/{cop_no}")
def get_declaration(cop_no: str, running: ServiceDep, reader: CallerDep) -> dict[str, Any]:
    """Its status (800 released, 100 rejected, 300 held for review ...), reasons and taxes.

    Only the declaring agent (`agentCode`) reads it; to anyone else it is unknown (404), so that
    a declaration number reveals nothing about another enterprise's parcels.
    """
    decisions, lines = running.journal.declaration(reader.code, cop_no)
    if not decisions:
        raise auth.Refusal(
            404,
            "unknown_declaration",
            f"No decision on a declaration list {cop_no!r} of {reader.code} (yet): its receipts "
            "come at GET /v1/receipts.",
        )
    row = decisions[0]
    # The declarant reads the buyer's number in full (it declared it); nobody else reads this.
    names = (
        "cop_no",
        "invt_no",
        "order_no",
        "status",
        "reasons",
        "decl_time",
        "decided_at",
        "buyer_id_number",
    )
    money = ("dutiable_value", "customs_tax", "value_added_tax", "consumption_tax", "tax_total")
    result: dict[str, Any] = dict(zip(names, row[: len(names)], strict=True))
    result["reasons"] = list(result["reasons"] or [])
    for key in ("decl_time", "decided_at"):
        result[key] = result[key].isoformat() if result[key] is not None else None
    result.update({k: _money(v) for k, v in zip(money, row[len(names) :], strict=True)})
    line_names = ("gnum", "gcode", "tax_price", "customs_tax", "value_added_tax")
    result["tax_lines"] = [
        {
            **dict(zip(line_names[:2], line[:2], strict=True)),
            **{
                k: _money(v)
                for k, v in zip((*line_names[2:], "consumption_tax"), line[2:], strict=True)
            },
        }
        for line in lines
    ]
    return result


def _money(value: object) -> str | None:
    """Money as a string with two decimals, as in the messages (never a binary float)."""
    return None if value is None else str(value)
