"""Simulated fraud: consistent across the documents (it passes the checks), with ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from cbec.pipeline import Policy, clear
from cbec.simulate import simulate_day
from cbec.simulate.fraud import FRAUD_TYPES, inject_fraud
from cbec.store.embedded import Store


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("fraud")
    simulate_day(parcels=1500, seed=9, day=dt.date(2024, 6, 15), out=root / "honest")
    inject_fraud(root / "honest", root / "fraud", rate=0.2, seed=3)
    store = Store(root / "cbec.duckdb")
    try:
        clear([root / "fraud"], store, root / "out", Policy.load())
    finally:
        store.close()
    return root / "honest", root / "fraud", root / "out"


def test_every_kind_of_fraud_is_injected_and_passes_the_checks(
    days: tuple[Path, Path, Path],
) -> None:
    _, fraud, out = days
    con = duckdb.connect()
    kinds = dict(
        con.execute(
            f"SELECT fraud_type, count(*) FROM '{fraud}/fraud.parquet' GROUP BY ALL"
        ).fetchall()
    )
    assert set(kinds) == set(FRAUD_TYPES)
    # Fraud is made to pass the checks: only the limits may still refuse a split order.
    refused = con.execute(
        f"SELECT f.fraud_type, d.reasons FROM '{out}/decisions.parquet' d "
        f"JOIN '{fraud}/fraud.parquet' f USING (agent_code, cop_no) WHERE d.status = 100"
    ).fetchall()
    assert all(reasons == ["over_annual_limit"] for _, reasons in refused), refused


def test_undervalued_parcels_declare_a_tenth_to_two_fifths_of_the_price(
    days: tuple[Path, Path, Path],
) -> None:
    honest, fraud, _ = days
    ratios = (
        duckdb.connect()
        .execute(
            f"SELECT f.price / h.price FROM '{fraud}/inventory_lines.parquet' f "
            f"JOIN '{honest}/inventory_lines.parquet' h USING (agent_code, cop_no, gnum) "
            f"JOIN '{fraud}/fraud.parquet' t USING (agent_code, cop_no) "
            f"WHERE t.fraud_type = 'undervaluation' AND h.price > 10"
        )
        .fetchall()
    )
    assert ratios and all(0.09 < float(r) < 0.41 for (r,) in ratios)


def test_borrowed_identities_share_one_telephone_and_split_orders_one_buyer(
    days: tuple[Path, Path, Path],
) -> None:
    _, fraud, _ = days
    con = duckdb.connect()
    phones = con.execute(
        f"SELECT i.buyer_telephone, count(DISTINCT i.buyer_id_number) FROM "
        f"'{fraud}/inventories.parquet' i JOIN '{fraud}/fraud.parquet' t "
        f"USING (agent_code, cop_no) WHERE t.fraud_type = 'identity_borrowing' GROUP BY ALL"
    ).fetchall()
    assert max(n for _, n in phones) >= 5
    buyers = con.execute(
        f"SELECT i.buyer_id_number, count(*), min(CAST(i.freight AS DOUBLE)) FROM "
        f"'{fraud}/inventories.parquet' i JOIN '{fraud}/fraud.parquet' t "
        f"USING (agent_code, cop_no) WHERE t.fraud_type = 'split_order' GROUP BY ALL"
    ).fetchall()
    assert max(n for _, n, _ in buyers) == 3
