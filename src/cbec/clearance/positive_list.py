"""The positive list: every line's goods must be on the edition in force on the declaration date.

A declared 10-digit gcode matches a list row on its first 8 digits (domain digest section 4). A
row's remark kind is enforced where a machine can: `excluded` rejects, `bonded_only` rejects 9610.
`name_limit` remarks are recorded, not enforced (docs/decisions.md); `quantity_limit` remarks are
enforced by the per-person yearly quantity ledger (`cbec.ledgers.quantity`).
"""

from __future__ import annotations

import ibis.expr.types as ir

from cbec.clearance.frames import valid_on
from cbec.engines.reuse import reused


@reused
def positive_list(lines: ir.Table, rows: ir.Table) -> ir.Table:
    """Per declaration: `r_not_on_positive_list`, `r_bonded_only_goods`, `r_excluded_goods`."""
    checkable = lines.filter(lines.gcode.re_search(r"^[0-9]{10}$").fill_null(False))
    keyed = checkable.select(
        "agent_code",
        "cop_no",
        "gnum",
        "trade_mode",
        "decl_date",
        tariff_line=checkable.gcode.substr(0, 8),
    )
    joined = keyed.left_join(
        rows, [keyed.tariff_line == rows.code, valid_on(rows, keyed.decl_date)]
    )
    per_line = joined.group_by(["agent_code", "cop_no", "gnum", "trade_mode"]).aggregate(
        listed=joined.code.notnull().any(),
        excluded=(joined.remark_kind == "excluded").fill_null(False).any(),
        bonded_only=(joined.remark_kind == "bonded_only").fill_null(False).any(),
    )
    return per_line.group_by(["agent_code", "cop_no"]).aggregate(
        r_not_on_positive_list=(~per_line.listed).any(),
        r_excluded_goods=per_line.excluded.any(),
        r_bonded_only_goods=(per_line.bonded_only & (per_line.trade_mode == "9610")).any(),
    )
