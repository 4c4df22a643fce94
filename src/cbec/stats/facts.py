"""The fact tables the statistics sum: one row per declaration, or per declaration and chapter.

A declaration's facts come from its decision (status, value, taxes, times, mode, customs office)
and its declaration list as stored (platform, enterprise, port, zone, country, direction), joined
on `agent_code` + `cop_no`; the stored list is its latest version (`clearance.frames.one_version`,
the rule the pipeline applies). A decision whose list is no longer in the store keeps its row, with
empty document columns.

Named by the reference data (`reference.py`):
- `zone`: the pilot zone whose registry `code` is the longest prefix of the declared `area_code`,
  else the declared `area_code` itself; empty when none is declared (usual for 9610).
- `province`: the zone's province when the registry knows the zone; else the province of the
  customs office (its own row in the customs table, else its district's: the first two digits of
  the code followed by `00`); else empty (unknown).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from cbec.clearance.frames import ONE_VERSION, one_version
from cbec.documents.schemas import INVENTORY, INVENTORY_LINE
from cbec.stats import export_facts
from cbec.stats.periods import PERIOD_DIMENSIONS, label
from cbec.stats.reference import Reference

if TYPE_CHECKING:
    from cbec.store.embedded import Store

RELEASED, REJECTED, REVIEW, INSPECTION = 800, 100, 300, 500

# A declaration is admitted when its final status is released. A declaration held for review
# (300) or selected for inspection (500) is not admitted while held; when it is released its
# status becomes 800 and it counts from then on. This is the one place that says so.
ADMITTED_STATUSES = (RELEASED,)

MONEY = dt.Decimal(18, 2)
KEY = ["agent_code", "cop_no"]

# --by dimension -> the fact column it groups by (periods are computed from decl_time).
DIMENSIONS: dict[str, str] = {
    **{kind: kind for kind in PERIOD_DIMENSIONS},
    "direction": "direction",
    "mode": "trade_mode",
    "customs": "customs_code",
    "port": "port_code",
    "zone": "zone",
    "province": "province",
    "country": "country",
    "enterprise": "ebc_code",
    "platform": "ebp_code",
    "chapter": "chapter",
}
# Dimensions whose codes have a name in the reference data: written beside the code.
NAMED = {"customs": "customs_name", "zone": "zone_name", "province": "province_name"}

_DOCUMENT_COLUMNS = ("ie_flag", "port_code", "area_code", "country", "ebc_code", "ebp_code")

# The columns of the declaration facts: keys, what is summed, what is grouped by.
FACT_COLUMNS = (
    *KEY,
    "status",
    "reasons",
    "decl_time",
    "decided_at",
    "customs_tax",
    "value_added_tax",
    "consumption_tax",
    "tax_total",
    "admitted",
    "rejected",
    "value",
    "assessed_tax",
    *PERIOD_DIMENSIONS,
    "direction",
    "trade_mode",
    "customs_code",
    "customs_name",
    "port_code",
    "area_code",
    "zone",
    "zone_name",
    "province",
    "province_name",
    "country",
    "ebc_code",
    "ebp_code",
    "selected_for_inspection",
    "inspection_found",
    "tax_collected",
    "late_fees",
)


# The columns both directions' decisions give the facts (exports: `export_facts`).
SOURCE_COLUMNS = (
    *KEY,
    "status",
    "reasons",
    "decl_time",
    "decided_at",
    "dutiable_value",
    "customs_tax",
    "value_added_tax",
    "consumption_tax",
    "tax_total",
    "trade_mode",
    "customs_code",
    *_DOCUMENT_COLUMNS,
)


def admitted(status: ir.IntegerValue) -> ir.BooleanValue:
    return status.isin(ADMITTED_STATUSES)


def direction(ie_flag: ir.StringValue) -> ir.StringValue:
    """`import` or `export` from the list's `ieFlag` (I/E); a decision without a stored list is
    an import (export facts always carry E)."""
    return ibis.ifelse(ie_flag.strip().upper() == "E", "export", "import")


def _inventories(store: Store) -> ir.Table | None:
    stored = store.documents(INVENTORY.stem)
    if stored is None:
        return None
    key, newest_first = ONE_VERSION[INVENTORY.stem]
    latest = one_version(stored.select(*key, *newest_first, *_DOCUMENT_COLUMNS), INVENTORY.stem)
    return latest.mutate(agent_code=latest.agent_code.fill_null("")).select(
        *KEY, *_DOCUMENT_COLUMNS
    )


class Facts:
    """The fact tables of one store, named by `reference`: built once per command.

    With `cache`, each table is computed once into a temporary table of the store's connection,
    for commands that ask many questions of it (the report); otherwise every question compiles
    the whole expression, which suits a single question.
    """

    def __init__(self, store: Store, reference: Reference | None = None, cache: bool = False):
        self.store = store
        self.reference = reference or Reference.load()
        self.cache = cache
        self._declarations: ir.Table | None = None
        self._chapters: ir.Table | None = None
        self._temporary: list[str] = []

    def declarations(self) -> ir.Table:
        """One row per decided declaration (see the module docstring)."""
        if self._declarations is None:
            self._declarations = self._kept(declarations(self.store, self.reference), "facts")
        return self._declarations

    def chapters(self) -> ir.Table:
        """One row per declaration and tariff chapter (see `chapters`)."""
        if self._chapters is None:
            self._chapters = self._kept(chapters(self.store, self.declarations()), "chapters")
        return self._chapters

    def _kept(self, table: ir.Table, what: str) -> ir.Table:
        if not self.cache:
            return table
        # A temporary table of this connection (Ibis' own cache fails to drop its tables here).
        name = f"_stats_{what}_{uuid.uuid4().hex}"
        self._temporary.append(name)
        return self.store.con.create_table(name, table, temp=True)

    def close(self) -> None:
        """Drops the temporary tables (they would go with the connection anyway)."""
        for name in self._temporary:
            self.store.con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        self._temporary.clear()
        self._declarations = self._chapters = None


def declarations(store: Store, reference: Reference) -> ir.Table:
    """One row per decided declaration with the columns the statistics group and sum by."""
    decisions = store.table("decisions")
    inventories = _inventories(store)
    if inventories is None:
        imports = decisions.mutate(
            **{name: ibis.null(dt.string) for name in _DOCUMENT_COLUMNS},
        )
    else:
        imports = decisions.left_join(inventories, KEY).drop("agent_code_right", "cop_no_right")
    exports = export_facts.declarations(store)
    facts = imports.select(*SOURCE_COLUMNS).union(
        exports.select(*SOURCE_COLUMNS).cast(imports.select(*SOURCE_COLUMNS).schema()),
        distinct=False,
    )
    facts = _with_inspections(store, facts)
    facts = _with_payments(store, facts)
    facts = _with_zone(facts, reference)
    facts = _with_customs(facts, reference)
    provinces = ibis.memtable(reference.provinces).select(_p_code="code", province_name="name_en")
    facts = facts.mutate(province=facts.zone_province.coalesce(facts.customs_province))
    facts = facts.left_join(provinces, facts.province == provinces._p_code).drop("_p_code")
    is_admitted = admitted(facts.status)
    zero = ibis.literal(0).cast(MONEY)
    facts = facts.mutate(
        direction=direction(facts.ie_flag.fill_null("I")),
        admitted=is_admitted,
        rejected=facts.status == REJECTED,
        value=ibis.ifelse(is_admitted, facts.dutiable_value.fill_null(zero), zero),
        assessed_tax=ibis.ifelse(is_admitted, facts.tax_total.fill_null(zero), zero),
        **{kind: label(kind, facts.decl_time) for kind in PERIOD_DIMENSIONS},
    )
    return facts.select(*FACT_COLUMNS)


def _with_inspections(store: Store, facts: ir.Table) -> ir.Table:
    """Adds `selected_for_inspection` (the risk selection held it for inspection, 500, whatever
    became of it) and `inspection_found` (the inspection's recorded result: found or not; null
    while none is recorded), from the store's `risk_decisions` and `risk_outcomes`."""
    selections = store.table("risk_decisions")
    selected = (
        selections.filter(selections.status == INSPECTION)
        .select(_s_agent="agent_code", _s_cop="cop_no")
        .distinct()
    )
    outcomes = store.table("risk_outcomes")
    outcomes = outcomes.filter(outcomes.held_status == INSPECTION)
    results = outcomes.group_by(_o_agent=outcomes.agent_code, _o_cop=outcomes.cop_no).aggregate(
        _found=outcomes.found.any()
    )
    joined = facts.left_join(
        selected, (facts.agent_code == selected._s_agent) & (facts.cop_no == selected._s_cop)
    )
    joined = joined.left_join(
        results, (joined.agent_code == results._o_agent) & (joined.cop_no == results._o_cop)
    )
    exported = joined.ie_flag.fill_null("I").strip().upper() == "E"
    return joined.mutate(
        selected_for_inspection=joined._s_cop.notnull() & ~exported,
        inspection_found=ibis.ifelse(exported, ibis.null("boolean"), joined._found),
    ).drop("_s_agent", "_s_cop", "_o_agent", "_o_cop", "_found")


def _with_payments(store: Store, facts: ir.Table) -> ir.Table:
    """Adds `tax_collected` and `late_fees`: what the withholding agent paid on the declaration's
    tax bills (`cbec tax pay`, the store's `tax_payments`); 0 while nothing is paid."""
    payments = store.table("tax_payments")
    paid = payments.group_by(_p_agent=payments.agent_code, _p_cop=payments.cop_no).aggregate(
        _tax=payments.tax_paid.sum(), _fee=payments.late_fee.sum()
    )
    joined = facts.left_join(
        paid, (facts.agent_code == paid._p_agent) & (facts.cop_no == paid._p_cop)
    )
    zero = ibis.literal(0).cast(MONEY)
    return joined.mutate(
        tax_collected=joined._tax.cast(MONEY).fill_null(zero),
        late_fees=joined._fee.cast(MONEY).fill_null(zero),
    ).drop("_p_agent", "_p_cop", "_tax", "_fee")


def _with_zone(facts: ir.Table, reference: Reference) -> ir.Table:
    """Adds `zone`, `zone_name` and `zone_province` (see the module docstring).

    The prefix match runs over the distinct area codes (a few hundred), not over every row.
    """
    registry = ibis.memtable(reference.zones)
    registry = registry.filter(registry.code.notnull())
    areas = facts.select("area_code").distinct()
    areas = areas.filter(areas.area_code.notnull())
    matches = areas.join(registry, areas.area_code.startswith(registry.code))
    longest = ibis.window(group_by="area_code", order_by=ibis.desc(matches.code.length()))
    matches = matches.mutate(_rank=ibis.row_number().over(longest))
    matches = matches.filter(matches._rank == 0).select(
        _area="area_code",
        _zone="code",
        zone_name=matches.name_en.coalesce(matches.name),
        zone_province="province",
    )
    joined = facts.left_join(matches, facts.area_code == matches._area)
    return joined.mutate(zone=joined._zone.coalesce(joined.area_code)).drop("_area", "_zone")


def _with_customs(facts: ir.Table, reference: Reference) -> ir.Table:
    """Adds `customs_name` and `customs_province`: the office's own row, else its district's."""
    table = ibis.memtable(reference.customs)
    office = table.select(
        _o_code="code", _o_name=table.name_en.coalesce(table.name), _o_province="province"
    )
    district = table.select(
        _d_code="code", _d_name=table.name_en.coalesce(table.name), _d_province="province"
    )
    joined = facts.left_join(office, facts.customs_code == office._o_code)
    joined = joined.left_join(
        district, joined.customs_code.left(2).concat("00") == district._d_code
    )
    return joined.mutate(
        customs_name=joined._o_name.coalesce(joined._d_name),
        customs_province=joined._o_province.coalesce(joined._d_province),
    ).drop("_o_code", "_o_name", "_o_province", "_d_code", "_d_name", "_d_province")


def chapters(store: Store, facts: ir.Table) -> ir.Table:
    """One row per declaration and tariff chapter it declares (first two digits of `gcode`).

    `value` and `assessed_tax` are the chapter's share: the sums of its released lines'
    `tax_price` (line total plus its pro-rata freight and insurance, rounded to the fen) and
    taxes, from the store's `tax_lines`; for an export list, its lines' value in CNY
    (`export_facts.lines`). A declaration with lines in two chapters is a row in each, so
    chapter rows add up to more declarations than there are.
    """
    tax_lines = store.table("tax_lines")
    taxed = tax_lines.group_by(
        agent_code=tax_lines.agent_code, cop_no=tax_lines.cop_no, chapter=tax_lines.gcode.left(2)
    ).aggregate(
        _value=tax_lines.tax_price.sum(),
        _tax=(tax_lines.customs_tax + tax_lines.value_added_tax + tax_lines.consumption_tax).sum(),
    )
    taxed = taxed.mutate(direction=ibis.literal("import"))
    keys = taxed.select(*KEY, "chapter", "direction")
    stored = store.documents(INVENTORY_LINE.stem)
    if stored is not None:
        key, newest_first = ONE_VERSION[INVENTORY_LINE.stem]
        lines = one_version(stored.select(*key, *newest_first), INVENTORY_LINE.stem)
        declared = lines.select(
            agent_code=lines.agent_code.fill_null(""),
            cop_no=lines.cop_no,
            chapter=lines.gcode.strip().left(2),
            direction=ibis.literal("import"),
        )
        keys = keys.union(declared).distinct()
    per_chapter = keys.left_join(taxed, [*KEY, "chapter", "direction"]).select(
        *KEY, "chapter", "direction", "_value", "_tax"
    )
    exported = export_facts.chapters(store)
    if exported is not None:
        per_chapter = per_chapter.union(
            exported.select(*KEY, "chapter", "direction", "_value", "_tax").cast(
                per_chapter.schema()
            ),
            distinct=False,
        )
    joined = facts.drop("value", "assessed_tax").join(per_chapter, [*KEY, "direction"])
    zero = ibis.literal(0).cast(MONEY)
    return joined.mutate(
        value=ibis.ifelse(joined.admitted, joined._value.fill_null(zero), zero),
        assessed_tax=ibis.ifelse(joined.admitted, joined._tax.fill_null(zero), zero),
    ).drop("_value", "_tax")
