"""Risk targeting on simulated traffic with fraud: precision and revenue recovered at the
configured inspection rate, cbec's selection against rules alone and random, by fraud type.

    .venv/bin/python bench/risk_simulated.py [--parcels 20000] [--days 3] [--fraud-rate 0.04]
        [--seed 1]

Days 1..N are history: each is simulated (`simulate_day`), given fraud (`inject_fraud`), cleared
into one store, and every parcel held (500, 300) gets its outcome from the ground truth (what an
inspector would find), recorded with `cbec.outcomes`; a model is trained after each day once there
are enough outcomes (`cbec risk train`), so day N+1 is cleared by the model as in production.
Day N+1 is evaluated. At the budget of the configured rate (inspection_rate x admitted parcels),
three rankings of the admitted parcels choose: `cbec` (the risk score of the version in use),
`rules` (the rule score, ties broken by the exploration hash) and `random` (the hash alone).
Revenue at stake per fraud: for undervaluation, misdeclared tariff and mismatched goods, the tax
of the honest twin of the parcel (the same day cleared without fraud) less the tax declared; for
split orders and borrowed identities, the goods belong in general trade: 3/7 of the tax declared
(the 30 % rebate of CBEC, duty ignored). Prints one JSON object, also written to
bench/results/risk_simulated.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq

from cbec.outcomes import Outcome, apply_outcomes
from cbec.pipeline import Policy, clear
from cbec.pipeline_risk import TrainingError, train
from cbec.risk.scoring import hash_draw
from cbec.simulate import simulate_day
from cbec.simulate.fraud import FRAUD_TYPES, inject_fraud
from cbec.store.embedded import Store

RESULTS = Path(__file__).resolve().parent / "results"
FIRST_DAY = dt.date(2024, 6, 10)
RATE = 0.02  # the shipped inspection_rate (src/cbec/policy/params/risk/inspection_rate.yaml)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--fraud-rate", type=float, default=0.04)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    policy = Policy.load()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Store(root / "cbec.duckdb")
        versions = []
        try:
            for index in range(args.days + 1):
                day = FIRST_DAY + dt.timedelta(days=index)
                honest, folder = root / f"honest{index}", root / f"fraud{index}"
                simulate_day(parcels=args.parcels, seed=args.seed + index, day=day, out=honest)
                inject_fraud(honest, folder, args.fraud_rate, args.seed + index)
                clear([folder], store, root / f"out{index}", policy)
                if index == args.days:
                    break
                _record_truth(store, folder, root / f"receipts{index}")
                try:
                    model = train(store, policy.periods, dt.datetime.now(), seed=args.seed)
                    versions.append({"after_day": index + 1, **model.metrics})
                except TrainingError:
                    pass
            report = _evaluate(store, root, args.days, policy)
        finally:
            store.close()
    report = {
        "command": "bench/risk_simulated.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "seconds": round(time.perf_counter() - started, 1),
        "models": versions,
        **report,
    }
    text = json.dumps(report, indent=1, default=str)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "risk_simulated.json").write_text(text + "\n", encoding="utf-8")
    print(text)


def _record_truth(store: Store, folder: Path, out: Path) -> None:
    """Every held parcel's outcome, as the ground truth says an inspector finds it."""
    fraud = {
        (r["agent_code"], r["cop_no"]): r["fraud_type"]
        for r in pq.read_table(folder / "fraud.parquet").to_pylist()
    }
    held = store.con.con.execute(
        "SELECT agent_code, cop_no, status FROM decisions WHERE status IN (500, 300)"
    ).fetchall()
    for status in (500, 300):
        outcomes = [
            Outcome(
                agent_code=a,
                cop_no=c,
                found=(a, c) in fraud,
                finding=fraud.get((a, c)),
                action="reject" if (a, c) in fraud else "release",
                additional={
                    "customs_tax": Decimal(0),
                    "value_added_tax": Decimal(0),
                    "consumption_tax": Decimal(0),
                },
                revenue_recovered=Decimal(0),
                note=None,
                recorded_at=None,
            )
            for a, c, s in held
            if s == status
        ]
        if outcomes:
            apply_outcomes(store, outcomes, status, out / str(status), source="truth")


def _evaluate(store: Store, root: Path, index: int, policy: Policy) -> dict[str, Any]:
    con = duckdb.connect()
    honest_store = Store(root / "honest.duckdb")
    try:
        clear([root / f"honest{index}"], honest_store, root / "honest_out", policy)
    finally:
        honest_store.close()
    con.register("risk", store.con.con.sql(
        "SELECT * FROM risk_decisions WHERE cop_no IN (SELECT cop_no FROM read_parquet(?))",
        params=[str(root / f"out{index}" / "decisions.parquet")],
    ).to_arrow_table())  # fmt: skip
    con.register("fraud", pq.read_table(root / f"fraud{index}" / "fraud.parquet"))
    con.register("decided", pq.read_table(root / f"out{index}" / "decisions.parquet"))
    con.register("honest", pq.read_table(root / "honest_out" / "decisions.parquet"))
    table = con.sql(
        "SELECT r.agent_code, r.cop_no, r.status, r.risk_score, r.rule_score, r.draw, "
        "r.model_version, f.fraud_type, CASE WHEN f.fraud_type IN ('split_order', "
        "'identity_borrowing') THEN d.tax_total * 3 / 7 WHEN f.fraud_type IS NOT NULL THEN "
        "greatest(h.tax_total - d.tax_total, 0) ELSE 0 END AS at_stake "
        "FROM risk r JOIN decided d USING (agent_code, cop_no) "
        "LEFT JOIN fraud f USING (agent_code, cop_no) "
        "LEFT JOIN honest h USING (agent_code, cop_no)"
    ).to_arrow_table()
    admitted = table.num_rows
    budget = int(np.ceil(RATE * admitted))
    draw = np.asarray(table["draw"])
    rankings = {
        "cbec": np.lexsort((draw, -np.asarray(table["risk_score"]))),
        "rules": np.lexsort((draw, -np.asarray(table["rule_score"]))),
        "random": np.argsort(hash_draw(table["cop_no"], 12345), kind="stable"),
    }
    fraud_type = np.asarray(table["fraud_type"].to_pylist(), dtype=object)
    at_stake = np.asarray(table["at_stake"].to_numpy(zero_copy_only=False), dtype=np.float64)
    selected = np.asarray(table["status"]) == 500
    return {
        "evaluated_day": str(FIRST_DAY + dt.timedelta(days=index)),
        "model_version": sorted(set(table["model_version"].to_pylist())),
        "admitted": admitted,
        "frauds_admitted": int((fraud_type != None).sum()),  # noqa: E711 (numpy elementwise)
        "revenue_at_stake": round(float(at_stake.sum()), 2),
        "inspection_rate": RATE,
        "budget": budget,
        "at_budget": {
            name: _measure(order[:budget], fraud_type, at_stake) for name, order in rankings.items()
        },
        "status_500": _measure(np.nonzero(selected)[0], fraud_type, at_stake),
        "status_300": int((np.asarray(table["status"]) == 300).sum()),
    }


def _measure(chosen: Any, fraud_type: Any, at_stake: Any) -> dict[str, Any]:
    picked = fraud_type[chosen]
    hits = picked != None  # noqa: E711 (numpy elementwise)
    by_type = {}
    for kind in FRAUD_TYPES:
        total = int((fraud_type == kind).sum())
        found = int((picked == kind).sum())
        revenue = float(at_stake[chosen][picked == kind].sum())
        by_type[kind] = {"found": found, "of": total, "revenue_recovered": round(revenue, 2)}
    return {
        "inspected": len(chosen),
        "precision": round(float(hits.mean()) if len(chosen) else 0.0, 4),
        "revenue_recovered": round(float(at_stake[chosen].sum()), 2),
        "by_type": by_type,
    }


if __name__ == "__main__":
    main()
