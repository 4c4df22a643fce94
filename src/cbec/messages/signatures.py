"""XML signatures of CEB messages: sign as an enterprise does, verify with a registered certificate.

A CEB message carries one enveloped XML-DSig signature, the last child of its root (after
`BaseTransfer`), over the whole message: one `Reference` with `URI=""` and the
enveloped-signature transform. `KeyInfo` holds `KeyName` (the certificate's serial number) and
`X509Data/X509Certificate` (domain digest section 6).

The real network signs with C14N 1.0, `rsa-sha1` and SHA-1 digests. signxml refuses SHA-1 unless
told otherwise, on both sides: the verifier is given the accepted methods explicitly
(`SignatureConfiguration.signature_methods` / `digest_algorithms`), and the legacy signer
overrides `XMLSigner.check_deprecated_methods`, signxml's hook for this. cbec's own signatures use
rsa-sha256 and SHA-256 digests.

A signature is checked against the certificate the enterprise registered, never against the one
the message carries: that one is only read to say "signed by another certificate". Nothing is
fetched and no entity is resolved: the message is read with entities, DTDs and network off, and
references other than `""` are refused before signxml sees them.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidCertificate, InvalidDigest, SignXMLException

from cbec.messages.catalog import DXP_NAMESPACE, NAMESPACE, SIGNATURE_NAMESPACE
from cbec.messages.parse import MAX_MESSAGE_BYTES

_DS = {"ds": SIGNATURE_NAMESPACE}
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")  # the messages' times (DESIGN.md, Time)
ENVELOPED = SignatureConstructionMethod.enveloped.value
C14N_1_0 = CanonicalizationMethod.CANONICAL_XML_1_0

# What a verifier accepts: RSA with SHA-1 (the real network) or the SHA-2 family (cbec's own).
ACCEPTED_SIGNATURE_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA1,
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
    }
)
ACCEPTED_DIGESTS = frozenset(
    {DigestAlgorithm.SHA1, DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)
# Transforms a whole-message reference may carry besides the enveloped-signature transform: the
# canonicalizations. Anything else (XPath filters, XSLT, base64) could narrow what is signed.
_C14N_TRANSFORMS = frozenset(method.value for method in CanonicalizationMethod)


class SignatureInvalid(Exception):
    """The message's signature is missing or does not prove that the registered key signed it
    all; `reason` says which, in one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _LegacySigner(XMLSigner):
    """rsa-sha1 with SHA-1 digests, as the real network signs (domain digest section 6)."""

    def check_deprecated_methods(self) -> None:
        return None  # signxml's hook: SHA-1 is wanted here, for fidelity to the network


def load_certificate(pem: bytes | str) -> x509.Certificate:
    """The one X.509 certificate in a PEM text. Raises ValueError saying what is wrong."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError("not a PEM certificate (no -----BEGIN CERTIFICATE----- block)")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"not a readable PEM certificate: {exc}") from None
    if len(certificates) != 1:
        raise ValueError(f"{len(certificates)} certificates in one PEM; give exactly one")
    return certificates[0]


def key_name(certificate: x509.Certificate) -> str:
    """The certificate's serial number in hex, as `KeyInfo/KeyName` carries it."""
    return format(certificate.serial_number, "x")


def describe_certificate(certificate: x509.Certificate) -> str:
    """Subject and serial, for messages and listings."""
    return (
        f"{certificate.subject.rfc4514_string() or '(no subject)'}, serial {key_name(certificate)}"
    )


def _parser() -> etree.XMLParser:
    # Whitespace, comments and processing instructions are kept: the digest is over the bytes as
    # canonicalized, so the tree must be the message as sent (unlike the parser of `parse`).
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
    )


def _read(message: bytes) -> etree._Element:
    """The message's root, read safely. Raises ValueError."""
    if len(message) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        root = etree.fromstring(message, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValueError(f"not readable XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise ValueError("a DTD or entity declaration is not allowed in a CEB message")
    if any(True for _ in root.iter(etree.Entity)):
        raise ValueError("an entity reference is not allowed in a CEB message")
    return root


def _namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace


def sign_message(message: bytes, key_pem: bytes, cert_pem: bytes, *, legacy: bool = False) -> bytes:
    """The CEB message with an enveloped signature appended as the last child of its root.

    C14N 1.0; rsa-sha256 and SHA-256 digests, or with `legacy` rsa-sha1 and SHA-1 digests and
    only the enveloped-signature transform listed, as the real network signs. `KeyInfo` holds
    `KeyName` (the certificate serial in hex) and `X509Data/X509Certificate`. The key must be the
    certificate's RSA private key (unencrypted PEM). Raises ValueError.
    """
    root = _read(message)
    if _namespace(root) != NAMESPACE:
        raise ValueError(f"not a CEB message: the root is not in the namespace {NAMESPACE}")
    if root.find(".//ds:Signature", _DS) is not None:
        raise ValueError("the message is already signed")
    certificate = load_certificate(cert_pem)
    key = _private_key(key_pem)
    if _public(key.public_key()) != _public(certificate.public_key()):
        raise ValueError("the private key does not belong to the certificate")
    if legacy:
        signer: XMLSigner = _LegacySigner(
            method=SignatureConstructionMethod.enveloped,
            signature_algorithm=SignatureMethod.RSA_SHA1,
            digest_algorithm=DigestAlgorithm.SHA1,
            c14n_algorithm=C14N_1_0,
        )
    else:
        signer = XMLSigner(
            method=SignatureConstructionMethod.enveloped,
            signature_algorithm=SignatureMethod.RSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=C14N_1_0,
        )
    signer.namespaces = {"ds": SIGNATURE_NAMESPACE}
    signed = signer.sign(
        root,
        key=key,
        cert=[certificate],
        key_name=key_name(certificate),
        # Without a listed transform, the reference is canonicalized with C14N 1.0 all the same
        # (XML-DSig 4.4.3.2): the network lists the enveloped-signature transform alone.
        exclude_c14n_transform_element=legacy,
    )
    return cast(bytes, etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


@functools.lru_cache(maxsize=16)
def _private_key(key_pem: bytes) -> rsa.RSAPrivateKey:
    """The RSA key of a PEM text, loaded once: loading checks the key, ~50 ms for RSA-2048,
    which would dominate signing every receipt."""
    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a readable unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("CEB messages are signed with an RSA key")
    return key


def _public(key: PublicKeyTypes) -> bytes:
    """A public key's SubjectPublicKeyInfo, to compare keys."""
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def verify_message(message: bytes, cert_pem: bytes, *, at: dt.datetime | None = None) -> None:
    """Check that the registered certificate's key signed the whole CEB message.

    `cert_pem` is the certificate the enterprise registered; the one in the message is not
    trusted. Accepts rsa-sha1/SHA-1 (the real network) and rsa-sha256/SHA-256 (cbec). The
    certificate must be valid at `at` (default now; give the message's time to judge an old
    message; a naive time is China Standard Time). Raises SignatureInvalid with the reason;
    ValueError if `cert_pem` is not a certificate (a registry problem, not the message's).
    """
    registered = load_certificate(cert_pem)
    try:
        root = _read(message)
    except ValueError as exc:
        raise SignatureInvalid(str(exc)) from None
    if _namespace(root) == DXP_NAMESPACE:
        raise SignatureInvalid(
            "a DXP envelope: verify the CEB message inside it (ParsedMessage.raw)"
        )
    signatures = root.findall(".//ds:Signature", _DS)
    if not signatures:
        raise SignatureInvalid("no signature")
    if len(signatures) > 1:
        raise SignatureInvalid(f"{len(signatures)} signatures; a CEB message carries one")
    signature = signatures[0]
    if signature.getparent() is not root:
        raise SignatureInvalid(
            "the signature does not cover the whole message: it is not a child of the root"
        )
    _check_signed_info(signature)
    when = _utc(at)
    if not registered.not_valid_before_utc <= when <= registered.not_valid_after_utc:
        raise SignatureInvalid(
            f"the registered certificate ({describe_certificate(registered)}) is not valid at "
            f"{when.astimezone(CHINA).isoformat(timespec='seconds')}: valid from "
            f"{registered.not_valid_before_utc.astimezone(CHINA).isoformat(timespec='seconds')} "
            f"to {registered.not_valid_after_utc.astimezone(CHINA).isoformat(timespec='seconds')}"
        )
    config = SignatureConfiguration(
        require_x509=True,
        location="./",
        expect_references=1,
        signature_methods=ACCEPTED_SIGNATURE_METHODS,
        digest_algorithms=ACCEPTED_DIGESTS,
        # XML-DSig: a reference without a listed canonicalization is canonicalized with C14N
        # 1.0 (signxml's default would be 1.1).
        default_reference_c14n_method=C14N_1_0,
        verification_time=when,
    )
    try:
        result = XMLVerifier().verify(
            root, x509_cert=registered, parser=_parser(), expect_config=config
        )
    except InvalidDigest:
        raise SignatureInvalid(
            "signature does not verify: the message was changed after it was signed "
            "(digest mismatch)"
        ) from None
    except InvalidCertificate as exc:  # checked above; kept for what signxml may add
        raise SignatureInvalid(
            f"the registered certificate ({describe_certificate(registered)}) is not accepted: "
            f"{_first_line(exc)}"
        ) from None
    except CryptoInvalidSignature:  # signxml's InvalidSignature: the SignatureValue
        other = _other_signer(signature, registered)
        if other is not None:
            raise SignatureInvalid(
                f"signed by another certificate ({other}), not the registered one "
                f"({describe_certificate(registered)})"
            ) from None
        raise SignatureInvalid(
            "signature does not verify: the signature value does not match the signed info "
            f"under the registered certificate ({describe_certificate(registered)})"
        ) from None
    except (SignXMLException, etree.DocumentInvalid, ValueError, TypeError) as exc:
        raise SignatureInvalid(f"malformed signature: {_first_line(exc)}") from None
    signed = result.signed_xml if not isinstance(result, list) else None
    if signed is None or signed.tag != root.tag:  # belt and braces: URI "" is the root
        raise SignatureInvalid("the signature does not cover the whole message")


def _utc(at: dt.datetime | None) -> dt.datetime:
    """`at` as an aware time; a naive one is China Standard Time, as the messages write it."""
    if at is None:
        return dt.datetime.now(dt.UTC)
    return (at if at.tzinfo is not None else at.replace(tzinfo=CHINA)).astimezone(dt.UTC)


def _check_signed_info(signature: etree._Element) -> None:
    """One reference, URI "", the enveloped-signature transform and canonicalizations only, an
    accepted signature method and digest: each refusal with its own reason."""
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", _DS)
    algorithm = None if method is None else method.get("Algorithm")
    if algorithm not in {m.value for m in ACCEPTED_SIGNATURE_METHODS}:
        raise SignatureInvalid(
            f"signature method {algorithm!r} is not accepted (accepted: "
            + ", ".join(sorted(m.value.rpartition("#")[2] for m in ACCEPTED_SIGNATURE_METHODS))
            + ")"
        )
    references = signature.findall("ds:SignedInfo/ds:Reference", _DS)
    if len(references) != 1:
        raise SignatureInvalid(
            f"the signature has {len(references)} references; a CEB signature has one, over "
            "the whole message"
        )
    reference = references[0]
    uri = reference.get("URI")
    if uri != "":
        shown = "no URI" if uri is None else f"URI {uri!r}"
        raise SignatureInvalid(
            f'the signature does not cover the whole message: its reference has {shown}, not ""'
        )
    transforms = [t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", _DS)]
    if ENVELOPED not in transforms:
        raise SignatureInvalid(
            "malformed signature: the reference lacks the enveloped-signature transform"
        )
    for transform in transforms:
        if transform != ENVELOPED and transform not in _C14N_TRANSFORMS:
            raise SignatureInvalid(
                f"the signature does not cover the whole message: transform {transform!r} is "
                "not accepted (only enveloped-signature and canonicalization)"
            )
    digest = reference.find("ds:DigestMethod", _DS)
    digest_algorithm = None if digest is None else digest.get("Algorithm")
    if digest_algorithm not in {d.value for d in ACCEPTED_DIGESTS}:
        raise SignatureInvalid(f"digest method {digest_algorithm!r} is not accepted")


def _other_signer(signature: etree._Element, registered: x509.Certificate) -> str | None:
    """The certificate the message names, when it is not the registered one: the embedded
    certificate when there is one (compared by key), otherwise `KeyName` (a serial number)."""
    text = signature.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", None, _DS)
    if text:
        body = "".join(text.split())
        pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
        try:
            embedded = x509.load_pem_x509_certificate(pem.encode("ascii", "replace"))
        except ValueError:
            return None
        if _public(embedded.public_key()) == _public(registered.public_key()):
            return None
        return describe_certificate(embedded)
    name = (signature.findtext("ds:KeyInfo/ds:KeyName", None, _DS) or "").strip()
    if not name:
        return None
    # The network's "certificate number": hex here; decimal is accepted as the same serial.
    same = {_number(name, 16), _number(name, 10)}
    return None if registered.serial_number in same else f"KeyName {name}"


def _number(text: str, base: int) -> int | None:
    try:
        return int(text, base)
    except ValueError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
