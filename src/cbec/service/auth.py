"""Who is calling, and what they may send.

An enterprise proves itself with an API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`);
the store keeps only the key's SHA-256 (`enterprises.api_key_sha256`), so a stolen store file
gives no key. The operator's token is kept the same way (`store_meta`).

A message type is accepted only from the roles that may send it, and only about the sender
itself: each business node must carry the sender's code in the element that names its author
(an order's `ebpCode`, a payment's `payCode`, a waybill's `logisticsCode`, a declaration list's
`agentCode` or `ebcCode`, a warehouse entry list's `operatorCode`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cbec.enterprises import Enterprise
from cbec.messages.parse import RawMessage, part_texts
from cbec.store.embedded import Store

if TYPE_CHECKING:
    from cbec.service.journal import Journal

ADMIN_TOKEN_KEY = "service_admin_token_sha256"


@dataclass(frozen=True)
class Permission:
    roles: tuple[str, ...]  # any of them may send the message
    author_columns: tuple[str, ...]  # the sender's code must be in one of them, in every node


# The messages an enterprise sends online, by code (docs/service.md, "Who may send what").
PERMISSIONS: dict[str, Permission] = {
    "311": Permission(("platform",), ("ebp_code",)),
    "411": Permission(("payment",), ("pay_code",)),
    "511": Permission(("logistics",), ("logistics_code",)),
    "513": Permission(("logistics",), ("logistics_code",)),
    "621": Permission(("agent", "ecommerce"), ("agent_code", "ebc_code")),
    "623": Permission(("agent", "ecommerce"), ("agent_code", "ebc_code")),
    "625": Permission(("agent", "ecommerce"), ("agent_code", "ebc_code")),
    "711": Permission(("warehouse",), ("operator_code",)),
}


class Refusal(Exception):
    """A request refused: the HTTP status, a reason code and what to do."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return "cbec_" + secrets.token_urlsafe(32)


def issue_key(store: Store, code: str) -> str:
    """A new API key for a registered enterprise (replacing any earlier one); only its SHA-256
    is stored, so the key returned is shown once. Raises KeyError for an unknown code."""
    key = new_key()
    if not store.set_api_key(code, key_sha256(key)):
        raise KeyError(code)
    return key


def set_admin_token(journal: Journal, token: str | None) -> str | None:
    """Keeps the operator's token hashed. With `token` (from CBEC_ADMIN_TOKEN) it replaces the
    stored one; without, one is generated when none is stored yet. Returns the token generated
    now (to print once), else None."""
    generated = None
    if token is None:
        if journal.meta(ADMIN_TOKEN_KEY) is not None:
            return None
        token = generated = new_key()
    journal.set_meta(ADMIN_TOKEN_KEY, key_sha256(token))
    return generated


def is_admin(journal: Journal, token: str | None) -> bool:
    if not token:
        return False
    stored = journal.meta(ADMIN_TOKEN_KEY)
    return stored is not None and hmac.compare_digest(stored, key_sha256(token))


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    """The key of `Authorization: Bearer KEY`, else of `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return api_key.strip() if api_key and api_key.strip() else None


def enterprise_by_key(journal: Journal, key: str | None) -> Enterprise:
    """The enabled enterprise holding `key`. Raises Refusal (401)."""
    if key is None:
        raise Refusal(
            401,
            "no_api_key",
            "No API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' "
            "(the operator issues keys with `cbec enterprise add CODE ... --issue-key`).",
        )
    enterprise = journal.enterprise_by_key_sha256(key_sha256(key))
    if enterprise is None:
        raise Refusal(401, "unknown_api_key", "The API key is unknown, replaced or disabled.")
    return enterprise


def check_sender(enterprise: Enterprise, message: RawMessage) -> None:
    """Raises Refusal (403) unless the enterprise may send this message about itself."""
    code = message.type.code
    permission = PERMISSIONS.get(code)
    if permission is None:
        raise Refusal(
            403,
            "message_type_not_accepted",
            f"CEB{code} ({message.type.title}) is not accepted from enterprises online; "
            f"accepted: {', '.join('CEB' + c for c in PERMISSIONS)}.",
        )
    if not set(permission.roles) & set(enterprise.roles):
        raise Refusal(
            403,
            "role_not_allowed",
            f"CEB{code} ({message.type.title}) is sent by an enterprise with the role "
            f"{' or '.join(permission.roles)}; {enterprise.code} has "
            f"{', '.join(enterprise.roles)}.",
        )
    rows = part_texts(message, message.type.head.document.stem, permission.author_columns)
    for number, row in enumerate(rows or [], start=1):
        if enterprise.code not in row.values():
            elements = " or ".join(_element(c) for c in permission.author_columns)
            found = ", ".join(f"{_element(c)}={v!r}" for c, v in row.items())
            raise Refusal(
                403,
                "not_about_sender",
                f"/CEB{code}Message node {number}: {elements} must be the sender's code "
                f"{enterprise.code}; found {found}. An enterprise sends only its own documents.",
            )


def check_signature(enterprise: Enterprise, message: RawMessage, at: dt.datetime) -> None:
    """Raises Refusal (403) unless the message is signed with the sender's registered
    certificate, valid at `at`, when the sender registered one and the message declares a node
    (appStatus 2: a declared node is signed, domain digest section 6; appStatus 1 needs none, as
    in the batch path). Senders without a certificate are not checked here (the batch path's
    `--require-signatures` is not a service setting)."""
    from cbec.messages.signatures import SignatureInvalid, verify_message

    if enterprise.cert_pem is None:
        return
    head = message.type.head
    if "app_status" not in head.columns:
        return
    rows = part_texts(message, head.document.stem, ["app_status"]) or []
    if not any(row["app_status"] == "2" for row in rows):
        return
    try:
        verify_message(message.raw, enterprise.cert_pem.encode("ascii"), at=at)
    except SignatureInvalid as exc:
        raise Refusal(
            403,
            "signature_invalid",
            f"The signature of CEB{message.type.code} does not verify against the certificate "
            f"{enterprise.code} registered: {exc.reason}. Sign the whole message with its key.",
        ) from None
    except ValueError as exc:  # the registered certificate itself no longer loads
        raise Refusal(
            403,
            "signature_invalid",
            f"The certificate registered for {enterprise.code} cannot be used ({exc}); the "
            "operator registers a new one.",
        ) from None


def _element(column: str) -> str:
    from cbec.messages.catalog import element_name

    return element_name(column)


class RateLimiter:
    """A token bucket per enterprise: `rate` messages a second sustained, `burst` at once."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # code -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, code: str) -> float:
        """0 when allowed; else the seconds until a message is allowed again."""
        with self._lock:
            moment = time.monotonic()
            tokens, at = self._buckets.get(code, (float(self.burst), moment))
            tokens = min(float(self.burst), tokens + (moment - at) * self.rate)
            if tokens >= 1:
                self._buckets[code] = (tokens - 1, moment)
                return 0.0
            self._buckets[code] = (tokens, moment)
            return (1 - tokens) / self.rate
