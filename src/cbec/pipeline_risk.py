"""Risk selection in the clearance pipeline: the admitted declarations become released (800),
held for inspection (500) or held for manual review (300).

Composition only (like `pipeline.py`): it reads history from the store (declarations seen,
recorded outcomes, credit grades, the registered model and the seed) and calls the risk stages,
features in Ibis (`cbec.risk.declaration_features`) and scoring on Arrow batches
(`cbec.risk.scoring`). Applied after every ledger (DESIGN.md, "Sequential ledgers") to what they
admitted; it writes the temp table `new_risk_decisions` for the batch's commit.
"""

from __future__ import annotations

import datetime as dt
from functools import cache, partial

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from cbec.clearance import decide
from cbec.clearance.frames import with_policy
from cbec.documents.schemas import INVENTORY, INVENTORY_LINE
from cbec.engines import Engine
from cbec.engines.duckdb import DuckDBEngine
from cbec.engines.reuse import reused
from cbec.policy.reference_prices import load_reference_prices
from cbec.risk import declaration_features as features
from cbec.risk.rules import Rule, apply_rules, load_rules
from cbec.risk.scoring import (
    POLICY_COLUMNS,
    RISK_DECISION,
    ScoringModel,
    calibration_of,
    hash_draw,
    score_and_select,
)
from cbec.store.embedded import Store
from cbec.store.risk import latest_model, register_model, risk_seed

KEYS = ["agent_code", "cop_no"]
TABLE = "new_risk_decisions"
FEATURES = "risk_features"
SIGHTINGS = ("new_risk_contacts", "new_risk_enterprises")  # the batch's kept first sightings
BATCH_ROWS = 1 << 18  # rows per Arrow batch scored (a Spark partition would be another size)
OUTCOMES = ("buyer_id_number", "ebc_code", "agent_code", "logistics_code", "found", "recorded_at")


@cache
def shipped_rules() -> tuple[Rule, ...]:
    return load_rules()


@cache
def _reference_prices() -> pa.Table:
    return load_reference_prices()


def select(
    store: Store,
    engine: Engine,
    decided: ir.Table,
    inventories: ir.Table,
    lines: ir.Table,
    rules: tuple[Rule, ...] | None = None,
) -> ir.Table:
    """`decided` with the risk selection's status on its admitted declarations.

    `inventories`: this run's new declaration heads (every INVENTORY column); `lines`: their
    lines; `rules`: the risk rules (the shipped ones by default). The features are computed and
    scored on `engine` (Arrow batches, on Spark's executors too); the store gives the model and
    the seed. The risk decisions go to the kept table `new_risk_decisions` (RISK_DECISION).
    """
    table = feature_table(engine, _asked(decided), _heads(inventories), lines)
    rules = shipped_rules() if rules is None else rules
    model, seed = latest_model(store.con.con), risk_seed(store.con.con)
    scored = engine.map_batches(
        engine.materialize(FEATURES, table),
        partial(score_and_select, rules=rules, model=model, seed=seed),
        RISK_DECISION,
        BATCH_ROWS,
    )
    risk = engine.materialize(TABLE, scored)
    engine.release(FEATURES)
    return _with_risk_status(decided, risk)


@reused
def _with_risk_status(decided: ir.Table, risk: ir.Table) -> ir.Table:
    """`decided` with the status the risk selection gave (where it gave one)."""
    status = risk.select(*KEYS, _risk_status="status")
    joined = decided.left_join(status, KEYS).drop("agent_code_right", "cop_no_right")
    return joined.mutate(status=joined._risk_status.fill_null(joined.status).cast("int32")).drop(
        "_risk_status"
    )


@reused
def _asked(decided: ir.Table) -> ir.Table:
    """The released declarations, whose risk is asked, with what the features read."""
    admitted = decided.filter(decided.status == decide.RELEASED)
    return admitted.select(*KEYS, "dutiable_value", "single_limit", "decl_date", *POLICY_COLUMNS)


def feature_table(engine: Engine, asked: ir.Table, heads: ir.Table, lines: ir.Table) -> ir.Table:
    """Features, policy and credit of the `asked` declarations (keys, `dutiable_value`,
    `single_limit`, `decl_date`, POLICY_COLUMNS), whose heads are in `heads` (or the store).

    Of the stored declarations only those of the day before the first asked one and after are
    read (split orders look back 24 hours); the rest of history comes as first sightings
    (`sightings`), narrower and fewer than the declarations they stand for (docs/risk.md)."""
    return _features(
        asked,
        heads,
        lines,
        engine.documents(INVENTORY.stem),
        sightings(engine),
        engine.history("risk_outcomes"),
        engine.arrow(_reference_prices()),
        engine.history("enterprise_credit"),
    )


@reused
def _features(
    asked: ir.Table,
    heads: ir.Table,
    lines: ir.Table,
    stored: ir.Table | None,
    known: features.History,
    outcomes: ir.Table,
    reference: ir.Table,
    grades: ir.Table,
) -> ir.Table:
    """`feature_table` of the tables it reads: the `stored` declaration lists (None: none), the
    first sightings `known`, the recorded `outcomes`, the `reference` prices, the credit
    `grades`."""
    recent = heads
    if stored is not None:
        since = asked.decl_date.min().cast("timestamp") - ibis.interval(days=1)
        recent = heads.union(_heads(stored.filter(stored.decl_time >= since)), distinct=False)
    asked = asked.join(recent.distinct(on=KEYS), KEYS)
    seen = known.union(features.history_rows(heads))
    table = features.risk_features(
        asked, lines, recent, seen, outcomes.select(*OUTCOMES), reference
    )
    table = table.join(asked.select(*KEYS, "decl_date", *POLICY_COLUMNS), KEYS)
    credit = _credit(grades, asked)
    return table.left_join(credit, KEYS).drop("agent_code_right", "cop_no_right")


def sightings(engine: Engine) -> features.History:
    """The first sightings of every declaration the store holds: those its batches kept
    (`risk_contacts`, `risk_enterprises`), and those of the declarations stored before it kept
    them (a store older than schema version 4), taken from their documents."""
    kept = features.History(
        engine.history("risk_contacts").select(*features.CONTACT_COLUMNS),
        engine.history("risk_enterprises").select(*features.ENTERPRISE_COLUMNS),
    )
    older = engine.documents(INVENTORY.stem, unsighted=True)
    return kept if older is None else kept.union(features.history_rows(_heads(older)))


def keep_sightings(engine: Engine, inventories: ir.Table) -> tuple[str, str]:
    """The run's first sightings the store does not hold yet (a pair seen earlier than the
    store's sighting of it counts as new: readers take the earliest), kept as the tables
    `new_risk_contacts` and `new_risk_enterprises` for the batch's commit; their names."""
    stored = features.History(engine.history("risk_contacts"), engine.history("risk_enterprises"))
    new = _new_sightings(inventories, stored)
    engine.materialize(SIGHTINGS[0], new.contacts)
    engine.materialize(SIGHTINGS[1], new.enterprises)
    return SIGHTINGS


@reused
def _new_sightings(inventories: ir.Table, stored: features.History) -> features.History:
    """The first sightings in `inventories` that `stored` does not hold at that time or earlier."""
    run = features.history_rows(_heads(inventories))
    contacts = run.contacts.anti_join(
        stored.contacts,
        [
            run.contacts.kind == stored.contacts.kind,
            run.contacts.contact == stored.contacts.contact,
            run.contacts.buyer_id_number == stored.contacts.buyer_id_number,
            stored.contacts.first_time <= run.contacts.first_time,
        ],
    )
    enterprises = run.enterprises.anti_join(
        stored.enterprises,
        [
            run.enterprises.ebc_code == stored.enterprises.ebc_code,
            stored.enterprises.first_time <= run.enterprises.first_time,
        ],
    )
    return features.History(
        contacts.select(*features.CONTACT_COLUMNS),
        enterprises.select(*features.ENTERPRISE_COLUMNS),
    )


@reused
def _heads(inventories: ir.Table) -> ir.Table:
    """One row per declaration with the head columns the features read."""
    columns = [c for c in features.HEAD_COLUMNS if c not in KEYS]
    table = inventories.mutate(agent_code=inventories.agent_code.fill_null(""))
    return table.group_by(KEYS).aggregate(**{c: table[c].arbitrary() for c in columns})


@reused
def _credit(grades: ir.Table, asked: ir.Table) -> ir.Table:
    """Per declaration: `dishonest` when any of its parties is, else the e-commerce enterprise's
    grade (null when it has none); GACC Order No. 251 grades the enterprise that declares."""
    parties = ("ebc_code", "ebp_code", "logistics_code", "agent_code")
    g = grades.select(_code="code", _grade="grade")
    rows = []
    for party in parties:
        named = asked.select(*KEYS, _party=asked[party])
        joined = named.join(g, named._party == g._code)
        rows.append(joined.select(*KEYS, "_grade", _own=ibis.literal(party == "ebc_code")))
    union = rows[0]
    for part in rows[1:]:
        union = union.union(part, distinct=False)
    per = union.group_by(KEYS).aggregate(
        _dishonest=(union._grade == "dishonest").any(),
        _own=union._grade.max(where=union._own),
    )
    return per.select(*KEYS, credit=ibis.ifelse(per._dishonest, "dishonest", per._own))


MIN_OUTCOMES = 20  # fewer outcomes, or only one kind, teach nothing: `train` refuses
CALIBRATION_DAYS = 30  # the traffic a new model's thresholds are calibrated on
CALIBRATION_ROWS = 200_000


class TrainingError(ValueError):
    """The store does not hold what training needs; the message says what."""


def train(store: Store, periods: pa.Table, trained_at: dt.datetime, seed: int = 0) -> ScoringModel:
    """A new model version from every recorded outcome, calibrated on the recent admitted
    traffic, registered in the store (the next clearing uses it)."""
    import lightgbm as lgb  # loaded only to train

    from cbec.risk.model import DEFAULT_PARAMS

    store.refresh()  # every outcome and model version other processes recorded
    con = store.con
    recorded = con.table("risk_outcomes")
    labels = recorded.group_by(KEYS).aggregate(label=recorded.found.max().cast("int64"))
    counts = labels.aggregate(n=labels.count(), k=labels.label.sum()).to_pyarrow().to_pylist()[0]
    n, k = counts["n"] or 0, counts["k"] or 0
    if n < MIN_OUTCOMES or k == 0 or k == n:
        raise TrainingError(
            f"training needs at least {MIN_OUTCOMES} recorded outcomes, with and without a "
            f"finding; the store holds {n} ({k} with a finding). Record outcomes with "
            "`cbec inspect record` and `cbec review decide`."
        )
    decisions = con.table("decisions")
    training = _stored_features(store, decisions.semi_join(labels, KEYS), periods)
    # In key order: LightGBM's bagging depends on row order, which a join does not fix, so that
    # the same outcomes train the same trees on every store and engine.
    by_key = [(k, "ascending") for k in KEYS]
    training = training.join(labels.to_pyarrow(), KEYS).sort_by(by_key)
    latest = decisions.decl_time.max().to_pyarrow().as_py()
    recent = decisions.filter(
        decisions.status.isin(decide.ADMITTED) | (decisions.reasons == ["inspection_finding"]),
        decisions.decl_time > latest - dt.timedelta(days=CALIBRATION_DAYS),
    )
    traffic = _stored_features(store, recent, periods).sort_by(by_key)
    if traffic.num_rows > CALIBRATION_ROWS:  # a fixed sample: the hash of cop_no, not an RNG
        keep = np.argsort(hash_draw(traffic["cop_no"], seed), kind="stable")[:CALIBRATION_ROWS]
        traffic = traffic.take(np.sort(keep))
    numerics = [*features.MODEL_NUMERICS, "rule_score"]
    categoricals = list(features.CATEGORICAL_FEATURES)
    categories = {
        name: sorted({str(v) for v in training[name].to_pylist() if v is not None})
        for name in categoricals
    }
    model = ScoringModel(
        version=_next_version(store),
        booster_text="",
        numerics=numerics,
        categoricals=categoricals,
        categories=categories,
        calibration=[],
    )
    x = model.matrix(training)
    y = np.asarray(training["label"].to_numpy(), dtype=np.float64)
    params = {
        **DEFAULT_PARAMS,
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    dataset = lgb.Dataset(
        x,
        y,
        feature_name=numerics + categoricals,
        categorical_feature=categoricals,
        free_raw_data=False,
    )
    booster = lgb.train(params, dataset, num_boost_round=ROUNDS)
    model.booster_text = booster.model_to_string()
    model.calibration = calibration_of(np.asarray(booster.predict(model.matrix(traffic))))
    model.metrics = {"outcomes": int(n), "findings": int(k), "calibration_rows": traffic.num_rows}
    register_model(store, model, trained_at, int(n))
    return model


ROUNDS = 200  # few, shallow trees: outcomes are hundreds to thousands, not millions


def _stored_features(store: Store, decisions: ir.Table, periods: pa.Table) -> pa.Table:
    """Features (and rule score) of stored declarations, as the pipeline computed them."""
    d = decisions.mutate(decl_date=decisions.decl_time.date())
    d = with_policy(d, ibis.memtable(periods))
    asked = d.select(*KEYS, "dutiable_value", "single_limit", "decl_date", *POLICY_COLUMNS)
    stored_lines = store.documents(INVENTORY_LINE.stem)
    stored_heads = store.documents(INVENTORY.stem)
    if stored_lines is None or stored_heads is None:
        raise TrainingError("the store holds no declaration lists to learn from")
    lines = stored_lines.mutate(agent_code=stored_lines.agent_code.fill_null("")).select(
        *KEYS, "gcode", "price", "qty", "total_price"
    )
    table = feature_table(DuckDBEngine(store), asked, _heads(stored_heads), lines).to_pyarrow()
    ruled = apply_rules(table, table["decl_date"], shipped_rules())
    return table.append_column("rule_score", pa.array(ruled.score, pa.float64()))


def _next_version(store: Store) -> str:
    count = store.con.con.execute("SELECT count(*) FROM risk_models").fetchall()[0][0]
    return f"v{count + 1}"
