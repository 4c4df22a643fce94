"""The micro-batcher: clears what the intake log holds, a batch at a time, with `pipeline.clear`.

A batch is at most `batch_max_messages` entries. The first message after a quiet spell waits
`batch_max_seconds` for others; then batches follow one another until no message waits. A
batch's messages are written to a temporary folder, one file each, and cleared against the open
store on the wall clock (`as_of` = now, DESIGN.md "Time"). The pipeline keeps the receipts in
memory (`keep_receipts`: no receipt files); they go to the enterprises that sent what they answer
(a receipt's business `guid` is the `guid` of the document it answers), recorded in one
transaction with the entries' processed marks. Each batch is logged (INFO, `cbec.service`).

A crash anywhere loses nothing: entries stay unprocessed until that transaction commits, and are
cleared again at restart. That produces no second decision (the pipeline never re-decides a
declaration the store holds, and answers it from the stored decision) and no second receipt (a
receipt's own `guid` is derived from what it answers; recording is unique by it). A batch that
fails is retried message by message; a message that fails alone is marked failed, kept, and
counted, so that one bad message cannot stop the queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cbec import pipeline, receipts
from cbec.service import intake, masking
from cbec.service.journal import Claim, Journal
from cbec.service.metrics import Metrics
from cbec.service.settings import Settings
from cbec.store.embedded import Store
from cbec.store.postgres import retrying

log = logging.getLogger("cbec.service")

_WINDOW_TICK_SECONDS = 1.0


@dataclass(frozen=True)
class _Cleared:
    entries: list[intake.Entry]
    added: int  # receipts recorded
    seconds: float
    waiting: int  # declaration lists left in entries cleared in part


class Batcher:
    def __init__(
        self,
        store: Store,
        journal: Journal,
        lock: threading.RLock,
        policy: pipeline.Policy,
        settings: Settings,
        metrics: Metrics,
        on_receipts: Callable[[], None] = lambda: None,
        clock: Callable[[], dt.datetime] = intake.now,
    ):
        self.store = store
        self.journal = journal
        self.lock = lock
        self.policy = policy
        self.settings = settings
        self.metrics = metrics
        self.on_receipts = on_receipts
        self.clock = clock
        self.wake = threading.Event()  # set by an intake: a batch may be ready
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._looked_up: set[int] = set()  # entries whose companions were sought in the store
        # Entries cleared in part, with the companion keys they still waited for then.
        self._in_part: dict[int, frozenset[str]] = {}

    # Driving -----------------------------------------------------------------------------

    def flush(self) -> int:
        """Clears every entry waiting, batch after batch; returns how many were cleared."""
        total = 0
        while True:
            claimed, cleared = self._one_batch()
            total += cleared
            if not claimed:
                return total

    def clear_one_batch(self) -> int:
        """Clears the oldest waiting entries (one batch at most); returns how many."""
        return self._one_batch()[1]

    def _one_batch(self) -> tuple[int, int]:
        """(entries claimed, entries cleared) of one batch.

        A message whose declaration lists wait for a companion (service/companions.py) is
        cleared in part: its complete lists now, the waiting ones left in it (`pipeline.clear(
        waiting=...)`), and the entry stays in the queue. It is held back until what it waits
        for changes (a companion comes: its lists are cleared in part again, or whole) or its
        window ends (cleared whole: the lists still missing a companion are rejected for it).
        The lists cleared before are answered again from their decisions, with the same
        receipts, which the receipt log records once."""
        with self.lock:
            window = dt.timedelta(seconds=self.settings.companion_window_seconds)
            waiting = self.journal.held(self.store, self.clock(), window, self._looked_up)
            self._in_part = {i: k for i, k in self._in_part.items() if waiting.get(i) == k}
            held = set(self._in_part)
            with self.journal.claim(self.settings.batch_max_messages, held) as claim:
                part = {e.id: waiting[e.id] for e in claim.entries if e.id in waiting}
                cleared = self._clear(claim, claim.entries, part) if claim.entries else []
            self._in_part.update(part)  # committed: held until what they wait for changes
            # Committed: the receipts are readable now (not before: a long poll woken earlier
            # would find nothing and sleep on).
            self._committed(cleared)
            return len(claim.entries), len(claim.entries) - len(part)

    def start(self) -> None:
        self._stop.clear()
        self.wake.set()  # entries left by an earlier run (a crash) are cleared first
        self._thread = threading.Thread(target=self._run, name="cbec-batcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            # The first message of a batch waits up to batch_max_seconds for others; without
            # one, a look every second clears the lists whose companion window has ended.
            if self.wake.wait(_WINDOW_TICK_SECONDS):
                self.wake.clear()
                if self._stop.wait(self.settings.batch_max_seconds):
                    break
            try:
                self.flush()
            except Exception:  # the store failed: keep serving, try again at the next message
                log.exception("clearing a micro-batch failed; its messages stay in the intake")
                self._stop.wait(1.0)
                self.wake.set()

    # Clearing ----------------------------------------------------------------------------

    def _clear(
        self, claim: Claim, entries: list[intake.Entry], part: dict[int, frozenset[str]]
    ) -> list[_Cleared]:
        """Clears `entries` (those of `part` in part: their lists waiting for the companion keys
        named stay in the queue) and records their receipts in `claim`; a failed batch is
        cleared again message by message. Returns what was cleared, for `_committed`."""
        started = time.perf_counter()
        try:
            # Cleared again on fresh history when another process committed first (PostgreSQL).
            receipts, when, waiting = retrying(
                self.store, lambda: self._clear_in_folder(entries, part)
            )
        except Exception as exc:
            if len(entries) > 1:
                log.warning("a batch of %d failed (%s); clearing one by one", len(entries), exc)
                return [done for entry in entries for done in self._clear(claim, [entry], part)]
            entry = entries[0]
            log.exception("message %d (guid %s) could not be cleared", entry.id, entry.guid)
            failure = masking.mask_text(str(exc))  # kept in the store, read by operators
            claim.record([entry.id], [], self.clock(), failure=failure)
            self.metrics.add("cbec_batch_failures_total")
            return []
        whole = [e for e in entries if e.id not in part]
        added = claim.record([e.id for e in whole], receipts, when)
        return [_Cleared(whole, added, time.perf_counter() - started, waiting)]

    def _committed(self, cleared: list[_Cleared]) -> None:
        readable = time.time()
        for done in cleared:
            log.info(
                "cleared a batch of %d messages in %.2f s (%d receipts, %d lists wait for a "
                "companion)",
                len(done.entries),
                done.seconds,
                done.added,
                done.waiting,
            )
            self.metrics.add("cbec_batches_total")
            self.metrics.add("cbec_batch_messages_total", len(done.entries))
            self.metrics.add("cbec_batch_seconds_total", done.seconds)
            self.metrics.add("cbec_receipts_recorded_total", done.added)
            self.metrics.observe("cbec_batch_duration_seconds", done.seconds)
            self.metrics.observe("cbec_batch_size_messages", len(done.entries))
            self.metrics.observe(
                "cbec_receipt_latency_seconds",
                *(
                    max(readable - e.acknowledged_at, 0.0)
                    for e in done.entries
                    if e.acknowledged_at is not None
                ),
            )
        if any(done.added for done in cleared):
            self.on_receipts()

    def _clear_in_folder(
        self, entries: list[intake.Entry], part: dict[int, frozenset[str]]
    ) -> tuple[list[intake.ReceiptRow], dt.datetime, int]:
        when = self.clock()
        with tempfile.TemporaryDirectory(prefix="cbec-batch-") as temporary:
            folder = Path(temporary) / "messages"
            folder.mkdir()
            for entry in entries:
                (folder / _file_name(entry.id)).write_bytes(entry.body)
            out = Path(temporary) / "out"
            result = pipeline.clear(
                [folder],
                self.store,
                out,
                self.policy,
                as_of=when,
                keep_receipts=True,
                waiting={_file_name(i): keys for i, keys in part.items()},
            )
            return _receipts(result.kept_receipts, entries), when, result.waiting_lists


def _file_name(entry_id: int) -> str:
    return f"{entry_id:012d}.xml"


def _receipts(
    made: list[receipts.RenderedReceipt], entries: list[intake.Entry]
) -> list[intake.ReceiptRow]:
    """The batch's receipts, each for the senders of what it answers (the document whose guid
    is its business guid; a CEB900, unreadable as a whole, is named after its message's file)."""
    senders: dict[str, list[intake.Entry]] = {}
    for entry in entries:
        for guid in entry.node_guids:
            senders.setdefault(guid, []).append(entry)
    by_file = {_file_name(e.id).removesuffix(".xml"): e for e in entries}
    rows = []
    for receipt in made:
        answered = senders.get(receipt.answers, [])
        if receipt.code == "900":
            stem = receipt.file_name.split("_")[1]
            answered = [by_file[stem]] if stem in by_file else []
        if not answered:
            log.warning(
                "receipt %s answers no message of its batch; not delivered", receipt.file_name
            )
            continue
        xml = receipt.data.decode("utf-8")
        for entry in {e.sender: e for e in answered}.values():
            rows.append(
                intake.ReceiptRow(
                    recipient=entry.sender,
                    code=receipt.code,
                    receipt_guid=receipt.guid,
                    xml=xml,
                    intake_id=entry.id,
                )
            )
    return rows
