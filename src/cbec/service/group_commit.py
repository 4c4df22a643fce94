"""Group commit: requests that arrive while a commit is running are written together in the
next one, so that concurrent acknowledgements share one transaction (and one sync to disk)
instead of queueing for one each.

Leader and followers, with no thread of its own: a caller that finds no group running leads one,
taking every item waiting (its own included), and hands each waiting caller its own result; a
caller that finds a group running waits for the next. An item is answered only once the
transaction that holds it has committed, so an acknowledgement still means "durable".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Runs `write(items)` for the items submitted while the previous write ran.

    `write` returns one result per item, in order: a value, or the exception that item alone
    raised (an exception `write` raises is every item's)."""

    def __init__(self, write: Callable[[list[Item]], Sequence[Result | BaseException]]):
        self._write = write
        self._turn = threading.Condition()
        self._waiting: list[_Waiting[Item, Result]] = []
        self._leading = False
        self.groups = 0  # groups written, and the largest: for tests and the docs' figures
        self.largest = 0

    @property
    def waiting(self) -> int:
        """Items submitted and not taken by a group yet."""
        with self._turn:
            return len(self._waiting)

    def submit(self, item: Item) -> Result:
        mine: _Waiting[Item, Result] = _Waiting(item)
        with self._turn:
            self._waiting.append(mine)
            while self._leading and not mine.done:
                self._turn.wait()
            lead = not mine.done  # nobody leads: this caller writes every item waiting
            if lead:
                self._leading = True
                group, self._waiting = self._waiting, []
        if lead:
            self._lead(group)
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]  # set with done, unless an error

    def _lead(self, group: list[_Waiting[Item, Result]]) -> None:
        results: Sequence[Result | BaseException]
        try:
            results = self._write([w.item for w in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} items")
        except BaseException as error:  # every item's: none of them was written
            results = [error] * len(group)
        with self._turn:
            self.groups += 1
            self.largest = max(self.largest, len(group))
            for waiting, result in zip(group, results, strict=True):
                if isinstance(result, BaseException):
                    waiting.error = result
                else:
                    waiting.result = result
                waiting.done = True
            self._leading = False
            self._turn.notify_all()
