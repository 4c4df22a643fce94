"""The same pipeline on Spark and on DuckDB gives the same decisions, to the cent.

The Spark runs go to a real standalone cluster: the one `.ci/run` starts (`CBEC_SPARK_MASTER`,
spark://127.0.0.1:7077), or one this module starts from the pyspark package on loopback. Two
days sharing their buyers are cleared one after the other into each store, so the second day is
judged against the history the first one left (decided declarations, the allowance and stock
ledgers, invtNo serials) as the Spark engine ships it to the workers; the second day goes through
`cbec clear --engine spark`, as a user runs it.

The suite compares a day of 4,000 parcels cleared on Spark after a day of 1,000 cleared on
DuckDB (the store is copied after the first day, so both engines start from the same history):
on one machine Spark's cost is its fixed cost per stage, not the parcels. With CBEC_SPARK_FULL=1
both days are cleared on both engines, the first of 100,000 parcels (issue 9's comparison).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from builders import declaration as parcel
from builders import merge, write_jsonl
from cbec.cli import app
from cbec.engines.cluster import java_available, standalone_cluster
from cbec.pipeline import Policy, clear
from cbec.risk.scoring import hash_draw
from cbec.simulate import simulate_day
from cbec.store.embedded import Store
from cbec.store.risk import DEFAULT_SEED

pytestmark = pytest.mark.skipif(not java_available(), reason="Spark needs Java 17")

FULL = os.environ.get("CBEC_SPARK_FULL") == "1"
# Each day has injected defects (5 %) and buyers who reach their annual limit; the two days share
# their buyers (same seed), so the second also meets the limits the first one used up.
DAYS = (
    ((100_000, dt.date(2024, 6, 15)), (10_000, dt.date(2024, 6, 16)))
    if FULL
    else ((1_000, dt.date(2024, 6, 15)), (4_000, dt.date(2024, 6, 16)))
)
SEED = 9
STORE = "store.duckdb"


@pytest.fixture(scope="module")
def master() -> Iterator[str]:
    given = os.environ.get("CBEC_SPARK_MASTER")
    if given:
        yield given
        return
    with standalone_cluster(workers=1, cores=2, memory="3g") as url:
        yield url


@dataclass(frozen=True)
class Run:
    outs: list[Path]  # OUT of each day, in order
    db: Path


def _clear_first_day(root: Path, folder: Path, master: str | None) -> Path:
    from cbec.engines.spark import spark_engine

    out = root / "out0"
    store = Store(root / STORE)
    try:
        if master is None:
            clear([folder], store, out, Policy.load())
        else:
            with spark_engine(store, master) as engine:
                clear([folder], store, out, Policy.load(), engine=engine)
    finally:
        store.close()
    return out


def _clear_second_day(root: Path, folders: list[Path], master: str | None) -> Path:
    out = root / "out1"
    engine_args = ["--engine", "spark", "--master", master] if master else []
    paths = [str(folder) for folder in folders]
    command = ["clear", *paths, "--db", str(root / STORE), "--out", str(out), *engine_args]
    done = CliRunner().invoke(app, command)
    assert done.exit_code == 0, done.output
    return out


def _copy_store(source: Path, target: Path) -> None:
    """The store file and its documents folder (`STORE.documents`), as a closed store leaves."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob(f"{STORE}*"):
        copy = target / path.name
        if path.is_dir():
            shutil.copytree(path, copy)
        else:
            shutil.copy2(path, copy)


# A case an officer checks by hand, cleared with the second day: three parcels of one buyer
# within 24 hours, the third at exactly 80 % of the single limit (4,000.00 of 5,000) and at
# 12.5 % of its tariff line's reference price (25.00 of 200.00): the rules for split orders (3
# parcels, 0.8 of the limit) and undervaluation (below 0.2) add 0.6 each, 1.2 >= 1.0: review (300).
# Spark once computed 0.8 as the decimal 0.800000, which Arrow turned into 0.7999999999999999.
AT_THE_LIMIT = "XL3"


def _at_the_limit_case(folder: Path) -> Path:
    day = DAYS[1][1].isoformat()
    fair = [{"gcode": "6111200050", "qty": 1, "price": "100.00"}]
    rows = merge(
        parcel("XL1", fair, when=f"{day}T08:00:00"),
        parcel("XL2", fair, when=f"{day}T09:00:00"),
        parcel(AT_THE_LIMIT, [{"gcode": "6111200050", "qty": 160, "price": "25.00"}],
               when=f"{day}T10:00:00"),
    )  # fmt: skip
    draws = hash_draw(pa.array(["XL1", "XL2", AT_THE_LIMIT]), DEFAULT_SEED)
    assert (draws >= 0.01).all(), "cop numbers the exploration draw leaves alone"
    write_jsonl(folder, rows)
    return folder


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[list[Path]]:
    root = tmp_path_factory.mktemp("spark_days")
    folders = []
    for parcels, day in DAYS:
        folder = root / day.isoformat()
        simulate_day(parcels=parcels, seed=SEED, day=day, out=folder)
        folders.append([folder])
    folders[1].append(_at_the_limit_case(root / "at_the_limit"))
    return folders


@pytest.fixture(scope="module")
def both(
    days: list[list[Path]], master: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, Run]:
    (first,), second = days
    duck_root, spark_root = tmp_path_factory.mktemp("duckdb"), tmp_path_factory.mktemp("spark")
    duck_first = _clear_first_day(duck_root, first, None)
    if FULL:
        spark_first = _clear_first_day(spark_root, first, master)
    else:  # the same history by construction: one Spark run keeps the suite within minutes
        _copy_store(duck_root, spark_root)
        spark_first = duck_first
    on_duckdb = Run([duck_first, _clear_second_day(duck_root, second, None)], duck_root / STORE)
    on_spark = Run([spark_first, _clear_second_day(spark_root, second, master)], spark_root / STORE)
    return on_duckdb, on_spark


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])


def test_every_decision_and_tax_line_is_the_same(both: tuple[Run, Run]) -> None:
    on_duckdb, on_spark = both
    compared = zip(on_duckdb.outs, on_spark.outs, strict=True)
    for duck_out, spark_out in compared if FULL else [*compared][1:]:
        duck = pq.read_table(duck_out / "decisions.parquet")
        spark = pq.read_table(spark_out / "decisions.parquet")
        assert spark.num_rows == duck.num_rows > 0
        # Status, reasons, every tax amount to the cent, invtNo, times: the whole row.
        assert spark.equals(duck)
        duck_lines = pq.read_table(duck_out / "tax_lines.parquet")
        assert pq.read_table(spark_out / "tax_lines.parquet").equals(duck_lines)
    spark_day = pq.read_table(on_spark.outs[-1] / "decisions.parquet")
    reasons = {r for row in spark_day.column("reasons").to_pylist() for r in row}
    # The comparison covers the judgements that need order and history, not only clean parcels.
    assert {"over_annual_limit", "over_single_limit", "payment_missing"} <= reasons


def test_a_parcel_at_exactly_eighty_percent_of_the_limit_is_reviewed_on_both(
    both: tuple[Run, Run],
) -> None:
    for run in both:
        decisions = pq.read_table(run.outs[-1] / "decisions.parquet").to_pylist()
        status = {d["cop_no"]: d["status"] for d in decisions if d["cop_no"].startswith("XL")}
        assert status == {"XL1": 800, "XL2": 800, AT_THE_LIMIT: 300}


def test_the_store_records_the_same_on_both_engines(both: tuple[Run, Run]) -> None:
    on_duckdb, on_spark = both
    queries = {
        "decisions": "SELECT * EXCLUDE (batch_id) FROM decisions ORDER BY agent_code, cop_no",
        "allowance_ledger": "SELECT * EXCLUDE (batch_id) FROM allowance_ledger "
        "ORDER BY buyer_id_number, year, cop_no, kind",
        "stock_ledger": "SELECT * EXCLUDE (batch_id) FROM stock_ledger ORDER BY ALL",
        "invt_serials": "SELECT * FROM invt_serials ORDER BY ALL",
    }
    tables = []
    for run in (on_duckdb, on_spark):
        store = Store(run.db)
        try:
            tables.append({n: store.con.con.sql(q).to_arrow_table() for n, q in queries.items()})
        finally:
            store.close()
    for name in queries:
        assert tables[1][name].equals(tables[0][name]), name
    assert tables[0]["allowance_ledger"].num_rows > 0


def test_xml_messages_on_spark_are_refused_with_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "xml"
    folder.mkdir()
    (folder / "CEB621_1.xml").write_bytes(b"<ceb:CEB621Message/>")
    result = CliRunner().invoke(
        app,
        ["clear", str(folder), "--db", str(tmp_path / "s.duckdb"), "--engine", "spark"],
    )
    assert result.exit_code == 1
    assert "--engine duckdb" in result.output
    assert not (tmp_path / "out" / "decisions.parquet").exists()


def test_an_unknown_engine_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["clear", str(tmp_path), "--engine", "flink"])
    assert result.exit_code == 1
    assert "choose duckdb or spark" in result.output
