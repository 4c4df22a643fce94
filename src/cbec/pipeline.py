"""The clearance pipeline, composed: read, check, match, list, limits, tax, decide, store, write.

Readable top to bottom. Each stage is a pure function of tables from `cbec.clearance`; this module
is the one place that reads history from the store and writes results. The order of the
sequential judgements is fixed (DESIGN.md, "Sequential ledgers"): stateless checks, matching,
positive list and single limit first; then the annual allowance over what passed; then tax.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from cbec import intake, pipeline_risk, receipts
from cbec.clearance import checks, decide, frames, limits, matching, pilot_zones, positive_list, tax
from cbec.clearance.frames import any_true, attach, with_policy
from cbec.clearance.money import fen_to_money
from cbec.documents.reading import ANSWERED_BY_KEY, DocumentSource, RowError, read_folder
from cbec.documents.schemas import DECISION, TAX_LINE, Document
from cbec.engines import Engine, reuse
from cbec.engines.duckdb import DuckDBEngine
from cbec.engines.reuse import reused
from cbec.exports import compose as export_compose
from cbec.ledgers import guarantee, quantity, returns, stock
from cbec.messages import batch as batch_files
from cbec.policy.lists import load_positive_list, load_tariff
from cbec.policy.parameters import load_parameters, parameter_at, policy_periods
from cbec.policy.zones import load_pilot_zones
from cbec.receipts import RenderedReceipt
from cbec.risk.rules import Rule
from cbec.store import ledgers as stored_ledgers
from cbec.store.embedded import Batch, PendingFile, Store, file_sha256

Progress = Callable[[str], None]


class NothingToClear(Exception):
    """The input holds no declarations at all."""


class EngineInputError(Exception):
    """The input holds something the chosen engine does not clear; the message says what to do."""


@dataclass
class ClearResult:
    declarations: int  # distinct declarations answered (new and already decided)
    new_declarations: int
    summary: Summary
    errors: list[RowError] = field(default_factory=list)
    messages: int = 0  # CEB message files read
    unreadable_messages: int = 0  # answered with a CEB900
    receipts: int = 0  # receipt files written under OUT/receipts (or kept, below)
    # The receipts themselves, when `clear(keep_receipts=True)` keeps them instead of writing
    # them (the service records them in its store: writing files to read them back cost more
    # than building them).
    kept_receipts: list[RenderedReceipt] = field(default_factory=list)
    waiting_lists: int = 0  # declaration lists left for a later run (`clear(waiting=...)`)
    # Seconds spent reading CEB messages and writing their receipts (the XML share of a run).
    message_seconds: float = 0.0
    receipt_seconds: float = 0.0
    export_declarations: int = 0  # 9610 export declaration lists answered (new and earlier)
    # the same lists by (trade_mode, status): what `cbec clear` prints for exports
    export_by_mode: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """The rules a run applies: dated parameters, positive list rows, tariff rows, risk rules."""

    periods: pa.Table
    positive_list: pa.Table
    tariff: pa.Table
    risk_rules: tuple[Rule, ...] = field(default_factory=pipeline_risk.shipped_rules)
    pilot_zones: pa.Table = field(default_factory=load_pilot_zones)  # where 1210 may clear

    @functools.cached_property
    def quantity_limits(self) -> pa.Table:
        """Per-person yearly quantity limits read from the positive list's remarks."""
        return quantity.limits(self.positive_list)

    @classmethod
    def load(
        cls,
        tariff: Path | None = None,
        positive_list_file: Path | None = None,
        pilot_zones_file: Path | None = None,
    ) -> Policy:
        policy = cls(
            periods=policy_periods(load_parameters()),
            positive_list=load_positive_list(positive_list_file),
            tariff=load_tariff(tariff),
            pilot_zones=load_pilot_zones(pilot_zones_file),
        )
        policy.quantity_limits  # noqa: B018 (a remark naming no quantity fails here, early)
        return policy


def _input_table(engine: Engine, source: DocumentSource) -> ir.Table:
    """The input documents of one family as one table: canonical Parquet files are scanned where
    they lie (only the columns a stage reads), converted files are in memory."""
    parts: list[ir.Table] = []
    if source.parquet_files:
        parts.append(engine.read_parquet([str(p) for p in source.parquet_files]))
    parts.extend(engine.arrow(table) for table in source.tables)
    if not parts:
        parts.append(engine.arrow(source.document.schema.empty_table()))
    columns = source.document.schema.names
    union = parts[0].select(*columns)
    for part in parts[1:]:
        union = union.union(part.select(*columns), distinct=False)
    if source.keys_to_clean:  # rare: most days need neither pass over every row
        for key in ANSWERED_BY_KEY[source.document.stem]:
            union = union.filter(~frames.blank(union[key]))  # reported by read_folder
        union = union.mutate(agent_code=union.agent_code.fill_null(""))  # absent keys as ""
    return union


def _with_history(engine: Engine, current: ir.Table, document: Document) -> ir.Table:
    """Input documents plus those stored by earlier runs (the companions may have come first)."""
    stored = engine.documents(document.stem)
    if stored is None:
        return current
    return current.union(stored.select(*document.schema.names), distinct=False)


def _one_version(table: ir.Table, stem: str) -> ir.Table:
    """`table` with one row per key (frames.ONE_VERSION). Keys rarely repeat: one aggregate
    finds out, and the ranking runs only when they do."""
    key, _ = frames.ONE_VERSION[stem]
    copies = table.group_by(key).aggregate(copies=table.count())
    repeated = copies.filter(copies.copies > 1).count().to_pyarrow().as_py()
    return frames.one_version(table, stem) if repeated else table


def _materialize(store: Store, name: str, expr: ir.Table) -> ir.Table:
    """A table of the store's own connection (the steps after the stages, which record)."""
    return DuckDBEngine(store).materialize(name, expr)


def _release(store: Store, *names: str) -> None:
    DuckDBEngine(store).release(*names)


def clear(
    inputs_given: list[Path],
    store: Store,
    out: Path,
    policy: Policy,
    as_of: dt.datetime | None = None,
    progress: Progress | None = None,
    require_signatures: bool = False,
    receipt_signer: receipts.ReceiptSigner | None = None,
    engine: Engine | None = None,
    keep_receipts: bool = False,
    waiting: Mapping[str, Collection[str]] | None = None,
) -> ClearResult:
    """Clear every declaration found in `inputs_given` (folders of document files, folders and
    files of CEB messages); write `out/decisions.parquet`, `out/tax_lines.parquet` and, for
    messages, their receipts under `out/receipts/` (in `ClearResult.kept_receipts` instead when
    `keep_receipts`); commit what is new to `store`. `waiting` (the service's companion window,
    `intake.take_in`) leaves out, unanswered, the lists of the message files it names that still
    wait for a companion (`ClearResult.waiting_lists`).

    The stages run on `engine` (by default the store's own DuckDB connection); what they decide
    is recorded in `store` either way."""
    engine = engine or DuckDBEngine(store)
    # A store kept open clears run after run (the online service): the stages' expressions
    # built on its connection are reused (cbec.engines.reuse).
    built = engine.compiled.built if isinstance(engine, DuckDBEngine) else None
    with reuse.reusing(built):
        return _clear(
            inputs_given,
            store,
            out,
            policy,
            engine,
            as_of,
            progress,
            require_signatures,
            receipt_signer,
            keep_receipts,
            waiting,
        )


def _clear(
    inputs_given: list[Path],
    store: Store,
    out: Path,
    policy: Policy,
    engine: Engine,
    as_of: dt.datetime | None,
    progress: Progress | None,
    require_signatures: bool,
    receipt_signer: receipts.ReceiptSigner | None,
    keep_receipts: bool,
    waiting: Mapping[str, Collection[str]] | None,
) -> ClearResult:
    step = progress or (lambda _: None)
    store.refresh()  # history as other processes left it (a PostgreSQL store is shared)

    step("reading documents")
    sources = read_folder([p for p in inputs_given if p.is_dir()], intake.CLEARED_DOCUMENTS)
    started = time.perf_counter()
    messages = intake.take_in(inputs_given, store, require_signatures, waiting)
    message_seconds = time.perf_counter() - started
    if messages.files and engine.name != "duckdb":
        raise EngineInputError(
            f"the {engine.name} engine clears folders of Parquet documents; CEB XML messages "
            "are cleared with the default engine (--engine duckdb)"
        )
    _add_messages(sources, messages)
    errors = [e for s in sources.values() for e in s.errors] + messages.errors
    inputs = {stem: _input_table(engine, source) for stem, source in sources.items()}
    unreadable = {
        (k.get("agent_code", ""), k["cop_no"])
        for stem in ("inventories", "inventory_lines")
        for k in [*sources[stem].unreadable_keys, *messages.unreadable_keys.get(stem, [])]
        if k.get("cop_no", "").strip()
    }
    found = engine.materialize(
        "input_keys", inputs["inventories"].select("agent_code", "cop_no").distinct()
    )
    found_count = found.count().to_pyarrow().as_py()
    if found_count == 0 and not unreadable and not messages.files:
        raise NothingToClear("no declarations (inventories) found in the input")

    step("matching documents")
    decided = engine.history("decisions").select("agent_code", "cop_no")
    new_inventories = _one_version(
        inputs["inventories"].anti_join(decided, ["agent_code", "cop_no"]), "inventories"
    )
    # A deletion (appType 3) that is the latest version removes the document.
    deleted = _deleted_keys(new_inventories) if messages.files else set()
    new_inventories = _not_deleted(new_inventories)
    documents = {
        stem: _one_version(_with_history(engine, inputs[stem], source.document), stem)
        for stem, source in sources.items()
        if stem in ("orders", "order_lines", "payments", "waybills")
    }
    documents = {
        stem: table if stem == "order_lines" else _not_deleted(table)
        for stem, table in documents.items()
    }
    heads = engine.materialize("declarations", frames.declarations(new_inventories))
    lines = frames.lines_with_heads(
        _one_version(inputs["inventory_lines"], "inventory_lines"), heads
    )
    lines = engine.materialize("lines", tax.with_tariff(lines, engine.arrow(policy.tariff)))

    step("checking declarations")
    line_summary = engine.materialize("line_summary", checks.line_summary(lines))
    order_line_summary = engine.materialize(
        "order_line_summary", matching.order_line_summary(documents["order_lines"], lines)
    )
    frame = frames.declarations_with_companions(
        heads, documents["orders"], documents["payments"], documents["waybills"]
    )
    frame = attach(attach(frame, line_summary), order_line_summary)
    head_findings = _merge_findings(checks.findings(frame), matching.findings(frame))
    checked = engine.materialize("checked", frame.select(*HEAD_COLUMNS, **head_findings))
    engine.release("line_summary", "order_line_summary")
    findings = [
        engine.materialize(
            "listed", positive_list.positive_list(lines, engine.arrow(policy.positive_list))
        ),
        engine.materialize("rated", tax.unknown_tariff(lines)),
        pilot_zones.pilot_zone(heads, engine.arrow(policy.pilot_zones)),
        engine.arrow(_unreadable_keys(unreadable)).mutate(r_unreadable_document=ibis.literal(True)),
    ]
    judged = _combine(checked, findings)
    judged = with_policy(judged, engine.arrow(policy.periods))
    passed_so_far = ~_any(judged, [c for c in judged.columns if c.startswith("r_")])
    judged = engine.materialize("judged", limits.single_limit(judged, passed_so_far))
    engine.release("checked", "listed", "rated")

    step("annual allowance")
    passed = ~_any(judged, [c for c in judged.columns if c.startswith("r_")])
    # Bonded stock first (DESIGN.md, "Sequential ledgers", step 2), then the allowance.
    wanted = engine.materialize(
        "stock_demand", stock.demand(lines, heads).semi_join(judged.filter(passed), KEY)
    )
    new_entries = engine.materialize("new_stock_entries", _stock_entries(engine, inputs))
    short = _judge_stock(engine, wanted, new_entries)
    judged = attach(judged, short)
    judged = judged.mutate(r_stock_insufficient=judged.r_stock_insufficient.fill_null(False))
    passed = ~_any(judged, [c for c in judged.columns if c.startswith("r_")])
    limited = quantity.demand(lines, heads, engine.arrow(policy.quantity_limits))
    limited = engine.materialize("quantity_demand", limited.semi_join(judged.filter(passed), KEY))
    judged = attach(judged, _judge_quantity(engine, limited))  # with step 3, before the value
    judged = judged.mutate(r_over_quantity_limit=judged.r_over_quantity_limit.fill_null(False))
    passed = ~_any(judged, [c for c in judged.columns if c.startswith("r_")])
    candidates = engine.materialize("candidates", limits.allowance_candidates(judged, passed))
    over_annual = _judge_allowance(engine, candidates)
    judged = attach(judged, over_annual)
    judged = judged.mutate(r_over_annual_limit=judged.r_over_annual_limit.fill_null(False))
    decided_now = engine.materialize("decided", decide.decide(judged))
    # Risk selection over what every ledger admitted: 800, 500 (inspection) or 300 (review).
    selected = pipeline_risk.select(
        store, engine, decided_now, new_inventories, lines, policy.risk_rules
    )
    decided_now = engine.materialize("decided_now", selected)
    engine.release("candidates", "judged", "decided")
    sightings = pipeline_risk.keep_sightings(engine, new_inventories)

    step("computing tax")
    terms = decided_now.select(
        "agent_code",
        "cop_no",
        "full_tax",
        "goods_total",
        "tax_factor",
        "tariff_factor",
        taxable=decided_now.status.isin(decide.ADMITTED),  # a held one's 816 waits
        extras=decided_now.freight.fill_null(0).cast("decimal(38, 2)")
        + decided_now.insured_fee.fill_null(0).cast("decimal(38, 2)"),
    )
    line_terms = engine.materialize("line_terms", tax.line_terms(lines, terms))
    line_tax = engine.materialize("line_tax", tax.line_taxes(line_terms))
    engine.release("line_terms")
    decided_now = _hold_for_guarantee(store, engine, heads, decided_now, line_tax)  # step 4
    released_lines = line_tax.inner_join(
        decided_now.filter(decided_now.status.isin(decide.ADMITTED)).select("agent_code", "cop_no"),
        ["agent_code", "cop_no"],
    )
    tax_lines = released_lines.select(
        "agent_code",
        "cop_no",
        "gnum",
        "gcode",
        tax_price=fen_to_money(released_lines.tax_price_fen),
        customs_tax=fen_to_money(released_lines.customs_tax_fen),
        value_added_tax=fen_to_money(released_lines.value_added_tax_fen),
        consumption_tax=fen_to_money(released_lines.consumption_tax_fen),
    )
    tax_lines = engine.materialize("new_tax_lines", tax_lines)

    step("deciding")
    new_decisions = _decisions(
        decided_now, line_tax, engine.history("invt_serials"), _moment(engine, as_of)
    )
    new_decisions = engine.materialize("new_decisions", new_decisions)
    new_decisions = engine.materialize(
        "new_decisions_all", _with_unreadable_heads(engine, new_decisions, unreadable, decided)
    )
    engine.release("new_decisions", "line_tax", "lines", "declarations", "decided_now", "held")
    engine.materialize("new_serials", _serials(new_decisions))
    engine.materialize("new_ledger", _ledger_entries(new_decisions))
    # Released, or held by the risk selection: the stock goes out as a release (an inspection
    # finding reverses it). Held for the guarantee: kept as `held` (a cancellation gives it back).
    for_guarantee = new_decisions.reasons.contains(guarantee.REASON).fill_null(False)
    admitted_now = new_decisions.filter(new_decisions.status.isin(decide.ADMITTED))
    released_now = admitted_now.filter(~for_guarantee)
    held_now = admitted_now.filter(for_guarantee)
    moves = new_entries.union(stock.releases(wanted, released_now), distinct=False)
    moves = moves.union(stock.releases(wanted, held_now, kind="held"), distinct=False)
    engine.materialize("new_stock_moves", moves)
    engine.materialize("new_quantities", quantity.admitted(limited, admitted_now))
    engine.release("stock_demand", "quantity_demand")
    new_count = new_decisions.count().to_pyarrow().as_py()

    # The store records from its own connection: an engine elsewhere hands its tables over.
    engine.hand_over(
        "input_keys",
        "new_decisions_all",
        "new_tax_lines",
        "new_serials",
        "new_ledger",
        "new_stock_moves",
        "new_quantities",
        pipeline_risk.TABLE,
        *sightings,
    )

    step("writing results")
    ledgers = _returns_and_cancellations(store, messages, policy)
    pending = _pending_files(sources, store)
    exports = export_compose.clear_exports(store, messages.export_tables, messages.files, as_of)
    pending += exports.files
    if new_count or pending or ledgers.returned_lines or ledgers.cancelled or exports.anything:
        batch = Batch(
            batch_id=uuid.uuid4().hex,
            decisions="new_decisions_all",
            tax_lines="new_tax_lines",
            ledger="new_ledger",
            serials="new_serials",
            declarations=new_count,
            files=pending,
            export_rows=exports.rows,
            risk=pipeline_risk.TABLE if new_count else None,
            sightings=sightings,
            **{
                "stock": "new_stock_moves",
                "quantities": "new_quantities",
                **_returned_tables(store, ledgers),
                **_cancelled_table(store, ledgers),
            },
        )
        store.commit(batch)
    found = store.table("input_keys")
    result = _write_outputs(store, found, unreadable, out, errors, new_count)
    heads = messages.export_tables.get("export_inventories")
    exported = export_compose.write_export_decisions(store, heads, out)
    result.export_declarations = exported.num_rows if exported is not None else 0
    if exported is not None:
        counted = exported.group_by(["trade_mode", "status"]).aggregate([("cop_no", "count")])
        result.export_by_mode = {
            (str(row["trade_mode"]), int(row["status"])): int(row["cop_no_count"])
            for row in counted.to_pylist()
        }
    if messages.files:
        result.messages = len(messages.files)
        result.waiting_lists = len(messages.deferred)
        result.unreadable_messages = sum(1 for f in messages.files if f.message is None)
        started = time.perf_counter()
        answered = _answer_messages(
            messages, out, deleted, as_of, ledgers.answers, exported, exports
        )
        if keep_receipts:
            result.kept_receipts = list(receipts.render_receipts(answered, receipt_signer))
            result.receipts = len(result.kept_receipts)
        else:
            result.receipts = receipts.write_receipts(out / "receipts", answered, receipt_signer)
        result.receipt_seconds = time.perf_counter() - started
        result.message_seconds = message_seconds
    return result


def _add_messages(sources: dict[str, DocumentSource], messages: intake.Intake) -> None:
    """The documents read from CEB messages join those read from document files."""
    if not messages.files:
        return
    name = batch_files.digest(messages.files)
    for stem, table in messages.tables.items():
        if table.num_rows == 0:
            continue
        source = sources[stem]
        source.tables.append(table)
        source.origins.append(Path(f"<{len(messages.files)} CEB messages>"))
        source.row_numbers.append(list(range(1, table.num_rows + 1)))
        source.digests.append(name)
        if stem in ANSWERED_BY_KEY and table["agent_code"].null_count:
            source.keys_to_clean = True


def _deleted_keys(inventories: ir.Table) -> set[tuple[str, str]]:
    gone = inventories.filter(inventories.app_type == "3").select("agent_code", "cop_no")
    return {(r["agent_code"], r["cop_no"]) for r in gone.to_pyarrow().to_pylist()}


def _not_deleted(table: ir.Table) -> ir.Table:
    return table.filter(table.app_type.isnull() | (table.app_type != "3"))


def _returns_and_cancellations(
    store: Store, messages: intake.Intake, policy: Policy
) -> returns.ReturnOutcome:
    """Returns and cancellations read from the messages, judged against every decision (the
    store's and this run's): after the decisions, so a return may follow its release."""
    rows = messages.ledger_rows
    named = rows.get("returns", []) + rows.get("cancellations", [])
    if not named:
        return returns.ReturnOutcome()
    keys = pa.table(
        {
            "agent_code": [r["agent_code"] or "" for r in named],
            "cop_no": [r["cop_no"] for r in named],
        }
    )
    con = store.con.con
    con.register("cbec_named", keys)
    try:
        decided = con.sql(
            "SELECT d.* FROM (SELECT agent_code, cop_no, status, decided_at, decl_time, "
            "dutiable_value, buyer_id_number FROM decisions UNION ALL SELECT agent_code, cop_no, "
            "status, decided_at, decl_time, dutiable_value, buyer_id_number "
            "FROM new_decisions_all) d SEMI JOIN cbec_named n USING (agent_code, cop_no)"
        ).to_arrow_table()
        lines = con.sql(
            "SELECT t.* FROM (SELECT agent_code, cop_no, gnum, tax_price, customs_tax, "
            "value_added_tax, consumption_tax FROM tax_lines UNION ALL SELECT agent_code, cop_no, "
            "gnum, tax_price, customs_tax, value_added_tax, consumption_tax FROM new_tax_lines) t "
            "SEMI JOIN cbec_named n USING (agent_code, cop_no)"
        ).to_arrow_table()
        before = con.execute(
            "SELECT agent_code, cop_no, gnum FROM returned_lines "
            "SEMI JOIN cbec_named USING (agent_code, cop_no)"
        ).fetchall()
    finally:
        con.unregister("cbec_named")
    decisions = {(d["agent_code"], d["cop_no"]): d for d in decided.to_pylist()}
    tax_lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in lines.to_pylist():
        tax_lines.setdefault((line["agent_code"], line["cop_no"]), []).append(line)
    outcome = returns.judge_returns(
        rows.get("returns", []),
        rows.get("return_lines", []),
        decisions,
        tax_lines,
        {(a, c, g) for a, c, g in before},
        lambda day: _whole(parameter_at(policy.periods, "return_application_days", day)),
        lambda day: _whole(parameter_at(policy.periods, "return_arrival_days", day)),
    )
    returns.judge_cancellations(rows.get("cancellations", []), decisions, outcome)
    return outcome


def _whole(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def _cancelled_table(store: Store, outcome: returns.ReturnOutcome) -> dict[str, str]:
    """The held lists an accepted cancellation withdraws, for the batch's commit."""
    if not outcome.cancelled:
        return {}
    schema = pa.schema(
        [("agent_code", pa.string()), ("cop_no", pa.string()), ("cancelled_at", pa.timestamp("us"))]
    )
    table = pa.Table.from_pylist(outcome.cancelled, schema=schema)
    _materialize(store, "new_cancelled", ibis.memtable(table))
    return {"cancelled": "new_cancelled"}


def _returned_tables(store: Store, outcome: returns.ReturnOutcome) -> dict[str, str | None]:
    """The accepted returns as tables of the store connection, for the batch's commit."""
    if not outcome.returned_lines:
        return {}
    lines = pa.Table.from_pylist(outcome.returned_lines, schema=RETURNED_LINE)
    ledger = pa.Table.from_pylist(outcome.ledger, schema=LEDGER_RETURN)
    _materialize(store, "new_returned_lines", ibis.memtable(lines))
    _materialize(store, "new_ledger_returns", ibis.memtable(ledger))
    # Bonded goods returned go back into the stock their release took them from.
    store.con.con.execute(
        "CREATE OR REPLACE TEMP TABLE new_stock_all AS SELECT * FROM new_stock_moves UNION ALL "
        "SELECT m.ems_no, m.item_record_no, -m.qty AS qty, 'return' AS kind, m.source_code, "
        "m.cop_no, m.gnum, r.returned_at AS entry_time "
        "FROM (SELECT * EXCLUDE (batch_id) FROM stock_ledger UNION ALL "
        "SELECT * FROM new_stock_moves) m "
        "JOIN new_returned_lines r ON m.kind = 'release' AND m.source_code = r.agent_code "
        "AND m.cop_no = r.cop_no AND m.gnum = r.gnum"
    )
    # Limited goods returned give the buyer's yearly quantity back.
    store.con.con.execute(
        "CREATE OR REPLACE TEMP TABLE new_quantities_all AS SELECT * FROM new_quantities "
        "UNION ALL SELECT q.buyer_id_number, q.year, q.tariff_line, q.agent_code, q.cop_no, "
        "q.gnum, -q.qty AS qty, r.returned_at AS entry_time, 'returned' AS kind "
        "FROM (SELECT * EXCLUDE (batch_id) FROM quantity_ledger UNION ALL "
        "SELECT * FROM new_quantities) q JOIN new_returned_lines r ON q.kind = 'admitted' "
        "AND q.agent_code = r.agent_code AND q.cop_no = r.cop_no AND q.gnum = r.gnum"
    )
    return {
        "returned_lines": "new_returned_lines",
        "ledger_returns": "new_ledger_returns",
        "stock": "new_stock_all",
        "quantities": "new_quantities_all",
    }


RETURNED_LINE = pa.schema(
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("gnum", pa.int32()),
        ("tax_price", pa.decimal128(18, 2)),
        ("customs_tax", pa.decimal128(18, 2)),
        ("value_added_tax", pa.decimal128(18, 2)),
        ("consumption_tax", pa.decimal128(18, 2)),
        ("returned_at", pa.timestamp("us")),
        ("return_guid", pa.string()),
    ]
)
LEDGER_RETURN = pa.schema(
    [
        ("buyer_id_number", pa.string()),
        ("year", pa.int32()),
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("value", pa.decimal128(18, 2)),
        ("entry_time", pa.timestamp("us")),
    ]
)


def _answer_messages(
    messages: intake.Intake,
    out: Path,
    deleted: set[tuple[str, str]],
    as_of: dt.datetime | None,
    answers: dict[tuple[int, int], tuple[int, list[tuple[str, str]]]],
    exported: pa.Table | None = None,
    exports: export_compose.ExportRun | None = None,
) -> Iterator[receipts.Receipt]:
    """The receipts of every message read (decisions come from what OUT now holds)."""
    keys = messages.inventory_keys
    decisions = _rows_of(out / "decisions.parquet", keys)
    tax_lines = _rows_of(out / "tax_lines.parquet", keys)
    outcome = receipts.Outcome(
        decisions=decisions,
        tax_lines=tax_lines,
        refused=messages.refused,
        deferred=messages.deferred,
        deleted=deleted,
        clock=as_of or dt.datetime.now().replace(microsecond=0),
        answers={**answers, **(exports.answers if exports else {})},
        export_decisions=exported,
        follow_ups=exports.follow_ups if exports else {},
    )
    return receipts.receipts_for(messages.files, outcome)


def _rows_of(path: Path, keys: pa.Table) -> pa.Table:
    """The rows of an output file that belong to the given declarations."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if keys.num_rows == 0:
        return table.slice(0, 0)
    joined = pc.binary_join_element_wise(table["agent_code"], table["cop_no"], "\x1f")
    wanted = pc.binary_join_element_wise(keys["agent_code"], keys["cop_no"], "\x1f")
    return table.filter(pc.is_in(joined, wanted))


HEAD_COLUMNS = (
    "agent_code",
    "cop_no",
    "order_no",
    "buyer_id_number",
    "decl_time",
    "decl_date",
    "app_time",
    "trade_mode",
    "customs_code",
    "freight",
    "insured_fee",
)


@reused
def _merge_findings(*parts: dict[str, ir.Value]) -> dict[str, ir.Value]:
    """Columns of several stages over one frame; a reason found by two stages is one flag."""
    merged: dict[str, ir.Value] = {}
    for part in parts:
        for name, value in part.items():
            merged[name] = merged[name] | value if name in merged else value
    return merged


@reused
def _combine(checked: ir.Table, findings: list[ir.Table]) -> ir.Table:
    """The checked declarations with the per-declaration findings of the line stages."""
    combined = checked
    flags: dict[str, list[str]] = {c: [c] for c in checked.columns if c.startswith("r_")}
    for index, finding in enumerate(findings):
        renames = {}
        for column in finding.columns:
            if column.startswith("r_"):
                renames[f"s{index}_{column}"] = column
                flags.setdefault(column, []).append(f"s{index}_{column}")
        combined = attach(combined, finding.rename(renames))
    merged = {reason: _any(combined, columns) for reason, columns in flags.items()}
    stage_columns = [name for columns in flags.values() for name in columns if name not in flags]
    return combined.mutate(**merged).drop(*stage_columns)


def _unreadable_keys(keys: set[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {"agent_code": [k[0] for k in sorted(keys)], "cop_no": [k[1] for k in sorted(keys)]},
        schema=pa.schema([("agent_code", pa.string()), ("cop_no", pa.string())]),
    )


def _unreadable_table(keys: set[tuple[str, str]]) -> ir.Table:
    return ibis.memtable(_unreadable_keys(keys))


@reused
def _any(table: ir.Table, columns: list[str]) -> ir.BooleanValue:
    return any_true(*(table[name] for name in columns))


KEY = ["agent_code", "cop_no"]


def _stock_entries(engine: Engine, inputs: dict[str, ir.Table]) -> ir.Table:
    """This run's entry-list lines not booked before (an entry list sent twice counts once)."""
    entries = stock.entries(inputs["deliveries"], inputs["delivery_lines"]).distinct()
    booked = engine.history("stock_ledger").filter(lambda t: t.kind == "entry")
    return entries.anti_join(booked, ["source_code", "cop_no", "gnum"])


def _judge_stock(engine: Engine, wanted: ir.Table, new_entries: ir.Table) -> ir.Table:
    """Bonded declarations refused for stock: a sequential pass over the contested items."""
    booked = engine.history("stock_ledger")
    ledger = booked.select(*stock.ITEM, qty=booked.qty.cast(stock.QTY))
    moves = ledger.union(new_entries.select(*stock.ITEM, "qty"), distinct=False)
    on_hand = moves.group_by(list(stock.ITEM)).aggregate(stock=moves.qty.sum())
    ordered = stock.contested(wanted, on_hand)
    judged = engine.sequential_pass(ordered, ("pass_key",), stock.judge_stock)
    refused = judged.filter(pc.invert(judged["verdict"])).select(KEY)
    return engine.arrow(refused).distinct().mutate(r_stock_insufficient=ibis.literal(True))


def _judge_quantity(engine: Engine, limited: ir.Table) -> ir.Table:
    """Declarations rejected for a per-person yearly quantity limit: a sequential pass over the
    buyer-years that could go over one."""
    ledger = engine.history("quantity_ledger")
    used = ledger.group_by(["buyer_id_number", "year", "tariff_line"]).aggregate(
        used=ledger.qty.sum().cast(quantity.QTY)
    )
    judged = engine.sequential_pass(
        quantity.contested(limited, used), quantity.KEY, quantity.judge_quantity
    )
    refused = judged.filter(pc.invert(judged["verdict"])).select(KEY)
    return engine.arrow(refused).distinct().mutate(r_over_quantity_limit=ibis.literal(True))


def _judge_allowance(engine: Engine, candidates: ir.Table) -> ir.Table:
    """Declarations rejected for the annual limit: a sequential pass over contested buyers."""
    used = limits.used_allowance(engine.history("allowance_ledger"))
    ordered = limits.contested(candidates, used)

    def judge(rows: dict[str, list[Any]]) -> list[bool]:
        pairs = zip(rows["value"], rows["annual_limit"], strict=True)
        return limits.judge_allowance(pairs, rows["used"][0] or Decimal(0))

    judged = engine.sequential_pass(ordered, ("buyer_id_number", "year"), judge)
    rejected = judged.filter(pc.invert(judged["verdict"])).select(["agent_code", "cop_no"])
    return engine.arrow(rejected).mutate(r_over_annual_limit=ibis.literal(True))


def _hold_for_guarantee(
    store: Store, engine: Engine, declarations: ir.Table, decided: ir.Table, line_tax: ir.Table
) -> ir.Table:
    """Released declarations whose tax the agent's remaining guarantee cannot cover, held (300):
    a sequential pass per assureCode over the agents whose day does not fit."""
    remaining = stored_ledgers.remaining_fen(store)
    if remaining is None:  # no guarantee registered: nobody is limited
        return decided
    heads = declarations.select("agent_code", "cop_no", "assure_code")
    released = decided.filter(decided.status == decide.RELEASED)
    released = released.select(*KEY, "decl_time", "app_time").inner_join(heads, KEY)
    tax_fen = line_tax.group_by(KEY).aggregate(
        tax_fen=(
            line_tax.customs_tax_fen + line_tax.value_added_tax_fen + line_tax.consumption_tax_fen
        ).sum()
    )
    ordered = guarantee.candidates(released, tax_fen, engine.arrow(remaining))
    judged = engine.sequential_pass(ordered, ("assure_code",), guarantee.judge_guarantee)
    held = judged.filter(pc.invert(judged["verdict"])).select(KEY)
    if held.num_rows == 0:
        return decided
    return engine.materialize("held", guarantee.hold(decided, engine.arrow(held), decide.RELEASED))


def _moment(engine: Engine, as_of: dt.datetime | None) -> ir.Table | None:
    """`as_of` as a one-row table (`decided_at`): the expressions that read it stay the same from
    one run to the next (the online service decides at each batch's time; cbec.engines.reuse)."""
    if as_of is None:
        return None
    return engine.arrow(pa.table({"decided_at": pa.array([as_of], pa.timestamp("us"))}))


@reused
def _decisions(
    decided: ir.Table, line_tax: ir.Table, serials: ir.Table, moment: ir.Table | None
) -> ir.Table:
    """The decision of each declaration: its taxes, its invtNo (after the last `serials` of
    its customs office and year) and `moment`'s `decided_at` (by default its declaration time)."""
    per_declaration = line_tax.group_by(["agent_code", "cop_no"]).aggregate(
        customs_fen=line_tax.customs_tax_fen.sum(),
        vat_fen=line_tax.value_added_tax_fen.sum(),
        consumption_fen=line_tax.consumption_tax_fen.sum(),
    )
    d = attach(decided, per_declaration)
    if moment is not None:
        d = d.cross_join(moment.select(_decided_at=moment.decided_at.cast("timestamp")))
    released = d.status.isin(decide.ADMITTED)  # a held declaration carries its assessed tax
    customs = ibis.ifelse(released, d.customs_fen.fill_null(0), 0)
    vat = ibis.ifelse(released, d.vat_fen.fill_null(0), 0)
    consumption = ibis.ifelse(released, d.consumption_fen.fill_null(0), 0)
    year = d.decl_time.year()
    customs_code_ok = d.customs_code.re_search(r"^[0-9]{4}$").fill_null(False)
    d = d.mutate(_year=year, _code_ok=customs_code_ok)
    d = d.left_join(serials, [d.customs_code == serials.customs_code, d._year == serials.year])
    window = ibis.window(
        group_by=[d.customs_code, d._year, d._code_ok],
        order_by=[d.decl_time, d.agent_code, d.cop_no],
    )
    serial = d.last_serial.fill_null(0) + ibis.row_number().over(window) + 1
    invt_no = ibis.ifelse(
        d._code_ok,
        d.customs_code + d._year.cast("string") + "I" + serial.cast("string").lpad(9, "0"),
        ibis.null("string"),
    )
    decided_at = d._decided_at if moment is not None else d.decl_time
    return d.select(
        "agent_code",
        "cop_no",
        "order_no",
        invt_no=invt_no,
        status=d.status,
        reasons=d.reasons,
        dutiable_value=d.dutiable_value.cast("decimal(18, 2)"),
        customs_tax=fen_to_money(customs),
        value_added_tax=fen_to_money(vat),
        consumption_tax=fen_to_money(consumption),
        tax_total=fen_to_money(customs + vat + consumption),
        buyer_id_number=d.buyer_id_number,
        decl_time=d.decl_time,
        decided_at=decided_at.cast("timestamp"),
        trade_mode=d.trade_mode,
        customs_code=d.customs_code,
    )


def _with_unreadable_heads(
    engine: Engine, decisions: ir.Table, unreadable: set[tuple[str, str]], decided: ir.Table
) -> ir.Table:
    """Declarations whose head row could not be read are still answered: rejected, with why."""
    if not unreadable:
        return decisions
    keys = engine.arrow(_unreadable_keys(unreadable))
    missing = keys.anti_join(decisions, ["agent_code", "cop_no"]).anti_join(
        decided, ["agent_code", "cop_no"]
    )
    zero = fen_to_money(ibis.literal(0))
    filler = missing.select(
        "agent_code",
        "cop_no",
        order_no=ibis.null("string"),
        invt_no=ibis.null("string"),
        status=ibis.literal(decide.REJECTED).cast("int32"),
        reasons=ibis.literal(["unreadable_document"], type="array<string>"),
        dutiable_value=zero,
        customs_tax=zero,
        value_added_tax=zero,
        consumption_tax=zero,
        tax_total=zero,
        buyer_id_number=ibis.null("string"),
        decl_time=ibis.null().cast(decisions.decl_time.type()),
        decided_at=ibis.null().cast(decisions.decided_at.type()),
        trade_mode=ibis.null("string"),
        customs_code=ibis.null("string"),
    )
    return decisions.union(filler, distinct=False)


@reused
def _serials(decisions: ir.Table) -> ir.Table:
    """The last invtNo serial used per customs office and year, after this batch."""
    numbered = decisions.filter(decisions.invt_no.notnull())
    return numbered.group_by(
        customs_code=numbered.customs_code, year=numbered.decl_time.year()
    ).aggregate(last_serial=numbered.invt_no.right(9).cast("int64").max())


@reused
def _ledger_entries(decisions: ir.Table) -> ir.Table:
    """Admitted declarations consume the buyer's allowance for their calendar year; one held
    for inspection, review or the guarantee reserves it (DESIGN.md: a held declaration keeps its
    stock and allowance)."""
    released = decisions.filter(decisions.status.isin(decide.ADMITTED))
    return released.select(
        "buyer_id_number",
        year=released.decl_time.year(),
        agent_code=released.agent_code,
        cop_no=released.cop_no,
        value=released.dutiable_value,
        entry_time=released.decided_at,
    )


def _pending_files(sources: dict[str, DocumentSource], store: Store) -> list[PendingFile]:
    """Input files the store does not hold yet, named by content."""
    known = store.known_files()
    pending: list[PendingFile] = []
    for stem, source in sources.items():
        for path in source.parquet_files:
            sha = file_sha256(path)
            if (stem, sha) not in known:
                pending.append(PendingFile(stem, sha, source=path))
        for path, table, digest in zip(source.origins, source.tables, source.digests, strict=True):
            sha = digest or file_sha256(path)
            if (stem, sha) not in known and table.num_rows:
                pending.append(PendingFile(stem, sha, table=table))
    return pending


def _conformed(table: ir.Table, document: Document) -> ir.Table:
    """`table`'s columns of `document`, with exactly its types (for unions across sources)."""
    schema = ibis.Schema.from_pyarrow(document.schema)
    return table.select(**{name: table[name].cast(dtype) for name, dtype in schema.items()})


def _answers(
    store: Store, new: str, stored: str, earlier: ir.Table, document: Document
) -> ir.Table:
    """This run's rows of `document` and the stored rows of the `earlier` declarations, sorted
    by key so that the same input always gives the same file."""
    before = store.table(stored).semi_join(earlier, ["agent_code", "cop_no"])
    both = _conformed(store.table(new), document).union(
        _conformed(before, document), distinct=False
    )
    return both.order_by(list(document.key))


def _write_outputs(
    store: Store,
    found: ir.Table,
    unreadable: set[tuple[str, str]],
    out: Path,
    errors: list[RowError],
    new_count: int,
) -> ClearResult:
    """OUT holds the decision of every declaration in the input, new or decided before."""
    keys = found
    if unreadable:
        keys = keys.union(_unreadable_table(unreadable), distinct=True)
    # New decisions come from this run's tables; those decided by earlier runs from the store.
    earlier = _materialize(
        store,
        "answer_keys",
        keys.anti_join(store.table("new_decisions_all"), ["agent_code", "cop_no"]),
    )
    decisions = _answers(store, "new_decisions_all", "decisions", earlier, DECISION)
    lines = _answers(store, "new_tax_lines", "tax_lines", earlier, TAX_LINE)
    out.mkdir(parents=True, exist_ok=True)
    for expr, name in ((decisions, "decisions"), (lines, "tax_lines")):
        partial = out / f"{name}.parquet.partial"
        store.con.to_parquet(expr, str(partial))
        partial.replace(out / f"{name}.parquet")
    # One name each run: the summary's SQL is compiled once (cbec.engines.duckdb).
    written = store.con.read_parquet(str(out / "decisions.parquet"), table_name="cbec_written")
    return ClearResult(
        declarations=written.count().to_pyarrow().as_py(),
        new_declarations=new_count,
        summary=summarize(written),
        errors=errors,
    )


@dataclass(frozen=True)
class Summary:
    by_status: dict[int, int]
    by_reason: dict[str, int]
    dutiable_value: Decimal
    customs_tax: Decimal
    value_added_tax: Decimal
    consumption_tax: Decimal
    tax_total: Decimal


def summarize(decisions: ir.Table) -> Summary:
    """Counts by status and by reason, and the tax totals of released declarations."""
    statuses = decisions.group_by("status").aggregate(n=decisions.count()).to_pyarrow()
    reasons = decisions.select(reason=decisions.reasons.unnest())
    by_reason = reasons.group_by("reason").aggregate(n=reasons.count()).to_pyarrow()
    released = decisions.filter(decisions.status == decide.RELEASED)
    totals = (
        released.aggregate(
            dutiable_value=released.dutiable_value.sum(),
            customs_tax=released.customs_tax.sum(),
            value_added_tax=released.value_added_tax.sum(),
            consumption_tax=released.consumption_tax.sum(),
            tax_total=released.tax_total.sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return Summary(
        by_status=dict(zip(statuses["status"].to_pylist(), statuses["n"].to_pylist(), strict=True)),
        by_reason=dict(
            sorted(
                zip(by_reason["reason"].to_pylist(), by_reason["n"].to_pylist(), strict=True),
                key=lambda item: (-item[1], item[0]),
            )
        ),
        **{name: Decimal(value or 0) for name, value in totals.items()},
    )
