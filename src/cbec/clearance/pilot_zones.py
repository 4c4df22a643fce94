"""Bonded import (1210) only from an approved pilot zone (GACC Announcement 2014 No. 57; the ten
cities of GACC Announcement 2016 No. 75): a stateless check of the declaration's customs office
against the dated zone list (`cbec.policy.zones`), on the declaration date."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cbec.clearance.frames import valid_on
from cbec.engines.reuse import reused

PILOT_MODE = "1210"


@reused
def pilot_zone(declarations: ir.Table, zones: ir.Table) -> ir.Table:
    """Per 1210 declaration: `r_not_pilot_zone` when no zone row valid on its date covers its
    `customs_code` (a 4-digit row that office, a 2-digit row its customs district)."""
    d = declarations.filter(
        (declarations.trade_mode == PILOT_MODE) & declarations.customs_code.notnull()
    ).select("agent_code", "cop_no", "customs_code", "decl_date")
    d = d.mutate(district=d.customs_code.substr(0, 2))
    covered = []
    for length, column in ((4, "customs_code"), (2, "district")):
        rows = zones.filter(zones.customs_code.length() == length)
        # An equality key keeps this a hash join; the date range is its residual condition.
        covered.append(
            d.semi_join(rows, [d[column] == rows.customs_code, valid_on(rows, d.decl_date)])
        )
    inside = covered[0].union(covered[1], distinct=False).select("agent_code", "cop_no")
    outside = d.anti_join(inside, ["agent_code", "cop_no"])
    return outside.select("agent_code", "cop_no", r_not_pilot_zone=ibis.literal(True))
