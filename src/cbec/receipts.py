"""Answer every message with receipts in the CEB standard: what happened to each business node.

For each order, payment and waybill a CEB312/412/512 (120 accepted, or 100 refused with why); for
each declaration list the CEB622 receipts it went through, in order (120 then 800 released; 100
rejected), each `returnInfo` listing reason codes and a short description; for each released
declaration a CEB816 tax bill with one `TaxListRd` per line; a CEB900 for each file that could not
be read as a message. One message per file under `OUT/receipts/`.

A receipt's business `guid` is the guid of the document it answers; the message's own guid is
derived from it (uuid5), so the same input always gives the same receipts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from cbec.clearance.reasons import REASONS
from cbec.exports.clearance import EXPORT_REASONS
from cbec.messages.batch import MessageFile
from cbec.messages.build import build_message
from cbec.messages.catalog import MESSAGES
from cbec.messages.parse import NODE_COLUMN, Problem

ACCEPTED = 120
REJECTED = 100
RELEASED = 800
CLOSED = 899  # a declaration list deleted by its sender before a decision
FORMAT_ERROR_STATUS = -1  # CEB900: negative statuses are processing errors (domain digest s. 6)

# Codes of the receipts that are not decisions on a declaration (those use `clearance.reasons`).
RECEIPT_CODES: dict[str, str] = {
    "accepted": "Accepted: the document passed the format checks and is stored.",
    "released": "Released.",
    "format_error": "A value breaks a field rule of the message standard.",
    "signature_invalid": "The message must be signed and its signature is missing or does not "
    "verify against the sender's registered certificate.",
    "document_in_use": "A change or deletion of a document that a released declaration used.",
    "declaration_decided": "A change or deletion of a declaration list customs has already "
    "decided; cancel (623) or return (625) it instead, or declare under a new copNo.",
    "deleted": "The declaration list was deleted by its sender (appType 3) before a decision.",
    "not_processed": "This version of cbec reads this message type but does not process it yet.",
    "return_accepted": "The return is accepted: its lines pay no tax and the allowance is back.",
    "return_too_late": "The return was applied for after the return window of the release.",
    "goods_back_too_late": "The returned goods were back at the supervision site after the "
    "arrival window of the release (45 days).",
    "not_released": "Only a released declaration list can be returned.",
    "unknown_declaration": "No declaration list with this copNo is known.",
    "line_not_in_declaration": "A returned line is not a line of the declaration list.",
    "already_returned": "A line was returned before.",
    "released_use_return": "The declaration list is released: apply for a return (CEB625).",
    "already_rejected": "The declaration list was rejected: there is nothing to cancel.",
    "under_inspection": "The declaration list is held for inspection: the inspection's result "
    "decides it, and it cannot be withdrawn meanwhile.",
    "cancel_accepted": "The declaration list, held for review, is withdrawn: its stock and "
    "allowance are given back and it is closed (899).",
    "message_unreadable": "The file cannot be read as a CEB message.",
}
_REASON_TEXT = {
    code: meaning.split(". ")[0].rstrip(".") + "."
    for code, meaning in [(r.code, r.meaning) for r in REASONS]
    + [(r.code, r.meaning) for r in EXPORT_REASONS]
}

# The business key that names a receipt file, per document family.
_NAME_KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("order_no",),
    "payments": ("pay_transaction_id",),
    "waybills": ("logistics_no",),
    "inventories": ("cop_no",),
    "deliveries": ("cop_no",),
    "export_orders": ("order_no",),
    "export_collections": ("pay_no",),
    "export_waybills": ("logistics_no",),
    "export_inventories": ("cop_no",),
    "export_arrivals": ("cop_no",),
    "export_departures": ("cop_no",),
    "export_master_waybills": ("cop_no",),
    "export_cancellations": ("cop_no",),
    "export_summaries": ("cop_no",),
}
# Export documents answered 120 or 100 like the import ones (cbec.exports.clearance).
EXPORT_DOCUMENT_STEMS = ("export_orders", "export_collections", "export_waybills")


def return_info(items: Iterable[tuple[str, str]]) -> str:
    """`[Code:order_missing;Desc:...][Code:...]`, as the CEB receipts write it."""
    return "".join(f"[Code:{code};Desc:{text}]" for code, text in items)


def describe(code: str) -> str:
    return _REASON_TEXT.get(code) or RECEIPT_CODES.get(code, code)


def problems_info(problems: list[Problem]) -> list[tuple[str, str]]:
    return [("format_error", str(problem)) for problem in problems]


@dataclass(frozen=True)
class Receipt:
    code: str  # "622"
    row: dict[str, Any]  # the receipt node's columns
    name: str  # the business key it answers, for the file name
    lines: tuple[dict[str, Any], ...] = ()


@dataclass
class Outcome:
    """What clearance did with the messages' documents, for the receipts."""

    decisions: pa.Table  # OUT/decisions.parquet
    tax_lines: pa.Table  # OUT/tax_lines.parquet
    refused: dict[tuple[int, int], list[tuple[str, str]]] = field(default_factory=dict)
    deleted: set[tuple[str, str]] = field(default_factory=set)  # inventory keys
    # (file, node) of declaration lists left for a later run: not answered now.
    deferred: set[tuple[int, int]] = field(default_factory=set)
    clock: dt.datetime = dt.datetime(1970, 1, 1)  # the time of CEB900 receipts
    # Answers of the ledgers (returns, cancellations): (file, node) -> (status, reasons).
    answers: dict[tuple[int, int], tuple[int, list[tuple[str, str]]]] = field(default_factory=dict)
    # Decisions on 9610 export declaration lists (OUT/export_decisions.parquet), when any.
    export_decisions: pa.Table | None = None
    # Receipts that follow an answered node (a departure's CEB604 399 for each list it concludes).
    follow_ups: dict[tuple[int, int], list[Receipt]] = field(default_factory=dict)


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def _guid(*parts: object) -> str:
    """`str(uuid.uuid5(NAMESPACE_URL, "cbec:a:b")).upper()`, computed directly: one a receipt,
    and `uuid.uuid5` builds two UUID objects on the way (a tenth of a batch's receipt time)."""
    name = "cbec:" + ":".join(map(str, parts))
    digest = bytearray(hashlib.sha1(_URL_NAMESPACE + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _safe(text: str) -> str:
    """A file-name-safe form of a business key (keys come from senders: never trust them)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", text)[:60]
    if safe != text:
        safe += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return safe or "none"


def receipts_for(files: list[MessageFile], outcome: Outcome) -> Iterator[Receipt]:
    """Every receipt of a run, message by message, node by node, in input order."""
    decisions = _by_key(outcome.decisions)
    tax_lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in outcome.tax_lines.to_pylist():
        tax_lines.setdefault((line["agent_code"], line["cop_no"]), []).append(line)
    billed: set[tuple[str, str]] = set()
    exported = _by_key(outcome.export_decisions) if outcome.export_decisions is not None else {}
    for index, entry in enumerate(files):
        if entry.message is None:
            yield _format_error(entry, outcome.clock)
            continue
        message = entry.message
        head_stem = message.type.head.document.stem
        if message.type.receipt:
            continue  # a receipt sent to us is read, not answered
        heads = message.tables[head_stem].to_pylist()
        for row in heads:
            node = row[NODE_COLUMN]
            problems = message.problems.get(node, []) + message.problems.get(-1, [])
            refused = outcome.refused.get((index, node), [])
            reply = message.type.reply
            assert reply is not None
            if head_stem == "inventories":
                if (index, node) in outcome.deferred:
                    continue  # waits for a companion: answered by the run that clears it
                yield from _inventory_receipts(
                    row, problems, refused, decisions, tax_lines, outcome, billed
                )
            elif head_stem == "export_inventories":
                yield from _export_inventory_receipts(row, problems, refused, exported)
            elif head_stem in (
                "orders",
                "payments",
                "waybills",
                "deliveries",
                *EXPORT_DOCUMENT_STEMS,
            ):
                yield _document_receipt(reply, head_stem, row, problems, refused)
            elif (index, node) in outcome.answers:
                status, info = outcome.answers[(index, node)]
                yield _answered(reply, head_stem, row, status, info)
                yield from outcome.follow_ups.get((index, node), [])
            elif (index, node) in outcome.follow_ups:  # answered whole (CEB702 and CEB792)
                yield from outcome.follow_ups[(index, node)]
            else:
                info = problems_info(problems) or [("not_processed", describe("not_processed"))]
                yield _document_receipt(reply, head_stem, row, [], refused or info)


def _by_key(decisions: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["agent_code"] or "", d["cop_no"]): d for d in decisions.to_pylist()}


def _document_receipt(
    reply: str,
    stem: str,
    row: dict[str, Any],
    problems: list[Problem],
    refused: list[tuple[str, str]],
) -> Receipt:
    """120 accepted, or 100 with the format problems and refusals."""
    info = problems_info(problems) + refused
    status = REJECTED if info else ACCEPTED
    return _answered(reply, stem, row, status, info or [("accepted", describe("accepted"))])


def _answered(
    reply: str, stem: str, row: dict[str, Any], status: int, info: list[tuple[str, str]]
) -> Receipt:
    """The receipt of one business node: the answered document's fields the receipt carries,
    its guid, and the status with its reasons (the batch clock: the document's own time)."""
    fields = MESSAGES[reply].head.document.columns
    receipt = {c: row.get(c) for c in fields if c in row}
    receipt.update(
        guid=row.get("guid"),
        return_status=status,
        return_time=row.get("app_time"),
        return_info=return_info(info),
    )
    key = "-".join(str(row.get(k) or "") for k in _NAME_KEYS.get(stem, ("cop_no",)))
    return Receipt(reply, receipt, key.strip("-") or str(row.get("guid")))


def _inventory_receipts(
    row: dict[str, Any],
    problems: list[Problem],
    refused: list[tuple[str, str]],
    decisions: dict[tuple[str, str], dict[str, Any]],
    tax_lines: dict[tuple[str, str], list[dict[str, Any]]],
    outcome: Outcome,
    billed: set[tuple[str, str]],
) -> Iterator[Receipt]:
    key = (row.get("agent_code") or "", row.get("cop_no") or "")
    decision = decisions.get(key)
    base = {
        "guid": row.get("guid"),
        "customs_code": row.get("customs_code"),
        "ebp_code": row.get("ebp_code"),
        "ebc_code": row.get("ebc_code"),
        "agent_code": row.get("agent_code"),
        "cop_no": row.get("cop_no"),
        "pre_no": row.get("pre_no"),
        "invt_no": decision["invt_no"] if decision else row.get("invt_no"),
    }
    name = key[1] or str(row.get("guid"))

    def receipt(status: int, when: Any, info: list[tuple[str, str]]) -> Receipt:
        return Receipt(
            "622",
            {
                **base,
                "return_status": status,
                "return_time": when,
                "return_info": return_info(info),
            },
            name,
        )

    if refused:
        yield receipt(REJECTED, row.get("app_time"), refused)
        return
    if key in outcome.deleted:
        yield receipt(CLOSED, row.get("app_time"), [("deleted", describe("deleted"))])
        return
    if decision is None:  # unreadable keys: the format problems are the answer
        yield receipt(REJECTED, row.get("app_time"), problems_info(problems))
        return
    when = decision["decided_at"] or row.get("app_time")
    if decision["status"] == RELEASED:
        yield receipt(
            ACCEPTED, decision["decl_time"] or when, [("accepted", "logic checks passed")]
        )
        yield receipt(RELEASED, when, [("released", describe("released"))])
        if key not in billed:
            billed.add(key)
            yield _tax_bill(row, decision, tax_lines.get(key, []), when)
        return
    if decision["status"] in HELD:  # admitted, then held: 120, then 500 or 300 (no 816 yet)
        yield receipt(
            ACCEPTED, decision["decl_time"] or when, [("accepted", "logic checks passed")]
        )
        yield receipt(decision["status"], when, [HELD[decision["status"]]])
        return
    info = [(code, describe(code)) for code in decision["reasons"] or []]
    yield receipt(decision["status"], when, info + problems_info(problems))


# CEB622 returnStatus of a declaration held by the risk selection (domain digest section 6).
HELD = {
    500: ("inspection", "selected for inspection"),
    300: ("manual_review", "held for manual review"),
}


def _export_inventory_receipts(
    row: dict[str, Any],
    problems: list[Problem],
    refused: list[tuple[str, str]],
    decisions: dict[tuple[str, str], dict[str, Any]],
) -> Iterator[Receipt]:
    """CEB604: 120 then 800 for a released export list, or 100 with the reasons (no tax bill:
    exports pay no tax)."""
    key = (row.get("agent_code") or "", row.get("cop_no") or "")
    decision = decisions.get(key)
    base = {c: row.get(c) for c in MESSAGES["604"].head.document.columns if c in row}
    base.update(guid=row.get("guid"), invt_no=decision["invt_no"] if decision else None)
    name = key[1] or str(row.get("guid"))

    def receipt(status: int, when: Any, info: list[tuple[str, str]]) -> Receipt:
        fields = {**base, "return_status": status, "return_time": when}
        return Receipt("604", {**fields, "return_info": return_info(info)}, name)

    if refused or decision is None:
        yield receipt(REJECTED, row.get("app_time"), refused or problems_info(problems))
        return
    when = decision["decided_at"] or row.get("app_time")
    if decision["status"] == RELEASED:
        yield receipt(ACCEPTED, when, [("accepted", "logic checks passed")])
        yield receipt(RELEASED, when, [("released", describe("released"))])
        return
    info = [(code, describe(code)) for code in decision["reasons"] or []]
    yield receipt(decision["status"], when, info + problems_info(problems))


def _tax_bill(
    row: dict[str, Any],
    decision: dict[str, Any],
    lines: list[dict[str, Any]],
    when: Any,
    number: int = 1,
) -> Receipt:
    """CEB816: taxNo is the invtNo and a 2-digit bill number (01: the first bill of a list;
    02: a reassessment after inspection, cbec.outcomes)."""
    invt_no = decision["invt_no"] or ""
    tax_no = f"{invt_no}{number:02d}"
    head = {
        "guid": row.get("guid"),
        "return_time": when,
        "invt_no": invt_no,
        "tax_no": tax_no,
        "customs_tax": decision["customs_tax"],
        "value_added_tax": decision["value_added_tax"],
        "consumption_tax": decision["consumption_tax"],
        "status": "1",  # issued; CEB818 moves it through the payment periods
        "ent_duty_no": row.get("cop_no"),
        "assure_code": row.get("assure_code"),
        "ebc_code": row.get("ebc_code"),
        "logistics_code": row.get("logistics_code"),
        "agent_code": row.get("agent_code"),
        "customs_code": decision["customs_code"],
        "order_no": row.get("order_no"),
        "logistics_no": row.get("logistics_no"),
    }
    tax_rows = tuple(
        {
            "tax_no": tax_no,
            "gnum": line["gnum"],
            "gcode": line["gcode"],
            "tax_price": line["tax_price"],
            "customs_tax": line["customs_tax"],
            "value_added_tax": line["value_added_tax"],
            "consumption_tax": line["consumption_tax"],
        }
        for line in sorted(lines, key=lambda x: x["gnum"])
    )
    return Receipt("816", head, invt_no or str(row.get("cop_no")), tax_rows)


tax_bill = _tax_bill  # bills issued after clearance: release after inspection (cbec.outcomes)


def _format_error(entry: MessageFile, clock: dt.datetime) -> Receipt:
    refused = entry.refused
    assert refused is not None
    row = {
        "guid": refused.guid or _guid("900", entry.path.name),
        "return_status": FORMAT_ERROR_STATUS,
        "return_info": return_info([("message_unreadable", f"{entry.path.name}: {refused}")]),
        "return_time": clock,
        "ori_cop_msg_id": None,
        "ori_message_type": refused.message_type,
    }
    return Receipt("900", row, entry.path.stem)


@dataclass(frozen=True)
class ReceiptSigner:
    """The platform's key and certificate: when given, every receipt is signed (XML-DSig,
    rsa-sha256, enveloped, as `cbec.messages.signatures.sign_message` makes it)."""

    key_pem: bytes
    cert_pem: bytes

    def sign(self, data: bytes) -> bytes:
        from cbec.messages.signatures import sign_message

        return sign_message(data, self.key_pem, self.cert_pem)


@dataclass(frozen=True)
class RenderedReceipt:
    """One receipt as the CEB message that carries it."""

    code: str  # "622"
    file_name: str  # CEB622_<key>_<n>_<status>.xml
    guid: str  # the receipt message's own guid
    answers: str  # the business guid: the guid of the document it answers
    data: bytes


def render_receipts(
    receipts: Iterable[Receipt], signer: ReceiptSigner | None = None
) -> Iterator[RenderedReceipt]:
    """Each receipt as its CEB message, named `CEB622_<key>_<n>_<status>.xml` (n counts the
    receipts of one key, so that the names of a run are unique)."""
    seen: dict[str, int] = {}
    for receipt in receipts:
        message = MESSAGES[receipt.code]
        row = receipt.row  # a CEB792 has its state in decState
        status = row.get("return_status", row.get("status", row.get("dec_state")))
        stem = f"CEB{receipt.code}_{_safe(receipt.name)}"
        seen[stem] = seen.get(stem, 0) + 1
        guid = _guid(receipt.code, row.get("guid"), receipt.name, seen[stem])
        data = build_message(message, [row], receipt.lines, guid=guid, empty=True)
        if signer is not None:
            data = signer.sign(data)
        answers = row.get("guid")
        yield RenderedReceipt(
            receipt.code,
            f"{stem}_{seen[stem]}_{status}.xml",
            guid,
            "" if answers is None else str(answers),
            data,
        )


def write_receipts(
    folder: Path, receipts: Iterable[Receipt], signer: ReceiptSigner | None = None
) -> int:
    """One CEB message per file (`render_receipts`); returns the count.

    The files are written into `<folder>.partial` and the folder takes its name when all are
    there (a run's receipts appear together, or not at all; an earlier run's are replaced, like
    decisions.parquet). Creating many small files is the cost here, so a few threads overlap
    those system calls while this one builds the messages.
    """
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    count = 0
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        pending: list[Future[None]] = []
        for rendered in render_receipts(receipts, signer):
            pending.append(pool.submit(_write, partial / rendered.file_name, rendered.data))
            count += 1
            if len(pending) >= 4 * CHUNK:  # bounded: a day's receipts never sit in memory
                _wait(pending[:CHUNK])
                del pending[:CHUNK]
        _wait(pending)
    if folder.exists():
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        folder.replace(old)
        partial.replace(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.replace(folder)
    return count


WRITERS = 4
CHUNK = 1000


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def _wait(futures: list[Future[None]]) -> None:
    for future in futures:
        future.result()  # a failed write raises here, and the run stops before renaming
