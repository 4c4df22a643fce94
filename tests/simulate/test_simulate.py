"""The simulator: determinism, schemas, truth, realism, exact money, and each defect's construction.

One day of 50,000 parcels is generated once for the module; the checks read it back with DuckDB.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

import cbec.simulate
from cbec.documents.schemas import IMPORT_DOCUMENTS, TRUTH
from cbec.policy.lists import load_positive_list
from cbec.policy.parameters import load_parameters
from cbec.simulate import DEFECTS, INJECTED, DefectRates, SimulationSummary, simulate_day
from cbec.simulate.columns import money, quantity
from cbec.simulate.identity import IdentitySpace

DAY = dt.date(2024, 6, 15)
PARCELS = 50_000
RATE = 0.05
STEMS = [d.stem for d in IMPORT_DOCUMENTS] + [TRUTH.stem]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("day")
    calls: list[int] = []
    summary = simulate_day(PARCELS, 11, DAY, out, defect_rate=RATE, progress=calls.append)
    assert sum(calls) == PARCELS
    return out, summary


@pytest.fixture(scope="module")
def db(day: tuple[Path, SimulationSummary]) -> Iterator[duckdb.DuckDBPyConnection]:
    out, _ = day
    con = duckdb.connect()
    for stem in STEMS:
        con.execute(f"CREATE VIEW {stem} AS SELECT * FROM read_parquet('{out / stem}.parquet')")
    con.execute(
        """CREATE TABLE t AS SELECT agent_code, cop_no,
               coalesce(defects[1], 'clean') AS defect, len(defects) AS n FROM truth"""
    )
    con.execute(
        """CREATE TABLE d AS SELECT i.*, t.defect,
               (SELECT sum(total_price) FROM inventory_lines l
                WHERE l.agent_code = i.agent_code AND l.cop_no = i.cop_no) AS goods,
               (SELECT count(*) FROM inventory_lines l
                WHERE l.agent_code = i.agent_code AND l.cop_no = i.cop_no) AS line_count,
               (SELECT sum(qty) FROM inventory_lines l
                WHERE l.agent_code = i.agent_code AND l.cop_no = i.cop_no) AS qty_total
           FROM inventories i JOIN t USING (agent_code, cop_no)"""
    )
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    found = con.execute(sql).fetchone()
    assert found is not None
    return found[0]


def listed_on(day: dt.date) -> dict[str, str]:
    """Positive-list remark kind per 8-digit line on `day`."""
    return {
        r["code"]: r["remark_kind"]
        for r in load_positive_list().to_pylist()
        if r["valid_from"] <= day and (r["valid_to"] is None or r["valid_to"] > day)
    }


def of(defect: str) -> str:
    """SQL: the inventories `i` carrying `defect`."""
    return f"(SELECT * FROM d WHERE defect = '{defect}')"


# Architecture -----------------------------------------------------------------------------


def test_simulator_never_imports_the_clearance_code() -> None:
    package = Path(cbec.simulate.__file__).parent
    forbidden = ("cbec.clearance", "cbec.pipeline")
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"


# Files, schemas, determinism ------------------------------------------------------------


def test_files_have_the_canonical_schemas(day: tuple[Path, SimulationSummary]) -> None:
    out, _ = day
    for document in (*IMPORT_DOCUMENTS, TRUTH):
        schema = pq.read_schema(out / f"{document.stem}.parquet")
        assert schema.equals(document.schema), document.stem


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate_day(20_000, 5, DAY, first)
    simulate_day(20_000, 5, DAY, second)
    simulate_day(20_000, 6, DAY, other)
    for stem in STEMS:
        a = pq.read_table(first / f"{stem}.parquet")
        assert a.equals(pq.read_table(second / f"{stem}.parquet")), stem
        if stem != TRUTH.stem:
            assert not a.equals(pq.read_table(other / f"{stem}.parquet")), stem
    assert (first / "inventories.parquet").read_bytes() == (
        second / "inventories.parquet"
    ).read_bytes()


def test_truth_has_one_row_per_declaration(db: duckdb.DuckDBPyConnection) -> None:
    assert one(db, "SELECT count(*) FROM truth") == PARCELS
    assert one(db, "SELECT count(*) FROM inventories") == PARCELS
    assert one(db, "SELECT count(DISTINCT (agent_code, cop_no)) FROM truth") == PARCELS
    assert one(db, "SELECT count(*) FROM inventories JOIN truth USING (agent_code, cop_no)") == (
        PARCELS
    )
    assert one(db, "SELECT max(n) FROM t") == 1
    assert one(db, "SELECT count(*) FROM truth WHERE defects IS NULL") == 0


def test_document_keys_are_unique(db: duckdb.DuckDBPyConnection) -> None:
    for document in IMPORT_DOCUMENTS:
        key = ", ".join(document.key)
        total = one(db, f"SELECT count(*) FROM {document.stem}")
        assert one(db, f"SELECT count(DISTINCT ({key})) FROM {document.stem}") == total


# Defects ---------------------------------------------------------------------------------


def test_injected_share_is_the_defect_rate(
    day: tuple[Path, SimulationSummary], db: duckdb.DuckDBPyConnection
) -> None:
    _, summary = day
    assert summary.injected == round(PARCELS * RATE)
    names = ", ".join(f"'{name}'" for name in INJECTED)
    # On this day the indivisible-item exception holds, so every over_single_limit is injected.
    assert one(db, f"SELECT count(*) FROM t WHERE defect IN ({names})") == summary.injected
    counted = dict(rows(db, "SELECT defect, count(*) FROM t GROUP BY ALL"))
    assert {name: counted.get(name, 0) for name in DEFECTS} == summary.defects
    assert summary.statuses == {800: counted["clean"], 100: PARCELS - counted["clean"]}


def test_every_defect_appears(day: tuple[Path, SimulationSummary]) -> None:
    _, summary = day
    assert set(summary.defects) == set(DEFECTS)
    assert all(count > 0 for count in summary.defects.values()), summary.defects


def test_over_annual_limit_occurs_in_realistic_measure(day: tuple[Path, SimulationSummary]) -> None:
    _, summary = day
    share = summary.defects["over_annual_limit"] / PARCELS
    assert 0.001 <= share <= 0.012
    assert summary.full_tax > 0  # indivisible items above the single limit, admitted


def test_zero_rate_or_weights_inject_nothing_of_that_kind(tmp_path: Path) -> None:
    clean = simulate_day(3_000, 2, DAY, tmp_path / "clean", defect_rate=0.0)
    assert clean.injected == 0
    assert all(clean.defects[name] == 0 for name in INJECTED)
    only = DefectRates(**{name: (1.0 if name == "waybill_missing" else 0.0) for name in INJECTED})
    summary = simulate_day(3_000, 2, DAY, tmp_path / "one", defect_rate=0.1, rates=only)
    assert summary.defects["waybill_missing"] == 300
    assert all(summary.defects[name] == 0 for name in INJECTED if name != "waybill_missing")
    with pytest.raises(ValueError):
        DefectRates(order_missing=-1)
    with pytest.raises(ValueError):
        simulate_day(10, 1, DAY, tmp_path / "bad", defect_rate=1.5)


# The annual ledger, recomputed independently --------------------------------------------


def test_annual_limit_truth_matches_a_plain_ledger(db: duckdb.DuckDBPyConnection) -> None:
    annual = load_parameters()["annual_limit"].at(DAY)
    assert annual is not None
    limit = annual.value
    ordered = rows(
        db,
        """SELECT buyer_id_number, goods + freight + insured_fee, defect
           FROM d WHERE defect IN ('clean', 'over_annual_limit')
           ORDER BY buyer_id_number, decl_time, app_time, cop_no, agent_code""",
    )
    used: dict[object, Decimal] = {}
    for buyer, value, defect in ordered:
        assert isinstance(value, Decimal)
        admitted = used.get(buyer, Decimal(0)) + value <= limit
        assert (defect == "clean") == admitted, (buyer, value, used.get(buyer))
        if admitted:
            used[buyer] = used.get(buyer, Decimal(0)) + value


# Realism ----------------------------------------------------------------------------------


def test_identity_numbers_are_valid(db: duckdb.DuckDBPyConnection) -> None:
    numbers = [
        r[0]
        for r in rows(
            db,
            """SELECT DISTINCT buyer_id_number FROM d WHERE defect <> 'buyer_id_number_invalid'
               ORDER BY 1 LIMIT 3000""",
        )
    ]
    numbers += [
        r[0]
        for r in rows(
            db,
            """SELECT DISTINCT p.payer_id_number FROM payments p JOIN d USING (ebp_code, order_no)
               WHERE d.defect = 'payer_not_buyer'""",
        )
    ]
    assert len(numbers) > 3000
    for number in numbers:
        assert isinstance(number, str)
        assert number[-1] == ric.calc_check_digit(number), number
        born = ric.get_birth_date(number)
        assert dt.date(1950, 1, 1) <= born <= dt.date(2005, 12, 31)
        assert ric.is_valid(number), number  # also the area code, for the birth year


def test_identity_numbers_are_unique_per_person() -> None:
    space = IdentitySpace.create(3, DAY)
    persons = np.arange(0, 3_000_000, 7, dtype=np.int64)
    numbers = space.numbers(persons)
    assert len({row.tobytes()[:17] for row in numbers}) == len(persons)


def test_declarations_fall_within_the_day(db: duckdb.DuckDBPyConnection) -> None:
    low, high = DAY.isoformat(), (DAY + dt.timedelta(days=1)).isoformat()
    assert one(db, f"SELECT min(decl_time) >= '{low}' AND max(decl_time) < '{high}' FROM d")
    before = (DAY - dt.timedelta(days=1)).isoformat()
    assert one(
        db,
        f"""SELECT bool_and(o.app_time >= '{before}' AND o.app_time <= d.decl_time
                   AND p.pay_time <= o.app_time AND p.pay_time >= '{before}')
            FROM d JOIN orders o USING (ebp_code, order_no)
                   JOIN payments p ON p.ebp_code = d.ebp_code AND p.order_no = d.order_no""",
    )


def test_traffic_mixes_modes_lines_and_goods(db: duckdb.DuckDBPyConnection) -> None:
    modes = dict(rows(db, "SELECT trade_mode, count(*) / sum(count(*)) OVER () FROM d GROUP BY 1"))
    assert abs(float(modes["9610"]) - 0.70) < 0.02
    assert abs(float(modes["1210"]) - 0.25) < 0.02
    assert abs(float(modes["1239"]) - 0.05) < 0.01
    bonded_ok = """SELECT bool_and(ems_no IS NOT NULL AND area_code IS NOT NULL) FROM d
                   WHERE trade_mode IN ('1210', '1239')"""
    assert one(db, bonded_ok)
    assert one(db, "SELECT bool_and(ems_no IS NULL) FROM d WHERE trade_mode = '9610'")
    assert one(
        db,
        """SELECT bool_and((l.item_record_no IS NOT NULL) = (d.trade_mode <> '9610'))
           FROM inventory_lines l JOIN d USING (agent_code, cop_no)""",
    )
    single = one(db, "SELECT avg((line_count = 1)::int) FROM d")
    assert 0.5 < float(single) < 0.8
    assert one(db, "SELECT max(line_count) FROM d") == 5
    assert one(db, "SELECT bool_and(gcode SIMILAR TO '[0-9]{10}') FROM inventory_lines")
    # Alcohol carries its legal quantity in litres (specific consumption tax).
    assert one(
        db,
        """SELECT bool_and(unit1 = '095' AND qty1 > 0) FROM inventory_lines
           WHERE gcode LIKE '2203%' OR gcode LIKE '2208%'""",
    )
    assert one(db, "SELECT count(DISTINCT ebp_code) FROM d") >= 5
    assert one(db, "SELECT count(DISTINCT agent_code) FROM d") >= 5


def test_clean_goods_are_on_the_positive_list(db: duckdb.DuckDBPyConnection) -> None:
    on_day = listed_on(DAY)
    codes = rows(
        db,
        """SELECT DISTINCT l.gcode FROM inventory_lines l JOIN t USING (agent_code, cop_no)
           WHERE t.defect = 'clean'""",
    )
    for (gcode,) in codes:
        assert on_day.get(str(gcode)[:8]) in ("none", "name_limit", "quantity_limit"), gcode


def test_single_limit_kept_except_indivisible_items(db: duckdb.DuckDBPyConnection) -> None:
    limit = load_parameters()["single_limit"].at(DAY)
    assert limit is not None
    over = rows(
        db,
        f"""SELECT line_count, qty_total, defect FROM d
            WHERE goods + freight + insured_fee > {limit.value}""",
    )
    assert over
    for line_count, qty_total, defect in over:
        indivisible = line_count == 1 and qty_total == 1
        assert indivisible or defect == "over_single_limit"
        if indivisible:
            assert defect in ("clean", "over_annual_limit")
    assert one(db, f"SELECT count(*) FROM d WHERE goods + freight > {limit.value}") < PARCELS / 50


# Money ------------------------------------------------------------------------------------


def test_money_columns_are_exact() -> None:
    fen = np.array([0, 1, 99, 100, 12345, -5, 10**15, -(10**15) - 1], dtype=np.int64)
    assert money(fen).to_pylist() == [Decimal(int(f)).scaleb(-2) for f in fen]
    assert money(fen).type == pa.decimal128(18, 2)
    assert quantity(np.array([1, 750, 12000])).to_pylist() == [
        Decimal("0.00100"),
        Decimal("0.75000"),
        Decimal("12.00000"),
    ]


def test_line_totals_are_price_times_quantity(db: duckdb.DuckDBPyConnection) -> None:
    assert one(db, "SELECT count(*) FROM order_lines WHERE total_price <> price * qty") == 0
    wrong = """SELECT count(*) FROM inventory_lines l JOIN t USING (agent_code, cop_no)
               WHERE l.total_price <> l.price * l.qty AND t.defect <> 'line_total_mismatch'"""
    assert one(db, wrong) == 0
    assert one(db, "SELECT count(*) FROM order_lines WHERE qty <> round(qty)") == 0


def test_order_amounts_add_up_on_clean_declarations(db: duckdb.DuckDBPyConnection) -> None:
    checked = one(
        db,
        """SELECT count(*) FILTER (WHERE o.actural_paid =
                    o.goods_value + o.freight + o.tax_total - o.discount
                  AND o.goods_value = (SELECT sum(total_price) FROM order_lines ol
                                       WHERE ol.ebp_code = o.ebp_code
                                         AND ol.order_no = o.order_no)
                  AND p.amount_paid = o.actural_paid
                  AND w.freight = o.freight AND d.freight = o.freight
                  AND w.insured_fee = d.insured_fee
                  AND o.goods_value = d.goods) / count(*)
           FROM d JOIN orders o USING (ebp_code, order_no)
                  JOIN payments p ON p.ebp_code = d.ebp_code AND p.order_no = d.order_no
                  JOIN waybills w USING (logistics_code, logistics_no)
           WHERE d.defect IN ('clean', 'over_annual_limit')""",
    )
    assert checked == 1


def test_clean_declarations_agree_with_their_documents(db: duckdb.DuckDBPyConnection) -> None:
    agreeing = one(
        db,
        """SELECT count(*) FILTER (WHERE
                  d.buyer_id_number = o.buyer_id_number AND d.buyer_name = o.buyer_name
              AND p.payer_id_number = o.buyer_id_number AND p.payer_name = o.buyer_name
              AND p.pay_code = o.pay_code AND p.pay_transaction_id = o.pay_transaction_id
              AND w.consignee = o.consignee AND w.consignee_telephone = o.consignee_telephone
              AND w.consignee_address = o.consignee_address AND w.order_no = d.order_no
              AND d.ebc_code = o.ebc_code AND d.currency = '142' AND o.currency = '142'
              AND d.customs_code IS NOT NULL AND d.ie_flag = 'I' AND d.buyer_id_type = '1'
              AND o.order_type = 'I' AND o.app_type = '1' AND o.app_status = '2')
              / count(*)
           FROM d JOIN orders o USING (ebp_code, order_no)
                  JOIN payments p ON p.ebp_code = d.ebp_code AND p.order_no = d.order_no
                  JOIN waybills w USING (logistics_code, logistics_no)
           WHERE d.defect IN ('clean', 'over_annual_limit')""",
    )
    assert agreeing == 1
    lines_agree = one(
        db,
        """SELECT bool_and(ol.qty = l.qty AND ol.item_name = l.gname AND l.item_name = l.gname)
           FROM inventory_lines l JOIN d USING (agent_code, cop_no)
           JOIN order_lines ol ON ol.ebp_code = d.ebp_code AND ol.order_no = d.order_no
                              AND ol.gnum = l.gnum
           WHERE d.defect IN ('clean', 'over_annual_limit')""",
    )
    assert lines_agree


# Each defect, as built --------------------------------------------------------------------


def test_missing_documents_are_missing(db: duckdb.DuckDBPyConnection) -> None:
    for defect, document, present in (
        ("order_missing", "orders", ("payments", "waybills")),
        ("payment_missing", "payments", ("orders", "waybills")),
        ("waybill_missing", "waybills", ("orders", "payments")),
    ):
        keys = {
            "orders": "x.ebp_code = i.ebp_code AND x.order_no = i.order_no",
            "payments": "x.ebp_code = i.ebp_code AND x.order_no = i.order_no",
            "waybills": "x.logistics_code = i.logistics_code AND x.logistics_no = i.logistics_no",
        }
        found = f"EXISTS (SELECT 1 FROM {document} x WHERE {keys[document]})"
        assert one(db, f"SELECT count(*) FROM {of(defect)} i WHERE {found}") == 0
        for other in present:
            exists = f"EXISTS (SELECT 1 FROM {other} x WHERE {keys[other]})"
            assert one(db, f"SELECT bool_and({exists}) FROM {of(defect)} i"), (defect, other)
    orphan_lines = f"""SELECT count(*) FROM {of("order_missing")} i JOIN order_lines x
                       ON x.ebp_code = i.ebp_code AND x.order_no = i.order_no"""
    assert one(db, orphan_lines) == 0


def test_payment_and_order_amount_defects(db: duckdb.DuckDBPyConnection) -> None:
    formula = "o.goods_value + o.freight + o.tax_total - o.discount"
    join = """JOIN orders o USING (ebp_code, order_no)
              JOIN payments p ON p.ebp_code = i.ebp_code AND p.order_no = i.order_no"""
    assert one(
        db,
        f"""SELECT bool_and(p.amount_paid <> o.actural_paid AND o.actural_paid = {formula})
            FROM {of("amount_paid_mismatch")} i {join}""",
    )
    assert one(
        db,
        f"""SELECT bool_and(p.amount_paid = o.actural_paid AND o.actural_paid <> {formula})
            FROM {of("actural_paid_mismatch")} i {join}""",
    )


def test_identity_defects(db: duckdb.DuckDBPyConnection) -> None:
    join = """JOIN orders o USING (ebp_code, order_no)
              JOIN payments p ON p.ebp_code = i.ebp_code AND p.order_no = i.order_no"""
    payers = rows(
        db,
        f"""SELECT p.payer_id_number, o.buyer_id_number, i.buyer_id_number
            FROM {of("payer_not_buyer")} i {join}""",
    )
    assert payers
    for payer, buyer, declared in payers:
        assert payer != buyer and buyer == declared and ric.is_valid(str(payer))
    assert one(
        db,
        f"""SELECT bool_and(i.buyer_name <> o.buyer_name
                            AND i.buyer_id_number = o.buyer_id_number
                            AND p.payer_name = o.buyer_name)
            FROM {of("buyer_mismatch")} i {join}""",
    )
    invalid = rows(
        db,
        f"""SELECT i.buyer_id_number, o.buyer_id_number, p.payer_id_number
            FROM {of("buyer_id_number_invalid")} i {join}""",
    )
    assert invalid
    for declared, ordered, paid in invalid:
        assert declared == ordered == paid
        assert str(declared)[-1] != ric.calc_check_digit(str(declared))


def test_consignee_mismatch(db: duckdb.DuckDBPyConnection) -> None:
    assert one(
        db,
        f"""SELECT bool_and((w.consignee_telephone <> o.consignee_telephone)
                            <> (w.consignee_address <> o.consignee_address)
                            AND w.consignee = o.consignee)
            FROM {of("consignee_mismatch")} i JOIN orders o USING (ebp_code, order_no)
            JOIN waybills w USING (logistics_code, logistics_no)""",
    )


def test_line_defects(db: duckdb.DuckDBPyConnection) -> None:
    pairs = """FROM inventory_lines l JOIN {of} i USING (agent_code, cop_no)
               JOIN order_lines ol ON ol.ebp_code = i.ebp_code AND ol.order_no = i.order_no
                                  AND ol.gnum = l.gnum"""
    per_declaration = one(
        db,
        f"""SELECT bool_and(n = 1 AND fine) FROM (
                SELECT count(*) FILTER (WHERE ol.qty <> l.qty) AS n,
                       bool_and(l.total_price = l.price * l.qty
                                AND ol.total_price = ol.price * ol.qty) AS fine
                {pairs.format(of=of("lines_mismatch"))} GROUP BY i.cop_no)""",
    )
    assert per_declaration
    assert one(
        db,
        f"""SELECT count(DISTINCT i.cop_no) = (SELECT count(*) FROM {of("lines_mismatch")})
            {pairs.format(of=of("lines_mismatch"))} WHERE ol.qty <> l.qty""",
    )
    totals = rows(
        db,
        f"""SELECT i.cop_no, max(abs(l.total_price - l.price * l.qty)),
                   bool_and(ol.qty = l.qty), bool_and(l.total_price >= 0)
            {pairs.format(of=of("line_total_mismatch"))} GROUP BY i.cop_no""",
    )
    assert totals
    for _, gap, same_qty, positive in totals:
        assert isinstance(gap, Decimal) and gap >= 1 and same_qty and positive


def test_head_field_defects(db: duckdb.DuckDBPyConnection) -> None:
    assert one(db, f"SELECT bool_and(currency = '502') FROM {of('currency_not_cny')}")
    assert one(db, "SELECT count(*) FROM d WHERE currency <> '142'") == one(
        db, f"SELECT count(*) FROM {of('currency_not_cny')}"
    )
    assert one(db, f"SELECT bool_and(customs_code IS NULL) FROM {of('required_field_missing')}")
    assert one(db, "SELECT count(*) FROM d WHERE customs_code IS NULL") == one(
        db, f"SELECT count(*) FROM {of('required_field_missing')}"
    )


def test_goods_defects(db: duckdb.DuckDBPyConnection) -> None:
    on_day = listed_on(DAY)
    for defect, remark in (
        ("not_on_positive_list", None),
        ("bonded_only_goods", "bonded_only"),
        ("excluded_goods", "excluded"),
    ):
        found = rows(
            db,
            f"""SELECT i.cop_no, i.trade_mode, list(l.gcode), list(ol.item_name = l.gname)
                FROM {of(defect)} i JOIN inventory_lines l USING (agent_code, cop_no)
                JOIN order_lines ol ON ol.ebp_code = i.ebp_code AND ol.order_no = i.order_no
                                   AND ol.gnum = l.gnum
                GROUP BY ALL""",
        )
        assert found
        for _, mode, gcodes, same_names in found:
            assert isinstance(gcodes, list) and all(same_names)
            remarks = [on_day.get(str(g)[:8]) for g in gcodes]
            assert remark in remarks, (defect, gcodes)
            others = [r for r in remarks if r != remark]
            assert all(r in ("none", "name_limit", "quantity_limit") for r in others)
            if defect == "bonded_only_goods":
                assert mode == "9610"


def test_injected_over_single_limit(db: duckdb.DuckDBPyConnection) -> None:
    limit = load_parameters()["single_limit"].at(DAY)
    assert limit is not None
    assert one(
        db,
        f"""SELECT bool_and(line_count >= 2 AND goods + freight + insured_fee > {limit.value})
            FROM {of("over_single_limit")}""",
    )


def test_before_2019_indivisible_items_are_over_the_single_limit(tmp_path: Path) -> None:
    summary = simulate_day(20_000, 4, dt.date(2017, 5, 1), tmp_path, defect_rate=0.0)
    assert summary.full_tax == 0
    assert summary.defects["over_single_limit"] > 0  # luxury items, no exception yet
    truth = pq.read_table(tmp_path / "truth.parquet")
    assert truth.num_rows == 20_000
