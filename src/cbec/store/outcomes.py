"""Inspection and review outcomes as a batch of the store (cbec.outcomes reads and checks them).

An outcome application is committed like a clearing batch: rows inserted under its batch id
(the `risk_outcomes` rows, and the ledger entries a rejection gives back), plus the few changes
made in place (the decision's new status and tax, the rejected list's tax lines dropped, stock
kept `held` becoming a release). Those changes are statements derived only from the batch's
`risk_outcomes` rows, the same on both stores, so that another process of a PostgreSQL store
replays them when it reads the batch, as it replays a cancellation (`close_cancelled`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cbec.clearance.decide import REJECTED, RELEASED

FINDING_REASON = "inspection_finding"
# The columns of `risk_outcomes` an application writes, in the table's order (then batch_id).
OUTCOME_COLUMNS = (
    *("agent_code", "cop_no", "held_status", "found", "finding", "action", "customs_tax"),
    *("value_added_tax", "consumption_tax", "revenue_recovered", "status", "recorded_at"),
    *("note", "buyer_id_number", "ebc_code", "logistics_code", "source"),
)


@dataclass(frozen=True)
class OutcomeBatch:
    """One application of outcomes: `outcomes` names a table of the compute connection with
    the OUTCOME_COLUMNS of each outcome (`status` the new one, `recorded_at` when it applies)."""

    batch_id: str
    outcomes: str


class NotHeld(Exception):
    """Another process resolved some of the declarations first: nothing was written.
    `statuses` gives each such declaration's (agent_code, cop_no) and its status now."""

    def __init__(self, statuses: dict[tuple[str, str], int | None]):
        super().__init__(f"{len(statuses)} declaration(s) no longer held")
        self.statuses = statuses


def outcome_rows(batch: OutcomeBatch) -> list[tuple[str, tuple[str, ...], str]]:
    """Each table the batch adds rows to, its columns and the query giving them (read on the
    compute connection before the batch changes anything), as `batch_rows` for a clearing."""
    b = batch.batch_id
    rejected = (
        f"(SELECT agent_code, cop_no, recorded_at FROM {batch.outcomes} WHERE status = {REJECTED})"
    )
    return [
        (
            "risk_outcomes",
            (*OUTCOME_COLUMNS, "batch_id"),
            f"SELECT {', '.join(OUTCOME_COLUMNS)}, '{b}' FROM {batch.outcomes}",
        ),
        # A rejected list gives back the allowance and the yearly quantities it was admitted
        # with, and the stock it took (a release reversed; a list held for the guarantee kept
        # its stock as `held`).
        (
            "allowance_ledger",
            ("buyer_id_number", "year", "agent_code", "cop_no", "value", "entry_time", "kind",
             "batch_id"),
            "SELECT l.buyer_id_number, l.year, l.agent_code, l.cop_no, -l.value, o.recorded_at, "
            f"'inspection_rejected', '{b}' FROM allowance_ledger l JOIN {rejected} o "
            "USING (agent_code, cop_no) WHERE l.kind = 'admitted'",
        ),
        (
            "quantity_ledger",
            ("buyer_id_number", "year", "tariff_line", "agent_code", "cop_no", "gnum", "qty",
             "entry_time", "kind", "batch_id"),
            "SELECT q.buyer_id_number, q.year, q.tariff_line, q.agent_code, q.cop_no, q.gnum, "
            f"-q.qty, o.recorded_at, 'inspection_rejected', '{b}' FROM quantity_ledger q "
            f"JOIN {rejected} o USING (agent_code, cop_no) WHERE q.kind = 'admitted'",
        ),
        (
            "stock_ledger",
            ("ems_no", "item_record_no", "qty", "kind", "source_code", "cop_no", "gnum",
             "entry_time", "batch_id"),
            "SELECT s.ems_no, s.item_record_no, -s.qty, s.kind, s.source_code, s.cop_no, s.gnum, "
            f"o.recorded_at, '{b}' FROM stock_ledger s JOIN {rejected} o "
            "ON s.source_code = o.agent_code AND s.cop_no = o.cop_no "
            "WHERE s.kind IN ('release', 'held')",
        ),
    ]  # fmt: skip


def apply_outcome_updates(outcomes: str) -> list[str]:
    """The statements changing in place what the outcomes of the table (or parenthesized
    query) `outcomes` decide, in order; the same on every store and on replay. Only a decision
    still held with the outcome's `held_status` changes, so a replay changes nothing twice."""
    held = (
        "FROM {outcomes} o WHERE decisions.agent_code = o.agent_code "
        "AND decisions.cop_no = o.cop_no AND decisions.status = o.held_status AND o.status = {s}"
    )
    return [
        # Released (800): the tax assessed at admission, plus a reassessment's additional tax.
        "UPDATE decisions SET status = o.status, decided_at = o.recorded_at, "
        "customs_tax = decisions.customs_tax + o.customs_tax, "
        "value_added_tax = decisions.value_added_tax + o.value_added_tax, "
        "consumption_tax = decisions.consumption_tax + o.consumption_tax, "
        "tax_total = decisions.tax_total + o.customs_tax + o.value_added_tax + o.consumption_tax "
        + held.format(outcomes=outcomes, s=RELEASED),
        # Rejected (100) for the finding: it owes nothing.
        f"UPDATE decisions SET status = o.status, reasons = ARRAY['{FINDING_REASON}'], "
        "customs_tax = 0, value_added_tax = 0, consumption_tax = 0, tax_total = 0, "
        "decided_at = o.recorded_at " + held.format(outcomes=outcomes, s=REJECTED),
        "DELETE FROM tax_lines WHERE (agent_code, cop_no) IN "
        f"(SELECT agent_code, cop_no FROM {outcomes} o WHERE o.status = {REJECTED})",
        # A list held for the guarantee kept its stock as `held`: released, it is a release.
        "UPDATE stock_ledger SET kind = 'release' WHERE kind = 'held' AND (source_code, cop_no) "
        f"IN (SELECT agent_code, cop_no FROM {outcomes} o WHERE o.status = {RELEASED})",
    ]
