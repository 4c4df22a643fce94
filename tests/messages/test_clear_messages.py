"""`cbec clear` on CEB XML: the same decisions as any other input, and a receipt for everything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from builders import Signer, declaration, merge, signer, write_jsonl, write_messages
from cbec.messages.parse import parse_message
from cbec.messages.signatures import sign_message, verify_message
from cbec.pipeline import ClearResult, Policy, clear
from cbec.receipts import ReceiptSigner
from cbec.store.embedded import Store

LINE = [{"gcode": "6111200050", "qty": 1, "price": "100.00"}]
COSMETICS = [
    {"gcode": "3304990099", "qty": 1, "price": "300.00"},
    {"gcode": "6111200050", "qty": 2, "price": "50.00"},
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def _clear(inputs: list[Path], db: Path, out: Path, policy: Policy) -> ClearResult:
    store = Store(db)
    try:
        return clear(inputs, store, out, policy)
    finally:
        store.close()


def _receipts(out: Path) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(code, head row, lines) of every receipt file, in file-name order."""
    found = []
    for path in sorted((out / "receipts").glob("*.xml")):
        message = parse_message(path.read_bytes())
        assert not message.problems, (path.name, message.problems)
        clean = message.clean_tables()
        head = clean[message.type.head.document.stem].to_pylist()
        assert len(head) == 1, path.name  # one receipt per message
        lines = clean[message.type.lines.document.stem].to_pylist() if message.type.lines else []
        found.append((message.type.code, head[0], lines))
    return found


def _of(receipts: list[Any], code: str, **match: Any) -> list[dict[str, Any]]:
    return [
        row for c, row, _ in receipts if c == code and all(row[k] == v for k, v in match.items())
    ]


def test_messages_clear_like_json_lines_and_every_document_is_answered(
    tmp_path: Path, policy: Policy
) -> None:
    rows = merge(
        declaration("C1", COSMETICS),
        declaration("C2", LINE, alter={"payments": {"amount_paid": "99.00"}}),
        declaration("C3", LINE, omit=("waybills",)),
    )
    write_messages(tmp_path / "xml", rows)
    write_jsonl(tmp_path / "jsonl", rows)
    _clear([tmp_path / "xml"], tmp_path / "x.duckdb", tmp_path / "xo", policy)
    _clear([tmp_path / "jsonl"], tmp_path / "j.duckdb", tmp_path / "jo", policy)
    for name in ("decisions.parquet", "tax_lines.parquet"):
        assert pq.read_table(tmp_path / "xo" / name).equals(pq.read_table(tmp_path / "jo" / name))

    receipts = _receipts(tmp_path / "xo")
    assert len(_of(receipts, "312", return_status=120)) == 3
    assert len(_of(receipts, "412", return_status=120)) == 3
    assert len(_of(receipts, "512", return_status=120)) == 2
    # Released: 120 then 800, and a tax bill whose lines add up to its head.
    c1 = [(c, row["return_status"]) for c, row, _ in receipts if row.get("cop_no") == "C1"]
    assert c1 == [("622", 120), ("622", 800)]
    bill = [(row, lines) for c, row, lines in receipts if c == "816"]
    assert len(bill) == 1
    head, lines = bill[0]
    decisions = {
        r["cop_no"]: r for r in pq.read_table(tmp_path / "xo" / "decisions.parquet").to_pylist()
    }
    assert head["invt_no"] == decisions["C1"]["invt_no"]
    assert head["order_no"] == "ORDC1" and head["logistics_no"] == "YTC1"
    assert head["guid"] == "G-INV-C1"
    for column in ("customs_tax", "value_added_tax", "consumption_tax"):
        assert head[column] == decisions["C1"][column] == sum(line[column] for line in lines)
    assert [line["gnum"] for line in lines] == [1, 2]
    # Rejected: one 100 whose returnInfo names the reason.
    (c2,) = _of(receipts, "622", cop_no="C2")
    assert c2["return_status"] == 100 and "[Code:amount_paid_mismatch;" in c2["return_info"]
    (c3,) = _of(receipts, "622", cop_no="C3")
    assert "[Code:waybill_missing;" in c3["return_info"]


def test_a_bad_value_refuses_its_node_alone_and_names_the_element(
    tmp_path: Path, policy: Policy
) -> None:
    rows = merge(declaration("B1", LINE), declaration("B2", LINE))
    (orders, *_rest) = write_messages(tmp_path / "in", rows)
    text = orders.read_text(encoding="utf-8")
    text = text.replace(
        "<ceb:goodsValue>100.00</ceb:goodsValue>", "<ceb:goodsValue>1O0</ceb:goodsValue>", 1
    )
    orders.write_text(text, encoding="utf-8")
    _clear([tmp_path / "in"], tmp_path / "s.duckdb", tmp_path / "out", policy)
    receipts = _receipts(tmp_path / "out")
    (bad,) = _of(receipts, "312", order_no="ORDB1")
    assert bad["return_status"] == 100
    assert "/CEB311Message/Order[1]/OrderHead/goodsValue" in bad["return_info"]
    assert "'1O0'" in bad["return_info"]
    (good,) = _of(receipts, "312", order_no="ORDB2")
    assert good["return_status"] == 120
    statuses = {row["cop_no"]: row["return_status"] for row in _of(receipts, "622")}
    assert statuses["B2"] == 800
    assert "[Code:order_missing;" in _of(receipts, "622", cop_no="B1")[0]["return_info"]


def test_a_missing_required_element_rejects_the_declaration_and_names_it(
    tmp_path: Path, policy: Policy
) -> None:
    rows = declaration("R1", LINE)
    paths = write_messages(tmp_path / "in", rows)
    inventory = paths[-1]
    inventory.write_text(
        inventory.read_text(encoding="utf-8").replace(
            "<ceb:customsCode>2991</ceb:customsCode>", ""
        ),
        encoding="utf-8",
    )
    _clear([tmp_path / "in"], tmp_path / "s.duckdb", tmp_path / "out", policy)
    (receipt,) = _of(_receipts(tmp_path / "out"), "622", cop_no="R1")
    assert receipt["return_status"] == 100
    assert "[Code:required_field_missing;" in receipt["return_info"]
    assert "InventoryHead/customsCode: missing" in receipt["return_info"]


def test_an_unreadable_file_gets_a_900_and_the_others_clear(tmp_path: Path, policy: Policy) -> None:
    write_messages(tmp_path / "in", declaration("U1", LINE))
    (tmp_path / "in" / "broken.xml").write_bytes(b"<ceb:CEB311Message xmlns:ceb='x'><unclosed>")
    (tmp_path / "in" / "entity.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'
    )
    result = _clear([tmp_path / "in"], tmp_path / "s.duckdb", tmp_path / "out", policy)
    assert result.unreadable_messages == 2
    receipts = _receipts(tmp_path / "out")
    errors = [row for c, row, _ in receipts if c == "900"]
    assert len(errors) == 2
    assert any("not well-formed" in row["return_info"] for row in errors)
    assert any("DTD" in row["return_info"] for row in errors)
    assert all("root:" not in row["return_info"] for row in errors)  # nothing of /etc/passwd
    assert _of(receipts, "622", cop_no="U1")[-1]["return_status"] == 800


def test_a_change_before_the_declaration_replaces_the_order(tmp_path: Path, policy: Policy) -> None:
    # The platform first sends an order whose amount does not match the payment, then corrects it.
    wrong = declaration("V1", LINE, alter={"orders": {"actural_paid": "90.00"}})
    write_messages(
        tmp_path / "day", {"orders": wrong["orders"], "order_lines": wrong["order_lines"]}, "a"
    )
    fixed = declaration(
        "V1", LINE, alter={"orders": {"app_type": "2", "app_time": "2024-06-15T10:05:00"}}
    )
    write_messages(tmp_path / "day", fixed, "b")
    _clear([tmp_path / "day"], tmp_path / "s.duckdb", tmp_path / "out", policy)
    receipts = _receipts(tmp_path / "out")
    assert [r["return_status"] for r in _of(receipts, "312", order_no="ORDV1")] == [120, 120]
    assert _of(receipts, "622", cop_no="V1")[-1]["return_status"] == 800


def test_a_change_after_release_is_refused_with_the_reason(tmp_path: Path, policy: Policy) -> None:
    write_messages(tmp_path / "day1", declaration("W1", LINE))
    _clear([tmp_path / "day1"], tmp_path / "s.duckdb", tmp_path / "out1", policy)
    late = declaration(
        "W1",
        LINE,
        alter={"orders": {"app_type": "2", "app_time": "2024-06-16T09:00:00", "consignee": "李四"}},
    )
    write_messages(
        tmp_path / "day2", {"orders": late["orders"], "order_lines": late["order_lines"]}
    )
    _clear([tmp_path / "day2"], tmp_path / "s.duckdb", tmp_path / "out2", policy)
    (receipt,) = _of(_receipts(tmp_path / "out2"), "312", order_no="ORDW1")
    assert receipt["return_status"] == 100
    assert (
        "[Code:document_in_use;Desc:used by the released declaration W1]" in receipt["return_info"]
    )
    store = Store(tmp_path / "s.duckdb")
    try:
        orders = store.documents("orders")
        assert orders is not None
        assert set(orders.to_pyarrow()["consignee"].to_pylist()) == {"王小明"}
    finally:
        store.close()


def test_deleting_the_order_before_the_declaration_leaves_it_missing(
    tmp_path: Path, policy: Policy
) -> None:
    rows = declaration("D1", LINE)
    write_messages(
        tmp_path / "day", {"orders": rows["orders"], "order_lines": rows["order_lines"]}, "a"
    )
    gone = declaration(
        "D1", LINE, alter={"orders": {"app_type": "3", "app_time": "2024-06-15T10:01:00"}}
    )
    write_messages(tmp_path / "day", {**gone, "order_lines": []}, "b")
    _clear([tmp_path / "day"], tmp_path / "s.duckdb", tmp_path / "out", policy)
    (receipt,) = _of(_receipts(tmp_path / "out"), "622", cop_no="D1")
    assert receipt["return_status"] == 100 and "[Code:order_missing;" in receipt["return_info"]


def test_declaration_lists_changed_after_or_deleted_before_the_decision(
    tmp_path: Path, policy: Policy
) -> None:
    write_messages(tmp_path / "day1", merge(declaration("E1", LINE), declaration("E2", LINE)))
    _clear([tmp_path / "day1"], tmp_path / "s.duckdb", tmp_path / "out1", policy)
    changed = declaration(
        "E1", LINE, alter={"inventories": {"app_type": "2", "app_time": "2024-06-16T09:00:00"}}
    )
    first = declaration("E3", LINE)
    deleted = declaration(
        "E3", LINE, alter={"inventories": {"app_type": "3", "app_time": "2024-06-15T11:00:00"}}
    )
    write_messages(
        tmp_path / "day2",
        {"inventories": changed["inventories"], "inventory_lines": changed["inventory_lines"]},
        "a",
    )
    write_messages(tmp_path / "day2", first, "b")
    write_messages(
        tmp_path / "day2", {"inventories": deleted["inventories"], "inventory_lines": []}, "c"
    )
    _clear([tmp_path / "day2"], tmp_path / "s.duckdb", tmp_path / "out2", policy)
    receipts = _receipts(tmp_path / "out2")
    (e1,) = _of(receipts, "622", cop_no="E1")
    assert e1["return_status"] == 100
    assert "[Code:declaration_decided;Desc:already decided with status 800]" in e1["return_info"]
    assert [r["return_status"] for r in _of(receipts, "622", cop_no="E3")] == [899, 899]
    cleared = {
        r["cop_no"] for r in pq.read_table(tmp_path / "out2" / "decisions.parquet").to_pylist()
    }
    assert "E3" not in cleared


def test_receipts_are_the_same_when_the_same_messages_are_cleared_again(
    tmp_path: Path, policy: Policy
) -> None:
    write_messages(tmp_path / "in", merge(declaration("S1", COSMETICS), declaration("S2", LINE)))
    _clear([tmp_path / "in"], tmp_path / "s.duckdb", tmp_path / "out1", policy)
    _clear([tmp_path / "in"], tmp_path / "s.duckdb", tmp_path / "out2", policy)
    first = sorted(p.name for p in (tmp_path / "out1" / "receipts").iterdir())
    second = sorted(p.name for p in (tmp_path / "out2" / "receipts").iterdir())
    assert first == second
    for name in first:
        assert (tmp_path / "out1" / "receipts" / name).read_bytes() == (
            tmp_path / "out2" / "receipts" / name
        ).read_bytes()


@pytest.fixture(scope="module")
def agent_key() -> Signer:
    # Valid when the test declarations were made (2024): the batch path judges at their time.
    return signer("Agent 3301980001", dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1))


def _sign_inventories(paths: list[Path], key: Signer) -> None:
    for path in paths:
        if "CEB621" in path.name:
            path.write_bytes(
                sign_message(path.read_bytes(), key.key_pem, key.cert_pem, legacy=True)
            )


def test_a_registered_sender_must_sign_what_it_declares(
    tmp_path: Path, policy: Policy, agent_key: Signer
) -> None:
    store = Store(tmp_path / "s.duckdb")
    store.add_enterprise("3301980001", "Agent", ["agent"], agent_key.cert_pem)
    store.close()
    write_messages(tmp_path / "unsigned", declaration("G1", LINE))
    signed = write_messages(tmp_path / "signed", declaration("G2", LINE))
    _sign_inventories(signed, agent_key)
    _clear(
        [tmp_path / "unsigned", tmp_path / "signed"],
        tmp_path / "s.duckdb",
        tmp_path / "out",
        policy,
    )
    receipts = _receipts(tmp_path / "out")
    (g1,) = _of(receipts, "622", cop_no="G1")
    assert g1["return_status"] == 100
    assert "[Code:signature_invalid;Desc:sender 3301980001: no signature]" in g1["return_info"]
    assert [r["return_status"] for r in _of(receipts, "622", cop_no="G2")] == [120, 800]
    # Orders from the platform, which registered no certificate, are not checked.
    assert {r["return_status"] for r in _of(receipts, "312")} == {120}


def test_require_signatures_checks_every_declared_message(
    tmp_path: Path, policy: Policy, agent_key: Signer
) -> None:
    unsigned = write_messages(tmp_path / "in", merge(declaration("H1", LINE)))
    _sign_inventories(unsigned, agent_key)  # the inventory is signed, the others are not
    store = Store(tmp_path / "s.duckdb")
    try:
        clear([tmp_path / "in"], store, tmp_path / "out", policy, require_signatures=True)
    finally:
        store.close()
    receipts = _receipts(tmp_path / "out")
    for code in ("312", "412", "512"):
        (receipt,) = _of(receipts, code)
        assert receipt["return_status"] == 100
        assert "signature_invalid" in receipt["return_info"]
    # The inventory verifies against its own certificate; its companions were refused.
    assert "[Code:order_missing;" in _of(receipts, "622", cop_no="H1")[-1]["return_info"]


def test_receipts_are_signed_with_the_platform_key_and_carry_every_element(
    tmp_path: Path, policy: Policy
) -> None:
    platform = signer("Customs platform", dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1))
    write_messages(tmp_path / "in", declaration("K1", LINE))
    store = Store(tmp_path / "s.duckdb")
    try:
        clear(
            [tmp_path / "in"],
            store,
            tmp_path / "out",
            policy,
            receipt_signer=ReceiptSigner(platform.key_pem, platform.cert_pem),
        )
    finally:
        store.close()
    files = sorted((tmp_path / "out" / "receipts").glob("*.xml"))
    assert [f.name.split("_")[0] for f in files] == [
        "CEB312", "CEB412", "CEB512", "CEB622", "CEB622", "CEB816"
    ]  # fmt: skip
    for path in files:
        verify_message(path.read_bytes(), platform.cert_pem, at=dt.datetime(2024, 6, 15))
    bill = next(f for f in files if f.name.startswith("CEB816")).read_text(encoding="utf-8")
    digest_fields = (  # domain digest, section 6: CEB816 TaxHeadRd
        "guid returnTime invtNo taxNo customsTax valueAddedTax consumptionTax status entDutyNo "
        "assureCode ebcCode logisticsCode agentCode customsCode orderNo logisticsNo"
    )
    for element in digest_fields.split(" "):
        assert f"<ceb:{element}>" in bill, element
    assert "<ceb:note/>" in bill or "<ceb:note></ceb:note>" in bill  # absent, yet an element


def test_kept_receipts_are_the_files_a_run_writes(tmp_path: Path, policy: Policy) -> None:
    """`keep_receipts` (the service) gives the receipts the files hold, byte for byte, each
    with its message guid and the guid of the document it answers as the parser reads them."""
    from lxml import etree

    from cbec.messages.catalog import NAMESPACE

    rows = merge(declaration("K1", COSMETICS), declaration("K&2", LINE, omit=("waybills",)))
    write_messages(tmp_path / "xml", rows)
    (tmp_path / "xml" / "junk.xml").write_bytes(b"<not a message")
    when = dt.datetime(2024, 6, 16, 12)  # a CEB900's returnTime is the run's clock

    def run(db: str, out: str, keep: bool) -> ClearResult:
        store = Store(tmp_path / db)
        try:
            return clear(
                [tmp_path / "xml"], store, tmp_path / out, policy, when, keep_receipts=keep
            )
        finally:
            store.close()

    run("a.duckdb", "files", keep=False)
    kept = run("b.duckdb", "kept", keep=True)
    assert not (tmp_path / "kept" / "receipts").exists()
    written = {p.name: p.read_bytes() for p in (tmp_path / "files" / "receipts").glob("*.xml")}
    assert kept.receipts == len(kept.kept_receipts) == len(written) > 6
    assert {r.file_name: r.data for r in kept.kept_receipts} == written
    assert {r.code for r in kept.kept_receipts} >= {"312", "412", "512", "622", "816", "900"}
    for receipt in kept.kept_receipts:
        root = etree.fromstring(receipt.data)
        assert root.get("guid") == receipt.guid
        assert (root.findtext(f".//{{{NAMESPACE}}}guid") or "") == receipt.answers
