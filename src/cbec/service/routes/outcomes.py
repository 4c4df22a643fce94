"""Inspection and review outcomes over HTTP, for the operator (`Authorization: Bearer
ADMIN_TOKEN`): the same as `cbec inspect record` and `cbec review decide`, with the same checks.

- `POST /v1/admin/inspections`: outcomes of declarations held for inspection (500);
- `POST /v1/admin/reviews`: decisions on declarations held for manual review (300).

The body is `{"outcomes": [{...}, ...]}`, each object with the fields of a row of the outcome file
(docs/risk.md, "Outcomes"). All or nothing: one bad row refuses the request (422, every problem
listed) and changes nothing. The receipts the outcomes give (CEB622 800 or 100, the CEB816 tax
bills) are delivered to each declaration's declaring agent through `GET /v1/receipts`.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from lxml import etree
from pydantic import BaseModel, Field

from cbec.outcomes import OutcomeError, apply_outcomes, outcomes_from_rows
from cbec.service import auth, intake
from cbec.service.deps import ServiceDep
from cbec.service.routes.admin import Operator

log = logging.getLogger("cbec.service")
router = APIRouter(prefix="/v1/admin", tags=["admin"])

NAMESPACE = "http://www.chinaport.gov.cn/ceb"
INSPECTION, REVIEW = 500, 300


class OutcomesIn(BaseModel):
    outcomes: list[dict[str, Any]] = Field(
        description="One object per declaration, with the fields of an outcome file's row."
    )


@router.post("/inspections", dependencies=[Operator])
def record_inspections(running: ServiceDep, body: OutcomesIn) -> dict[str, Any]:
    """Inspection results: nothing found releases (800 and its 816); a finding rejects the
    parcel or reassesses its tax."""
    return _apply(running, body, INSPECTION)


@router.post("/reviews", dependencies=[Operator])
def decide_reviews(running: ServiceDep, body: OutcomesIn) -> dict[str, Any]:
    """Manual-review decisions on the declarations held for review, as inspections are."""
    return _apply(running, body, REVIEW)


def _apply(running: Any, body: OutcomesIn, held: int) -> dict[str, Any]:
    rows = [{"_row": number, **row} for number, row in enumerate(body.outcomes, start=1)]
    try:
        outcomes = outcomes_from_rows(rows, "request")
    except OutcomeError as error:
        raise auth.Refusal(422, "outcomes_refused", "; ".join(error.problems)) from None
    when = running.batcher.clock().replace(microsecond=0)
    with running.lock, tempfile.TemporaryDirectory(prefix="cbec-outcomes-") as temporary:
        try:
            applied = apply_outcomes(
                running.store, outcomes, held, Path(temporary), when, source="api"
            )
        except OutcomeError as error:
            raise auth.Refusal(422, "outcomes_refused", "; ".join(error.problems)) from None
        receipts = _receipts(Path(temporary) / "receipts")
        added = running.journal.record([], receipts, when)
    if added:
        running.receipts_recorded.notify()
    return {
        "outcomes": len(outcomes),
        "released": applied.released,
        "reassessed": applied.reassessed,
        "rejected": applied.rejected,
        "revenue_recovered": f"{applied.revenue_recovered:.2f}",
        "receipts": added,
    }


def _receipts(folder: Path) -> list[intake.ReceiptRow]:
    """The receipts written under `folder`, each for the declaring agent it names."""
    rows = []
    for path in sorted(folder.glob("*.xml")) if folder.exists() else []:
        data = path.read_bytes()
        root = etree.fromstring(data)  # cbec's own output, just written
        agent = root.findtext(f".//{{{NAMESPACE}}}agentCode")
        if not agent:
            log.warning("receipt %s names no declaring agent; not delivered", path.name)
            continue
        rows.append(
            intake.ReceiptRow(
                recipient=agent,
                code=path.name[3:6],
                receipt_guid=root.get("guid") or path.stem,
                xml=data.decode("utf-8"),
                intake_id=None,
            )
        )
    return rows
