"""A stage builder's expression is reused only within `reusing`, only for equal arguments, and
never when it holds a batch's rows (cbec.engines.reuse)."""

from __future__ import annotations

import dataclasses

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cbec.engines.reuse import Built, reused, reusing

SCHEMA = ibis.schema({"agent_code": "string", "cop_no": "string", "value": "decimal(18, 2)"})
calls: list[str] = []


@reused
def large(table: ir.Table, limit: int) -> ir.Table:
    calls.append("large")
    return table.filter(table.value > limit)


@reused
def constant(value: object) -> ir.Scalar:
    calls.append("constant")
    return ibis.literal(value)


@reused
def joined(left: ir.Table, right: ir.Table | pa.Table) -> ir.Table:
    calls.append("joined")
    other = right if isinstance(right, ir.Table) else ibis.memtable(right)
    return left.semi_join(other, ["agent_code", "cop_no"])


@reused
def columns(table: ir.Table) -> dict[str, ir.Value]:
    calls.append("columns")
    return {"twice": table.value * 2}


@dataclasses.dataclass(frozen=True)
class Pair:
    first: ir.Table
    second: ir.Table


@reused
def both(pair: Pair) -> ir.Table:
    calls.append("both")
    return pair.first.union(pair.second)


def _table(name: str = "declarations") -> ir.Table:
    return ibis.table(SCHEMA, name=name)  # a new object each time, equal by structure


def test_equal_arguments_get_the_expression_built_the_first_time() -> None:
    calls.clear()
    built = Built()
    with reusing(built):
        first = large(_table(), 5000)
        second = large(_table(), 5000)
    assert second is first
    assert calls == ["large"]
    assert (built.hits, built.misses) == (1, 1)


def test_different_arguments_build_again() -> None:
    calls.clear()
    with reusing(Built()):
        a = large(_table(), 5000)
        b = large(_table(), 2000)
        c = large(_table("other"), 5000)
        d = constant(True)  # True == 1, and they build different expressions
        e = constant(1)
    assert calls == ["large"] * 3 + ["constant"] * 2
    assert len({id(x) for x in (a, b, c)}) == 3
    assert not d.equals(e)


def test_outside_reusing_the_builder_runs_each_time() -> None:
    calls.clear()
    large(_table(), 5000)
    large(_table(), 5000)
    with reusing(None):
        large(_table(), 5000)
    assert calls == ["large"] * 3


def test_each_connection_keeps_its_own() -> None:
    calls.clear()
    with reusing(Built()):
        first = large(_table(), 5000)
    with reusing(Built()):
        second = large(_table(), 5000)
    assert first is not second
    assert calls == ["large", "large"]


def test_an_arrow_argument_or_a_memtable_result_is_never_kept() -> None:
    calls.clear()
    rows = pa.table({"agent_code": ["A"], "cop_no": ["1"]})
    built = Built()
    with reusing(built):
        joined(_table(), rows)
        joined(_table(), rows)
        joined(_table(), ibis.memtable(rows))
        joined(_table(), ibis.memtable(rows))
    assert calls == ["joined"] * 4
    assert len(built) == 0


def test_a_dict_handed_out_is_the_callers_own() -> None:
    calls.clear()
    with reusing(Built()):
        first = columns(_table())
        first["changed"] = first.pop("twice")
        second = columns(_table())
    assert list(second) == ["twice"]
    assert calls == ["columns"]


def test_dataclass_arguments_are_compared_field_by_field() -> None:
    calls.clear()
    with reusing(Built()):
        a = both(Pair(_table("a"), _table("b")))
        b = both(Pair(_table("a"), _table("b")))
        c = both(Pair(_table("b"), _table("a")))
    assert a is b and c is not a
    assert calls == ["both", "both"]


def test_the_least_recently_used_is_dropped_first() -> None:
    calls.clear()
    built = Built(kept=2)
    with reusing(built):
        large(_table(), 1)
        large(_table(), 2)
        large(_table(), 1)  # used again: 2 is now the oldest
        large(_table(), 3)  # drops 2
        large(_table(), 1)
        large(_table(), 2)
    assert len(built) == 2
    assert calls == ["large"] * 4
