"""The enterprise registry over HTTP, for the operator (`Authorization: Bearer ADMIN_TOKEN`): the
same operations as `cbec enterprise add|list|disable`, with the same checks.

- `GET /v1/admin/enterprises`: every registered enterprise.
- `PUT /v1/admin/enterprises/{code}`: registers it, or updates its name, roles and certificate;
  `{"name", "roles": [...], "cert_pem": optional, "issue_key": optional}`. With `issue_key` the
  answer holds the new API key, shown once (only its SHA-256 is stored).
- `POST /v1/admin/enterprises/{code}/key`: a new API key (the old one stops working).
- `POST /v1/admin/enterprises/{code}/disable`: its key stops working; it stays in the registry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field

from cbec.enterprises import Enterprise, check_code, check_roles
from cbec.service import auth
from cbec.service.deps import ServiceDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def operator(running: ServiceDep, authorization: Annotated[str | None, Header()] = None) -> None:
    token = auth.presented_key(authorization, None)
    if not auth.is_admin(running.journal, token):
        raise auth.Refusal(
            401,
            "admin_token_required",
            "The enterprise registry needs the operator's token (Authorization: Bearer).",
        )


Operator = Depends(operator)


class EnterpriseIn(BaseModel):
    name: str = Field(min_length=1, description="The enterprise's name.")
    roles: list[str] = Field(
        description="platform, ecommerce, payment, logistics, warehouse, agent"
    )
    cert_pem: str | None = Field(
        None, description="PEM certificate its signatures are checked with"
    )
    issue_key: bool = Field(False, description="Issue an API key, returned once.")


def _view(enterprise: Enterprise) -> dict[str, Any]:
    from cbec.messages.signatures import describe_certificate, load_certificate

    certificate = None
    if enterprise.cert_pem is not None:
        try:
            certificate = describe_certificate(load_certificate(enterprise.cert_pem))
        except ValueError as exc:
            certificate = f"unreadable ({exc})"
    return {
        "code": enterprise.code,
        "name": enterprise.name,
        "roles": list(enterprise.roles),
        "certificate": certificate,
        "has_api_key": enterprise.api_key_sha256 is not None,
        "disabled": enterprise.disabled,
    }


def _unknown(code: str) -> auth.Refusal:
    return auth.Refusal(404, "unknown_enterprise", f"No enterprise {code!r} is registered.")


@router.get("/enterprises", dependencies=[Operator])
def list_enterprises(running: ServiceDep) -> list[dict[str, Any]]:
    with running.lock:  # the store's own connection, shared with the batcher
        return [_view(e) for e in running.store.enterprises()]


@router.put("/enterprises/{code}", dependencies=[Operator])
def put_enterprise(code: str, given: EnterpriseIn, running: ServiceDep) -> dict[str, Any]:
    from cbec.messages.signatures import load_certificate

    try:
        check_code(code)
        roles = check_roles(given.roles)
        if given.cert_pem is not None:
            load_certificate(given.cert_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise auth.Refusal(400, "bad_enterprise", str(exc)) from None
    with running.lock:
        running.store.add_enterprise(code, given.name.strip(), roles, given.cert_pem)
        key = auth.issue_key(running.store, code) if given.issue_key else None
        enterprise = running.store.enterprise(code)
    assert enterprise is not None
    return {**_view(enterprise), **({"api_key": key} if key else {})}


@router.post("/enterprises/{code}/key", dependencies=[Operator])
def new_key(code: str, running: ServiceDep) -> dict[str, str]:
    with running.lock:
        try:
            key = auth.issue_key(running.store, code)
        except KeyError:
            raise _unknown(code) from None
    return {"code": code, "api_key": key}


@router.post("/enterprises/{code}/disable", dependencies=[Operator])
def disable(code: str, running: ServiceDep) -> dict[str, Any]:
    with running.lock:
        if not running.store.disable_enterprise(code):
            raise _unknown(code)
        enterprise = running.store.enterprise(code)
    assert enterprise is not None
    return _view(enterprise)
