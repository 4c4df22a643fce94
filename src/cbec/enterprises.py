"""The enterprises that may speak to cbec: who they are, what roles they play, how they prove it.

An enterprise is registered under its customs code (the 10-character customs registration code or
the 18-character unified social credit code, as the messages carry it in `ebpCode`, `copCode` ...)
with its roles, the certificate its message signatures are checked against, and (for the online
service) the SHA-256 of its API key. The roles decide, later, who may send which message: a
platform sends orders, a payment company payments, a logistics company waybills, an agent (or the
platform acting as one) declaration lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

# The roles of the CEB standard's enterprises.
ROLES: dict[str, str] = {
    "platform": "e-commerce platform (ebpCode)",
    "ecommerce": "e-commerce enterprise, the seller (ebcCode)",
    "payment": "payment company (payCode)",
    "logistics": "logistics company (logisticsCode)",
    "warehouse": "bonded or overseas warehouse operator",
    "agent": "declaring agent (agentCode)",
}

MAX_CODE_LENGTH = 18  # the unified social credit code; customs codes have 10 characters


@dataclass(frozen=True)
class Enterprise:
    code: str
    name: str
    roles: tuple[str, ...]
    cert_pem: str | None
    api_key_sha256: str | None
    disabled: bool
    created_at: dt.datetime


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles, in the vocabulary's order, without repeats. Raises ValueError naming an unknown
    role and the known ones."""
    given = [role.strip().lower() for role in roles]
    unknown = [role for role in given if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
    if not given:
        raise ValueError(f"an enterprise needs at least one role: {', '.join(ROLES)}")
    return tuple(role for role in ROLES if role in given)


def check_code(code: str) -> str:
    """An enterprise code as the messages carry it. Raises ValueError."""
    if not code or code != code.strip() or any(c.isspace() for c in code):
        raise ValueError(f"enterprise code {code!r} is empty or holds spaces")
    if len(code) > MAX_CODE_LENGTH:
        raise ValueError(
            f"enterprise code {code!r} has {len(code)} characters; at most {MAX_CODE_LENGTH}"
        )
    return code
