"""`GET /health` (is the store readable) and `GET /metrics` (Prometheus text, operator's token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import PlainTextResponse

from cbec.service import auth
from cbec.service.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(running: ServiceDep) -> dict[str, object]:
    """`{"status": "ok", "queue": N}` when the store answers."""
    return {"status": "ok", "queue": running.journal.depth()}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(
    running: ServiceDep, authorization: Annotated[str | None, Header()] = None
) -> PlainTextResponse:
    """Counters and the queue depth, for Prometheus; `Authorization: Bearer ADMIN_TOKEN`."""
    token = auth.presented_key(authorization, None)
    if not auth.is_admin(running.journal, token):
        raise auth.Refusal(401, "admin_token_required", "GET /metrics needs the operator's token.")
    queue = running.journal.depth()
    text = running.metrics.render(
        [("cbec_queue_depth", "Messages acknowledged and not yet cleared.", queue)]
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
