"""A parcel's four messages posted by their four senders, cleared in a micro-batch, and each
sender reading its own receipts; a message sent again is not cleared again."""

from __future__ import annotations

from service_world import AGENT, LOGISTICS, OTHER_AGENT, PAYMENT, PLATFORM, Running

from builders import BUYER_ID
from cbec.service import intake


def _codes(running: Running, code: str) -> list[object]:
    return [r["code"] for r in running.receipts(code)]


def test_each_sender_reads_the_receipts_of_what_it_sent(cleared: Running) -> None:
    assert _codes(cleared, PLATFORM) == ["312"]
    assert _codes(cleared, PAYMENT) == ["412"]
    assert _codes(cleared, LOGISTICS) == ["512"]
    assert _codes(cleared, AGENT) == ["622", "622", "816"]
    for code in (PLATFORM, PAYMENT, LOGISTICS):
        assert "<ceb:returnStatus>120</ceb:returnStatus>" in str(cleared.receipts(code)[0]["xml"])
    agent = [str(r["xml"]) for r in cleared.receipts(AGENT)]
    assert "<ceb:returnStatus>120</ceb:returnStatus>" in agent[0]
    assert "<ceb:returnStatus>800</ceb:returnStatus>" in agent[1]
    assert "<ceb:copNo>S1</ceb:copNo>" in agent[1]


def test_receipts_after_a_cursor_are_the_later_ones(cleared: Running) -> None:
    receipts = cleared.receipts(AGENT)
    cursors = [int(str(r["cursor"])) for r in receipts]
    assert cursors == sorted(cursors)
    later = cleared.receipts(AGENT, after=cursors[0])
    assert [r["cursor"] for r in later] == cursors[1:]
    assert cleared.receipts(AGENT, after=cursors[-1]) == []


def test_receipts_without_their_document_are_the_same_receipts(cleared: Running) -> None:
    full = cleared.receipts(AGENT)
    assert full and all("document" in r for r in full)
    response = cleared.client.get(
        "/v1/receipts", params={"document": "false"}, headers=cleared.headers(AGENT)
    )
    assert response.status_code == 200
    assert response.json() == [
        {"cursor": r["cursor"], "code": r["code"], "xml": r["xml"]} for r in full
    ]


def test_receipts_as_ceb_xml_one_at_a_time(cleared: Running) -> None:
    headers = cleared.headers(AGENT, Accept="application/xml")
    first = cleared.client.get("/v1/receipts", headers=headers)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/xml")
    assert first.text.startswith("<?xml") and "CEB622Message" in first.text
    cursor = first.headers["X-Cbec-Cursor"]
    second = cleared.client.get("/v1/receipts", params={"after": cursor}, headers=headers)
    assert "<ceb:returnStatus>800</ceb:returnStatus>" in second.text
    last = cleared.receipts(AGENT)[-1]["cursor"]
    none = cleared.client.get("/v1/receipts", params={"after": last, "wait": 0.05}, headers=headers)
    assert none.status_code == 204


def test_the_agent_reads_its_decision_with_taxes(cleared: Running) -> None:
    response = cleared.client.get("/v1/declarations/S1", headers=cleared.headers(AGENT))
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["status"] == 800
    assert decision["reasons"] == []
    assert decision["buyer_id_number"] == BUYER_ID  # in full, for the declarant only
    # 100.00 x 13 % x 70 % = 9.10 (Cai Guan Shui [2016] No. 18)
    assert decision["value_added_tax"] == "9.10"
    assert [line["gnum"] for line in decision["tax_lines"]] == [1]


def test_another_enterprise_reads_neither_receipts_nor_decision(cleared: Running) -> None:
    assert cleared.receipts(OTHER_AGENT) == []
    assert cleared.receipts(PLATFORM)[0]["code"] == "312"  # its own only
    response = cleared.client.get("/v1/declarations/S1", headers=cleared.headers(OTHER_AGENT))
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_declaration"


def test_a_message_sent_again_gets_the_same_id_and_no_new_receipt(cleared: Running) -> None:
    path = cleared.root / "parcel" / "04_CEB621.xml"
    first_id = cleared.rows("SELECT id FROM service_intake WHERE message_code = '621'")
    before = cleared.receipts(AGENT)
    status, answer = cleared.post(AGENT, path.read_bytes())
    assert status == 202
    assert answer["id"] == first_id[0][0]
    assert answer["repeated"] is True
    assert cleared.service.batcher.flush() == 0
    assert cleared.receipts(AGENT) == before


def test_a_batch_cleared_again_after_a_crash_adds_no_decision_and_no_receipt(
    cleared: Running,
) -> None:
    """The crash between the pipeline's commit and the recording of receipts: the entries are
    still unprocessed at restart and are cleared a second time."""
    rows = cleared.rows(
        "SELECT id, sender, guid, message_code, node_guids, body FROM service_intake ORDER BY id"
    )
    entries = [intake.Entry(r[0], r[1], r[2], r[3], tuple(r[4]), bytes(r[5])) for r in rows]
    receipts, when, _ = cleared.service.batcher._clear_in_folder(entries, {})
    assert {r.code for r in receipts} >= {"312", "412", "512", "622", "816"}
    assert cleared.service.journal.record([e.id for e in entries], receipts, when) == 0
    decided = cleared.rows("SELECT count(*) FROM decisions WHERE cop_no = 'S1'")
    assert decided[0][0] == 1


def test_health_and_metrics(cleared: Running) -> None:
    assert cleared.client.get("/health").json() == {"status": "ok", "queue": 0}
    assert cleared.client.get("/metrics").status_code == 401
    text = cleared.client.get("/metrics", headers={"Authorization": "Bearer operator-secret"}).text
    assert "cbec_messages_received_total 4" in text
    assert "cbec_batches_total 1" in text
    assert "cbec_queue_depth 0" in text


def test_the_api_is_documented_by_openapi(cleared: Running) -> None:
    paths = cleared.client.get("/openapi.json").json()["paths"]
    assert {"/v1/messages", "/v1/receipts", "/v1/declarations/{cop_no}", "/health"} <= set(paths)


def test_each_stored_receipt_answers_a_node_of_its_message(cleared: Running) -> None:
    """The receipt's recorded guid is its message's, and its business guid (the first
    <ceb:guid>) is the guid of a node of the intake entry it is recorded for."""
    from lxml import etree

    from cbec.messages.catalog import NAMESPACE

    rows = cleared.rows(
        "SELECT r.receipt_guid, r.xml, i.node_guids FROM service_receipts r "
        "JOIN service_intake i ON i.id = r.intake_id"
    )
    assert len(rows) >= 6
    for receipt_guid, xml, node_guids in rows:
        root = etree.fromstring(xml.encode("utf-8"))
        assert root.get("guid") == receipt_guid
        assert root.findtext(f".//{{{NAMESPACE}}}guid") in node_guids
