"""`POST /v1/messages`: a CEB message (or DXP envelope) in, written to the intake log, 202."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cbec.enterprises import Enterprise
from cbec.messages.parse import MessageRefused, RawMessage, part_texts, read_message
from cbec.service import auth, companions, json_messages
from cbec.service.deps import CallerDep, Service, ServiceDep

router = APIRouter(tags=["messages"])

XML_TYPES = ("application/xml", "text/xml")
JSON_TYPE = "application/json"


@router.post("/v1/messages", status_code=202)
async def post_message(request: Request, running: ServiceDep, sender: CallerDep) -> JSONResponse:
    """Acknowledges the message once it is in the intake log: `{"id": N, "guid": ...}`.

    The body is a CEB message or DXP envelope (`application/xml`), or the message as JSON
    (`application/json`: `{"code", "guid", "nodes": [{head fields..., "lines": [...]}],
    "base_transfer"}`, fields in snake_case, docs/service.md).

    Sent again with the same `guid`, it gets the same id (`"repeated": true`) and is not
    cleared again. Receipts follow at `GET /v1/receipts`.
    """
    try:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (*XML_TYPES, JSON_TYPE):
            raise auth.Refusal(
                415,
                "unsupported_media_type",
                f"Content-Type {content_type or '(none)'!r}: send a CEB message or DXP envelope "
                "as application/xml, or the message as application/json.",
            )
        body = await _body(request, running.settings.max_body_bytes)
        if content_type == JSON_TYPE:  # the same documents as JSON: kept as their CEB message
            body = json_messages.to_xml(body)
        wait = running.limiter.take(sender.code)
        if wait:
            raise auth.Refusal(
                429,
                "rate_limited",
                f"{sender.code} sends more than {running.settings.rate_per_second:g} messages a "
                f"second; retry in {wait:.2f} s.",
            )
        entry_id, new, guid = await run_in_threadpool(_take_in, running, sender, body)
    except auth.Refusal:
        running.metrics.add("cbec_messages_refused_total")
        raise
    running.metrics.add("cbec_messages_received_total" if new else "cbec_messages_repeated_total")
    if new:
        running.batcher.wake.set()
    return JSONResponse({"id": entry_id, "guid": guid, "repeated": not new}, status_code=202)


async def _body(request: Request, limit: int) -> bytes:
    too_large = auth.Refusal(
        413, "body_too_large", f"The body is larger than {limit} bytes, the limit of a message."
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _take_in(running: Service, sender: Enterprise, body: bytes) -> tuple[int, bool, str]:
    message = _parsed(body)
    auth.check_sender(sender, message)
    received_at = running.batcher.clock()
    auth.check_signature(sender, message, received_at)
    guid = message.guid
    assert guid is not None
    node_guids = _node_guids(message)
    entry_id, new = running.journal.accept(
        sender.code,
        guid,
        message.type.code,
        node_guids,
        body,
        received_at,
        companions.provided(message),
        companions.needed(message),
    )
    return entry_id, new, guid


def _parsed(body: bytes) -> RawMessage:
    """The message read, not typed: its values are typed and checked when it is cleared, and
    answered by its receipts (`part_texts` reads what acknowledging needs)."""
    try:
        message = read_message(body)
    except MessageRefused as exc:
        raise auth.Refusal(
            400, "message_unreadable", f"Not a readable CEB message: {exc.reason}."
        ) from None
    if not message.guid or not message.guid.strip():
        raise auth.Refusal(
            400,
            "guid_missing",
            f"/CEB{message.type.code}Message/@guid is missing: the message guid is how a "
            "message sent again is recognized.",
        )
    return message


def _node_guids(message: RawMessage) -> list[str]:
    """The `guid` of every business node; each must have one (receipts are delivered by it)."""
    rows = part_texts(message, message.type.head.document.stem, ["guid"]) or []
    guids = [row["guid"] for row in rows]
    for number, guid in enumerate(guids, start=1):
        if not guid:
            raise auth.Refusal(
                400,
                "guid_missing",
                f"/CEB{message.type.code}Message node {number}: its guid is missing.",
            )
    return [str(g) for g in guids]
