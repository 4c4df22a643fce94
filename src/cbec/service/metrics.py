"""Counters and histograms of the service, shown at `GET /metrics` in the Prometheus text format
(version 0.0.4).

The histograms are written here rather than with prometheus_client, which is not among cbec's
dependencies (docs/decisions.md, "Issue 4"): a histogram is a fixed list of upper bounds, a count
per bound, a sum and a count, shown cumulatively as `NAME_bucket{le="BOUND"}` lines (the last
`le="+Inf"`, equal to `NAME_count`), then `NAME_sum` and `NAME_count`.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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

# Upper bounds. The receipt latency reaches the companion window (600 s by default): a list
# waiting for its order is answered at its end.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SIZE_BUCKETS = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)

HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "cbec_receipt_latency_seconds": (
        "Seconds from a message's acknowledgement (written to the intake log) to its receipts "
        "being readable, per message cleared.",
        LATENCY_BUCKETS,
    ),
    "cbec_batch_duration_seconds": (
        "Seconds a micro-batch took to clear (pipeline and recording its receipts).",
        DURATION_BUCKETS,
    ),
    "cbec_batch_size_messages": ("Messages in a micro-batch cleared.", SIZE_BUCKETS),
}


@dataclass
class Histogram:
    """Observations counted by the first upper bound they do not exceed."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)  # per bound, then one for +Inf
    sum: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if list(self.bounds) != sorted(set(self.bounds)):
            raise ValueError(f"histogram bounds must increase: {self.bounds}")
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        found, cumulative = [], 0
        for bound, count in zip([*self.bounds, math.inf], self.counts, strict=True):
            cumulative += count
            found.append(f'{name}_bucket{{le="{_number(bound)}"}} {cumulative}')
        return [*found, f"{name}_sum {_number(self.sum)}", f"{name}_count {self.count}"]


def _number(value: float) -> str:
    """As Prometheus writes a float: `0.5`, `1.0`, `+Inf`."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Metrics:
    def __init__(self) -> None:
        self._values: dict[str, float] = dict.fromkeys(COUNTERS, 0)
        self._histograms = {name: Histogram(bounds) for name, (_, bounds) in HISTOGRAMS.items()}
        self._lock = threading.Lock()

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def observe(self, name: str, *values: float) -> None:
        with self._lock:
            for value in values:
                self._histograms[name].observe(value)

    def value(self, name: str) -> float:
        return self._values[name]

    def histogram(self, name: str) -> Histogram:
        with self._lock:
            found = self._histograms[name]
            return Histogram(found.bounds, list(found.counts), found.sum, found.count)

    def render(self, gauges: Iterable[tuple[str, str, float]]) -> str:
        """The counters, the histograms, then the gauges given as (name, help, value)."""
        lines = []
        with self._lock:
            counters = [(n, COUNTERS[n], "counter", v) for n, v in self._values.items()]
            histograms = [
                (name, HISTOGRAMS[name][0], histogram.lines(name))
                for name, histogram in self._histograms.items()
            ]
        for name, text, kind, value in counters:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]
        for name, text, samples in histograms:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} histogram", *samples]
        for name, text, value in gauges:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"
