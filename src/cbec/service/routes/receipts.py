"""`GET /v1/receipts?after=CURSOR&wait=SECONDS`: the caller's receipts, oldest first.

As JSON (the default), a list of `{"cursor", "code", "xml"}`, at most `limit`; the next call passes
the last cursor as `after`. With `Accept: application/xml`, the one oldest receipt after the cursor
as the CEB message itself, its cursor in the `X-Cbec-Cursor` header (204 when there is none).
With `wait`, the call waits up to that many seconds for a receipt before answering empty.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from cbec.service import intake
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
    accept: Annotated[str | None, Header()] = None,
) -> Response:
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
    return JSONResponse([{"cursor": r.cursor, "code": r.code, "xml": r.xml} for r in found])


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
        with running.requests_lock:
            found = intake.receipts_after(running.requests, recipient, after, limit)
        left = deadline - time.monotonic()
        if found or left <= 0:
            return found
        running.receipts_recorded.wait(seen, left)
