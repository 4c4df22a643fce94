"""Risk selection in the clearance pipeline: the admitted declarations become released (800),
held for inspection (500) or held for manual review (300).

Composition only (like `pipeline.py`): it reads history from the store (declarations seen,
recorded outcomes, credit grades, the registered model and the seed) and calls the risk stages,
features in Ibis (`cbec.risk.declaration_features`) and scoring on Arrow batches
(`cbec.risk.scoring`). Applied after every ledger (DESIGN.md, "Sequential ledgers") to what they
admitted; it writes the temp table `new_risk_decisions` for the batch's commit.
"""

from __future__ import annotations

from functools import cache

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cbec.clearance import decide
from cbec.documents.schemas import INVENTORY
from cbec.policy.reference_prices import load_reference_prices
from cbec.risk import declaration_features as features
from cbec.risk.rules import Rule, load_rules
from cbec.risk.scoring import POLICY_COLUMNS, RISK_DECISION, score_and_select
from cbec.store.embedded import Store
from cbec.store.risk import latest_model, risk_seed

KEYS = ["agent_code", "cop_no"]
TABLE = "new_risk_decisions"
FEATURES = "risk_features"
BATCH_ROWS = 1 << 18  # rows per Arrow batch scored (a Spark partition would be another size)
OUTCOMES = ("buyer_id_number", "ebc_code", "agent_code", "logistics_code", "found", "recorded_at")


@cache
def shipped_rules() -> tuple[Rule, ...]:
    return load_rules()


@cache
def _reference_prices() -> pa.Table:
    return load_reference_prices()


def select(store: Store, decided: ir.Table, inventories: ir.Table, lines: ir.Table) -> ir.Table:
    """`decided` with the risk selection's status on its admitted declarations.

    `inventories`: this run's new declaration heads (every INVENTORY column); `lines`: their
    lines. The risk decisions go to the temp table `new_risk_decisions` (RISK_DECISION).
    """
    con = store.con
    admitted = decided.filter(decided.status == decide.RELEASED)
    heads = _heads(inventories)
    stored = store.documents(INVENTORY.stem)
    known = heads if stored is None else heads.union(_heads(stored), distinct=False)
    asked = admitted.select(*KEYS, "dutiable_value", "single_limit", "decl_date", *POLICY_COLUMNS)
    asked = asked.join(heads, KEYS)
    outcomes = con.table("risk_outcomes").select(*OUTCOMES)
    reference = ibis.memtable(_reference_prices())
    table = features.risk_features(asked, lines, known, outcomes, reference)
    table = table.join(asked.select(*KEYS, "decl_date", *POLICY_COLUMNS), KEYS)
    table = table.left_join(_credit(store, asked), KEYS).drop("agent_code_right", "cop_no_right")
    rules, model, seed = shipped_rules(), latest_model(con.con), risk_seed(con.con)
    con.con.execute(f'DROP TABLE IF EXISTS temp.main."{FEATURES}"')
    con.create_table(FEATURES, table, temp=True)
    reader = con.con.sql(f'SELECT * FROM temp.main."{FEATURES}"').to_arrow_reader(BATCH_ROWS)
    parts = [score_and_select(batch, rules, model, seed) for batch in reader]
    con.con.execute(f'DROP TABLE temp.main."{FEATURES}"')
    chosen = pa.concat_tables(parts) if parts else RISK_DECISION.empty_table()
    con.con.execute(f'DROP TABLE IF EXISTS temp.main."{TABLE}"')
    risk = con.create_table(TABLE, ibis.memtable(chosen), temp=True)
    status = risk.select(*KEYS, _risk_status="status")
    joined = decided.left_join(status, KEYS).drop("agent_code_right", "cop_no_right")
    return joined.mutate(status=joined._risk_status.fill_null(joined.status).cast("int32")).drop(
        "_risk_status"
    )


def _heads(inventories: ir.Table) -> ir.Table:
    """One row per declaration with the head columns the features read."""
    columns = [c for c in features.HEAD_COLUMNS if c not in KEYS]
    table = inventories.mutate(agent_code=inventories.agent_code.fill_null(""))
    return table.group_by(KEYS).aggregate(**{c: table[c].arbitrary() for c in columns})


def _credit(store: Store, asked: ir.Table) -> ir.Table:
    """Per declaration: `dishonest` when any of its parties is, else the e-commerce enterprise's
    grade (null when it has none); GACC Order No. 251 grades the enterprise that declares."""
    grades = store.table("enterprise_credit")
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
