"""A simulated day of exports: 9610 retail, 9710 B2B direct and 9810 overseas-warehouse lists,
as the CEB messages their senders send, plus the overseas warehouses' moves and the returns.

What it draws (illustrative shares, **assumptions**, not published figures; shared/domain s. 1
gives only totals):
- sellers in the industrial zones of the export provinces (`ZONES`: Guangdong, Zhejiang,
  Fujian, Jiangsu, Shandong, Anhui), each cleared at its zone's customs;
- destinations with shares led by the United States, Europe and Asia (`DESTINATIONS`, GACC
  country codes);
- the goods mix of clothing, shoes, hats, daily necessities and electronics (`GOODS`);
- the three modes (`MODES`): retail parcels of a few pieces, B2B consignments of hundreds,
  shipments of hundreds to thousands of pieces to the seller's overseas warehouses, which sell
  them out over the following weeks (each warehouse has its own mean dispatch time);
- returns of a share of retail lines, some after 6 months, some changed.

Written under `<out>/exports/`: the messages (`<ordinal>_CEB<code>.xml`, in sending order: 303,
403, 505, 603, then the arrival 507, master waybill 607 and departure 509 manifests), and the
files the `cbec exports` commands load: `registry/registrations.csv`, `registry/warehouses.csv`,
`moves/arrivals.csv`, `moves/sales.csv`, `moves/returns.csv`. The same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from cbec.messages.build import build_message
from cbec.messages.catalog import MESSAGES

NODES_PER_MESSAGE = 50
# (zone, province, customs code of its exit port): the industrial zones exporters sell from.
ZONES: tuple[tuple[str, str, str, float], ...] = (
    ("Shenzhen", "4403", "5316", 0.20),
    ("Guangzhou", "4401", "5141", 0.14),
    ("Dongguan", "4419", "5202", 0.08),
    ("Yiwu", "3307", "2924", 0.14),
    ("Hangzhou", "3301", "2901", 0.08),
    ("Ningbo", "3302", "3101", 0.06),
    ("Xiamen", "3502", "3701", 0.06),
    ("Suzhou", "3205", "2327", 0.06),
    ("Qingdao", "3702", "4201", 0.10),
    ("Hefei", "3401", "3301", 0.08),
)
# GACC country codes and illustrative shares of the destinations.
DESTINATIONS: tuple[tuple[str, str, float], ...] = (
    ("502", "United States", 0.30),
    ("303", "United Kingdom", 0.08),
    ("304", "Germany", 0.07),
    ("305", "France", 0.05),
    ("307", "Italy", 0.03),
    ("312", "Spain", 0.04),
    ("309", "Netherlands", 0.02),
    ("344", "Russia", 0.06),
    ("116", "Japan", 0.05),
    ("133", "Korea", 0.04),
    ("132", "Singapore", 0.03),
    ("136", "Thailand", 0.03),
    ("501", "Canada", 0.04),
    ("429", "Mexico", 0.04),
    ("410", "Brazil", 0.05),
    ("601", "Australia", 0.05),
)
# (category, 10-digit code, goods name, unit price range in CNY, share)
GOODS: tuple[tuple[str, str, str, tuple[int, int], float], ...] = (
    ("clothing", "6109100022", "T-shirt, cotton, knitted", (15, 80), 0.18),
    ("clothing", "6204430090", "Dress, synthetic fibres", (40, 200), 0.10),
    ("clothing", "6110300090", "Sweater, man-made fibres", (35, 160), 0.07),
    ("shoes", "6404199000", "Sports shoes, textile uppers", (60, 260), 0.12),
    ("shoes", "6402999000", "Sandals, rubber soles", (20, 90), 0.05),
    ("hats", "6505009900", "Knitted cap", (8, 45), 0.07),
    ("daily", "3924100000", "Plastic tableware", (5, 40), 0.08),
    ("daily", "6302600000", "Cotton towel", (6, 35), 0.06),
    ("daily", "9603210000", "Toothbrush", (2, 15), 0.05),
    ("electronics", "8517621900", "Bluetooth earphones", (40, 300), 0.09),
    ("electronics", "8504409999", "Phone charger", (15, 90), 0.08),
    ("electronics", "8543709990", "LED ring light", (30, 150), 0.05),
)
MODES: tuple[tuple[str, float], ...] = (("9610", 0.70), ("9710", 0.15), ("9810", 0.15))
LOGISTICS = (("4403980001", "SF International"), ("3307980002", "Cainiao Express"))
PLATFORMS = (("4403966001", "cross-border platform A"), ("3301966002", "cross-border platform B"))
PAYER = ("4403169001", "cross-border payment company")
RETURN_SHARE = 0.03  # of retail lines


@dataclass
class ExportDay:
    lists: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    files: int = 0
    folder: Path = Path()


def _pick(rng: np.random.Generator, weights: Iterable[float], size: int) -> np.ndarray:
    p = np.array(list(weights), dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def simulate_exports(
    lists: int,
    seed: int,
    day: dt.date,
    out: Path,
    nodes_per_message: int = NODES_PER_MESSAGE,
    modes: tuple[tuple[str, float], ...] = MODES,
) -> ExportDay:
    """Write `lists` export declaration lists of `day` and what follows them under
    `<out>/exports/` (replacing an earlier run's), their modes drawn with the shares `modes`."""
    rng = np.random.default_rng([seed, 7])
    folder = out / "exports"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sellers = _sellers(rng, max(3, lists // 40))
    warehouses = _warehouses(rng, sellers)
    drawn = [modes[i][0] for i in _pick(rng, (w for _, w in modes), lists)]
    parcels = []
    start = dt.datetime.combine(day, dt.time(8, 0))
    seconds = np.sort(rng.integers(0, 12 * 3600, size=lists))
    for n in range(lists):
        mode = drawn[n]
        eligible = [s for s in sellers if mode in s["modes"]]
        seller = eligible[int(rng.integers(len(eligible)))]
        if mode == "9810":
            own = [w for w in warehouses if w["ebc_code"] == seller["code"]]
            country = own[int(rng.integers(len(own)))]["country"]
        else:
            country = DESTINATIONS[int(_pick(rng, (w for *_, w in DESTINATIONS), 1)[0])][0]
        when = start + dt.timedelta(seconds=int(seconds[n]))
        parcels.append(_parcel(rng, n + 1, mode, seller, country, when))
    written = ExportDay(lists=lists, folder=folder)
    _write_messages(parcels, folder, seed, nodes_per_message, written, day)
    _write_registry(folder / "registry", sellers, warehouses)
    _write_moves(rng, folder / "moves", parcels, warehouses)
    return written


def _sellers(rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
    zones = _pick(rng, (z[3] for z in ZONES), count)
    sellers = []
    for k, z in enumerate(zones):
        zone, area, customs, _ = ZONES[int(z)]
        kinds = {"9610"}
        draw = rng.random()
        if draw < 0.5:
            kinds.add("9710")
        if draw < 0.3 or k < 2:  # at least two sellers with overseas warehouses
            kinds.add("9810")
        if k == 0:
            kinds.add("9710")
        sellers.append(
            {
                "code": f"{area}96{k:04d}",
                "name": f"{zone} exporter {k}",
                "zone": zone,
                "customs": customs,
                "modes": kinds,
            }
        )
    return sellers


def _warehouses(rng: np.random.Generator, sellers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    top = [c for c, _, w in DESTINATIONS if w >= 0.05]
    for seller in sellers:
        if "9810" not in seller["modes"]:
            continue
        for country in rng.choice(top, size=int(rng.integers(1, 3)), replace=False):
            found.append(
                {
                    "warehouse_code": f"W{country}{seller['code'][-6:]}",
                    "name": f"{seller['name']} warehouse {country}",
                    "country": str(country),
                    "ebc_code": seller["code"],
                    # each warehouse's mean days from arrival to dispatch
                    "mean_days": float(rng.uniform(2.0, 12.0)),
                }
            )
    return found


def _parcel(
    rng: np.random.Generator,
    n: int,
    mode: str,
    seller: dict[str, Any],
    country: str,
    when: dt.datetime,
) -> dict[str, Any]:
    count = int(rng.integers(1, 4))
    kinds = _pick(rng, (g[4] for g in GOODS), count)
    low, high = {"9610": (1, 4), "9710": (50, 500), "9810": (100, 1200)}[mode]
    lines = []
    for g, kind in enumerate(kinds, 1):
        _, gcode, name, (p_low, p_high), _ = GOODS[int(kind)]
        qty = int(rng.integers(low, high + 1))
        price = Decimal(int(rng.integers(p_low * 100, p_high * 100 + 1))) / 100
        lines.append(
            {
                "gnum": g,
                "gcode": gcode,
                "name": name,
                "qty": Decimal(qty),
                "price": price,
                "total": price * qty,
            }
        )
    logistics = LOGISTICS[n % len(LOGISTICS)]
    platform = PLATFORMS[n % len(PLATFORMS)]
    return {
        "n": n,
        "mode": mode,
        "seller": seller,
        "country": country,
        "when": when,
        "lines": lines,
        "logistics": logistics,
        "platform": platform,
        "currency": "502" if mode == "9710" else "142",  # B2B invoiced in USD
        "order_no": f"EO{when:%Y%m%d}{n:07d}",
        "logistics_no": f"EL{when:%Y%m%d}{n:07d}",
        "cop_no": f"EC{when:%Y%m%d}{n:07d}",
        "pay_no": f"EP{when:%Y%m%d}{n:07d}",
    }


def _head(parcel: dict[str, Any], n: int, kind: str) -> dict[str, Any]:
    guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cbec-export:{kind}:{parcel['cop_no']}")).upper()
    return {"guid": guid, "app_type": "1", "app_time": parcel["when"], "app_status": "2"}


def _documents(
    parcel: dict[str, Any],
) -> dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """code -> (sender, head row, line rows) of one parcel's messages."""
    seller, mode = parcel["seller"], parcel["mode"]
    total = sum((line["total"] for line in parcel["lines"]), Decimal(0))
    ebp_code, ebp_name = parcel["platform"]
    logistics_code, logistics_name = parcel["logistics"]
    docs: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]] = {}
    if mode in ("9610", "9710"):
        docs["303"] = (
            ebp_code,
            {
                **_head(parcel, 0, "303"),
                "order_type": "E",
                "order_no": parcel["order_no"],
                "ebp_code": ebp_code,
                "ebp_name": ebp_name,
                "ebc_code": seller["code"],
                "ebc_name": seller["name"],
                "goods_value": total,
                "freight": Decimal("0.00"),
                "currency": parcel["currency"],
            },
            [
                {
                    "ebp_code": ebp_code,
                    "order_no": parcel["order_no"],
                    "gnum": line["gnum"],
                    "item_name": line["name"],
                    "unit": "011",
                    "currency": parcel["currency"],
                    "qty": line["qty"],
                    "price": line["price"],
                    "total_price": line["total"],
                }
                for line in parcel["lines"]
            ],
        )
    if mode == "9610":
        docs["403"] = (
            PAYER[0],
            {
                **_head(parcel, 0, "403"),
                "ebp_code": ebp_code,
                "ebp_name": ebp_name,
                "ebc_code": seller["code"],
                "ebc_name": seller["name"],
                "order_no": parcel["order_no"],
                "pay_code": PAYER[0],
                "pay_name": PAYER[1],
                "pay_no": parcel["pay_no"],
                "charge": total,
                "currency": parcel["currency"],
                "accounting_date": parcel["when"],
            },
            [],
        )
    weight = sum((line["qty"] for line in parcel["lines"]), Decimal(0)) * Decimal("0.3")
    docs["505"] = (
        logistics_code,
        {
            **_head(parcel, 0, "505"),
            "logistics_code": logistics_code,
            "logistics_name": logistics_name,
            "logistics_no": parcel["logistics_no"],
            "freight": Decimal("0.00"),
            "currency": "142",
            "gross_weight": weight,
            "pack_no": 1,
        },
        [],
    )
    customs = seller["customs"]
    docs["603"] = (
        seller["code"],
        {
            **_head(parcel, 0, "603"),
            "customs_code": customs,
            "ebp_code": ebp_code,
            "ebp_name": ebp_name,
            "order_no": parcel["order_no"],
            "logistics_code": logistics_code,
            "logistics_name": logistics_name,
            "logistics_no": parcel["logistics_no"],
            "cop_no": parcel["cop_no"],
            "ie_flag": "E",
            "port_code": customs,
            "ie_date": dt.datetime.combine(parcel["when"].date(), dt.time()),
            "agent_code": seller["code"],
            "agent_name": seller["name"],
            "ebc_code": seller["code"],
            "ebc_name": seller["name"],
            "trade_mode": mode,
            "traf_mode": "5" if mode == "9610" else "2",  # air parcels; B2B and stock by sea
            "country": parcel["country"],
            "gross_weight": weight,
        },
        [
            {
                "agent_code": seller["code"],
                "cop_no": parcel["cop_no"],
                "gnum": line["gnum"],
                "item_name": line["name"],
                "gcode": line["gcode"],
                "gname": line["name"],
                "currency": parcel["currency"],
                "qty": line["qty"],
                "qty1": line["qty"],
                "unit": "011",
                "unit1": "011",
                "price": line["price"],
                "total_price": line["total"],
            }
            for line in parcel["lines"]
        ],
    )
    return docs


def _write_messages(
    parcels: list[dict[str, Any]],
    folder: Path,
    seed: int,
    nodes: int,
    written: ExportDay,
    day: dt.date,
) -> None:
    by_code: dict[str, dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]]] = {}
    for parcel in parcels:
        for code, (sender, head, lines) in _documents(parcel).items():
            by_code.setdefault(code, {}).setdefault(sender, []).append((head, lines))
    by_code.update(_manifests(parcels, day))
    ordinal = 0
    for code in ("303", "403", "505", "603", "507", "607", "509"):
        for sender, documents in sorted(by_code.get(code, {}).items()):
            for first in range(0, len(documents), nodes):
                chunk = documents[first : first + nodes]
                ordinal += 1
                guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cbec-export:{seed}:{ordinal}"))
                transfer = {
                    "copCode": sender,
                    "copName": sender,
                    "dxpMode": "DXP",
                    "dxpId": f"DXPENT{sender[-10:]}",
                }
                data = build_message(
                    MESSAGES[code],
                    [h for h, _ in chunk],
                    [line for _, lines in chunk for line in lines],
                    guid=guid.upper(),
                    transfer=transfer,
                )
                (folder / f"{ordinal:07d}_CEB{code}.xml").write_bytes(data)
                written.messages[code] = written.messages.get(code, 0) + 1
                written.files += 1


def _manifests(
    parcels: list[dict[str, Any]], day: dt.date
) -> dict[str, dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]]]:
    """Per carrier: the parcels arrive at the exit site (507) in the evening, go on one master
    waybill (607) and leave at night (509)."""
    out: dict[str, dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]]] = {}
    evening = dt.datetime.combine(day, dt.time(21, 0))
    night = dt.datetime.combine(day, dt.time(23, 30))
    carriers = sorted({p["logistics"] for p in parcels})
    for c, (code, name) in enumerate(carriers):
        mine = [p for p in parcels if p["logistics"][0] == code]
        customs = mine[0]["seller"]["customs"]
        cop_no = f"M{day:%Y%m%d}{c:03d}"
        common = {
            "app_type": "1",
            "app_status": "2",
            "customs_code": customs,
            "logistics_code": code,
            "logistics_name": name,
            "cop_no": cop_no,
            "traf_mode": "5",
            "bill_no": f"MAWB{day:%Y%m%d}{c:03d}",
        }
        numbered = [
            {
                "logistics_code": code,
                "operator_code": code,
                "agent_code": code,
                "cop_no": cop_no,
                "gnum": g,
                "logistics_no": p["logistics_no"],
            }
            for g, p in enumerate(mine, 1)
        ]
        for message, when, extra in (
            ("507", evening, {"operator_code": code, "operator_name": name, "ie_flag": "E"}),
            ("607", evening, {"agent_code": code, "agent_name": name}),
            ("509", night, {"leave_time": night, "voyage_no": f"CA{c:04d}"}),
        ):
            guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cbec-export:{message}:{cop_no}")).upper()
            head = {"guid": guid, "app_time": when, **common, **extra}
            out.setdefault(message, {}).setdefault(code, []).append((head, numbered))
    return out


def _write_registry(
    folder: Path, sellers: list[dict[str, Any]], warehouses: list[dict[str, Any]]
) -> None:
    folder.mkdir(parents=True)
    with (folder / "registrations.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ebc_code", "trade_mode"])
        for seller in sellers:
            for mode in sorted(seller["modes"] - {"9610"}):
                writer.writerow([seller["code"], mode])
    with (folder / "warehouses.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["warehouse_code", "name", "country", "ebc_code"])
        for w in warehouses:
            writer.writerow([w["warehouse_code"], w["name"], w["country"], w["ebc_code"]])


def _write_moves(
    rng: np.random.Generator,
    folder: Path,
    parcels: list[dict[str, Any]],
    warehouses: list[dict[str, Any]],
) -> None:
    """9810 shipments arriving at their warehouse and sold out of it; returned retail lines."""
    folder.mkdir(parents=True)
    arrivals, sales, returned = [], [], []
    for parcel in parcels:
        if parcel["mode"] == "9810":
            own = [
                w
                for w in warehouses
                if w["ebc_code"] == parcel["seller"]["code"] and w["country"] == parcel["country"]
            ]
            warehouse = own[0]
            arrived = parcel["when"] + dt.timedelta(days=float(rng.uniform(18, 35)))  # by sea
            arrived = arrived.replace(microsecond=0)
            arrivals.append(
                [
                    warehouse["warehouse_code"],
                    parcel["seller"]["code"],
                    parcel["cop_no"],
                    f"{arrived:%Y-%m-%d %H:%M:%S}",
                ]
            )
            for line in parcel["lines"]:
                left = int(line["qty"])
                part = 0
                while left > 0 and part < 4:  # sold in a few lots; the rest stays in stock
                    part += 1
                    qty = min(left, int(rng.integers(1, max(2, int(line["qty"]) // 2))))
                    left -= qty
                    days = float(rng.exponential(warehouse["mean_days"]))
                    dispatched = (arrived + dt.timedelta(days=days)).replace(microsecond=0)
                    ordered = dispatched - dt.timedelta(hours=float(rng.uniform(2, 30)))
                    ordered = ordered.replace(microsecond=0)
                    sales.append(
                        [
                            warehouse["warehouse_code"],
                            line["gcode"],
                            qty,
                            f"{max(ordered, arrived):%Y-%m-%d %H:%M:%S}",
                            f"{dispatched:%Y-%m-%d %H:%M:%S}",
                            f"{parcel['cop_no']}-{line['gnum']}-{part}",
                        ]
                    )
        elif parcel["mode"] == "9610":
            for line in parcel["lines"]:
                if rng.random() < RETURN_SHARE:
                    back = parcel["when"] + dt.timedelta(days=float(rng.uniform(5, 240)))
                    unchanged = "true" if rng.random() < 0.9 else "false"
                    returned.append(
                        [
                            parcel["seller"]["code"],
                            parcel["cop_no"],
                            line["gnum"],
                            f"{back.replace(microsecond=0):%Y-%m-%d %H:%M:%S}",
                            unchanged,
                        ]
                    )
    _csv(
        folder / "arrivals.csv", ["warehouse_code", "agent_code", "cop_no", "arrived_at"], arrivals
    )
    _csv(
        folder / "sales.csv",
        ["warehouse_code", "item_no", "qty", "ordered_at", "dispatched_at", "reference"],
        sales,
    )
    _csv(
        folder / "returns.csv",
        ["agent_code", "cop_no", "gnum", "returned_at", "unchanged"],
        returned,
    )


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
