"""The decision: released (800) when no reason was found, rejected (100) with every reason found.

Status codes are the CEB622 `returnStatus` values (domain digest section 6).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cbec.clearance.reasons import CODES
from cbec.engines.reuse import reused

RELEASED = 800
REJECTED = 100
INSPECTION = 500  # admitted, held for physical inspection (risk selection, cbec.risk)
REVIEW = 300  # admitted, held for manual review
# Admitted: passed every check and ledger. A held declaration keeps its allowance and stock.
ADMITTED = (RELEASED, INSPECTION, REVIEW)


@reused
def reasons_found(declarations: ir.Table) -> ir.ArrayValue:
    """The list of reason codes whose `r_<code>` flag is set, in the order of `reasons.REASONS`."""
    present = [code for code in CODES if f"r_{code}" in declarations.columns]
    slots = ibis.array(
        [ibis.ifelse(declarations[f"r_{code}"].fill_null(False), code, None) for code in present]
    )
    return slots.filter(lambda reason: reason.notnull())


@reused
def decide(declarations: ir.Table) -> ir.Table:
    """Adds `reasons` and `status`.

    A declaration with an unreadable row is rejected for that alone: what else would be found
    follows from the missing values, not from the parcel.
    """
    found = reasons_found(declarations)
    if "r_unreadable_document" in declarations.columns:
        unreadable = ibis.literal(["unreadable_document"], type="array<string>")
        found = ibis.ifelse(declarations.r_unreadable_document.fill_null(False), unreadable, found)
    with_reasons = declarations.mutate(reasons=found)
    return with_reasons.mutate(
        status=ibis.ifelse(with_reasons.reasons.length() == 0, RELEASED, REJECTED).cast("int32")
    )
