"""The columnar export clearance agrees with the first slice's row-by-row one (row_oracle.py)
over random parcels: every mode, companions missing, lines changed, blanks, duplicates, keys
already decided, registrations and warehouses present or not."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pyarrow as pa
import pytest
import row_oracle

from cbec.exports import clearance
from export_builders import EBC, parcel

STEMS = clearance.EXPORT_STEMS


def _tables(seed: int) -> tuple[dict[str, pa.Table], dict[str, pa.Table], set[tuple[str, str]]]:
    rng = random.Random(seed)
    current: dict[str, list[pa.Table]] = {s: [] for s in STEMS}
    stored: dict[str, list[pa.Table]] = {s: [] for s in STEMS}
    for n in range(1, 41):
        lines = None
        if rng.random() < 0.2:
            lines = [
                ("T-shirt, cotton", Decimal(rng.choice([2, 3])), Decimal("50.00")),
                ("Cap", Decimal("1"), Decimal(rng.choice(["20.00", "21.00"]))),
            ]
        made = parcel(
            n,
            lines,
            trade_mode=rng.choice(["9610", "9610", "9710", "9810", "0110"]),
            country=rng.choice(["502", "303"]),
            gcodes=rng.choice([("6109100022", "6505009900"), ("61091000", "6505009900")]),
            when=dt.datetime(2024, 6, 15, 10, 0, 0) + dt.timedelta(minutes=rng.randint(0, 5)),
        )
        for code, tables in made.items():
            if code != "603" and rng.random() < 0.1:
                continue  # a companion never sent
            target = stored if code != "603" and rng.random() < 0.3 else current
            for stem, table in tables.items():
                if stem == "export_inventories" and rng.random() < 0.1:
                    table = table.set_column(
                        table.schema.get_field_index("ie_flag"), "ie_flag", pa.array(["I"])
                    )
                if stem == "export_inventory_lines" and rng.random() < 0.1:
                    table = table.set_column(
                        table.schema.get_field_index("gname"),
                        "gname",
                        pa.array([" "] * table.num_rows),
                    )
                target[stem].append(table)
                if rng.random() < 0.05:
                    target[stem].append(table)  # sent twice
    decided = {("4401980789", f"EC{n:06d}") for n in range(1, 41) if rng.random() < 0.1}

    def joined(parts: dict[str, list[pa.Table]]) -> dict[str, pa.Table]:
        return {s: pa.concat_tables(t) for s, t in parts.items() if t}

    return joined(current), joined(stored), decided


@pytest.mark.parametrize("seed", range(6))
def test_columnar_clearance_agrees_with_the_row_oracle(seed: int) -> None:
    current, stored, decided = _tables(seed)
    registered = {(EBC, "9710")} if seed % 2 else {(EBC, "9710"), (EBC, "9810")}
    warehouses = {(EBC, "502")}
    serials = {("5141", 2024): 41}
    as_of = dt.datetime(2024, 6, 16) if seed % 3 == 0 else None
    args = (current, stored, decided, serials, as_of, registered, warehouses)
    expected = row_oracle.clear_exports(*args)
    found = clearance.clear_exports(*args)
    assert found.num_rows == expected.num_rows > 0
    assert found.to_pylist() == expected.to_pylist()
