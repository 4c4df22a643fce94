"""Outcomes of inspection (status 500) and manual review (300): read, checked, applied.

`cbec inspect record FILE` and `cbec review decide FILE` take one row per held declaration:
`agent_code`, `cop_no`, `found` (true or false), `finding` (what: one of FINDINGS, when found),
`action` (release, reject or reassess; by default release when nothing was found, reject when
something was), the additional tax of a reassessment (`customs_tax`, `value_added_tax`,
`consumption_tax`), `revenue_recovered` (by default their sum), `note`, `recorded_at`.

- no finding: released (800) with its CEB816 tax bill (bill 01, the tax assessed at admission);
- a finding, `reject`: rejected (100, `inspection_finding`); the allowance and bonded stock it
  held are given back and its tax lines dropped;
- a finding, `reassess`: released with the tax assessed plus the additional tax, billed as a
  second CEB816 (bill 02).

A file with any bad row changes nothing: every problem is reported (file, row, field). The
declarations' changes, the ledger entries and the outcome rows are one batch of the store, one
transaction (`cbec.store.outcomes`: on PostgreSQL, other processes replay it). Outcomes are few
(what inspectors record by hand), so they are read row by row.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cbec import receipts
from cbec.clearance.decide import INSPECTION, REJECTED, RELEASED, REVIEW
from cbec.documents.schemas import INVENTORY
from cbec.store.embedded import Store
from cbec.store.outcomes import FINDING_REASON, OUTCOME_COLUMNS, NotHeld, OutcomeBatch

FINDINGS = ("undervaluation", "tariff_misdeclaration", "split_order", "identity_borrowing",
            "goods_mismatch", "other")  # fmt: skip
ACTIONS = ("release", "reject", "reassess")
TAXES = ("customs_tax", "value_added_tax", "consumption_tax")
HELD_NAME = {INSPECTION: "inspection", REVIEW: "manual review"}


class OutcomeError(ValueError):
    """The outcome file cannot be applied; `problems` lists every bad row."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Outcome:
    agent_code: str
    cop_no: str
    found: bool
    finding: str | None
    action: str
    additional: dict[str, Decimal]
    revenue_recovered: Decimal
    note: str | None
    recorded_at: dt.datetime | None


@dataclass
class Applied:
    released: int = 0
    rejected: int = 0
    reassessed: int = 0
    revenue_recovered: Decimal = Decimal(0)
    receipts: int = 0
    keys: list[tuple[str, str]] = field(default_factory=list)


def read_outcomes(path: Path) -> list[Outcome]:
    """The rows of a CSV (header row) or JSON Lines file, checked; raises OutcomeError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutcomeError([f"{path}: cannot read: {exc}"]) from None
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    if path.suffix.lower() in (".jsonl", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}, row {number}: not JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"{path}, row {number}: not a JSON object")
                continue
            rows.append({"_row": number, **row})
    else:
        reader = csv.DictReader(text.splitlines())
        rows = [{"_row": n, **r} for n, r in enumerate(reader, start=2)]
    return outcomes_from_rows(rows, str(path), problems)


def outcomes_from_rows(
    rows: list[dict[str, Any]], source: str, problems: list[str] | None = None
) -> list[Outcome]:
    """The outcomes of `rows` (each with its `_row` number in `source`), checked; raises
    OutcomeError with every problem (those of `problems` first)."""
    problems = [] if problems is None else problems
    outcomes: list[Outcome] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        where = f"{source}, row {row['_row']}"
        outcome = _outcome(row, where, problems)
        if outcome is None:
            continue
        key = (outcome.agent_code, outcome.cop_no)
        if key in seen:
            problems.append(f"{where}, cop_no: {outcome.cop_no} appears twice in the file")
        seen.add(key)
        outcomes.append(outcome)
    if not rows and not problems:
        problems.append(f"{source}: no outcome rows")
    if problems:
        raise OutcomeError(problems)
    return outcomes


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _outcome(row: dict[str, Any], where: str, problems: list[str]) -> Outcome | None:
    before = len(problems)
    cop_no = _text(row.get("cop_no"))
    if cop_no is None:
        problems.append(f"{where}, cop_no: missing")
    found_text = str(row.get("found", "")).strip().lower()
    found = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
        found_text
    )
    if found is None:
        problems.append(f"{where}, found: {row.get('found')!r} is not true or false")
    finding = _text(row.get("finding"))
    if found and finding not in FINDINGS:
        problems.append(f"{where}, finding: {finding!r} is not one of {', '.join(FINDINGS)}")
    action = _text(row.get("action")) or ("reject" if found else "release")
    if action not in ACTIONS:
        problems.append(f"{where}, action: {action!r} is not one of {', '.join(ACTIONS)}")
    elif found is False and action != "release":
        problems.append(f"{where}, action: nothing was found, so the parcel is released")
    elif found and action == "release":
        problems.append(f"{where}, action: a finding rejects the parcel or reassesses its tax")
    additional: dict[str, Decimal] = {}
    for name in (*TAXES, "revenue_recovered"):
        additional[name] = _money(row.get(name), f"{where}, {name}", problems)
    taxes = sum((additional[name] for name in TAXES), Decimal(0))
    if action == "reassess" and taxes <= 0:
        problems.append(f"{where}: a reassessment names the additional tax (customs_tax, ...)")
    if action != "reassess" and taxes > 0:
        problems.append(f"{where}: additional tax is billed only by a reassessment")
    recorded_at = None
    if _text(row.get("recorded_at")):
        try:
            recorded_at = dt.datetime.fromisoformat(str(row["recorded_at"]).strip())
        except ValueError:
            problems.append(f"{where}, recorded_at: not a time (YYYY-MM-DDThh:mm:ss)")
    if len(problems) > before or cop_no is None or found is None:
        return None
    given = _text(row.get("revenue_recovered"))
    return Outcome(
        agent_code=_text(row.get("agent_code")) or "",
        cop_no=cop_no,
        found=found,
        finding=finding if found else None,
        action=action,
        additional={name: additional[name] for name in TAXES},
        revenue_recovered=additional["revenue_recovered"] if given else taxes,
        note=_text(row.get("note")),
        recorded_at=recorded_at.replace(tzinfo=None) if recorded_at else None,
    )


def _money(value: Any, where: str, problems: list[str]) -> Decimal:
    text = _text(value)
    if text is None:
        return Decimal(0)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        problems.append(f"{where}: {text!r} is not an amount")
        return Decimal(0)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        problems.append(f"{where}: {text!r} must be >= 0 with at most two decimals")
        return Decimal(0)
    return amount


def apply_outcomes(
    store: Store,
    outcomes: list[Outcome],
    held_status: int,
    out: Path,
    as_of: dt.datetime | None = None,
    source: str = "",
) -> Applied:
    """Apply outcomes of declarations held with `held_status` (500 or 300); write their receipts
    (CEB622, CEB816) under `out/receipts/`. Raises OutcomeError, changing nothing, when one of
    them is not held so (checked again by the store as it commits: another process may have
    resolved it since)."""
    store.refresh()
    keys = [(o.agent_code, o.cop_no) for o in outcomes]
    decisions = _decisions(store, keys)
    problems = []
    for outcome in outcomes:
        decision = decisions.get((outcome.agent_code, outcome.cop_no))
        if decision is None:
            problems.append(f"{outcome.cop_no} (agent {outcome.agent_code!r}): no such declaration")
        elif decision["status"] != held_status:
            problems.append(_not_held(outcome.cop_no, held_status, decision["status"]))
    if problems:
        raise OutcomeError(problems)
    clock = as_of or dt.datetime.now().replace(microsecond=0)
    heads = _heads(store, keys)
    applied = Applied(keys=keys)
    rows = []
    for outcome in outcomes:
        key = (outcome.agent_code, outcome.cop_no)
        status = REJECTED if outcome.action == "reject" else RELEASED
        when = outcome.recorded_at or clock
        rows.append(_record(outcome, decisions[key], heads.get(key, {}), held_status, status,
                            when, source))  # fmt: skip
        applied.rejected += outcome.action == "reject"
        applied.released += outcome.action == "release"
        applied.reassessed += outcome.action == "reassess"
        applied.revenue_recovered += outcome.revenue_recovered
    _commit(store, rows, held_status)
    after = _decisions(store, keys)
    lines = _tax_lines(store, keys)
    written: list[receipts.Receipt] = []
    for outcome in outcomes:
        key = (outcome.agent_code, outcome.cop_no)
        written += _receipts(outcome, after[key], heads.get(key, {}), lines.get(key, []))
    applied.receipts = receipts.write_receipts(out / "receipts", written)
    return applied


def _not_held(cop_no: str, held_status: int, status: int | None) -> str:
    return f"{cop_no}: not held for {HELD_NAME[held_status]} (its status is {status})"


def _commit(store: Store, rows: list[list[Any]], held_status: int) -> None:
    """The outcome rows committed as one batch of the store (cbec.store.outcomes)."""
    raw = store.con.con
    table = f"cbec_outcomes_{uuid.uuid4().hex}"
    raw.execute(
        f"CREATE TEMP TABLE {table} AS SELECT {', '.join(OUTCOME_COLUMNS)} FROM risk_outcomes "
        "WHERE false"
    )
    try:
        raw.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(OUTCOME_COLUMNS))})",
                        rows)  # fmt: skip
        store.commit_outcomes(OutcomeBatch(uuid.uuid4().hex, table))
    except NotHeld as exc:
        store.refresh()  # what the other process decided, for the next attempt
        raise OutcomeError(
            [_not_held(cop_no, held_status, status) for (_, cop_no), status in exc.statuses.items()]
        ) from None
    finally:
        raw.execute(f"DROP TABLE IF EXISTS {table}")


def _decisions(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    rows = store.con.con.sql(
        "SELECT * EXCLUDE (batch_id) FROM decisions WHERE (agent_code, cop_no) IN "
        "(SELECT UNNEST(?), UNNEST(?))",
        params=[[k[0] for k in keys], [k[1] for k in keys]],
    ).to_arrow_table()
    return {(r["agent_code"], r["cop_no"]): r for r in rows.to_pylist()}


def _tax_lines(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
    rows = store.con.con.sql(
        "SELECT * EXCLUDE (batch_id) FROM tax_lines WHERE (agent_code, cop_no) IN "
        "(SELECT UNNEST(?), UNNEST(?)) ORDER BY gnum",
        params=[[k[0] for k in keys], [k[1] for k in keys]],
    ).to_arrow_table()
    found: dict[tuple[str, str], list[Any]] = {}
    for row in rows.to_pylist():
        found.setdefault((row["agent_code"], row["cop_no"]), []).append(row)
    return found


def _heads(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored declaration list heads (the newest version of each), for the receipts."""
    paths = store.document_paths(INVENTORY.stem)
    if not paths:
        return {}
    rows = store.con.con.sql(
        "SELECT * FROM (SELECT *, coalesce(agent_code, '') AS _agent FROM read_parquet(?)) "
        "WHERE (_agent, cop_no) IN (SELECT UNNEST(?), UNNEST(?)) ORDER BY app_time",
        params=[paths, [k[0] for k in keys], [k[1] for k in keys]],
    ).to_arrow_table()
    return {(r["_agent"], r["cop_no"]): r for r in rows.to_pylist()}  # the newest wins


def _record(
    outcome: Outcome,
    decision: dict[str, Any],
    head: dict[str, Any],
    held: int,
    status: int,
    when: dt.datetime,
    source: str,
) -> list[Any]:
    """The outcome's `risk_outcomes` row (OUTCOME_COLUMNS)."""
    return [
        outcome.agent_code, outcome.cop_no, held, outcome.found, outcome.finding,
        outcome.action, *(outcome.additional[name] for name in TAXES),
        outcome.revenue_recovered, status, when, outcome.note,
        decision["buyer_id_number"], head.get("ebc_code"), head.get("logistics_code"), source,
    ]  # fmt: skip


def _receipts(
    outcome: Outcome, decision: dict[str, Any], head: dict[str, Any], lines: list[Any]
) -> list[receipts.Receipt]:
    """CEB622 with the new status; on release the CEB816 of the tax assessed (bill 01) and, for
    a reassessment, a second CEB816 (bill 02) with the additional tax."""
    name = f"{outcome.cop_no}-{outcome.action}"
    base = {
        "guid": head.get("guid"),
        "customs_code": decision["customs_code"],
        "ebp_code": head.get("ebp_code"),
        "ebc_code": head.get("ebc_code"),
        "agent_code": outcome.agent_code,
        "cop_no": outcome.cop_no,
        "pre_no": head.get("pre_no"),
        "invt_no": decision["invt_no"],
        "return_time": decision["decided_at"],
    }
    if outcome.action == "reject":
        info = [(FINDING_REASON, f"inspection found {outcome.finding}")]
        row = {**base, "return_status": REJECTED, "return_info": receipts.return_info(info)}
        return [receipts.Receipt("622", row, name)]
    info = [("released", receipts.describe("released"))]
    row = {**base, "return_status": RELEASED, "return_info": receipts.return_info(info)}
    assessed = dict(decision)
    for tax in TAXES:
        assessed[tax] = decision[tax] - outcome.additional[tax]
    bills = [receipts.tax_bill(head, assessed, lines, decision["decided_at"])]
    if outcome.action == "reassess":
        extra = {**decision, **outcome.additional}
        bill = receipts.tax_bill(head, extra, [], decision["decided_at"], number=2)
        bills.append(bill)
    return [receipts.Receipt("622", row, name), *bills]
