"""Bonded import (1210) only from an approved pilot zone (GACC Announcement 2014 No. 57; the ten
cities of GACC Announcement 2016 No. 75): a stateless check of the declaration's customs office
against the dated zone list (`cbec.policy.zones`), on the declaration date."""

from __future__ import annotations

import ibis.expr.types as ir

from cbec.clearance.frames import valid_on

PILOT_MODE = "1210"


def pilot_zone(declarations: ir.Table, zones: ir.Table) -> ir.Table:
    """Per 1210 declaration: `r_not_pilot_zone` when no zone row valid on its date covers its
    `customs_code` (a 4-digit row that office, a 2-digit row its customs district)."""
    d = declarations.filter(
        (declarations.trade_mode == PILOT_MODE) & declarations.customs_code.notnull()
    ).select("agent_code", "cop_no", "customs_code", "decl_date")
    covers = (zones.customs_code == d.customs_code) | (
        (zones.customs_code.length() == 2) & (zones.customs_code == d.customs_code.substr(0, 2))
    )
    joined = d.left_join(zones, [covers, valid_on(zones, d.decl_date)])
    return joined.group_by(["agent_code", "cop_no"]).aggregate(
        r_not_pilot_zone=~joined.zone.notnull().any()
    )
