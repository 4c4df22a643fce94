"""The per-person yearly quantity ledger (positive-list remark: rice 20 kg per person per year,
the shipped list's row 10063020): returned lines give the quantity back, run after run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from builders import declaration, write_messages, write_return
from cbec.pipeline import Policy, clear
from cbec.policy.errors import PolicyDataError
from cbec.store.embedded import Store


def _rice(cop_no: str, kg: int, when: str) -> dict[str, list[dict[str, object]]]:
    line = {"gcode": "1006302000", "qty": kg, "qty1": kg, "unit1": "035", "price": "10.00"}
    return declaration(cop_no, [line], when=when)


def _clear(db: Path, folder: Path, out: Path) -> dict[str, dict[str, object]]:
    store = Store(db)
    try:
        clear([folder], store, out, Policy.load())
    finally:
        store.close()
    return {r["cop_no"]: r for r in pq.read_table(out / "decisions.parquet").to_pylist()}


def test_a_return_gives_the_quantity_back(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    write_messages(tmp_path / "d1", _rice("K1", 15, "2024-06-15T09:00:00"))
    first = _clear(db, tmp_path / "d1", tmp_path / "o1")
    assert first["K1"]["status"] == 800
    write_messages(tmp_path / "d2", _rice("K2", 10, "2024-06-16T09:00:00"))
    second = _clear(db, tmp_path / "d2", tmp_path / "o2")
    assert second["K2"]["reasons"] == ["over_quantity_limit"]
    # K1 returned (15 kg back): 10 kg fit again, 0 + 10 <= 20.
    invt_no = str(first["K1"]["invt_no"])
    write_return(tmp_path / "d3", "K1", invt_no, dt.datetime(2024, 6, 17, 9))
    _clear(db, tmp_path / "d3", tmp_path / "o3")  # returns are judged after a run's decisions
    write_messages(tmp_path / "d4", _rice("K3", 10, "2024-06-18T09:00:00"))
    assert _clear(db, tmp_path / "d4", tmp_path / "o4")["K3"]["status"] == 800
    store = Store(db)
    try:
        used = store.con.con.execute(
            "SELECT kind, sum(qty) FROM quantity_ledger GROUP BY ALL ORDER BY kind"
        ).fetchall()
    finally:
        store.close()
    assert [(k, int(q)) for k, q in used] == [("admitted", 25), ("returned", -15)]


def test_a_remark_naming_no_quantity_is_refused_with_its_row(tmp_path: Path) -> None:
    listed = tmp_path / "list.csv"
    listed.write_text(
        "code,name,remark_kind,remark,valid_from\n"
        "10063020,rice,quantity_limit,a reasonable amount,2016-04-08\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyDataError, match=r"10063020.*names no quantity"):
        Policy.load(positive_list_file=listed)
