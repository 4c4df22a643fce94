"""Counters of the service, shown at `GET /metrics` in the Prometheus text format."""

from __future__ import annotations

import threading
from collections.abc import Iterable

COUNTERS: dict[str, str] = {
    "cbec_messages_received_total": "Messages acknowledged (202), first time.",
    "cbec_messages_repeated_total": "Messages sent again with a guid already received.",
    "cbec_messages_refused_total": "Messages refused (4xx).",
    "cbec_receipts_recorded_total": "Receipts recorded for enterprises to read.",
    "cbec_batches_total": "Micro-batches cleared.",
    "cbec_batch_messages_total": "Messages cleared in micro-batches.",
    "cbec_batch_failures_total": "Messages that could not be cleared (kept, marked failed).",
    "cbec_batch_seconds_total": "Seconds spent clearing micro-batches (pipeline and receipts).",
}


class Metrics:
    def __init__(self) -> None:
        self._values: dict[str, float] = dict.fromkeys(COUNTERS, 0)
        self._lock = threading.Lock()

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def value(self, name: str) -> float:
        return self._values[name]

    def render(self, gauges: Iterable[tuple[str, str, float]]) -> str:
        """The counters, then the gauges given as (name, help, value)."""
        lines = []
        with self._lock:
            counters = [(n, COUNTERS[n], "counter", v) for n, v in self._values.items()]
        for name, text, kind, value in [*counters, *((n, h, "gauge", v) for n, h, v in gauges)]:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"
