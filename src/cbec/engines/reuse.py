"""A stage's expression, built once and reused by every later run on the same connection.

The online service clears a micro-batch every few seconds on one store, and each batch builds the
same Ibis expressions over tables of the same names and schemas (`cbec.engines.duckdb`). Ibis
takes longer to build them (its joins resolve every field of both sides) than DuckDB takes to run
them on a few hundred declarations: measured, about half of a batch of 300 one-node messages.

A stage builder decorated with `reused` is a pure function of its arguments: given equal
expressions (Ibis nodes compare by structure) and equal plain values, it builds an equal
expression, so the one built the first time can be handed out again. The expressions are kept in a
`Built` that belongs to one connection (`CompiledSQL.built`), and only while a run says so
(`reusing`); outside it, or for an argument that is not an expression or a plain value (an Arrow
table), the builder simply runs. An expression that holds an in-memory table (Ibis names them at
random and they hold a batch's rows) is never kept.

A builder may be decorated only if it reads nothing but its arguments: no engine, no store, no
query of the data (a builder that branches on a count would hand out the branch of another run).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

import ibis.expr.operations as ops
import ibis.expr.types as ir

P = ParamSpec("P")
R = TypeVar("R")

KEPT = 4096  # expressions a connection keeps (a run builds a few hundred)


class _Unkeyable(Exception):
    """An argument whose equality says nothing about the expression (an Arrow table)."""


_PLAIN = (str, int, float, bool, Decimal, dt.date, dt.datetime, dt.timedelta, type(None))


def _key(value: Any) -> Any:
    if isinstance(value, ir.Expr):
        return value.op()
    if isinstance(value, _PLAIN):
        return (type(value), value)  # 1 and True (and 1.0) are equal, and build different things
    if isinstance(value, (tuple, list)):
        return (type(value), tuple(_key(v) for v in value))
    if isinstance(value, (frozenset, set)):
        return (type(value), frozenset(_key(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple((_key(k), _key(v)) for k, v in value.items()))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value), tuple(_key(getattr(value, f.name)) for f in fields))
    raise _Unkeyable


def _keepable(value: Any) -> bool:
    """Whether `value` may be handed to a later run: expressions without in-memory tables, and
    tuples, dicts and dataclasses of them."""
    if isinstance(value, ir.Expr):
        return not value.op().find(ops.InMemoryTable)
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, tuple):
        return all(_keepable(v) for v in value)
    if isinstance(value, dict):
        return all(_keepable(v) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(_keepable(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


class Built:
    """The expressions built on one connection, by builder and arguments (least recently used
    dropped first)."""

    def __init__(self, kept: int = KEPT):
        self.kept = kept
        self._built: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any:
        with self._lock:
            found = self._built.get(key, _MISSING)
            if found is _MISSING:
                self.misses += 1
            else:
                self.hits += 1
                self._built.move_to_end(key)
            return found

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._built[key] = value
            while len(self._built) > self.kept:
                self._built.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._built.clear()

    def __len__(self) -> int:
        return len(self._built)


_MISSING = object()
_current: ContextVar[Built | None] = ContextVar("cbec_reused_expressions", default=None)


@contextmanager
def reusing(built: Built | None) -> Iterator[None]:
    """Within this block, `reused` builders keep their expressions in `built` (None: they do
    not)."""
    token = _current.set(built)
    try:
        yield
    finally:
        _current.reset(token)


def reused(builder: Callable[P, R]) -> Callable[P, R]:
    """`builder`, whose expression is reused within `reusing` when its arguments are equal to
    those of an earlier call (see the module's docstring for what a builder must be)."""

    @functools.wraps(builder)
    def build(*args: P.args, **kwargs: P.kwargs) -> R:
        built = _current.get()
        if built is None:
            return builder(*args, **kwargs)
        try:
            key = (builder, _key(args), _key(kwargs))
        except _Unkeyable:
            return builder(*args, **kwargs)
        found = built.get(key)
        if found is not _MISSING:
            return _fresh(found)
        made = builder(*args, **kwargs)
        if _keepable(made):
            built.put(key, made)
        return _fresh(made)

    return build


def _fresh(value: Any) -> Any:
    """A dict handed out is the caller's to change: a copy (expressions are immutable)."""
    return dict(value) if isinstance(value, dict) else value
