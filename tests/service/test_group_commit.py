"""Group commit: callers that arrive while a write runs are written together in the next one,
each gets its own result, and an error reaches only the callers it belongs to."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from cbec.service.group_commit import GroupCommit


class Gate:
    """A write that records its groups; the first one waits until the test opens it."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.entered = threading.Event()
        self.opened = threading.Event()

    def write(self, items: list[int]) -> list[int | BaseException]:
        if not self.groups:
            self.entered.set()
            self.opened.wait(10)
        self.groups.append(list(items))
        return [ValueError(f"item {i} refused") if i < 0 else i * 10 for i in items]


def _wait_for(condition: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _submit_while_first_runs(items: list[int]) -> tuple[Gate, list[Future[int]]]:
    """`items[0]` submitted first; the others while its write is held; then the write goes on."""
    gate = Gate()
    group_commit = GroupCommit(gate.write)
    with ThreadPoolExecutor(len(items)) as pool:
        futures = [pool.submit(group_commit.submit, items[0])]
        assert gate.entered.wait(10)
        futures += [pool.submit(group_commit.submit, i) for i in items[1:]]
        _wait_for(lambda: group_commit.waiting == len(items) - 1)
        gate.opened.set()
        for future in futures:
            future.exception(10)
    return gate, futures


def test_callers_arriving_during_a_write_share_the_next() -> None:
    gate, futures = _submit_while_first_runs([1, 2, 3, 4, 5])
    assert gate.groups[0] == [1]
    assert sorted(gate.groups[1]) == [2, 3, 4, 5]
    assert len(gate.groups) == 2
    assert [f.result() for f in futures] == [10, 20, 30, 40, 50]


def test_an_item_refused_alone_fails_only_its_caller() -> None:
    gate, futures = _submit_while_first_runs([1, 2, -3, 4])
    assert len(gate.groups) == 2
    with pytest.raises(ValueError, match="item -3 refused"):
        futures[2].result()
    assert [futures[i].result() for i in (0, 1, 3)] == [10, 20, 40]


def test_a_write_that_fails_fails_its_group_and_the_next_group_goes_on() -> None:
    calls: list[list[str]] = []

    def write(items: list[str]) -> list[str | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise OSError("disk full")
        return [item.upper() for item in items]

    group_commit: GroupCommit[str, str] = GroupCommit(write)
    with pytest.raises(OSError, match="disk full"):
        group_commit.submit("a")
    assert group_commit.submit("b") == "B"
    assert calls == [["a"], ["b"]]


def test_a_write_must_answer_every_item() -> None:
    group_commit: GroupCommit[str, str] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        group_commit.submit("a")
