"""The withholding agent's guarantee: released tax may not exceed what the guarantee still covers.

The withholding agent (`assureCode`: the platform, the e-commerce enterprise or the logistics
enterprise) pays the tax of the lists it guarantees later, and "must hold a guarantee" (GACC
Announcement 2018 No. 194, art. on tax collection; domain digest section 3). cbec keeps the
guarantee an operator registers per agent (`cbec guarantee set`); the tax of the agent's released
lists not yet paid (less the tax of returned lines) is what the guarantee already covers. A
declaration whose tax would take the agent beyond its guarantee is held for manual review (300)
with `guarantee_insufficient`; paid bills restore the guarantee. Agents with no registered
guarantee are not limited.

Fourth of the sequential ledgers (DESIGN.md, "Sequential ledgers"): per `assureCode`, over what
passed the checks, the stock and the allowance, in declaration-time order (`decl_time`,
`app_time`, `agent_code`, `cop_no`), so the outcome never depends on batch boundaries. A held
declaration takes nothing from the guarantee. Most agents' day fits in what remains, which one
aggregate proves; only the others are judged one declaration at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from cbec.engines.reuse import reused

HELD = 300  # CEB622 returnStatus: manual review (domain digest section 6)
ORDER = ("decl_time", "app_time", "agent_code", "cop_no")
REASON = "guarantee_insufficient"


@reused
def candidates(released: ir.Table, tax_fen: ir.Table, remaining: ir.Table) -> ir.Table:
    """The released declarations of agents with a registered guarantee, with their tax (fen) and
    the agent's remaining guarantee (fen), restricted to the agents whose day does not fit.

    `released`: agent_code, cop_no, assure_code, decl_time, app_time; `tax_fen`: agent_code,
    cop_no, tax_fen; `remaining`: assure_code, remaining_fen.
    """
    rows = released.inner_join(tax_fen, ["agent_code", "cop_no"]).inner_join(
        remaining, "assure_code"
    )
    totals = rows.group_by("assure_code").aggregate(total=rows.tax_fen.sum())
    totals = totals.inner_join(remaining, "assure_code")
    short = totals.filter(totals.total > totals.remaining_fen).select("assure_code")
    return rows.semi_join(short, "assure_code").order_by(["assure_code", *ORDER])


def judge_guarantee(rows: Mapping[str, list[Any]]) -> list[bool]:
    """One agent's declarations in order: released while their tax fits in what remains (and
    then they take it), else held, taking nothing."""
    left = int(rows["remaining_fen"][0])
    verdicts = []
    for tax in rows["tax_fen"]:
        fits = int(tax) <= left
        if fits:
            left -= int(tax)
        verdicts.append(fits)
    return verdicts


@reused
def hold(decided: ir.Table, held: ir.Table, released: int) -> ir.Table:
    """`decided` with the `held` declarations (agent_code, cop_no) at status 300 and the reason."""
    marked = held.select("agent_code", "cop_no", _held=ibis.literal(True))
    d = decided.left_join(marked, ["agent_code", "cop_no"])
    d = d.drop(*[c for c in ("agent_code_right", "cop_no_right") if c in d.columns])
    is_held = d._held.fill_null(False) & (d.status == released)
    reason = ibis.literal([REASON], type="array<string>")
    return d.mutate(
        status=ibis.ifelse(is_held, HELD, d.status).cast("int32"),
        reasons=ibis.ifelse(is_held, reason, d.reasons),
    ).drop("_held")
