"""`GET /v1/receipts?after=CURSOR&wait=SECONDS`: the caller's receipts, oldest first.

As JSON (the default), a list of `{"cursor", "code", "xml"}`, at most `limit`; the next call passes
the last cursor as `after`. With `Accept: application/xml`, the one oldest receipt after the cursor
as the CEB message itself, its cursor in the `X-Cbec-Cursor` header (204 when there is none).
With `wait`, the call waits up to that many seconds for a receipt before answering empty.
With `Accept: text/event-stream`, the receipts come as server-sent events while the stream lasts
(`wait` seconds, else the long-poll limit); `Last-Event-ID` resumes after a cursor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse

from cbec.service import intake, json_messages
from cbec.service.deps import CallerDep, Service, ServiceDep

router = APIRouter(tags=["receipts"])

MAX_LIMIT = 1000


@router.get("/v1/receipts", response_model=None)
def get_receipts(
    running: ServiceDep,
    reader: CallerDep,
    after: Annotated[int, Query(ge=0, description="The last cursor read; 0 for the first.")] = 0,
    wait: Annotated[float, Query(ge=0, description="Seconds to wait for a receipt.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    document: Annotated[
        bool,
        Query(
            description="JSON: add each receipt's business nodes as fields (`document`), read "
            "from its XML; false leaves them out, for clients that read the XML themselves."
        ),
    ] = True,
    accept: Annotated[str | None, Header()] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    if _wants_events(accept):
        if last_event_id is not None and last_event_id.strip().isdigit():
            after = max(after, int(last_event_id))  # an EventSource reconnecting
        return StreamingResponse(
            _events(running, reader.code, after, wait or running.settings.long_poll_max_seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    as_xml = _wants_xml(accept)
    found = _wait_for(running, reader.code, after, 1 if as_xml else limit, wait)
    if as_xml:
        if not found:
            return Response(status_code=204)
        return Response(
            found[0].xml,
            media_type="application/xml",
            headers={"X-Cbec-Cursor": str(found[0].cursor), "X-Cbec-Code": found[0].code},
        )
    return JSONResponse([_as_json(r, document) for r in found])


def _as_json(receipt: intake.StoredReceipt, document: bool = True) -> dict[str, object]:
    """A receipt as JSON: its cursor and code, the CEB XML as recorded, and (unless `document`
    is false) its business nodes' fields (`document`: rows by document name, snake_case).
    Reading those back from the XML is most of the cost of a poll."""
    found: dict[str, object] = {"cursor": receipt.cursor, "code": receipt.code, "xml": receipt.xml}
    if document:
        found["document"] = json_messages.receipt_document(receipt.xml)
    return found


def _wants_events(accept: str | None) -> bool:
    return "text/event-stream" in (accept or "").lower()


def _events(running: Service, recipient: str, after: int, seconds: float) -> Iterator[str]:
    """Server-sent events: one `receipt` event per receipt (its cursor as the event id, the JSON
    of `_as_json` as data) as they are recorded, for `seconds` (at most the long-poll limit);
    then the stream ends and an EventSource reconnects with `Last-Event-ID`."""
    deadline = time.monotonic() + min(seconds, running.settings.long_poll_max_seconds)
    yield "retry: 1000\n\n"
    while (left := deadline - time.monotonic()) > 0:
        for receipt in _wait_for(running, recipient, after, MAX_LIMIT, left):
            yield f"id: {receipt.cursor}\nevent: receipt\ndata: {json.dumps(_as_json(receipt))}\n\n"
            after = receipt.cursor


def _wants_xml(accept: str | None) -> bool:
    types = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    return "application/json" not in types and any(
        t in ("application/xml", "text/xml") for t in types
    )


def _wait_for(
    running: Service, recipient: str, after: int, limit: int, wait: float
) -> list[intake.StoredReceipt]:
    deadline = time.monotonic() + min(wait, running.settings.long_poll_max_seconds)
    while True:
        seen = running.receipts_recorded.count
        found = running.journal.receipts_after(recipient, after, limit)
        left = deadline - time.monotonic()
        if found or left <= 0:
            return found
        running.receipts_recorded.wait(seen, left)
