"""`GET /health` (is the store readable) and `GET /metrics` (Prometheus text, operator's token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import PlainTextResponse

from cbec.service import auth, intake
from cbec.service.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(running: ServiceDep) -> dict[str, object]:
    """`{"status": "ok", "queue": N}` when the store answers."""
    with running.requests_lock:
        queue = intake.depth(running.requests)
    return {"status": "ok", "queue": queue}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(
    running: ServiceDep, authorization: Annotated[str | None, Header()] = None
) -> PlainTextResponse:
    """Counters and the queue depth, for Prometheus; `Authorization: Bearer ADMIN_TOKEN`."""
    token = auth.presented_key(authorization, None)
    with running.requests_lock:
        if not auth.is_admin(running.requests, token):
            raise auth.Refusal(
                401, "admin_token_required", "GET /metrics needs the operator's token."
            )
        queue = intake.depth(running.requests)
    text = running.metrics.render(
        [("cbec_queue_depth", "Messages acknowledged and not yet cleared.", queue)]
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
