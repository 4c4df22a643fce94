"""Risk features of cbec's own declarations, in columnar form (Ibis: DuckDB here, Spark later).

One row per declaration: the columns of `NUMERIC_FEATURES` and `CATEGORICAL_FEATURES`, which the
rules (`risk_rules.yaml`) name and the model reads. History comes in as tables: the recent
declarations (split orders look back 24 hours), the first sightings of each contact with each buyer
and of each enterprise (`history_rows`: kept by the store batch by batch, so that reading them does
not mean reading every declaration ever stored), the recorded inspection outcomes, the reference
prices. A count over history includes only what was declared (or, for outcomes, recorded on a day)
before the declaration, so that clearing a day in one batch or in time-ordered pieces gives the
same features.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from cbec.engines.reuse import reused
from cbec.risk.features import DAY, KEY, LABEL, prior_outcomes

KEYS = ("agent_code", "cop_no")
# The contacts behind which distinct buyers are counted (identity borrowing): feature -> column.
CONTACTS = {"phone_buyer_ids": "buyer_telephone", "address_buyer_ids": "consignee_address"}
# Entities whose inspection record is a feature: outcomes and frauds found before the day, and
# the fraud rate smoothed towards the overall rate (SMOOTHING outcomes' weight).
ENTITIES = {"buyer": "buyer_id_number", "ebc": "ebc_code", "agent": "agent_code",
            "logistics": "logistics_code"}  # fmt: skip
SMOOTHING = 20.0
SPLIT_WINDOW_SECONDS = 24 * 3600

NUMERIC_FEATURES = (
    "log_value",
    "value_to_single_limit",
    "price_to_reference",
    "lines",
    "log_value_per_kg",
    "buyer_parcels_24h",
    "phone_buyer_ids",
    "address_buyer_ids",
    "enterprise_age_days",
    *(f"{name}_{kind}" for name in ENTITIES for kind in ("outcomes", "frauds", "fraud_rate")),
)
CATEGORICAL_FEATURES = ("country", "hs2", "trade_mode", "customs_code")
# The model's numbers leave out what only grows with the store's age (an enterprise's age, the
# count of outcomes): as inputs they teach the calendar, and the threshold calibrated on last
# month's traffic would drift (docs/risk.md; the same was measured on KCDD). Rules may use them.
MODEL_NUMERICS = tuple(
    n for n in NUMERIC_FEATURES if n != "enterprise_age_days" and not n.endswith("_outcomes")
)
# Head columns the features read (of the declarations asked and of the known history).
HEAD_COLUMNS = (
    *KEYS, "decl_time", "buyer_id_number", "buyer_telephone", "consignee_address", "ebc_code",
    "ebp_code", "logistics_code", "country", "net_weight", "trade_mode", "customs_code",
)  # fmt: skip


@reused
def risk_features(
    declarations: ir.Table,
    lines: ir.Table,
    recent: ir.Table,
    sightings: History,
    outcomes: ir.Table,
    reference_prices: ir.Table,
) -> ir.Table:
    """Features of `declarations` (HEAD_COLUMNS, `dutiable_value`, `single_limit`).

    `lines`: their lines (`agent_code cop_no gcode price qty total_price`); `recent`: the
    declaration heads (HEAD_COLUMNS) of at least the 24 hours before each asked one, the asked
    ones included; `sightings`: `history_rows` of every declaration head seen so far, the asked
    ones included (rows may repeat: the earliest counts); `outcomes`: recorded outcomes
    (`buyer_id_number ebc_code agent_code logistics_code found recorded_at`);
    `reference_prices`: `code unit_price valid_from valid_to`.
    """
    d = declarations.mutate(decl_date=declarations.decl_time.date())
    table = d.select(
        *KEYS,
        "decl_time",
        "country",
        "trade_mode",
        "customs_code",
        log_value=_log(d.dutiable_value.cast("float64")),
        value_to_single_limit=(d.dutiable_value / d.single_limit.nullif(0)).cast("float64"),
        log_value_per_kg=_log((d.dutiable_value / d.net_weight.nullif(0)).cast("float64")),
    )
    table = _join(table, _line_features(d, lines, reference_prices))
    table = _join(table, _split_orders(d, recent))
    for name, column in CONTACTS.items():
        table = _join(table, _identities_behind(d, sightings.contacts, column, name))
    table = _join(table, _enterprise_age(d, sightings.enterprises))
    table = _join(table, _records(d, outcomes))
    counts = [c for c in table.columns if c.endswith(("_outcomes", "_frauds", "_ids", "_24h"))]
    table = table.mutate(**{c: table[c].fill_null(0) for c in counts})
    return table.select(*KEYS, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES)


# The columns of the first sightings, as the store keeps them (`risk_contacts`, `risk_enterprises`).
CONTACT_COLUMNS = ("kind", "contact", "buyer_id_number", "first_time")
ENTERPRISE_COLUMNS = ("ebc_code", "first_time")


@dataclass(frozen=True)
class History:
    """First sightings: `contacts` (`kind` (the head column: telephone or address), `contact`,
    `buyer_id_number`, `first_time`) and `enterprises` (`ebc_code`, `first_time`)."""

    contacts: ir.Table
    enterprises: ir.Table

    def union(self, other: History) -> History:
        return History(
            self.contacts.union(other.contacts, distinct=False),
            self.enterprises.union(other.enterprises, distinct=False),
        )


@reused
def history_rows(heads: ir.Table) -> History:
    """The first sightings in `heads` (HEAD_COLUMNS): each (contact, buyer) pair and each
    e-commerce enterprise once, at its earliest `decl_time`. Rows without a contact, a buyer or an
    enterprise are left out: they never count."""
    parts = []
    for column in CONTACTS.values():
        seen = heads.filter(
            heads[column].notnull() & (heads[column] != "") & heads.buyer_id_number.notnull()
        )
        first = seen.group_by(contact=seen[column], buyer_id_number=seen.buyer_id_number)
        first = first.aggregate(first_time=seen.decl_time.min())
        parts.append(first.select(ibis.literal(column).name("kind"), *CONTACT_COLUMNS[1:]))
    contacts = parts[0].union(parts[1], distinct=False)
    named = heads.filter(heads.ebc_code.notnull())
    enterprises = named.group_by("ebc_code").aggregate(first_time=named.decl_time.min())
    return History(contacts, enterprises)


def _join(table: ir.Table, extra: ir.Table) -> ir.Table:
    joined = table.left_join(extra, list(KEYS))
    return joined.drop(*[f"{k}_right" for k in KEYS if f"{k}_right" in joined.columns])


def _line_features(d: ir.Table, lines: ir.Table, reference: ir.Table) -> ir.Table:
    """The lowest unit price against its tariff line's reference, the count of lines, and the
    chapter (hs2) of the most valuable line."""
    asked = lines.semi_join(d, list(KEYS)).join(d.select(*KEYS, "decl_date"), list(KEYS))
    ref = reference.select(_code="code", _unit="unit_price", _from="valid_from", _to="valid_to")
    priced = asked.left_join(
        ref,
        [
            asked.gcode.substr(0, 8) == ref._code,
            ref._from <= asked.decl_date,
            ref._to.isnull() | (asked.decl_date < ref._to),
        ],
    )
    ratio = (priced.price / priced._unit.nullif(0)).cast("float64")
    priced = priced.mutate(_ratio=ratio, _hs2=priced.gcode.substr(0, 2))
    return priced.group_by(list(KEYS)).aggregate(
        price_to_reference=priced._ratio.min(),
        lines=priced.count(),
        hs2=priced._hs2.argmax(priced.total_price),
    )


def _split_orders(d: ir.Table, known: ir.Table) -> ir.Table:
    """Declarations of the same buyer in the 24 hours up to and including this one's time."""
    other = known.select(_buyer="buyer_id_number", _time="decl_time", _agent="agent_code",
                         _cop="cop_no")  # fmt: skip
    window = ibis.interval(seconds=SPLIT_WINDOW_SECONDS)
    pairs = d.join(
        other,
        [
            d.buyer_id_number == other._buyer,
            other._time <= d.decl_time,
            other._time > d.decl_time - window,
        ],
    )
    return pairs.group_by(list(KEYS)).aggregate(
        buyer_parcels_24h=(pairs._agent + "\x1f" + pairs._cop).nunique()
    )


def _identities_behind(d: ir.Table, contacts: ir.Table, column: str, name: str) -> ir.Table:
    """Distinct buyer identity numbers seen with this declaration's telephone (or address) in
    declarations up to its time: one (contact, buyer) pair counts from its first declaration."""
    # Only the contacts of the asked declarations: the sightings grow with history, the batch not.
    k = contacts.filter(contacts.kind == column)
    k = k.semi_join(d, k.contact == d[column])
    first = k.group_by(_contact=k.contact, _buyer=k.buyer_id_number).aggregate(
        _first=k.first_time.min()
    )
    pairs = d.join(first, [d[column] == first._contact, first._first <= d.decl_time])
    return pairs.group_by(list(KEYS)).aggregate(**{name: pairs._buyer.nunique()})


def _enterprise_age(d: ir.Table, enterprises: ir.Table) -> ir.Table:
    """Days since the e-commerce enterprise's first declaration cbec saw."""
    seen = enterprises.semi_join(d, "ebc_code")
    first = seen.group_by(_ebc="ebc_code").aggregate(_first=seen.first_time.min())
    joined = d.join(first, d.ebc_code == first._ebc)
    age = (joined.decl_time.epoch_seconds() - joined._first.epoch_seconds()) / 86400.0
    return joined.select(*KEYS, enterprise_age_days=age.cast("float64"))


def _records(d: ir.Table, outcomes: ir.Table) -> ir.Table:
    """Per entity of the declaration: outcomes and frauds recorded on days before its day."""
    asked = d.mutate(
        **{KEY: d.agent_code + "\x1f" + d.cop_no, DAY: d.decl_date, "_all": ibis.literal("all")}
    )
    history = outcomes.mutate(
        **{
            DAY: outcomes.recorded_at.date(),
            LABEL: outcomes.found.cast("int64"),
            "_all": ibis.literal("all"),
        }
    )
    overall = prior_outcomes(asked, history, "_all")
    prior_rate = (overall.frauds / overall.outcomes.nullif(0)).fill_null(0.0)
    table = overall.select(KEY, _prior=prior_rate)
    for name, column in ENTITIES.items():
        counts = prior_outcomes(asked, history, column)
        counts = counts.select(
            KEY, **{f"{name}_outcomes": counts.outcomes, f"{name}_frauds": counts.frauds}
        )
        table = table.join(counts, KEY)
    rates = {
        f"{name}_fraud_rate": (
            (table[f"{name}_frauds"] + SMOOTHING * table._prior)
            / (table[f"{name}_outcomes"] + SMOOTHING)
        ).cast("float64")
        for name in ENTITIES
    }
    table = table.mutate(**rates)
    keyed = asked.select(*KEYS, KEY)
    return keyed.join(table, KEY).select(
        *KEYS,
        *(f"{name}_{kind}" for name in ENTITIES for kind in ("outcomes", "frauds", "fraud_rate")),
    )


def _log(value: ir.FloatingValue) -> ir.FloatingValue:
    return ibis.ifelse(value > 0, value.log(), None)
