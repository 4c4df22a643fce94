"""The bonded stock a simulated day needs: one CEB711 entry list per account book, the day before.

A bonded declaration (1210, 1239) is admitted only against stock (cbec.ledgers.stock), so the
simulated warehouses receive, the evening before, exactly what the day's bonded declaration lists
ask for, per account book (`emsNo`) and item record (`itemRecordNo`), in the legal unit (`qty1`,
else `qty`). The entry list's operator is the bonded zone (`areaCode`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cbec.documents.schemas import DELIVERY, DELIVERY_LINE

GUIDS = uuid.uuid5(uuid.NAMESPACE_URL, "cbec:simulate:stock")
_HEAD = ("ems_no", "customs_code", "area_code", "area_name")


@dataclass
class StockDemand:
    """The day's bonded demand, summed chunk by chunk: (account book, item) -> quantity."""

    heads: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    quantities: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def add(self, inventories: pa.Table, lines: pa.Table) -> None:
        bonded = inventories.filter(pc.is_valid(inventories["ems_no"]))
        if bonded.num_rows == 0:
            return
        keyed = lines.filter(pc.is_valid(lines["item_record_no"])).join(
            bonded.select(["agent_code", "cop_no", *_HEAD]), ["agent_code", "cop_no"]
        )
        qty = pc.coalesce(keyed["qty1"], keyed["qty"])
        summed = (
            pa.table({"ems_no": keyed["ems_no"], "item": keyed["item_record_no"], "qty": qty})
            .group_by(["ems_no", "item"])
            .aggregate([("qty", "sum")])
        )
        for ems, item, total in zip(
            summed["ems_no"].to_pylist(),
            summed["item"].to_pylist(),
            summed["qty_sum"].to_pylist(),
            strict=True,
        ):
            self.quantities[(ems, item)] = self.quantities.get((ems, item), Decimal(0)) + total
        for row in bonded.select(list(_HEAD)).to_pylist():
            self.heads.setdefault(
                row["ems_no"], (row["customs_code"], row["area_code"], row["area_name"])
            )

    def write(self, out: Path, day: dt.date, seed: int) -> None:
        """deliveries.parquet and delivery_lines.parquet: the entry lists (empty on a day
        without bonded traffic)."""
        arrived = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(20, 0))
        heads, lines = [], []
        for ems in sorted(self.heads):
            _, area, area_name = self.heads[ems]
            customs = ems[1:5]  # the account book is numbered after its customs office
            cop_no = f"RK{ems}{day:%Y%m%d}"
            heads.append(
                {
                    "guid": str(uuid.uuid5(GUIDS, f"{seed}:{day}:{ems}")).upper(),
                    "app_type": "1",
                    "app_time": arrived,
                    "app_status": "2",
                    "customs_code": customs,
                    "cop_no": cop_no,
                    "operator_code": area,
                    "operator_name": area_name,
                    "ie_flag": "I",
                    "ems_no": ems,
                    "area_code": area,
                }
            )
            items = sorted(item for e, item in self.quantities if e == ems)
            for gnum, item in enumerate(items, start=1):
                lines.append(
                    {
                        "operator_code": area,
                        "cop_no": cop_no,
                        "gnum": gnum,
                        "item_record_no": item,
                        "qty": self.quantities[(ems, item)],
                    }
                )
        for document, rows in ((DELIVERY, heads), (DELIVERY_LINE, lines)):
            table = pa.Table.from_pylist(
                [{c: r.get(c) for c in document.schema.names} for r in rows],
                schema=document.schema,
            )
            pq.write_table(table, out / f"{document.stem}.parquet", compression="zstd")
