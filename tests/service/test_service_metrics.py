"""`GET /metrics`: Prometheus text that parses, with histograms of the receipt latency, the
micro-batch duration and size that count the messages and batches cleared."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from service_world import ADMIN_TOKEN, SENDERS, T_SHIRT, Running, start

from builders import declaration, write_messages
from cbec.pipeline import Policy
from cbec.service.metrics import HISTOGRAMS, Histogram

# A sample line of the text format 0.0.4: a name, optional labels, a value.
SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)\})? (?P<value>\S+)$'
)
FAMILY = re.compile(r"^# (?P<what>HELP|TYPE) (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?P<text>.+)$")


def parse(text: str) -> dict[str, dict[str, object]]:
    """The families of a Prometheus text exposition: name -> type, help and samples
    ((name, labels, value)); fails on any line out of the format."""
    assert text.endswith("\n")
    families: dict[str, dict[str, object]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("#"):
            header = FAMILY.match(line)
            assert header, f"not a HELP or TYPE line: {line!r}"
            family = families.setdefault(header["name"], {"samples": []})
            family["help" if header["what"] == "HELP" else "type"] = header["text"]
            current = header["name"]
            continue
        sample = SAMPLE.match(line)
        assert sample, f"not a sample line: {line!r}"
        assert current is not None and sample["name"] in (
            current,
            f"{current}_bucket",
            f"{current}_sum",
            f"{current}_count",
        ), f"{sample['name']} outside its family"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', sample["labels"] or ""))
        samples = families[current]["samples"]
        assert isinstance(samples, list)
        samples.append((sample["name"], labels, float(sample["value"])))
    for name, family in families.items():
        assert family.get("type") in ("counter", "gauge", "histogram"), name
        if family["type"] == "histogram":
            samples = family["samples"]
            assert isinstance(samples, list)
            check_histogram(name, samples)
    return families


def check_histogram(name: str, samples: list[tuple[str, dict[str, str], float]]) -> None:
    """Buckets by increasing `le`, cumulative, the last `+Inf` and equal to `_count`."""
    buckets = [
        (float(labels["le"]), value) for n, labels, value in samples if n == f"{name}_bucket"
    ]
    assert buckets and buckets[-1][0] == math.inf
    assert [b for b, _ in buckets] == sorted({b for b, _ in buckets})
    assert [c for _, c in buckets] == sorted(c for _, c in buckets)
    totals = {n: v for n, _, v in samples if n in (f"{name}_sum", f"{name}_count")}
    assert totals.keys() == {f"{name}_sum", f"{name}_count"}
    assert buckets[-1][1] == totals[f"{name}_count"]


def histogram(families: dict[str, dict[str, object]], name: str) -> tuple[float, float]:
    """(count, sum) of a histogram."""
    samples = families[name]["samples"]
    assert isinstance(samples, list)
    values = {n: v for n, _, v in samples}
    return values[f"{name}_count"], values[f"{name}_sum"]


def metrics(running: Running) -> str:
    response = running.client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def test_histograms_count_the_messages_and_batches_cleared(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    with start(tmp_path, policy, pg_url=service_store) as running:
        before = parse(metrics(running))
        assert {f: before[f]["type"] for f in HISTOGRAMS} == dict.fromkeys(HISTOGRAMS, "histogram")
        assert all(histogram(before, name) == (0, 0) for name in HISTOGRAMS)
        for path in write_messages(tmp_path / "parcel", declaration("M1", T_SHIRT)):
            status, answer = running.post(SENDERS[path.stem[-3:]], path.read_bytes())
            assert status == 202, answer
        assert running.service.batcher.flush() == 4
        after = parse(metrics(running))
        latency_count, latency_sum = histogram(after, "cbec_receipt_latency_seconds")
        assert latency_count == 4 and latency_sum > 0  # one a message cleared
        assert histogram(after, "cbec_batch_size_messages") == (1, 4)
        duration_count, duration_sum = histogram(after, "cbec_batch_duration_seconds")
        assert duration_count == 1 and duration_sum > 0
        samples = after["cbec_batch_size_messages"]["samples"]
        assert isinstance(samples, list)
        assert ("cbec_batch_size_messages_bucket", {"le": "1.0"}, 0) in samples
        assert ("cbec_batch_size_messages_bucket", {"le": "5.0"}, 1) in samples


def test_prometheus_client_reads_the_exposition(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    from prometheus_client import parser  # a dev dependency: Prometheus' own reading

    with start(tmp_path, policy, pg_url=service_store) as running:
        for path in write_messages(tmp_path / "parcel", declaration("M2", T_SHIRT)):
            running.post(SENDERS[path.stem[-3:]], path.read_bytes())
        running.service.batcher.flush()
        families = {f.name: f for f in parser.text_string_to_metric_families(metrics(running))}
    latency = families["cbec_receipt_latency_seconds"]
    assert latency.type == "histogram"
    counts = {s.name: s.value for s in latency.samples if not s.name.endswith("_bucket")}
    assert counts["cbec_receipt_latency_seconds_count"] == 4


def test_an_observation_on_a_bound_falls_in_its_bucket() -> None:
    found = Histogram((0.5, 1.0))
    for value in (0.5, 0.75, 1.0, 3.0):
        found.observe(value)
    assert found.lines("x") == [
        'x_bucket{le="0.5"} 1',
        'x_bucket{le="1.0"} 3',
        'x_bucket{le="+Inf"} 4',
        "x_sum 5.25",
        "x_count 4",
    ]
    with pytest.raises(ValueError, match="must increase"):
        Histogram((1.0, 0.5))
