"""`cbec whatif` on a hand-made store: each reform changes exactly what it should, checked by hand.

The store holds one buyer's May declaration (4,000 of the 2024 allowance of 26,000), a May entry
list (10 units into bonded stock) and a bonded May declaration taking 6 of them, thirteen June
declarations and one July declaration, all cleared:

| cop_no | buyer | value | June outcome under the 2024 rules |
|---|---|---|---|
| A1..A4 | BUYER | 4,500 each | admitted: 4,000 + 18,000 = 22,000 used |
| A5 | BUYER | 4,500 | rejected: 26,500 > 26,000 (over_annual_limit) |
| A6 | BUYER | 3,000 | admitted: 25,000 used |
| A7 | BUYER | 2,000 | rejected: 27,000 > 26,000 (over_annual_limit) |
| T1 | OTHER | cosmetics 300 + garment 100 | admitted, taxed |
| L1 | OTHER | milk powder 100 (line 04021000) | admitted |
| M1 | OTHER | 100, no payment | rejected (payment_missing) |
| S1 | OTHER | 6,000 in two items | rejected (over_single_limit) |
| B1 | OTHER | 3 of item R1, bonded (1210) | admitted: 10 entered in May, B0 took 6 in May |
| B2 | OTHER | 3 more of R1 | rejected: 1 left (stock_insufficient) |
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from builders import OTHER_ID, Rows, declaration, merge, write_jsonl
from cbec.cli import app
from cbec.pipeline import Policy, clear
from cbec.policy.lists import load_positive_list
from cbec.policy.reforms import apply_reforms, current_rules, load_reform
from cbec.stats.periods import Period
from cbec.store.embedded import Store
from cbec.whatif import render
from cbec.whatif.replay import Replay, policy_of, replay
from cbec.whatif.report import ReformInfo, build_report

runner = CliRunner()

GARMENT = "6111200050"  # VAT 13 %, no consumption tax
COSMETICS = "3304990099"  # VAT 13 %, consumption tax 15 % from 10.00 a unit
MILK = "0402100000"  # line 04021000: VAT 13 %, no consumption tax


def _line(gcode: str, qty: int, price: str) -> dict[str, Any]:
    return {"gcode": gcode, "qty": qty, "price": price}


def _june(day: int) -> str:
    return f"2024-06-{day:02d}T10:00:00"


def _delivery(cop_no: str, when: str, item: str, qty: int) -> Rows:
    """A CEB711 entry list putting `qty` of `item` into the builders' bonded account book."""
    head = {
        "guid": f"G-DLV-{cop_no}",
        "app_type": "1",
        "app_time": when,
        "app_status": "2",
        "customs_code": "2991",
        "cop_no": cop_no,
        "operator_code": "3301960002",
        "ie_flag": "I",
        "ems_no": "T2991W000001",
        "area_code": "3301960002",
    }
    line = {"operator_code": "3301960002", "cop_no": cop_no, "gnum": 1}
    line.update(item_record_no=item, gcode=GARMENT, qty=str(qty), unit="011")
    return {"deliveries": [head], "delivery_lines": [line]}


@dataclass(frozen=True)
class Recorded:
    db: Path
    root: Path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    root = tmp_path_factory.mktemp("whatif")
    db = root / "cbec.duckdb"
    rows = merge(
        declaration("A0", [_line(GARMENT, 8, "500.00")], when="2024-05-10T10:00:00"),
        *[declaration(f"A{i}", [_line(GARMENT, 9, "500.00")], when=_june(i)) for i in range(1, 6)],
        declaration("A6", [_line(GARMENT, 6, "500.00")], when=_june(6)),
        declaration("A7", [_line(GARMENT, 4, "500.00")], when=_june(7)),
        declaration(
            "T1",
            [_line(COSMETICS, 1, "300.00"), _line(GARMENT, 1, "100.00")],
            when=_june(10),
            buyer_id=OTHER_ID,
        ),
        declaration("L1", [_line(MILK, 1, "100.00")], when=_june(11), buyer_id=OTHER_ID),
        declaration(
            "M1", [_line(GARMENT, 1, "100.00")], when=_june(12), buyer_id=OTHER_ID,
            omit=("payments",),
        ),
        declaration("S1", [_line(GARMENT, 2, "3000.00")], when=_june(13), buyer_id=OTHER_ID),
        declaration("J1", [_line(GARMENT, 1, "100.00")], when="2024-07-01T10:00:00"),
        *[
            declaration(cop_no, [_line(GARMENT, qty, "10.00")], when=when, mode="1210",
                        buyer_id=OTHER_ID)
            for cop_no, qty, when in (
                ("B0", 6, "2024-05-20T10:00:00"), ("B1", 3, _june(2)), ("B2", 3, _june(3))
            )
        ],
    )  # fmt: skip
    folder = write_jsonl(root / "in", rows)
    for stem, items in _delivery("D1", "2024-05-01T09:00:00", "R1", 10).items():
        lines = "".join(json.dumps(item) + "\n" for item in items)
        (folder / f"{stem}.jsonl").write_text(lines, encoding="utf-8")
    store = Store(db)
    try:
        clear([folder], store, root / "out", Policy.load())
    finally:
        store.close()
    return Recorded(db, root)


def _reform(folder: Path, text: str, name: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


ANNUAL = "name: 30,000\nparameters:\n  annual_limit: {2024-01-01: 30000}\n"
FACTOR = "name: 60 %\nparameters:\n  tax_factor: {2024-01-01: 0.6}\n"
EDITION = "name: Edition\npositive_list: {file: edition.csv}\n"


@pytest.fixture(scope="module")
def replayed(recorded: Recorded) -> Replay:
    """June re-cleared once under the current rules and once under each reform of the tests
    (one replay may hold any number of scenarios; the report compares the first and last)."""
    edition = recorded.root / "edition.csv"
    rows = [r for r in load_positive_list().to_pylist() if r["code"] != "04021000"]
    with edition.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    current = current_rules()
    policies = {"baseline": policy_of(current)}
    for name, text in (("annual", ANNUAL), ("factor", FACTOR), ("edition", EDITION)):
        reform = load_reform(_reform(recorded.root, text, f"{name}.yaml"))
        policies[name] = policy_of(apply_reforms(current, [reform]))
    return replay(recorded.db, Period.parse("2024-06"), policies, recorded.root / "replay")


def _decisions(path: Path) -> dict[str, dict[str, Any]]:
    return {row["cop_no"]: row for row in pq.read_table(path).to_pylist()}


def _outcomes(path: Path) -> dict[str, tuple[int, list[str]]]:
    return {cop: (d["status"], d["reasons"]) for cop, d in _decisions(path).items()}


def test_the_baseline_is_what_the_store_recorded(replayed: Replay) -> None:
    assert replayed.declarations == 13  # June only: not A0, B0 (May) nor J1 (July)
    stored = _decisions(replayed.recorded)
    baseline = _decisions(replayed.scenarios["baseline"].decisions)
    assert set(baseline) == {
        *("A1", "A2", "A3", "A4", "A5", "A6", "A7", "T1", "L1", "M1", "S1", "B1", "B2")
    }
    for cop_no, row in baseline.items():
        # All but invt_no, a serial the store continues across runs (the scratch one starts at 1).
        fields = [k for k in row if k != "invt_no"]
        assert {k: row[k] for k in fields} == {k: stored[cop_no][k] for k in fields}, cop_no
    # The May declaration's 4,000 counted: without it A5 would have fitted (22,500).
    assert baseline["A5"]["reasons"] == ["over_annual_limit"]
    assert baseline["A7"]["reasons"] == ["over_annual_limit"]
    # The stock on hand was the store's: 10 entered, 6 taken in May; B1 takes 3, B2 finds 1.
    assert (baseline["B1"]["status"], baseline["B2"]["reasons"]) == (800, ["stock_insufficient"])


def test_raising_the_annual_limit_admits_exactly_what_now_fits(replayed: Replay) -> None:
    before = _outcomes(replayed.scenarios["baseline"].decisions)
    after = _outcomes(replayed.scenarios["annual"].decisions)
    rejected_for_it = {c for c, (_, reasons) in before.items() if "over_annual_limit" in reasons}
    assert rejected_for_it == {"A5", "A7"}
    changed = {c for c in before if before[c] != after[c]}
    # A5 now fits (22,000 + 4,500 = 26,500 <= 30,000); A7 does not (29,500 + 2,000 > 30,000).
    assert changed == {"A5"}
    assert after["A5"] == (800, [])
    assert after["A7"] == (100, ["over_annual_limit"])


def _half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _taxes(price: Decimal, vat: str, ct: str, factor: str) -> tuple[Decimal, Decimal]:
    """Consumption tax and VAT of a line within the limits (domain digest section 3)."""
    c, v, f = Decimal(ct), Decimal(vat), Decimal(factor)
    consumption = price / (1 - c) * c
    return _half_up(consumption * f), _half_up((price + consumption) * v * f)


def test_lowering_the_tax_factor_changes_each_tax_line_by_the_expected_amount(
    replayed: Replay,
) -> None:
    rates = {GARMENT: ("0.13", "0"), COSMETICS: ("0.13", "0.15"), MILK: ("0.13", "0")}

    def lines(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
        return {(r["cop_no"], r["gnum"]): r for r in pq.read_table(path).to_pylist()}

    before = lines(replayed.scenarios["baseline"].tax_lines)
    after = lines(replayed.scenarios["factor"].tax_lines)
    assert set(before) == set(after) and len(before) == 9  # A1-A4, A6, T1 (2 lines), L1, B1
    for key, line in after.items():
        vat, ct = rates[line["gcode"]]
        price = line["tax_price"]  # no freight: the line total, exactly
        assert (line["consumption_tax"], line["value_added_tax"]) == _taxes(price, vat, ct, "0.6")
        old = before[key]
        assert (old["consumption_tax"], old["value_added_tax"]) == _taxes(price, vat, ct, "0.7")
        assert line["customs_tax"] == old["customs_tax"] == 0
    # By hand: cosmetics at 300.00: CT 300 / 0.85 x 0.15 = 52.94; VAT (300 + 52.94) x 0.13.
    assert (before[("T1", 1)]["consumption_tax"], before[("T1", 1)]["value_added_tax"]) == (
        Decimal("37.06"),
        Decimal("32.12"),
    )
    assert (after[("T1", 1)]["consumption_tax"], after[("T1", 1)]["value_added_tax"]) == (
        Decimal("31.76"),
        Decimal("27.53"),
    )
    assert after[("A1", 1)]["value_added_tax"] == Decimal("351.00")  # 4,500 x 0.13 x 0.6
    assert before[("A1", 1)]["value_added_tax"] == Decimal("409.50")  # 4,500 x 0.13 x 0.7
    assert _outcomes(replayed.scenarios["factor"].decisions) == _outcomes(
        replayed.scenarios["baseline"].decisions
    )


def test_switching_the_list_edition_rejects_exactly_the_lines_not_on_it(
    replayed: Replay,
) -> None:
    before = _outcomes(replayed.scenarios["baseline"].decisions)
    after = _outcomes(replayed.scenarios["edition"].decisions)
    changed = {c for c in before if before[c] != after[c]}
    assert changed == {"L1"}  # the only declaration with a line of 04021000
    assert after["L1"] == (100, ["not_on_positive_list"])


def _fingerprint(db: Path) -> dict[str, Any]:
    """Every file of the store (the DuckDB file and its documents) by content, and row counts."""
    files = [db, *sorted(db.with_name(db.name + ".documents").rglob("*"))]
    hashes = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
    finally:
        con.close()
    return {"files": hashes, "counts": counts}


def test_the_report_in_json(replayed: Replay, recorded: Recorded) -> None:
    compared = dataclasses.replace(
        replayed,
        scenarios={
            "baseline": replayed.scenarios["baseline"],
            "reform": replayed.scenarios["annual"],
        },
    )
    info = ReformInfo("30,000", "", str(recorded.root / "annual.yaml"))
    report = json.loads(render.to_json(build_report(compared, [info])))
    assert report["period"] == {"label": "2024-06", "from": "2024-06-01", "to": "2024-07-01"}
    assert report["reforms"] == [{"name": "30,000", "description": "", "file": info.file}]
    assert report["scenarios"] == ["baseline", "reform"]
    assert report["declarations"] == 13
    base, new = report["totals"]["baseline"], report["totals"]["reform"]
    assert (base["admitted"], base["rejected"], new["admitted"], new["rejected"]) == (8, 5, 9, 4)
    assert (base["to_general_trade"], new["to_general_trade"]) == (3, 2)  # A5, A7, S1 / A7, S1
    assert (base["over_annual_limit"], new["over_annual_limit"]) == (2, 1)
    assert (base["buyers_at_annual_limit"], new["buyers_at_annual_limit"]) == (1, 1)
    # A1-A4 18,000 + A6 3,000 + T1 400 + L1 100 + B1 30; the reform adds A5's 4,500.
    assert (base["admitted_value"], new["admitted_value"]) == ("21530.00", "26030.00")
    assert (base["to_general_trade_value"], new["to_general_trade_value"]) == (
        "12500.00",
        "8000.00",
    )
    # A5 admitted: 4,500 x 0.13 x 0.7 = 409.50 more VAT.
    assert Decimal(new["value_added_tax"]) - Decimal(base["value_added_tax"]) == Decimal("409.50")
    assert report["changes"] == {
        "newly_admitted": 1,
        "newly_rejected": 0,
        "tax_changed": 1,
        "tax_difference": "409.50",
    }
    assert report["recorded"] == {
        "declarations": 13,
        "admitted": 8,
        "rejected": 5,
        "tax_total": base["tax_total"],
    }
    reasons = {r["reason"]: (r["baseline"], r["reform"]) for r in report["rejected_by_reason"]}
    assert reasons == {
        "over_annual_limit": (2, 1),
        "over_single_limit": (1, 1),
        "payment_missing": (1, 1),
        "stock_insufficient": (1, 1),
    }
    chapters = {r["chapter"]: r for r in report["tax_by_chapter"]}
    assert set(chapters) == {"04", "33", "61"}
    assert chapters["33"]["baseline"] == {
        "customs_tax": "0.00",
        "value_added_tax": "32.12",
        "consumption_tax": "37.06",
        "tax_total": "69.18",
    }
    assert [(r["mode"], r["baseline"]["declarations"]) for r in report["by_mode"]] == [
        ("9610", 11),
        ("1210", 2),
    ]
    assert [r["platform"] for r in report["by_platform"]] == ["3301964J31"]
    assert report["by_province"][0]["province"] == "11"
    assert report["by_province"][0]["name"] == "Beijing"
    assert report["by_province"][0]["baseline"] == {
        "declarations": 13,
        "admitted": 8,
        "rejected": 5,
        "to_general_trade": 3,
        "buyers_at_annual_limit": 1,
        "tax_total": base["tax_total"],
    }


def _report_json(replayed: Replay, info: ReformInfo) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(render.to_json(build_report(replayed, [info])))
    return report


def test_the_recorded_baseline_gives_the_same_report_as_re_clearing(
    replayed: Replay, recorded: Recorded
) -> None:
    """June was cleared in one run under the current rules: the store's decisions are the
    baseline a re-clearing gives, so taking them as recorded changes nothing in the report."""
    reform = load_reform(recorded.root / "annual.yaml")
    policies = {
        "baseline": policy_of(current_rules()),
        "reform": policy_of(apply_reforms(current_rules(), [reform])),
    }
    fast = replay(
        recorded.db,
        Period.parse("2024-06"),
        policies,
        recorded.root / "replay-recorded",
        recorded_scenario="baseline",
    )
    assert (fast.recorded_scenario, fast.runs, fast.declarations) == ("baseline", 1, 13)
    assert not (recorded.root / "replay-recorded" / "baseline" / "scratch.duckdb").exists()
    # The baseline files hold the store's rows, in the pipeline's columns and order.
    stored = pq.read_table(fast.scenarios["baseline"].decisions)
    recleared = pq.read_table(replayed.scenarios["baseline"].decisions)
    assert [(f.name, f.type) for f in stored.schema] == [(f.name, f.type) for f in recleared.schema]
    stored = stored.cast(recleared.schema)  # a re-clearing writes reasons as never null
    assert stored.drop(["invt_no"]) == recleared.drop(["invt_no"])  # invt_no: the store's serials
    assert pq.read_table(fast.scenarios["baseline"].tax_lines) == pq.read_table(
        replayed.scenarios["baseline"].tax_lines
    )
    full = dataclasses.replace(
        replayed,
        scenarios={
            "baseline": replayed.scenarios["baseline"],
            "reform": replayed.scenarios["annual"],
        },
    )
    info = ReformInfo("30,000", "", str(recorded.root / "annual.yaml"))
    from_records, from_clearing = _report_json(fast, info), _report_json(full, info)
    assert (from_records.pop("baseline"), from_clearing.pop("baseline")) == (
        "recorded",
        "re-cleared",
    )
    assert from_records == from_clearing
    assert from_records["changes"]["newly_admitted"] == 1  # A5, as in the full re-clearing


def test_the_recorded_baseline_is_what_the_store_decided_even_when_a_re_clearing_differs(
    tmp_path: Path,
) -> None:
    """A payment that came in a later run: the store rejected the declaration (its run had no
    payment), a re-clearing of the period admits it. The recorded baseline keeps the store's
    rejection and says it came from two runs; the reform is re-cleared either way."""
    db = tmp_path / "cbec.duckdb"
    late = declaration("P1", [_line(GARMENT, 1, "100.00")], when=_june(5))
    first = write_jsonl(tmp_path / "first", {**late, "payments": []})
    second = write_jsonl(
        tmp_path / "second",
        merge(
            {"payments": late["payments"]},
            declaration("P2", [_line(GARMENT, 1, "100.00")], when=_june(6)),
        ),
    )
    store = Store(db)
    try:
        clear([first], store, tmp_path / "out1", Policy.load())
        clear([second], store, tmp_path / "out2", Policy.load())
    finally:
        store.close()
    current = current_rules()
    factor = load_reform(_reform(tmp_path, FACTOR, "factor.yaml"))
    policies = {
        "baseline": policy_of(current),
        "reform": policy_of(apply_reforms(current, [factor])),
    }
    june = Period.parse("2024-06")
    full = replay(db, june, policies, tmp_path / "full")
    fast = replay(db, june, policies, tmp_path / "fast", recorded_scenario="baseline")
    assert (full.runs, fast.runs) == (2, 2)
    assert _outcomes(full.scenarios["baseline"].decisions)["P1"] == (800, [])
    assert _outcomes(fast.scenarios["baseline"].decisions)["P1"] == (100, ["payment_missing"])
    for replayed in (full, fast):
        assert _outcomes(replayed.scenarios["reform"].decisions)["P1"] == (800, [])
    info = ReformInfo("60 %", "", "factor.yaml")
    assert _report_json(full, info)["changes"]["newly_admitted"] == 0
    fast_report = _report_json(fast, info)
    assert fast_report["changes"]["newly_admitted"] == 1  # what the store decided, then P1
    assert (fast_report["baseline"], fast_report["recorded_runs"]) == ("recorded", 2)
    assert "as the store recorded them (2 runs; baseline)" in render.headline(
        build_report(fast, [info])
    )


def test_whatif_with_the_recorded_baseline_prints_the_same_figures(
    recorded: Recorded, tmp_path: Path
) -> None:
    reform = _reform(tmp_path, ANNUAL, "annual.yaml")
    reports = {}
    for baseline in ("re-clear", "recorded"):
        out = tmp_path / f"{baseline}.json"
        result = runner.invoke(
            app,
            [
                "whatif", "--db", str(recorded.db), "--period", "2024-06", "--reform",
                str(reform), "--format", "json", "--out", str(out), "--baseline", baseline,
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        reports[baseline] = json.loads(out.read_text(encoding="utf-8"))
    assert reports["re-clear"].pop("baseline") == "re-cleared"
    assert reports["recorded"].pop("baseline") == "recorded"
    assert reports["re-clear"] == reports["recorded"]
    assert reports["recorded"]["recorded_runs"] == 1


def test_day_by_day_gives_the_report_of_one_run_with_a_run_a_day(
    replayed: Replay, recorded: Recorded, tmp_path: Path
) -> None:
    """June cleared a day at a time: BUYER's allowance runs out across A1..A7 (June 1 to 7) and
    the bonded stock across B1 and B2 (June 2 and 3), each day judged on what the days before it
    used. Under 30,000 A5 fits (4,000 + 5 x 4,500 = 26,500), A6 too (29,500), A7 does not
    (31,500): the same as the one run decides, and the same report."""
    reform = recorded.root / "annual.yaml"  # the `replayed` fixture's, cleared in one run
    one_run = dataclasses.replace(
        replayed,
        scenarios={
            "baseline": replayed.scenarios["baseline"],
            "reform": replayed.scenarios["annual"],
        },
    )
    one = _report_json(one_run, ReformInfo("30,000", "", str(reform)))
    runs = tmp_path / "runs"
    out = tmp_path / "by-day.json"
    result = runner.invoke(
        app,
        [
            "whatif", "--db", str(recorded.db), "--period", "2024-06", "--reform", str(reform),
            "--format", "json", "--out", str(out), "--by-day", "--work-dir", str(runs),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    by_day = json.loads(out.read_text(encoding="utf-8"))
    assert by_day == one
    assert one["changes"]["newly_admitted"] == 1
    # And every decision and tax line (the days' files joined by DuckDB are written nullable).
    for name, scenario in one_run.scenarios.items():
        for joined_file, one_file in (
            (runs / name / "out" / "decisions.parquet", scenario.decisions),
            (runs / name / "out" / "tax_lines.parquet", scenario.tax_lines),
        ):
            one_table = pq.read_table(one_file)
            assert pq.read_table(joined_file).cast(one_table.schema) == one_table
    reform_decisions = _outcomes(runs / "reform" / "out" / "decisions.parquet")
    assert [reform_decisions[f"A{i}"][0] for i in range(1, 8)] == [800] * 6 + [100]
    assert reform_decisions["A7"][1] == ["over_annual_limit"]
    assert _outcomes(runs / "baseline" / "out" / "decisions.parquet")["B2"] == (
        100,
        ["stock_insufficient"],
    )
    # Each clearing run held one day's declarations, and the days came in date order.
    days = {"01": 1, "02": 2, "03": 2, "04": 1, "05": 1, "06": 1, "07": 1}
    days.update({"10": 1, "11": 1, "12": 1, "13": 1})
    for scenario in ("baseline", "reform"):
        con = duckdb.connect(str(runs / scenario / "scratch.duckdb"), read_only=True)
        try:
            batches = con.execute(
                "SELECT strftime(min(decl_time), '%d'), "
                "max(decl_time)::DATE - min(decl_time)::DATE, count(*) "
                "FROM decisions JOIN batches USING (batch_id) "
                "GROUP BY batch_id ORDER BY min(committed_at)"
            ).fetchall()
        finally:
            con.close()
        assert [(day, 0, count) for day, count in days.items()] == batches


def test_whatif_writes_tables_and_a_standalone_page_and_leaves_the_store_unchanged(
    recorded: Recorded, tmp_path: Path
) -> None:
    reform = _reform(tmp_path, FACTOR, "factor.yaml")
    page = tmp_path / "whatif.html"
    before = _fingerprint(recorded.db)
    result = runner.invoke(
        app,
        [
            "whatif", "--db", str(recorded.db), "--period", "2024-Q2", "--reform", str(reform),
            "--format", "html", "--out", str(page),
        ],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _fingerprint(recorded.db) == before
    # Q2 holds the May declarations too: replayed, not counted as used before.
    assert "15 declarations of 2024-Q2 (2024-04-01 to 2024-06-30)" in result.stdout
    assert "Summary" in result.stdout and "VAT, CNY" in result.stdout
    assert "over_annual_limit" in result.stdout and "11 Beijing" in result.stdout
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Plotly.newPlot" in text and "plotly.js" in text  # the library itself, inline
    assert 'src="http' not in text  # nothing fetched from a network
    assert "60 %" in text


def test_policy_diff_shows_parameters_and_rows(tmp_path: Path) -> None:
    reform = _reform(
        tmp_path,
        """
name: Bigger allowance, no milk
parameters:
  annual_limit: {2024-01-01: 30000}
positive_list:
  remove: {2024-01-01: ["04021000"]}
tariff:
  set: {2024-01-01: [{code: "3304990099", vat_rate: 0.09}]}
""",
        "d.yaml",
    )
    result = runner.invoke(app, ["policy", "diff", "current", str(reform)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Bigger allowance, no milk compared with current" in out
    assert "annual_limit" in out and "2024-01-01  30000" in out and "2019-01-01  26000" in out
    assert "single_limit" not in out
    assert "Positive list: 1 row(s) removed, 1 added (1 code(s))" in out
    assert "Tariff: 1 row(s) removed, 2 added (1 code(s))" in out
    assert "0.09" in out
    same = runner.invoke(app, ["policy", "diff", str(reform), str(reform)])
    assert same.exit_code == 0 and "No difference." in same.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reform", "{bad}"], "bad.yaml: parameters.annual_limit.2024-01-01: 'many' is not"),
        (["--reform", "{missing}"], "missing.yaml: cannot read the reform file"),
        (["--period", "2024-13"], "--period '2024-13' is not a period"),
        (["--period", "2023-06"], "no recorded declarations in 2023-06"),
        (["--format", "pdf"], "--format 'pdf' is not a format"),
        (["--baseline", "stored"], "--baseline 'stored' is not a baseline"),
        (["--engine", "polars"], "--engine 'polars': choose duckdb or spark"),
        (["--db", "{nodb}"], "no store there"),
        (["--work-dir", "{used}"], "is not empty; give a new or empty folder"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_status_1(
    recorded: Recorded, tmp_path: Path, args: list[str], message: str
) -> None:
    bad = _reform(
        tmp_path, "name: Bad\nparameters:\n  annual_limit: {2024-01-01: many}\n", "bad.yaml"
    )
    good = _reform(tmp_path, "name: Good\n", "good.yaml")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine", encoding="utf-8")
    names = {
        "used": str(tmp_path / "used"),
        "bad": str(bad),
        "missing": str(tmp_path / "missing.yaml"),
        "nodb": str(tmp_path / "no.duckdb"),
    }
    options = {"--db": str(recorded.db), "--period": "2024-06", "--reform": str(good)}
    for option, value in zip(args[::2], args[1::2], strict=True):
        options[option] = value.format(**names)
    command = ["whatif", *[part for pair in options.items() for part in pair]]
    result = runner.invoke(app, command, env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "no.duckdb").exists()


def test_policy_diff_of_a_bad_reform_is_one_line(tmp_path: Path) -> None:
    bad = _reform(tmp_path, "name: Bad\nparameters:\n  annual_limt: {2024-01-01: 1}\n", "bad.yaml")
    result = runner.invoke(app, ["policy", "diff", "current", str(bad)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "bad.yaml: parameters.annual_limt: no such parameter" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
