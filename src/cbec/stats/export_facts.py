"""The export side of the facts: one row per decided export declaration list (CEB603).

An export list's facts come from its decision (`export_decisions`: status, reasons, times, customs
office) and its list as stored (the latest version by `appTime`, as the import lists): `appTime`
is its declaration time, `tradeMode`, `portCode`, `country` (of destination), `ebcCode` and
`ebpCode` name it. Exports pay no tax. Their `value` is the sum of the lines' `totalPrice`
declared in CNY (currency 142): cbec keeps no exchange rates, so a line in another currency adds
nothing to the value (docs/decisions.md, "Statistics of exports").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from cbec.clearance.frames import one_per_key
from cbec.documents.exports import EXPORT_INVENTORY, EXPORT_INVENTORY_LINE

if TYPE_CHECKING:
    from cbec.store.embedded import Store

CNY = "142"
KEY = ["agent_code", "cop_no"]
MONEY = dt.Decimal(18, 2)

_HEAD_COLUMNS = ("trade_mode", "port_code", "country", "ebc_code", "ebp_code")
# Lines carry no version: a repeated gnum keeps one row by a fixed rule (as the import lines).
_LINE_KEY = [*KEY, "gnum"]
_LINE_ORDER = ["total_price", "gcode"]


def _heads(store: Store) -> ir.Table | None:
    stored = store.documents(EXPORT_INVENTORY.stem)
    if stored is None:
        return None
    heads = stored.select(*KEY, "app_time", "guid", *_HEAD_COLUMNS)
    heads = heads.mutate(agent_code=heads.agent_code.fill_null(""))
    return one_per_key(heads, KEY, ["app_time", "guid"]).drop("guid")


def lines(store: Store) -> ir.Table | None:
    """The stored export lines, one per `agent_code + cop_no + gnum`, with their `chapter` and
    their value in CNY (`cny_value`, 0 for a line in another currency)."""
    stored = store.documents(EXPORT_INVENTORY_LINE.stem)
    if stored is None:
        return None
    rows = stored.select(*_LINE_KEY, "gcode", "currency", "total_price")
    rows = rows.mutate(agent_code=rows.agent_code.fill_null(""))
    rows = one_per_key(rows, _LINE_KEY, _LINE_ORDER)
    zero = ibis.literal(0).cast(MONEY)
    in_cny = rows.currency.strip() == CNY
    return rows.select(
        *KEY,
        chapter=rows.gcode.strip().left(2),
        cny_value=ibis.ifelse(in_cny, rows.total_price.cast(MONEY).fill_null(zero), zero),
    )


def declarations(store: Store) -> ir.Table:
    """One row per decided export list, in the columns the import facts start from
    (`facts.SOURCE_COLUMNS`), with `ie_flag` E and no tax."""
    decisions = store.table("export_decisions")
    heads = _heads(store)
    if heads is None:
        facts = decisions.mutate(
            app_time=ibis.null(dt.timestamp), **{c: ibis.null(dt.string) for c in _HEAD_COLUMNS}
        )
    else:
        facts = decisions.left_join(heads, KEY).drop("agent_code_right", "cop_no_right")
    exported = lines(store)
    if exported is not None:
        values = exported.group_by(KEY).aggregate(_value=exported.cny_value.sum())
        facts = facts.left_join(values, KEY).drop("agent_code_right", "cop_no_right")
    else:
        facts = facts.mutate(_value=ibis.null(MONEY))
    zero = ibis.literal(0).cast(MONEY)
    return facts.select(
        *KEY,
        status=facts.status.cast("int32"),
        reasons=facts.reasons,
        decl_time=facts.app_time.cast(dt.timestamp),
        decided_at=facts.decided_at.cast(dt.timestamp),
        dutiable_value=facts._value.cast(MONEY).fill_null(zero),
        customs_tax=zero,
        value_added_tax=zero,
        consumption_tax=zero,
        tax_total=zero,
        trade_mode=facts.trade_mode,
        customs_code=facts.customs_code,
        ie_flag=ibis.literal("E"),
        port_code=facts.port_code,
        area_code=ibis.null(dt.string),
        country=facts.country,
        ebc_code=facts.ebc_code,
        ebp_code=facts.ebp_code,
    )


def chapters(store: Store) -> ir.Table | None:
    """Per export list and chapter: the CNY value of its lines (`_value`), no tax (`_tax`)."""
    exported = lines(store)
    if exported is None:
        return None
    per_chapter = exported.group_by([*KEY, "chapter"]).aggregate(_value=exported.cny_value.sum())
    return per_chapter.mutate(_tax=ibis.literal(0).cast(MONEY), direction=ibis.literal("export"))
