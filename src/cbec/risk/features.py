"""Risk features over tables: entity fraud history, price against the tariff line, value per kg.

The input is generic, so that cbec's own declarations and a public data set (KCDD, through
`cbec.risk.kcdd`) share one feature builder. A declaration table has:

- `declaration_id` (string), `decl_day` (date): the time order that history respects;
- `hs_code` (string), `declared_value`, `net_weight` (double), and `quantity` (double, null when
  unknown: the unit price is then the value per kilogram);
- the entity columns named in `FeatureSpec.entities` (importer, declarant, HS code, origin, route…),
  the categorical and numeric columns named in it;
- in the history table only, `label`: the known outcome (1 fraud found, 0 none; null unknown).

An entity's fraud history is computed only from outcomes dated strictly before the declaration's
day: a declaration never sees its own label, nor any label of its day or after.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

KEY = "declaration_id"
DAY = "decl_day"
LABEL = "label"
BASE_COLUMNS = (KEY, DAY, "hs_code", "declared_value", "net_weight", "quantity")


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns feed which feature.

    `entities` get a smoothed fraud rate and a count of prior outcomes; `categoricals` go to the
    model as codes; `numerics` go as they are. `smoothing` is the weight, in declarations, of the
    overall prior fraud rate in each entity's rate (an entity with few outcomes stays near it).
    """

    entities: tuple[str, ...]
    categoricals: tuple[str, ...] = ()
    numerics: tuple[str, ...] = ()
    smoothing: float = 20.0

    def feature_names(self) -> list[str]:
        """The model's input columns, in a fixed order."""
        # The overall prior rate and count only grow with time: as inputs they would teach the model
        # the calendar, not fraud (measured on KCDD, docs/risk.md). They serve the smoothing.
        names: list[str] = []
        for entity in self.entities:
            names += [f"{entity}__outcomes", f"{entity}__fraud_rate", f"{entity}__frauds"]
        names += ["log_value", "log_weight", "log_value_per_weight", "log_price_to_reference"]
        return names + list(self.numerics) + list(self.categoricals)


def prior_outcomes(declarations: ir.Table, history: ir.Table, key: str) -> ir.Table:
    """Per declaration (`declaration_id`), outcomes and frauds of `key`'s value before its day.

    Both tables are reduced to one row per (`key`, day), counted, summed cumulatively in day order
    within `key`, and each day's own counts taken off again, so that only strictly earlier days
    count. A declaration whose key is null gets zero.
    """
    known = history.filter(history[LABEL].notnull())
    counted = known.select(
        _key=known[key], _day=known[DAY], _n=ibis.literal(1, "int64"), _k=known[LABEL].cast("int64")
    )
    asked = declarations.select(
        _key=declarations[key],
        _day=declarations[DAY],
        _n=ibis.literal(0, "int64"),
        _k=ibis.literal(0, "int64"),
    )
    daily = (
        counted.union(asked, distinct=False)
        .group_by(["_key", "_day"])
        .aggregate(_n=lambda t: t._n.sum(), _k=lambda t: t._k.sum())
    )
    running = ibis.cumulative_window(group_by="_key", order_by="_day")
    daily = daily.mutate(
        _before_n=daily._n.sum().over(running) - daily._n,
        _before_k=daily._k.sum().over(running) - daily._k,
    )
    joined = declarations.left_join(
        daily, [declarations[key] == daily._key, declarations[DAY] == daily._day]
    )
    return joined.select(
        declarations[KEY],
        outcomes=joined._before_n.fill_null(0),
        frauds=joined._before_k.fill_null(0),
    )


def build_features(declarations: ir.Table, history: ir.Table, spec: FeatureSpec) -> ir.Table:
    """One row per declaration: `declaration_id` and the columns of `spec.feature_names()`.

    Rows come in no particular order; join on `declaration_id`. A value that has no logarithm
    (zero or negative, or a line with no reference) is null, which the model reads as missing.

    `history` holds the declarations whose outcomes may be known (it may include `declarations`
    themselves: only outcomes of earlier days are used). The tariff line's reference price is the
    median unit price declared on it in `history` (prices are declared, not outcomes).
    """
    base = declarations.mutate(_all=ibis.literal("all"))
    past = history.mutate(_all=ibis.literal("all"))
    overall = prior_outcomes(base, past, "_all")
    table = base.join(overall, KEY).rename(prior_outcomes="outcomes", _overall_frauds="frauds")
    # Before any outcome is known, the prior rate is 0: the entity rates then carry no signal.
    prior_rate = (table._overall_frauds / table.prior_outcomes.nullif(0)).fill_null(0.0)
    table = table.mutate(prior_fraud_rate=prior_rate).drop("_overall_frauds")
    for entity in spec.entities:
        counts = prior_outcomes(base, past, entity)
        counts = counts.rename(**{f"{entity}__outcomes": "outcomes", f"{entity}__frauds": "frauds"})
        table = table.join(counts, KEY)
        outcomes = table[f"{entity}__outcomes"]
        frauds = table[f"{entity}__frauds"]
        rate = (frauds + spec.smoothing * table.prior_fraud_rate) / (outcomes + spec.smoothing)
        table = table.mutate(**{f"{entity}__fraud_rate": rate})

    reference = _unit_price(past)
    lines = (
        past.mutate(_unit=reference)
        .group_by("hs_code")
        .aggregate(_reference=lambda t: t._unit.median())
    )
    table = table.left_join(lines, "hs_code")
    unit = _unit_price(table)
    ratio = unit / table._reference.nullif(0)
    table = table.mutate(
        log_value=_log(table.declared_value),
        log_weight=_log(table.net_weight),
        log_value_per_weight=_log(table.declared_value / table.net_weight.nullif(0)),
        log_price_to_reference=_log(ratio),
    )
    return table.select(KEY, *spec.feature_names())


def _unit_price(table: ir.Table) -> ir.FloatingValue:
    per_unit = table.declared_value / table.quantity.nullif(0)
    per_kilogram = table.declared_value / table.net_weight.nullif(0)
    return per_unit.fill_null(per_kilogram)


def _log(value: ir.FloatingValue) -> ir.FloatingValue:
    return ibis.ifelse(value > 0, value.log(), None)
