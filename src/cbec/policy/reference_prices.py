"""Reference unit prices per tariff line, with validity: what a parcel of these goods costs.

Customs keeps a price-risk database of reference prices; it is not published. cbec ships an
illustrative edition (`data/reference_prices.csv`, the geometric middle of the simulator's price
range of each line) and an operator loads the official one in the same format: `code` (8-digit
tariff line), `unit_price` (CNY per declared unit), `valid_from`, `valid_to`, `source`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cbec.policy.lists import _code, _date, _decimal, _read_rows, default_data_dir

REFERENCE_PRICE_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("unit_price", pa.decimal128(18, 2)),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),
        ("source", pa.string()),
    ]
)


def load_reference_prices(path: Path | None = None) -> pa.Table:
    """The reference price rows (a bad row raises `PolicyDataError` naming file and row)."""
    return _read_rows(
        path or default_data_dir() / "reference_prices.csv",
        REFERENCE_PRICE_SCHEMA,
        {"code": _code((8,)), "unit_price": _decimal(2), "valid_from": _date, "valid_to": _date},
        required=("code", "unit_price", "valid_from"),
    )
