"""A small store whose statistics can be computed by hand: nine declarations over two years.

| cop_no | declared         | mode | lines (CNY)            | customs | outcome         | tax   |
|--------|------------------|------|------------------------|---------|-----------------|-------|
| A1     | 2023-06-10 10:00 | 9610 | clothing 100           | 2991    | released        | 9.10  |
| A2     | 2023-06-10 10:00 | 9610 | clothing 100           | 2991    | payment_missing |       |
| A3     | 2023-06-10 10:01 | 1239 | clothing 100           | 2991    | payment_missing |       |
| B4     | 2024-01-20 12:00 | 9610 | clothing 100           | 2244    | released        | 9.10  |
| B1     | 2024-06-05 09:00 | 9610 | clothing 2 x 100       | 2991    | released        | 18.20 |
| B2     | 2024-06-05 09:00 | 9610 | cosmetics 300, cl. 100 | 2991    | released        | 78.28 |
| B3     | 2024-06-05 09:00 | 9610 | clothing 100           | 2991    | waybill_missing |       |
| B5     | 2024-06-06 08:00 | 9610 | clothing 100           | 2991    | payment_missing |       |
| B6     | 2024-11-11 20:00 | 9610 | clothing 50 (platform) | 4211    | released        | 4.55  |

A2 is declared at 10:00:30; B1, B2, B3 at 09:00:00, 09:00:20, 09:00:40. B6 is on another
platform and from another country (502), the others from Japan (116).

Clothing (6111200050) pays VAT only: 13 % x 70 % = 9.1 % of the value; the cosmetics line
(3304990099, 300.00) pays 37.06 consumption tax and 32.12 VAT (tests/cases/retail_import/tax.yaml).
B1, B2 and B3 are cleared in a run `--as-of 2024-06-05T09:01:00`, so they are decided 60, 40
and 20 seconds after their declaration; the others are decided at their declaration time.
A3 (bonded) and B2 declare the area 3301960002 (Hangzhou's prefix 3301 in the zone registry). The
bonded declaration is a rejected one, so that no bonded stock is needed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from stats_world import OTHER_PLATFORM, StatsStore

from builders import declaration, merge, write_jsonl

CLOTHING = "6111200050"
COSMETICS = "3304990099"


def _clothing(price: str, qty: int = 1) -> list[dict[str, object]]:
    return [{"gcode": CLOTHING, "qty": qty, "price": price}]


def _on_platform(code: str) -> dict[str, dict[str, object]]:
    return {stem: {"ebp_code": code} for stem in ("orders", "order_lines", "payments")} | {
        "inventories": {"ebp_code": code, "customs_code": "4211", "country": "502"}
    }


@pytest.fixture(scope="session")
def stats_store(tmp_path_factory: pytest.TempPathFactory) -> StatsStore:
    from cbec.pipeline import Policy, clear
    from cbec.store.embedded import Store

    root = tmp_path_factory.mktemp("stats")
    japan = {"inventories": {"country": "116"}}
    at_their_time = merge(
        declaration("A1", _clothing("100"), when="2023-06-10T10:00:00", alter=japan),
        declaration(
            "A2", _clothing("100"), when="2023-06-10T10:00:30", alter=japan, omit=("payments",)
        ),
        declaration(
            "A3",
            _clothing("100"),
            when="2023-06-10T10:01:00",
            mode="1239",
            alter=japan,
            omit=("payments",),
        ),
        declaration(
            "B4",
            _clothing("100"),
            when="2024-01-20T12:00:00",
            alter={"inventories": {"customs_code": "2244", "country": "116"}},
        ),
        declaration(
            "B5", _clothing("100"), when="2024-06-06T08:00:00", alter=japan, omit=("payments",)
        ),
        declaration(
            "B6", _clothing("50"), when="2024-11-11T20:00:00", alter=_on_platform(OTHER_PLATFORM)
        ),
    )
    as_of = merge(
        declaration("B1", _clothing("100", qty=2), when="2024-06-05T09:00:00", alter=japan),
        declaration(
            "B2",
            [
                {"gcode": COSMETICS, "qty": 1, "price": "300.00"},
                {"gcode": CLOTHING, "qty": 1, "price": "100.00"},
            ],
            when="2024-06-05T09:00:20",
            alter={"inventories": {"country": "116", "area_code": "3301960002"}},
        ),
        declaration(
            "B3", _clothing("100"), when="2024-06-05T09:00:40", alter=japan, omit=("waybills",)
        ),
    )
    db = root / "cbec.duckdb"
    policy = Policy.load()
    runs = (
        ("first", at_their_time, None),
        ("second", as_of, dt.datetime(2024, 6, 5, 9, 1)),
    )
    for name, rows, decision_time in runs:
        store = Store(db)  # one store per run, as `cbec clear` opens it
        try:
            clear(
                [write_jsonl(root / name, rows)],
                store,
                root / f"out_{name}",
                policy,
                as_of=decision_time,
            )
        finally:
            store.close()
    return StatsStore(db=db, root=root)
