"""XML signatures of CEB messages: cbec's SHA-256, the network's SHA-1, and every way to fail."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree
from signxml import SignatureConstructionMethod, XMLSigner, XMLVerifier
from signxml.exceptions import InvalidInput

from builders import Signer, signer
from cbec.messages.build import build_message, wrap_dxp
from cbec.messages.catalog import MESSAGES, NAMESPACE, SIGNATURE_NAMESPACE
from cbec.messages.parse import parse_message
from cbec.messages.signatures import SignatureInvalid, sign_message, verify_message

DS = {"ds": SIGNATURE_NAMESPACE}
GUID = "4CDE1CFD-EDED-46B1-946C-B8022E42FC94"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def platform() -> Signer:
    return signer("Platform 3301964J31", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365))


@pytest.fixture(scope="module")
def intruder() -> Signer:
    return signer("Someone else", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365))


@pytest.fixture(scope="module")
def order() -> bytes:
    """A CEB311 order message of one node with one line, and its BaseTransfer."""
    head = {
        "guid": GUID,
        "app_type": "1",
        "app_time": dt.datetime(2024, 6, 15, 10, 0, 0),
        "app_status": "2",
        "order_type": "I",
        "order_no": "ORD1",
        "ebp_code": "3301964J31",
        "ebc_code": "3301960001",
        "goods_value": Decimal("100.00"),
        "freight": Decimal("0.00"),
        "actural_paid": Decimal("100.00"),
        "currency": "142",
        "buyer_id_type": "1",
        "buyer_id_number": "110101199003070011",
        "buyer_name": "王小明",
        "consignee": "王小明",
        "consignee_telephone": "13800000000",
        "consignee_address": "浙江省杭州市",
    }
    line = {
        "ebp_code": "3301964J31",
        "order_no": "ORD1",
        "gnum": 1,
        "item_name": "针织衫",
        "qty": Decimal("1"),
        "price": Decimal("100.00"),
        "total_price": Decimal("100.00"),
    }
    transfer = {"copCode": "3301964J31", "copName": "Platform", "dxpMode": "DXP", "dxpId": "D1"}
    return build_message(MESSAGES["311"], [head], [line], guid=GUID, transfer=transfer)


def _reason(message: bytes, cert_pem: bytes, at: dt.datetime | None = None) -> str:
    with pytest.raises(SignatureInvalid) as caught:
        verify_message(message, cert_pem, at=at)
    return caught.value.reason


def _algorithms(signed: bytes) -> tuple[str | None, str | None, list[str | None]]:
    signature = etree.fromstring(signed).find("ds:Signature", DS)
    assert signature is not None
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", DS)
    digest = signature.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", DS)
    transforms = signature.findall("ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform", DS)
    assert method is not None and digest is not None
    return (
        method.get("Algorithm"),
        digest.get("Algorithm"),
        [t.get("Algorithm") for t in transforms],
    )


def test_sha256_signature_is_the_last_child_and_verifies(order: bytes, platform: Signer) -> None:
    signed = sign_message(order, platform.key_pem, platform.cert_pem)
    verify_message(signed, platform.cert_pem)
    root = etree.fromstring(signed)
    assert etree.QName(root[-1]).localname == "Signature"
    assert etree.QName(root[-2]).localname == "BaseTransfer"
    method, digest, _ = _algorithms(signed)
    assert method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert digest == "http://www.w3.org/2001/04/xmlenc#sha256"
    c14n = root.find("ds:Signature/ds:SignedInfo/ds:CanonicalizationMethod", DS)
    assert c14n is not None
    assert c14n.get("Algorithm") == "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    reference = root.find("ds:Signature/ds:SignedInfo/ds:Reference", DS)
    assert reference is not None and reference.get("URI") == ""
    assert root.findtext("ds:Signature/ds:KeyInfo/ds:KeyName", None, DS) == format(
        platform.serial, "x"
    )
    embedded = root.findtext("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", None, DS)
    assert embedded and "".join(embedded.split()) in "".join(platform.cert_pem.decode().split())


def test_legacy_sha1_signature_as_the_network_signs_verifies(
    order: bytes, platform: Signer
) -> None:
    signed = sign_message(order, platform.key_pem, platform.cert_pem, legacy=True)
    method, digest, transforms = _algorithms(signed)
    assert method == "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    assert digest == "http://www.w3.org/2000/09/xmldsig#sha1"
    assert transforms == ["http://www.w3.org/2000/09/xmldsig#enveloped-signature"]
    verify_message(signed, platform.cert_pem)
    # signxml's default configuration refuses SHA-1: verify_message configures it to accept it.
    with pytest.raises(InvalidInput, match="forbidden by configuration"):
        XMLVerifier().verify(signed, x509_cert=platform.cert_pem.decode())


@pytest.mark.parametrize("legacy", [False, True])
def test_a_changed_value_does_not_verify(order: bytes, platform: Signer, legacy: bool) -> None:
    signed = sign_message(order, platform.key_pem, platform.cert_pem, legacy=legacy)
    tampered = signed.replace(b"<ceb:price>100.00</ceb:price>", b"<ceb:price>10.00</ceb:price>")
    assert tampered != signed
    reason = _reason(tampered, platform.cert_pem)
    assert reason.startswith("signature does not verify")
    assert "changed after it was signed" in reason


def test_a_changed_signed_info_does_not_verify(order: bytes, platform: Signer) -> None:
    signed = sign_message(order, platform.key_pem, platform.cert_pem)
    root = etree.fromstring(signed)
    digest = root.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", DS)
    assert digest is not None and digest.text is not None
    digest.text = base64.b64encode(bytes(32)).decode()
    reason = _reason(etree.tostring(root), platform.cert_pem)
    assert reason.startswith("signature does not verify: the signature value does not match")


def test_signed_with_another_key_names_the_other_certificate(
    order: bytes, platform: Signer, intruder: Signer
) -> None:
    signed = sign_message(order, intruder.key_pem, intruder.cert_pem)
    reason = _reason(signed, platform.cert_pem)
    assert reason.startswith("signed by another certificate")
    assert "Someone else" in reason and format(intruder.serial, "x") in reason
    # The embedded certificate is never trusted: the intruder's own one verifies nothing here.
    verify_message(signed, intruder.cert_pem)


def test_another_key_named_only_by_key_name(
    order: bytes, platform: Signer, intruder: Signer
) -> None:
    root = etree.fromstring(sign_message(order, intruder.key_pem, intruder.cert_pem))
    x509_data = root.find("ds:Signature/ds:KeyInfo/ds:X509Data", DS)
    assert x509_data is not None
    x509_data.getparent().remove(x509_data)  # KeyInfo is not signed: removing it is allowed
    reason = _reason(etree.tostring(root), platform.cert_pem)
    assert reason == (
        f"signed by another certificate (KeyName {intruder.serial:x}), not the registered one "
        f"(CN=Platform 3301964J31, serial {platform.serial:x})"
    )


def test_an_unsigned_message_has_no_signature(order: bytes, platform: Signer) -> None:
    assert _reason(order, platform.cert_pem) == "no signature"


def test_a_signature_over_one_element_only_is_refused(order: bytes, platform: Signer) -> None:
    """A valid signature over the OrderHead alone would let the lines and BaseTransfer change."""
    root = etree.fromstring(order)
    head = root.find(f"{{{NAMESPACE}}}Order/{{{NAMESPACE}}}OrderHead")
    assert head is not None
    head.set("Id", "head")
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    )
    partial = etree.tostring(
        signer.sign(
            root, key=platform.key_pem, cert=platform.cert_pem.decode(), reference_uri="#head"
        )
    )
    # signxml alone accepts it: the whole-message rule is cbec's.
    XMLVerifier().verify(partial, x509_cert=platform.cert_pem.decode())
    reason = _reason(partial, platform.cert_pem)
    assert reason.startswith("the signature does not cover the whole message")
    assert "'#head'" in reason


def test_a_signature_inside_a_business_node_is_refused(order: bytes, platform: Signer) -> None:
    root = etree.fromstring(sign_message(order, platform.key_pem, platform.cert_pem))
    signature = root.find("ds:Signature", DS)
    node = root.find(f"{{{NAMESPACE}}}Order")
    assert signature is not None and node is not None
    node.append(signature)
    reason = _reason(etree.tostring(root), platform.cert_pem)
    assert reason.startswith("the signature does not cover the whole message")


def test_two_signatures_are_refused(order: bytes, platform: Signer) -> None:
    root = etree.fromstring(sign_message(order, platform.key_pem, platform.cert_pem))
    signature = root.find("ds:Signature", DS)
    assert signature is not None
    root.append(etree.fromstring(etree.tostring(signature)))
    assert _reason(etree.tostring(root), platform.cert_pem).startswith("2 signatures")


def test_an_expired_certificate_is_refused_unless_judged_at_the_message_time(
    order: bytes,
) -> None:
    old = signer(
        "Platform 2023",
        dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    signed = sign_message(order, old.key_pem, old.cert_pem)
    reason = _reason(signed, old.cert_pem)
    assert reason.startswith("the registered certificate (CN=Platform 2023")
    assert "is not valid at" in reason
    assert "valid from 2023-01-01T08:00:00+08:00 to 2024-01-01T08:00:00+08:00" in reason
    verify_message(signed, old.cert_pem, at=dt.datetime(2023, 6, 15, tzinfo=dt.UTC))
    # A naive time is China Standard Time, as the messages write it: 08:00 CST is 00:00 UTC.
    verify_message(signed, old.cert_pem, at=dt.datetime(2024, 1, 1, 8, 0, 0))
    assert "is not valid at" in _reason(signed, old.cert_pem, at=dt.datetime(2024, 1, 1, 8, 0, 1))


def test_no_entity_is_resolved_and_nothing_fetched(platform: Signer) -> None:
    hostile = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/e">]>\n'
        b'<ceb:CEB311Message xmlns:ceb="http://www.chinaport.gov.cn/ceb">&e;</ceb:CEB311Message>'
    )
    assert "DTD" in _reason(hostile, platform.cert_pem)


def test_a_reference_to_an_outside_uri_is_refused_before_any_fetch(
    order: bytes, platform: Signer
) -> None:
    root = etree.fromstring(sign_message(order, platform.key_pem, platform.cert_pem))
    reference = root.find("ds:Signature/ds:SignedInfo/ds:Reference", DS)
    assert reference is not None
    reference.set("URI", "http://127.0.0.1:9/order.xml")
    reason = _reason(etree.tostring(root), platform.cert_pem)
    assert reason.startswith("the signature does not cover the whole message")


def test_signing_refuses_a_key_of_another_certificate(
    order: bytes, platform: Signer, intruder: Signer
) -> None:
    with pytest.raises(ValueError, match="does not belong to the certificate"):
        sign_message(order, intruder.key_pem, platform.cert_pem)
    signed = sign_message(order, platform.key_pem, platform.cert_pem)
    with pytest.raises(ValueError, match="already signed"):
        sign_message(signed, platform.key_pem, platform.cert_pem)


def test_a_registered_certificate_that_is_not_pem_is_a_registry_error(
    order: bytes, platform: Signer
) -> None:
    signed = sign_message(order, platform.key_pem, platform.cert_pem)
    with pytest.raises(ValueError, match="not a PEM certificate"):
        verify_message(signed, b"not a certificate")


@pytest.mark.parametrize("legacy", [False, True])
def test_a_signed_message_parses_to_the_same_tables(
    order: bytes, platform: Signer, legacy: bool
) -> None:
    unsigned = parse_message(order, strict=True)
    signed = parse_message(
        sign_message(order, platform.key_pem, platform.cert_pem, legacy=legacy), strict=True
    )
    assert not unsigned.signed and signed.signed
    assert signed.problems == unsigned.problems == {}
    assert signed.transfer == unsigned.transfer
    assert signed.tables.keys() == unsigned.tables.keys()
    for stem, table in unsigned.tables.items():
        assert signed.tables[stem].equals(table), stem


@pytest.mark.parametrize("line_length", [None, 76])
def test_a_signed_message_in_a_dxp_envelope_parses_and_verifies(
    order: bytes, platform: Signer, line_length: int | None
) -> None:
    signed = sign_message(order, platform.key_pem, platform.cert_pem, legacy=True)
    info = {
        "CopMsgId": "M1",
        "SenderId": "DXPENT0000000001",
        "ReceiverId": "DXPEDCCEB0000002",
        "CreatTime": "20240615100000",
        "MsgType": "CEB311Message",
    }
    envelope = wrap_dxp(signed, info)
    if line_length is not None:  # base64 broken into lines, as MIME encoders write it
        data = base64.b64encode(signed).decode()
        lines = "\n".join(data[i : i + line_length] for i in range(0, len(data), line_length))
        envelope = envelope.replace(data.encode(), lines.encode())
    parsed = parse_message(envelope)
    assert parsed.envelope == info
    assert parsed.signed
    assert parsed.raw == signed
    assert parsed.tables["orders"].equals(parse_message(order).tables["orders"])
    verify_message(parsed.raw, platform.cert_pem)
    assert _reason(envelope, platform.cert_pem).startswith("a DXP envelope")
