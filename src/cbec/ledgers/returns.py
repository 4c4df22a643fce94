"""Returns (CEB625) and cancellations (CEB623), judged against the decisions.

A return is accepted when the declaration list was released and the application comes within
`return_application_days` of the release (GACC Announcement 2018 No. 194: 30 days, goods back at
the supervision site within 45). Its lines (all, when it names none) then pay no tax and give the
buyer's annual allowance back (DESIGN.md, "The annual allowance": returns give the value back).
A cancellation is accepted only for a declaration list not yet released (domain digest section 3,
an assumption there): one held for review (300, e.g. beyond its agent's guarantee) is closed (899)
and gives back the stock, allowance and yearly quantities it kept; a released list is refused
(apply for a return instead), as are one held for inspection (500, its result decides) and a
rejected or closed one (nothing to cancel).

Returns are a small share of the traffic; they are judged row by row here, in Python, over the
few declarations they name (joined in bulk by the caller).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ACCEPTED = 120
REFUSED = 100
RELEASED = 800
HELD = 300  # manual review (the guarantee): not released yet, so it may be cancelled
INSPECTED = 500  # held for inspection: the inspection's result decides the list, not its sender
CANCELLED = 899  # the standard's "closed": a list withdrawn by its declarant before release

Answer = tuple[int, list[tuple[str, str]]]  # returnStatus, [(code, description)]


@dataclass
class ReturnOutcome:
    answers: dict[tuple[int, int], Answer] = field(default_factory=dict)  # (file, node) -> answer
    returned_lines: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)  # allowance given back
    # Held lists withdrawn by an accepted cancellation: (agent_code, cop_no, cancelled_at).
    cancelled: list[dict[str, Any]] = field(default_factory=list)


def judge_returns(
    returns: list[dict[str, Any]],
    return_lines: list[dict[str, Any]],
    decisions: dict[tuple[str, str], dict[str, Any]],
    tax_lines: dict[tuple[str, str], list[dict[str, Any]]],
    returned_before: set[tuple[str, str, int]],
    window: Callable[[dt.date], int | None],
    arrival_window: Callable[[dt.date], int | None] = lambda day: None,
) -> ReturnOutcome:
    """Each return (a CEB625 head with `_file`, `_node`) accepted or refused, in application
    order (`app_time`, then `guid`): a line returned once cannot be returned again.

    `decisions` and `tax_lines` are keyed by (agent_code, cop_no); `window(release_date)` is the
    return_application_days parameter in force on the release date (None: no return provided),
    `arrival_window(release_date)` the return_arrival_days one (None: not limited).
    """
    outcome = ReturnOutcome()
    lines_of: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for line in return_lines:
        lines_of.setdefault((line["_file"], line["_node"]), []).append(line)
    gone = set(returned_before)
    ordered = sorted(returns, key=lambda r: (r["app_time"] or dt.datetime.min, r["guid"] or ""))
    for ret in ordered:
        where = (ret["_file"], ret["_node"])
        key = (ret["agent_code"] or "", ret["cop_no"])
        refusal = _refusal(ret, decisions.get(key), window) or _late_goods(
            ret, decisions[key], arrival_window
        )
        if refusal is not None:
            outcome.answers[where] = (REFUSED, [refusal])
            continue
        decision = decisions[key]
        declared = {line["gnum"]: line for line in tax_lines.get(key, [])}
        named = [line["gnum"] for line in lines_of.get(where, [])]
        wanted = named or sorted(declared)
        unknown = [g for g in wanted if g not in declared]
        if unknown:
            text = f"line(s) {', '.join(map(str, unknown))} are not lines of {key[1]}"
            outcome.answers[where] = (REFUSED, [("line_not_in_declaration", text)])
            continue
        twice = [g for g in wanted if (key[0], key[1], g) in gone]
        if twice:
            text = f"line(s) {', '.join(map(str, twice))} of {key[1]} were returned before"
            outcome.answers[where] = (REFUSED, [("already_returned", text)])
            continue
        whole = len(set(wanted)) == len(declared)
        value = (
            decision["dutiable_value"]
            if whole
            else sum((declared[g]["tax_price"] for g in set(wanted)), Decimal(0))
        )
        for gnum in sorted(set(wanted)):
            gone.add((key[0], key[1], gnum))
            line = declared[gnum]
            outcome.returned_lines.append(
                {
                    "agent_code": key[0],
                    "cop_no": key[1],
                    "gnum": gnum,
                    "tax_price": line["tax_price"],
                    "customs_tax": line["customs_tax"],
                    "value_added_tax": line["value_added_tax"],
                    "consumption_tax": line["consumption_tax"],
                    "returned_at": ret["app_time"],
                    "return_guid": ret["guid"],
                }
            )
        outcome.ledger.append(
            {
                "buyer_id_number": decision["buyer_id_number"],
                "year": decision["decl_time"].year,
                "agent_code": key[0],
                "cop_no": key[1],
                "value": -value,
                "entry_time": ret["app_time"],
            }
        )
        what = "the whole declaration list" if whole else f"line(s) {', '.join(map(str, wanted))}"
        outcome.answers[where] = (
            ACCEPTED,
            [("return_accepted", f"{what}: no tax due, {value:.2f} CNY of allowance given back")],
        )
    return outcome


def _refusal(
    ret: dict[str, Any], decision: dict[str, Any] | None, window: Callable[[dt.date], int | None]
) -> tuple[str, str] | None:
    if decision is None:
        return ("unknown_declaration", f"no declaration list {ret['cop_no']} has been decided")
    if decision["status"] != RELEASED:
        return (
            "not_released",
            f"the declaration list has status {decision['status']}: only a released one returns",
        )
    released = decision["decided_at"]
    days = window(released.date())
    if days is None:
        return ("return_too_late", f"no return is provided for releases on {released:%Y-%m-%d}")
    if ret["app_time"] is None or ret["app_time"] > released + dt.timedelta(days=days):
        return (
            "return_too_late",
            f"applied more than {days} days after the release on {released:%Y-%m-%d %H:%M}",
        )
    return None


def _late_goods(
    ret: dict[str, Any], decision: dict[str, Any], window: Callable[[dt.date], int | None]
) -> tuple[str, str] | None:
    """The goods must be back at the supervision site within `return_arrival_days` of the
    release (45 days, GACC Announcement 2018 No. 194). Their arrival is the return's
    `arrivalTime` (cbec's addition to CEB625), else the application's own time."""
    released = decision["decided_at"]
    days = window(released.date())
    arrived = ret.get("arrival_time") or ret["app_time"]
    if days is None or arrived is None or arrived <= released + dt.timedelta(days=days):
        return None
    return (
        "goods_back_too_late",
        f"the goods were back on {arrived:%Y-%m-%d %H:%M}, more than {days} days after the "
        f"release on {released:%Y-%m-%d %H:%M}: no tax relief, no allowance back",
    )


def judge_cancellations(
    cancellations: list[dict[str, Any]],
    decisions: dict[tuple[str, str], dict[str, Any]],
    outcome: ReturnOutcome,
) -> None:
    """Each cancellation into `outcome`: accepted for a list held for review (300, not released:
    its stock, allowance and yearly quantities are given back and it is closed, 899), refused
    with why otherwise (released: return instead; held for inspection: its result decides;
    rejected or closed: nothing to cancel)."""
    answers = outcome.answers
    done: set[tuple[str, str]] = set()
    ordered = sorted(
        cancellations, key=lambda c: (c["app_time"] or dt.datetime.min, c["guid"] or "")
    )
    for cancel in ordered:
        where = (cancel["_file"], cancel["_node"])
        key = (cancel["agent_code"] or "", cancel["cop_no"])
        decision = decisions.get(key)
        if decision is not None and decision["status"] == HELD and key not in done:
            done.add(key)
            outcome.cancelled.append(
                {"agent_code": key[0], "cop_no": key[1], "cancelled_at": cancel["app_time"]}
            )
            answers[where] = (
                ACCEPTED,
                [("cancel_accepted", "withdrawn before release: stock and allowance given back")],
            )
            continue
        if decision is None:
            reason = ("unknown_declaration", f"no declaration list {cancel['cop_no']} is known")
        elif decision["status"] == RELEASED:
            reason = (
                "released_use_return",
                f"released on {decision['decided_at']:%Y-%m-%d %H:%M}: apply for a return (CEB625)",
            )
        elif decision["status"] == INSPECTED:
            # An inspection ordered by the risk selection is not the declarant's to call off:
            # withdrawing would let the riskiest parcels escape it (cbec's choice, decisions.md).
            reason = (
                "under_inspection",
                "held for inspection (500): the inspection's result releases, reassesses or "
                "rejects it; it cannot be withdrawn meanwhile",
            )
        else:
            reason = (
                "already_rejected",
                f"rejected or closed (status {decision['status']}): nothing to cancel",
            )
        answers[where] = (REFUSED, [reason])
