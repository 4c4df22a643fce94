"""Message intake for the batch path: CEB XML files become documents for clearance.

What is refused here never reaches the stages, and each refusal is kept with its reason for the
receipts: a node whose values break a field rule (`format_error`); a change (`appType` 2) or
deletion (3) of a document that a released declaration used (`document_in_use`), or of a
declaration list already decided (`declaration_decided`). Everything else is handed to the
pipeline as rows of the canonical tables, where changes and deletions are versions of a document
(the latest `appTime` wins; a deletion that wins removes the document).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from cbec.documents.reading import RowError
from cbec.documents.schemas import DELIVERY, DELIVERY_LINE, IMPORT_DOCUMENTS
from cbec.exports.manifests import EXPORT_MESSAGE_STEMS
from cbec.messages import companion_keys
from cbec.messages.batch import MessageFile, concat, message_paths, read_message_files
from cbec.messages.parse import NODE_COLUMN, ParsedMessage
from cbec.store.embedded import Store

FILE_COLUMN = "_file"
# The families a run clears from: the import documents, and the bonded entry lists that stock.
CLEARED_DOCUMENTS = (*IMPORT_DOCUMENTS, DELIVERY, DELIVERY_LINE)
CLEARED_STEMS = {d.stem: d for d in CLEARED_DOCUMENTS}
# Documents judged after the decisions, by the ledgers (rows kept with their file and node).
LEDGER_STEMS = ("returns", "return_lines", "cancellations")
CHANGE_OR_DELETE = ("2", "3")
Refusals = dict[tuple[int, int], list[tuple[str, str]]]  # (file, node) -> receipt reasons


@dataclass
class Intake:
    files: list[MessageFile]
    tables: dict[str, pa.Table]  # accepted rows of the cleared families, canonical schemas
    refused: Refusals = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    unreadable_keys: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # Clean rows of returns and cancellations, each with `_file` and `_node`.
    ledger_rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    # Accepted rows of the export families (cbec.exports), canonical schemas plus `_node` and
    # `_file` (which message and business node each row came from).
    export_tables: dict[str, pa.Table] = field(default_factory=dict)
    # (file, node) of the declaration lists left for a later run: they wait for a companion
    # (`take_in(waiting=...)`), and are neither cleared nor answered now.
    deferred: set[tuple[int, int]] = field(default_factory=set)

    @property
    def inventory_keys(self) -> pa.Table:
        """(agent_code, cop_no) of every declaration list read from the messages."""
        keys = []
        for entry in self.files:
            if entry.message is not None and "inventories" in entry.message.tables:
                keys.append(entry.message.tables["inventories"].select(["agent_code", "cop_no"]))
        if not keys:
            return pa.table(
                {"agent_code": pa.array([], pa.string()), "cop_no": pa.array([], pa.string())}
            )
        table = pa.concat_tables(keys)
        return table.set_column(0, "agent_code", pc.fill_null(table["agent_code"], ""))


def take_in(
    paths: Iterable[Path],
    store: Store,
    require_signatures: bool = False,
    waiting: Mapping[str, Collection[str]] | None = None,
) -> Intake:
    """Read every CEB message under `paths`; return what clearance should see, and refusals.

    `waiting` names message files (by file name) whose declaration lists may wait, each with the
    companion keys (`messages.companion_keys`) not come yet: a list of such a file that needs
    one of them is left out (`Intake.deferred`), the file's other lists are cleared."""
    files = read_message_files(message_paths(paths))
    intake = Intake(files, {})
    _check_signatures(files, store, require_signatures, intake.refused)
    rows: dict[str, list[pa.Table]] = {stem: [] for stem in CLEARED_STEMS}
    for index, entry in enumerate(files):
        message = entry.message
        if message is None:
            continue
        for problem_node, problems in message.problems.items():
            for problem in problems:
                intake.errors.append(
                    RowError(str(entry.path), problem_node + 1, problem.path, _problem(problem))
                )
        whole_message_bad = -1 in message.problems
        for stem, table in message.tables.items():
            if stem in LEDGER_STEMS:
                clean = table.filter(
                    pc.invert(pc.is_in(table[NODE_COLUMN], _refused_nodes(message, stem)))
                )
                if whole_message_bad:
                    clean = clean.slice(0, 0)
                named = clean.to_pylist()
                for row in named:
                    row[FILE_COLUMN] = index
                intake.ledger_rows.setdefault(stem, []).extend(named)
                continue
            if stem in EXPORT_MESSAGE_STEMS:
                _take_export(intake, message, stem, table, index, whole_message_bad)
                continue
            if stem not in CLEARED_STEMS:
                continue
            flagged = pc.is_in(table[NODE_COLUMN], _refused_nodes(message, stem))
            if whole_message_bad:
                flagged = pa.array([True] * table.num_rows)
            if stem in ("inventories", "inventory_lines"):
                intake.unreadable_keys.setdefault(stem, []).extend(
                    _keys(table.filter(flagged), ("agent_code", "cop_no"))
                )
            clean = table.filter(pc.invert(flagged))
            rows[stem].append(
                clean.append_column(FILE_COLUMN, pa.array([index] * clean.num_rows, pa.int32()))
            )
    tables = {stem: _concat_tagged(parts, stem) for stem, parts in rows.items()}
    _refuse_changes_in_use(tables, store, intake.refused)
    if waiting:
        intake.deferred = _waiting_nodes(tables["inventories"], files, waiting) - set(
            intake.refused
        )
    left_out = set(intake.refused) | intake.deferred
    intake.tables = {
        stem: _without(table, left_out).drop_columns([FILE_COLUMN, NODE_COLUMN])
        for stem, table in tables.items()
    }
    return intake


def _waiting_nodes(
    inventories: pa.Table, files: list[MessageFile], waiting: Mapping[str, Collection[str]]
) -> set[tuple[int, int]]:
    """(file, node) of the declaration lists of `waiting`'s files that need a key it names."""
    missing = {
        index: frozenset(waiting[entry.path.name])
        for index, entry in enumerate(files)
        if entry.path.name in waiting
    }
    if not missing or inventories.num_rows == 0:
        return set()
    of_files = pc.is_in(inventories[FILE_COLUMN], pa.array(list(missing), pa.int32()))
    heads = inventories.filter(of_files).select(
        [FILE_COLUMN, NODE_COLUMN, *companion_keys.NEEDED_COLUMNS]
    )
    return {
        (int(head[FILE_COLUMN]), int(head[NODE_COLUMN]))
        for head in heads.to_pylist()
        if missing[head[FILE_COLUMN]].intersection(companion_keys.needed_by(head))
    }


def _take_export(
    intake: Intake,
    message: ParsedMessage,
    stem: str,
    table: pa.Table,
    index: int,
    whole_message_bad: bool,
) -> None:
    """Clean rows of an export family (refused nodes left out), kept for the export clearance."""
    clean = table.filter(pc.invert(pc.is_in(table[NODE_COLUMN], _refused_nodes(message, stem))))
    refused = intake.refused
    if whole_message_bad:
        clean = clean.slice(0, 0)
    elif refused and clean.num_rows:
        nodes = clean[NODE_COLUMN].to_pylist()
        clean = clean.filter(pa.array([(index, n) not in refused for n in nodes]))
    # Each row keeps its file and node: the manifests and cancellations are answered per node.
    clean = clean.append_column(FILE_COLUMN, pa.array([index] * clean.num_rows, pa.int32()))
    before = intake.export_tables.get(stem)
    intake.export_tables[stem] = clean if before is None else pa.concat_tables([before, clean])


# The column naming a node's sender, when the message has no BaseTransfer/copCode.
SENDER_COLUMNS = {
    "orders": ("ebp_code",),
    "payments": ("pay_code",),
    "waybills": ("logistics_code",),
    "waybill_statuses": ("logistics_code",),
    "inventories": ("agent_code", "ebc_code"),
    "cancellations": ("agent_code", "ebc_code"),
    "returns": ("agent_code", "ebc_code"),
    "deliveries": ("operator_code",),
}


def _check_signatures(
    files: list[MessageFile], store: Store, required: bool, refused: Refusals
) -> None:
    """Declared nodes (appStatus 2) of a sender with a registered certificate, or of every
    sender under `--require-signatures`, need a signature over the whole message that verifies:
    against the registered certificate, else (required, none registered) the message's own."""
    from cbec.messages.signatures import SignatureInvalid, verify_message

    certificates: dict[str, str | None] = {}

    def certificate(code: str) -> str | None:
        if code not in certificates:
            enterprise = store.enterprise(code) if code else None
            certificates[code] = enterprise.cert_pem if enterprise else None
        return certificates[code]

    for index, entry in enumerate(files):
        message = entry.message
        if message is None or message.type.receipt:
            continue
        head = message.tables[message.type.head.document.stem]
        copied = (message.transfer or {}).get("copCode")
        verdicts: dict[str | None, str | None] = {}  # certificate -> why it failed, or None
        for row in head.select(
            [c for c in ("app_status", NODE_COLUMN, "app_time") if c in head.column_names]
            + [c for c in SENDER_COLUMNS.get(head_stem(message), ()) if c in head.column_names]
        ).to_pylist():
            if row.get("app_status") != "2":
                continue
            sender = copied or next(
                (row[c] for c in SENDER_COLUMNS.get(head_stem(message), ()) if row.get(c)), ""
            )
            registered = certificate(sender)
            if registered is None and not required:
                continue
            pem = registered or _embedded_certificate(message.raw)
            if pem not in verdicts:
                try:
                    if pem is None:
                        raise SignatureInvalid(
                            "no signature"
                            if not message.signed
                            else "no certificate in the signature"
                        )
                    verify_message(message.raw, pem.encode(), at=row.get("app_time"))
                    verdicts[pem] = None
                except SignatureInvalid as exc:
                    verdicts[pem] = str(exc.reason)
                except ValueError as exc:  # a registered certificate that no longer loads
                    verdicts[pem] = f"the registered certificate cannot be used: {exc}"
            if verdicts[pem] is not None:
                refused.setdefault((index, row[NODE_COLUMN]), []).append(
                    ("signature_invalid", f"sender {sender}: {verdicts[pem]}")
                )


def head_stem(message: ParsedMessage) -> str:
    return message.type.head.document.stem


def _embedded_certificate(raw: bytes) -> str | None:
    """The X509Certificate a signed message carries, as PEM (for `--require-signatures` when the
    sender registered none: the message must at least be signed consistently)."""
    import re

    found = re.search(rb"<(?:\w+:)?X509Certificate>([A-Za-z0-9+/=\s]+)</", raw)
    if found is None:
        return None
    body = b"".join(found.group(1).split()).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _refused_nodes(message: ParsedMessage, stem: str) -> pa.Array:
    """Nodes left out of clearance. A declaration list that only lacks required elements goes
    on, so that it is rejected as `required_field_missing`, as from any other input; its
    receipt still names the elements."""
    declaration = stem in (
        "inventories",
        "inventory_lines",
        "export_inventories",
        "export_inventory_lines",
    )
    return pa.array(
        sorted(
            node
            for node, problems in message.problems.items()
            if node >= 0 and not (declaration and all(p.missing_required for p in problems))
        ),
        type=pa.int32(),
    )


def _problem(problem: object) -> str:
    text = str(problem)
    return text.split(": ", 1)[1] if ": " in text else text


def _keys(table: pa.Table, columns: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for row in table.select(list(columns)).to_pylist():
        if (row.get("cop_no") or "").strip():
            out.append({k: v if v is not None else "" for k, v in row.items()})
    return out


def _concat_tagged(parts: list[pa.Table], stem: str) -> pa.Table:
    schema = CLEARED_STEMS[stem].schema
    tagged = schema.append(pa.field(NODE_COLUMN, pa.int32())).append(
        pa.field(FILE_COLUMN, pa.int32())
    )
    return concat(parts, tagged)


def _without(table: pa.Table, refused: Collection[tuple[int, int]]) -> pa.Table:
    if not refused or table.num_rows == 0:
        return table
    keys = pc.add(
        pc.multiply(pc.cast(table[FILE_COLUMN], pa.int64()), 1 << 32),
        pc.cast(table[NODE_COLUMN], pa.int64()),
    )
    gone = pa.array([(f << 32) + n for f, n in refused], pa.int64())
    return table.filter(pc.invert(pc.is_in(keys, gone)))


_IN_USE = {
    # family: (its columns, the same columns of a released declaration's inventory)
    "orders": ("ebp_code", "order_no"),
    "payments": ("ebp_code", "order_no"),
    "waybills": ("logistics_code", "logistics_no"),
}


def _refuse_changes_in_use(tables: dict[str, pa.Table], store: Store, refused: Refusals) -> None:
    """Changes and deletions of documents a released declaration used, and of declaration
    lists already decided, are refused (the issue: "otherwise refused with the reason")."""
    for stem, table in tables.items():
        if stem not in (*_IN_USE, "inventories") or table.num_rows == 0:
            continue
        changes = table.filter(pc.is_in(table["app_type"], pa.array(CHANGE_OR_DELETE)))
        if changes.num_rows == 0:
            continue
        con = store.con.con
        con.register("cbec_changes", changes)
        try:
            if stem == "inventories":
                hits = con.execute(
                    "SELECT c._file, c._node, d.status FROM cbec_changes c JOIN decisions d "
                    "ON d.agent_code = coalesce(c.agent_code, '') AND d.cop_no = c.cop_no"
                ).fetchall()
                for file, node, status in hits:
                    refused.setdefault((file, node), []).append(
                        ("declaration_decided", f"already decided with status {status}")
                    )
                continue
            stored = store.document_paths("inventories")
            if not stored:
                continue
            a, b = _IN_USE[stem]
            hits = con.execute(
                f"SELECT DISTINCT c._file, c._node, d.cop_no FROM cbec_changes c "
                f"JOIN read_parquet(?) i ON i.{a} = c.{a} AND i.{b} = c.{b} "
                "JOIN decisions d ON d.agent_code = coalesce(i.agent_code, '') "
                "AND d.cop_no = i.cop_no WHERE d.status = 800",
                [stored],
            ).fetchall()
            for file, node, cop_no in hits:
                refused.setdefault((file, node), []).append(
                    ("document_in_use", f"used by the released declaration {cop_no}")
                )
        finally:
            con.unregister("cbec_changes")
