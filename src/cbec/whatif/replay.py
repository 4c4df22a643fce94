"""Re-clear the declarations a store recorded in a period, in scratch stores, under given rules.

The store is opened read-only and never written. Its recorded declarations of the period (those
whose decision's `decl_time` falls in it) are copied, with the companion documents they name, to a
scratch input folder; each scenario then clears that folder with the ordinary batch pipeline into
its own empty scratch store, whose allowance ledger is first seeded with what the store's buyers
had used in the same calendar year before the period (admitted declarations declared before it,
less returns entered before it), and its bonded stock ledger with the stock on hand per item
(entry lists booked before the period ended, less releases and returns before it began). Both
scenarios see the same documents, the same allowance and stock before, and the same order of
judgement, so they compare like for like. Returns and cancellations entered during the period are
not replayed (they are messages about decisions, not declarations).

One scenario may instead be taken as the store recorded it (`recorded_scenario`, the CLI's
`--baseline recorded`): its output files are the store's decisions and tax lines of the same
declarations, which saves one clearing run (docs/whatif.md says when that is the same baseline).

With `by_day`, each scenario clears the period one day at a time, in date order, into the same
scratch store: a day's declarations (by their recorded `decl_time`) and the companions they name
are split out of the period's documents into a folder of their own, and each day sees the allowance,
stock and risk history the days before it left, as the one run judges them in declaration-time
order (DESIGN.md, "Sequential ledgers"): the same decisions, with a clearing run that holds one day.
The days' output files are then joined into the scenario's. `engine` gives each clearing run its
engine (the Spark one, `cbec whatif --engine spark`); by default the scratch store's DuckDB.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cbec.documents.schemas import DECISION, IMPORT_DOCUMENTS, TAX_LINE, Document
from cbec.engines import Engine
from cbec.pipeline import Policy, clear
from cbec.policy.reforms import Rules
from cbec.stats.periods import Period
from cbec.store import DEFAULT_MEMORY_LIMIT
from cbec.store.embedded import Store

Progress = Callable[[str], None]
# The engine of one clearing run on a scratch store, opened and closed around the run; None: the
# store's own DuckDB connection.
EngineFor = Callable[[Store], AbstractContextManager[Engine | None]]


class ReplayError(Exception):
    """The replay cannot be done (no store, no declarations in the period); the message says why."""


def policy_of(rules: Rules) -> Policy:
    return Policy(periods=rules.periods, positive_list=rules.positive_list, tariff=rules.tariff)


@dataclass(frozen=True)
class Scenario:
    """One re-clearing: its name and the pipeline's output files."""

    name: str
    decisions: Path
    tax_lines: Path


@dataclass(frozen=True)
class Replay:
    period: Period
    declarations: int  # recorded declarations of the period, re-cleared in each scenario
    inputs: Path  # the scratch input folder (inventories.parquet etc.)
    recorded: Path  # the store's own decisions of the period, as recorded
    scenarios: dict[str, Scenario]
    # The scenario taken from the store's recorded decisions instead of re-cleared, if any.
    recorded_scenario: str | None = None
    runs: int = 0  # clearing runs (batches) that recorded the period's decisions
    # With `by_day`: the days cleared one after the other, and each day's declarations.
    days: dict[dt.date, int] = field(default_factory=dict)


# Companion documents and how a declaration names them.
_COMPANIONS = {
    "orders": ("ebp_code", "order_no"),
    "order_lines": ("ebp_code", "order_no"),
    "payments": ("ebp_code", "order_no"),
    "waybills": ("logistics_code", "logistics_no"),
}
_DOCUMENTS = {document.stem: document for document in IMPORT_DOCUMENTS}


def replay(
    db: Path,
    period: Period,
    policies: Mapping[str, Policy],
    workdir: Path,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    progress: Progress | None = None,
    recorded_scenario: str | None = None,
    by_day: bool = False,
    engine: EngineFor | None = None,
) -> Replay:
    """Re-clear the store's declarations of `period` once per policy, in scratch stores under
    `workdir`; the store at `db` is only read.

    `recorded_scenario` names a scenario (of `policies`, usually the baseline under the current
    rules) that is not re-cleared: its decisions and tax lines are the store's own, as recorded,
    for the same declarations. That saves one re-clearing, and gives the same figures when the
    period was cleared under those rules in one run with all its documents (docs/whatif.md).

    `by_day`: clear each scenario one day at a time, in date order, into its one scratch store
    (the same decisions; a clearing run holds a day). `engine`: each clearing run's engine."""
    step = progress or (lambda _: None)
    if not db.is_file():
        raise ReplayError(f"--db {db}: no store there")
    if workdir.exists() and any(workdir.iterdir()):  # a scratch store must start empty
        raise ReplayError(f"--work-dir {workdir} is not empty; give a new or empty folder")
    inputs = workdir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    if recorded_scenario is not None and recorded_scenario not in policies:
        raise ValueError(f"no scenario {recorded_scenario!r} to take from the records")
    step("reading the period")
    count, runs = _extract(
        db, period, inputs, workdir, memory_limit, tax_lines=recorded_scenario is not None
    )
    if count == 0:
        raise ReplayError(
            f"no recorded declarations in {period.label} ({period.start} to {period.end}, "
            f"end excluded) in {db}"
        )
    days = _split_by_day(inputs, memory_limit, workdir) if by_day else {}
    folders = [inputs / "days" / day.isoformat() for day in days] if by_day else [inputs]
    scenarios = {}
    for name, policy in policies.items():
        if name == recorded_scenario:
            step(f"{name}: as recorded")
            scenarios[name] = _recorded_scenario(name, inputs, workdir, memory_limit)
        else:
            scenarios[name] = _clear_scenario(
                name, policy, inputs, folders, workdir, memory_limit, step, engine
            )
    return Replay(
        period, count, inputs, inputs / "recorded.parquet", scenarios, recorded_scenario, runs, days
    )


def _recorded_scenario(name: str, inputs: Path, workdir: Path, memory_limit: str) -> Scenario:
    """The store's decisions and tax lines of the replayed declarations, as a scenario's output
    files (the columns and order of `cbec clear`'s)."""
    out = workdir / name / "out"
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = {_quoted(str(workdir / 'spill'))}")
        replayed = (
            "(SELECT DISTINCT agent_code, cop_no FROM "
            f"read_parquet({_quoted(str(inputs / 'inventories.parquet'))}))"
        )
        for document, source in (
            (DECISION, "recorded.parquet"),
            (TAX_LINE, "recorded_tax_lines.parquet"),
        ):
            columns = ", ".join(document.schema.names)
            _copy(
                con,
                f"SELECT {columns} FROM read_parquet({_quoted(str(inputs / source))}) "
                f"SEMI JOIN {replayed} USING (agent_code, cop_no) "
                f"ORDER BY {', '.join(document.key)}",
                out / f"{document.stem}.parquet",
            )
    finally:
        con.close()
    return Scenario(name, out / "decisions.parquet", out / "tax_lines.parquet")


def _clear_scenario(
    name: str,
    policy: Policy,
    inputs: Path,
    folders: list[Path],
    workdir: Path,
    memory_limit: str,
    step: Progress,
    engine: EngineFor | None,
) -> Scenario:
    """Clear `folders` (the period's documents, or its days in date order) one after the other
    into the scenario's scratch store, seeded with the history before the period."""
    out = workdir / name / "out"
    store = Store(workdir / name / "scratch.duckdb", memory_limit=memory_limit)
    engine_for = engine or _own_engine
    try:
        # The allowance used before the period, one ledger entry per buyer and year.
        store.con.con.execute(
            "INSERT INTO allowance_ledger (buyer_id_number, year, agent_code, cop_no, value, "
            "kind, batch_id) SELECT buyer_id_number, year, '', '', used, "
            "'used before the period', 'whatif' FROM read_parquet(?)",
            [str(inputs / "used_before.parquet")],
        )
        # The bonded stock on hand for the period, one ledger entry per item.
        stock = inputs / "stock_before.parquet"
        if stock.exists() and _has_table(store.con.con, None, "stock_ledger"):
            store.con.con.execute(
                "INSERT INTO stock_ledger (ems_no, item_record_no, qty, kind, batch_id) "
                "SELECT ems_no, item_record_no, on_hand, 'on hand for the period', 'whatif' "
                "FROM read_parquet(?)",
                [str(stock)],
            )
        whole = folders == [inputs]
        for folder in folders:
            label = name if whole else f"{name}: {folder.name}"
            day_out = out if whole else workdir / name / "days" / folder.name
            with engine_for(store) as run_engine:
                clear(
                    [folder],
                    store,
                    day_out,
                    policy,
                    progress=_labelled(step, label),
                    engine=run_engine,
                )
        if not whole:
            _join_days(workdir / name / "days", out, memory_limit, workdir)
    finally:
        store.close()
    return Scenario(name, out / "decisions.parquet", out / "tax_lines.parquet")


def _labelled(step: Progress, label: str) -> Progress:
    return lambda text: step(f"{label}: {text}")


@contextlib.contextmanager
def _own_engine(store: Store) -> Iterator[Engine | None]:
    yield None


def _split_by_day(inputs: Path, memory_limit: str, workdir: Path) -> dict[dt.date, int]:
    """Split the period's documents in `inputs` into `inputs/days/<date>/`, one folder per day
    with declarations (by the recorded `decl_time`): the day's inventories and their lines, and
    the companions they name. Each day's declarations, by day in date order."""
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = {_quoted(str(workdir / 'spill'))}")
        recorded = _quoted(str(inputs / "recorded.parquet"))
        counted = con.execute(
            "SELECT CAST(decl_time AS DATE) AS day, count(*) FROM "
            f"(SELECT DISTINCT agent_code, cop_no, decl_time FROM read_parquet({recorded})) "
            "GROUP BY ALL ORDER BY day"
        ).fetchall()
        days = {row[0]: int(row[1]) for row in counted}
        for day in days:
            folder = inputs / "days" / day.isoformat()
            folder.mkdir(parents=True)
            start = dt.datetime.combine(day, dt.time())
            con.execute(
                "CREATE OR REPLACE TEMP TABLE day_keys AS SELECT DISTINCT agent_code, cop_no "
                f"FROM read_parquet({recorded}) WHERE decl_time >= ? AND decl_time < ?",
                [start, start + dt.timedelta(days=1)],
            )
            for stem in ("inventories", "inventory_lines"):
                source = inputs / f"{stem}.parquet"
                if source.exists():
                    _copy(
                        con,
                        f"SELECT * FROM read_parquet({_quoted(str(source))}) "
                        "SEMI JOIN day_keys USING (agent_code, cop_no)",
                        folder / f"{stem}.parquet",
                    )
            declarations = _quoted(str(folder / "inventories.parquet"))
            for stem, (first, second) in _COMPANIONS.items():
                source = inputs / f"{stem}.parquet"
                if source.exists():
                    _copy(
                        con,
                        f"SELECT * FROM read_parquet({_quoted(str(source))}) SEMI JOIN "
                        f"(SELECT DISTINCT {first}, {second} FROM read_parquet({declarations})) "
                        f"USING ({first}, {second})",
                        folder / f"{stem}.parquet",
                    )
        return days
    finally:
        con.close()


def _join_days(days: Path, out: Path, memory_limit: str, workdir: Path) -> None:
    """The days' output files as one scenario's, in the columns and order of `cbec clear`'s."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = {_quoted(str(workdir / 'spill'))}")
        for document in (DECISION, TAX_LINE):
            files = _quoted(str(days / "*" / f"{document.stem}.parquet"))
            columns = ", ".join(document.schema.names)
            _copy(
                con,
                f"SELECT {columns} FROM read_parquet({files}) ORDER BY {', '.join(document.key)}",
                out / f"{document.stem}.parquet",
            )
    finally:
        con.close()


def _extract(
    db: Path, period: Period, inputs: Path, workdir: Path, memory_limit: str, tax_lines: bool
) -> tuple[int, int]:
    """Write the period's declarations, their companions, the store's decisions of the period
    (and their tax lines, with `tax_lines`) and the allowance used before it to `inputs`; the
    number of declarations, and of the runs that decided them."""
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = {_quoted(str(workdir / 'spill'))}")
        try:
            con.execute(f"ATTACH {_quoted(str(db))} AS recorded (READ_ONLY)")
        except duckdb.Error as exc:
            raise ReplayError(
                f"cannot read the store {db}: {exc}. Check that it is a cbec store and that no "
                "other cbec process is writing to it."
            ) from None
        start, end = (dt.datetime.combine(d, dt.time()) for d in (period.start, period.end))
        con.execute(
            "CREATE TEMP TABLE period_keys AS SELECT agent_code, cop_no, buyer_id_number, "
            "decl_time FROM recorded.decisions WHERE decl_time >= ? AND decl_time < ?",
            [start, end],
        )
        _copy(
            con,
            "SELECT * FROM recorded.decisions WHERE decl_time >= ? AND decl_time < ? "
            "ORDER BY agent_code, cop_no",
            inputs / "recorded.parquet",
            [start, end],
        )
        if tax_lines:
            _copy(
                con,
                "SELECT * FROM recorded.tax_lines SEMI JOIN period_keys USING (agent_code, cop_no) "
                "ORDER BY agent_code, cop_no, gnum",
                inputs / "recorded_tax_lines.parquet",
            )
        found_runs = con.execute(
            "SELECT count(DISTINCT batch_id) FROM recorded.decisions "
            "WHERE decl_time >= ? AND decl_time < ?",
            [start, end],
        ).fetchall()
        runs = int(found_runs[0][0])
        documents_dir = db.with_name(db.name + ".documents")
        for stem in ("inventories", "inventory_lines"):
            rows = _stored(con, stem, documents_dir)
            if rows is None:
                continue
            keyed = f"SELECT * REPLACE (coalesce(agent_code, '') AS agent_code) FROM {rows}"
            _copy(
                con,
                f"SELECT * FROM ({keyed}) SEMI JOIN period_keys USING (agent_code, cop_no)",
                inputs / f"{stem}.parquet",
            )
        declarations = inputs / "inventories.parquet"
        if not declarations.exists():
            return 0, runs
        for stem, (first, second) in _COMPANIONS.items():
            rows = _stored(con, stem, documents_dir)
            if rows is None:
                continue
            _copy(
                con,
                f"SELECT * FROM {rows} SEMI JOIN (SELECT DISTINCT {first}, {second} FROM "
                f"read_parquet({_quoted(str(declarations))})) USING ({first}, {second})",
                inputs / f"{stem}.parquet",
            )
        # The allowance used in each calendar year of the period before it began, by the buyers
        # who declare in it: the store's ledger entries of declarations declared earlier, less
        # what returns entered before the period gave back.
        _copy(
            con,
            "SELECT l.buyer_id_number, l.year, sum(l.value) AS used "
            "FROM recorded.allowance_ledger l JOIN recorded.decisions d "
            "ON l.agent_code = d.agent_code AND l.cop_no = d.cop_no "
            "WHERE l.year BETWEEN ? AND ? "
            "AND l.buyer_id_number IN (SELECT buyer_id_number FROM period_keys) "
            "AND CASE WHEN l.kind = 'admitted' THEN d.decl_time < ? ELSE l.entry_time < ? END "
            "GROUP BY ALL ORDER BY ALL",
            inputs / "used_before.parquet",
            [period.start.year, (period.end - dt.timedelta(days=1)).year, start, start],
        )
        # The bonded stock the period's declarations could draw on: what entered before the
        # period ended (entry lists are not judged), less what was released or otherwise moved
        # before it began.
        if _has_table(con, "recorded", "stock_ledger"):
            _copy(
                con,
                "SELECT ems_no, item_record_no, sum(qty) AS on_hand FROM recorded.stock_ledger "
                "WHERE CASE WHEN kind = 'entry' THEN entry_time < ? ELSE entry_time < ? END "
                "GROUP BY ALL ORDER BY ALL",
                inputs / "stock_before.parquet",
                [end, start],
            )
        found = con.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT agent_code, cop_no FROM "
            f"read_parquet({_quoted(str(declarations))}))"
        ).fetchall()
        return int(found[0][0]), runs
    finally:
        con.close()


def _has_table(con: duckdb.DuckDBPyConnection, database: str | None, name: str) -> bool:
    """Whether `database` (None: the connection's own) has the table `name`."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = coalesce(?, current_database()) AND table_name = ?",
        [database, name],
    ).fetchall()
    return bool(found[0][0])


def _stored(con: duckdb.DuckDBPyConnection, stem: str, documents_dir: Path) -> str | None:
    """A SQL relation of every stored row of a family in its canonical columns, or None."""
    paths = [
        str(documents_dir / row[0])
        for row in con.execute(
            "SELECT path FROM recorded.document_files WHERE stem = ? ORDER BY path", [stem]
        ).fetchall()
    ]
    if not paths:
        return None
    document: Document = _DOCUMENTS[stem]
    files = "[" + ", ".join(_quoted(p) for p in paths) + "]"
    columns = ", ".join(document.schema.names)
    return f"(SELECT {columns} FROM read_parquet({files}, union_by_name = true))"


def _copy(
    con: duckdb.DuckDBPyConnection, query: str, target: Path, parameters: list[object] | None = None
) -> None:
    con.execute(f"COPY ({query}) TO {_quoted(str(target))} (FORMAT parquet)", parameters or [])


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
