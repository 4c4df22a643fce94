"""What happens to an export list after its release: arrival, departure, waybill list, cancel.

The 9610 flow after the list (shared/domain s. 6; GACC 2014 No. 12 and 2018 No. 113): parcels
arrive at the exit supervision site (CEB507), are put on a master waybill (CEB607) and leave the
country (CEB509); a list whose goods have not left may be withdrawn (CEB605). Each message is
answered per business node (120 accepted or 100 refused with reasons) and what it says is kept
as events of the lists (`export_events`): `arrived`, `waybill_listed`, `departed` (the list is
concluded, 399) and `cancelled` (899).

A manifest names parcels by `logisticsCode` (its head) + `logisticsNo` (its lines); each parcel
must be on a released (800) list that is not cancelled. A cancellation names the list by
`agentCode + copNo` and its `invtNo`; it is accepted while the goods have not departed and the
list is not in a consolidated declaration.

The judgement is a pure function of Arrow tables, written as joins in an in-memory DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from cbec.exports.clearance import EXPORT_STEMS

RELEASED = 800
CONCLUDED = 399  # returnStatus "concluded": the goods have left (domain s. 6)
CANCELLED = 899  # returnStatus "closed": the list is withdrawn
ACCEPTED = 120
REFUSED = 100


@dataclass(frozen=True)
class Manifest:
    """A manifest message: its head and line stems, the head columns keying its lines, the head
    column naming the carrier of its parcels, and the event it records."""

    head: str
    lines: str
    key: tuple[str, str]
    event: str
    status: int | None


MANIFESTS: tuple[Manifest, ...] = (
    Manifest(
        "export_arrivals", "export_arrival_lines", ("operator_code", "cop_no"), "arrived", None
    ),
    Manifest(
        "export_master_waybills",
        "export_master_waybill_lines",
        ("agent_code", "cop_no"),
        "waybill_listed",
        None,
    ),
    Manifest(
        "export_departures",
        "export_departure_lines",
        ("logistics_code", "cop_no"),
        "departed",
        CONCLUDED,
    ),
)
CANCELLATION_STEM = "export_cancellations"
SUMMARY_STEMS = ("export_summaries", "export_summary_lines")
# Every export family intake keeps (with each row's file and node).
EXPORT_MESSAGE_STEMS: tuple[str, ...] = (
    *EXPORT_STEMS,
    *(stem for m in MANIFESTS for stem in (m.head, m.lines)),
    CANCELLATION_STEM,
    *SUMMARY_STEMS,
)

ANSWER = pa.schema(
    [
        ("_file", pa.int32()),
        ("_node", pa.int32()),
        ("status", pa.int32()),
        ("reasons", pa.list_(pa.string())),
        ("detail", pa.string()),
    ]
)
EVENT = pa.schema(
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("event", pa.string()),
        ("status", pa.int32()),
        ("event_time", pa.timestamp("us")),
        ("source_guid", pa.string()),
    ]
)
LISTS = pa.schema(  # the decided export lists, as `export_decisions` keeps them
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("invt_no", pa.string()),
        ("status", pa.int32()),
        ("logistics_code", pa.string()),
        ("logistics_no", pa.string()),
    ]
)


@dataclass
class Judged:
    answers: pa.Table  # ANSWER: one row per business node judged
    events: pa.Table  # EVENT: the new events of the lists


def judge(documents: dict[str, pa.Table], lists: pa.Table, earlier: pa.Table) -> Judged:
    """Answers to this run's manifests and cancellations, and the events they add.

    `documents` are this run's export tables (with `_file`, `_node`), `lists` every decided export
    list (LISTS), `earlier` the stored events (EVENT). Departures are judged before cancellations,
    so a cancellation sent with the departure of its goods is refused."""
    con = duckdb.connect()
    try:
        con.register("lists", lists)
        con.register("earlier", earlier)
        answers: list[pa.Table] = []
        events: list[pa.Table] = []
        for manifest in MANIFESTS:
            head, lines = documents.get(manifest.head), documents.get(manifest.lines)
            if head is None or head.num_rows == 0:
                continue
            answer, event = _manifest(con, manifest, head, lines, events)
            answers.append(answer)
            events.append(event)
        cancellations = documents.get(CANCELLATION_STEM)
        if cancellations is not None and cancellations.num_rows:
            answer, event = _cancellations(con, cancellations, events)
            answers.append(answer)
            events.append(event)
    finally:
        con.close()
    return Judged(
        answers=pa.concat_tables(answers) if answers else ANSWER.empty_table(),
        events=pa.concat_tables(events) if events else EVENT.empty_table(),
    )


def _now_events(con: duckdb.DuckDBPyConnection, events: list[pa.Table]) -> None:
    """`known`: the stored events and those judged so far in this run."""
    now = pa.concat_tables([EVENT.empty_table(), *events])
    con.register("run_events", now)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW known AS SELECT agent_code, cop_no, event, source_guid "
        "FROM earlier UNION ALL SELECT agent_code, cop_no, event, source_guid FROM run_events"
    )


def _manifest(
    con: duckdb.DuckDBPyConnection,
    manifest: Manifest,
    head: pa.Table,
    lines: pa.Table | None,
    events: list[pa.Table],
) -> tuple[pa.Table, pa.Table]:
    _now_events(con, events)
    a, b = manifest.key
    con.register("head", head)
    line_schema = pa.schema([(a, pa.string()), (b, pa.string()), ("logistics_no", pa.string())])
    con.register(
        "manifest_lines",
        lines.select([a, b, "logistics_no", "_file"])
        if lines is not None
        else line_schema.append(pa.field("_file", pa.int32())).empty_table(),
    )
    # A parcel counts when one released list that is not cancelled carries it.
    parcels = con.sql(
        f"""
        SELECT h._file, h._node, h.guid, h.app_time, l.logistics_no,
               d.agent_code, d.cop_no,
               d.agent_code IS NOT NULL AS found
        FROM head h
        LEFT JOIN manifest_lines l
          ON l.{a} IS NOT DISTINCT FROM h.{a} AND l.{b} IS NOT DISTINCT FROM h.{b}
         AND l._file = h._file
        LEFT JOIN (
            SELECT * FROM lists x WHERE x.status = {RELEASED} AND NOT EXISTS (
                SELECT 1 FROM known k WHERE k.agent_code = x.agent_code
                AND k.cop_no = x.cop_no AND k.event = 'cancelled')
        ) d ON d.logistics_code = h.logistics_code AND d.logistics_no = l.logistics_no
        """
    )
    con.register("parcels", parcels.to_arrow_table())
    answers = con.sql(
        f"""
        SELECT _file::INTEGER AS _file, _node::INTEGER AS _node,
               CASE WHEN count(logistics_no) > 0 AND bool_and(found) THEN {ACCEPTED}
                    ELSE {REFUSED} END::INTEGER AS status,
               CASE WHEN count(logistics_no) = 0 THEN ['export_manifest_empty']
                    WHEN bool_and(found) THEN []::VARCHAR[]
                    ELSE ['export_manifest_unknown_parcel'] END AS reasons,
               string_agg(DISTINCT logistics_no, ', ' ORDER BY logistics_no)
                   FILTER (WHERE NOT found) AS detail
        FROM parcels GROUP BY _file, _node ORDER BY _file, _node
        """
    ).to_arrow_table()
    con.register("answers", answers)
    status = "NULL" if manifest.status is None else str(manifest.status)
    event = con.sql(
        f"""
        SELECT DISTINCT p.agent_code, p.cop_no, '{manifest.event}' AS event,
               {status}::INTEGER AS status, p.app_time AS event_time, p.guid AS source_guid
        FROM parcels p JOIN answers a USING (_file, _node)
        WHERE a.status = {ACCEPTED} AND NOT EXISTS (
            SELECT 1 FROM known k WHERE k.agent_code = p.agent_code AND k.cop_no = p.cop_no
            AND k.event = '{manifest.event}')
        ORDER BY ALL
        """
    ).to_arrow_table()
    return answers.cast(ANSWER), event.cast(EVENT)


def _cancellations(
    con: duckdb.DuckDBPyConnection, cancellations: pa.Table, events: list[pa.Table]
) -> tuple[pa.Table, pa.Table]:
    _now_events(con, events)
    con.register("cancel", cancellations)
    judged = con.sql(
        f"""
        SELECT c._file::INTEGER AS _file, c._node::INTEGER AS _node, c.guid, c.app_time,
               d.agent_code, d.cop_no,
               CASE
                 WHEN d.cop_no IS NULL THEN 'export_cancel_unknown'
                 WHEN EXISTS (SELECT 1 FROM known k WHERE k.agent_code = d.agent_code
                      AND k.cop_no = d.cop_no AND k.event = 'cancelled'
                      AND k.source_guid IS NOT DISTINCT FROM c.guid) THEN NULL
                 WHEN d.status <> {RELEASED} THEN 'export_cancel_not_released'
                 WHEN EXISTS (SELECT 1 FROM known k WHERE k.agent_code = d.agent_code
                      AND k.cop_no = d.cop_no AND k.event = 'cancelled')
                      THEN 'export_cancel_already'
                 WHEN EXISTS (SELECT 1 FROM known k WHERE k.agent_code = d.agent_code
                      AND k.cop_no = d.cop_no AND k.event = 'departed')
                      THEN 'export_cancel_departed'
                 WHEN EXISTS (SELECT 1 FROM known k WHERE k.agent_code = d.agent_code
                      AND k.cop_no = d.cop_no AND k.event = 'summarised')
                      THEN 'export_cancel_summarised'
               END AS reason
        FROM cancel c LEFT JOIN lists d
          ON d.agent_code = coalesce(c.agent_code, '') AND d.cop_no = c.cop_no
         AND d.invt_no IS NOT DISTINCT FROM c.invt_no
        ORDER BY _file, _node
        """
    ).to_arrow_table()
    con.register("judged", judged)
    answers = con.sql(
        f"""
        SELECT _file, _node,
               (CASE WHEN reason IS NULL THEN {ACCEPTED} ELSE {REFUSED} END)::INTEGER AS status,
               CASE WHEN reason IS NULL THEN []::VARCHAR[] ELSE [reason] END AS reasons,
               NULL::VARCHAR AS detail
        FROM judged ORDER BY _file, _node
        """
    ).to_arrow_table()
    event = con.sql(
        f"""
        SELECT agent_code, cop_no, 'cancelled' AS event, {CANCELLED}::INTEGER AS status,
               min(app_time) AS event_time, min(guid) AS source_guid
        FROM judged j WHERE reason IS NULL AND NOT EXISTS (
            SELECT 1 FROM known k WHERE k.agent_code = j.agent_code AND k.cop_no = j.cop_no
            AND k.event = 'cancelled')
        GROUP BY agent_code, cop_no ORDER BY ALL
        """
    ).to_arrow_table()
    return answers.cast(ANSWER), event.cast(EVENT)
