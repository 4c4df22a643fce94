"""A chunk of parcels as the six import documents, in the canonical schemas.

Order (CEB311) and its lines, payment (CEB411), waybill (CEB511), declaration list (CEB621) and
its lines, with the fields the enterprises fill in. Customs-assigned numbers (`preNo`, `invtNo`)
are left empty. A document whose absence is the injected defect is simply not in its table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cbec.documents.schemas import (
    INVENTORY,
    INVENTORY_LINE,
    ORDER,
    ORDER_LINE,
    PAYMENT,
    WAYBILL,
    Document,
)
from cbec.simulate.columns import (
    ascii_column,
    choose,
    constant_text,
    digits,
    guids,
    join,
    money,
    null_where,
    pick,
    quantity,
    text,
    times,
)
from cbec.simulate.traffic import Parcels, midnight, missing_group
from cbec.simulate.world import TRADE_MODES, World

CNY, USD = "142", "502"


def _table(document: Document, columns: dict[str, pa.Array]) -> pa.Table:
    n = len(next(iter(columns.values())))
    arrays = []
    for item in document.schema:
        column = columns.get(item.name)
        arrays.append(pa.nulls(n, item.type) if column is None else column.cast(item.type))
    return pa.Table.from_arrays(arrays, schema=document.schema)


def build(world: World, p: Parcels, rng: np.random.Generator) -> dict[str, pa.Table]:
    """The chunk's documents, keyed by file stem."""
    n, day = len(p.serial), world.day
    start = midnight(day)
    date8 = text(day.strftime("%Y%m%d"), n)
    serial = digits(p.serial, 10)

    def names(items: tuple[object, ...], attribute: str, index: np.ndarray) -> pa.Array:
        return pick([str(getattr(item, attribute)) for item in items], index)

    def const(value: str | None) -> pa.Array:
        return constant_text(value, n)

    platforms, sellers, payers = world.platforms, world.sellers, world.payers
    carriers, agents, offices = world.carriers, world.agents, world.offices
    office = np.array([a.office for a in agents], dtype=np.int64)[p.agent]
    bonded = p.mode > 0
    ebp_code = names(platforms, "code", p.platform)
    ebp_name = names(platforms, "name", p.platform)
    ebc_code = names(sellers, "code", p.seller)
    order_no = ascii_column(choose([x.prefix for x in platforms], p.platform), date8, serial)
    pay_code = names(payers, "code", p.payer)
    pay_name = names(payers, "name", p.payer)
    transaction = ascii_column(date8, digits(p.payer + 1, 2), serial)
    logistics_code = names(carriers, "code", p.carrier)
    logistics_name = names(carriers, "name", p.carrier)
    logistics_no = ascii_column(
        choose([c.prefix for c in carriers], p.carrier), text(day.strftime("%y%m%d"), n), serial
    )
    # Direct-mail parcels fly in under a master air waybill per carrier and hour.
    hour = p.decl // 3600
    awb = (day.toordinal() * 131 + p.carrier * 24 + hour) % 10**7
    bill_no = null_where(
        ascii_column(
            choose([c.airline for c in carriers], p.carrier), digits(awb * 10 + awb % 7, 8)
        ),
        bonded,
    )
    customs = names(offices, "customs_code", office)
    cop_no = cop_numbers(world, p.agent, p.serial)
    catalog = world.catalog
    first_line = p.first_line
    first_sku = p.sku[first_line]
    item_name = catalog.name.take(pa.array(p.sku))
    many = p.lines > 1
    goods_info = join(
        catalog.name.take(pa.array(first_sku)), pick(["", "等"], many.astype(np.int64))
    )

    orders = _table(
        ORDER,
        {
            "guid": guids(rng, n),
            "app_type": const("1"),
            "app_time": times(start + p.order_app),
            "app_status": const("2"),
            "order_type": const("I"),
            "order_no": order_no,
            "ebp_code": ebp_code,
            "ebp_name": ebp_name,
            "ebc_code": ebc_code,
            "ebc_name": names(sellers, "name", p.seller),
            "goods_value": money(p.goods_value),
            "freight": money(p.freight),
            "discount": money(p.discount),
            "tax_total": money(p.tax_total),
            "actural_paid": money(p.actural_paid),
            "currency": const(CNY),
            "buyer_reg_no": p.buyer_reg_no,
            "buyer_name": p.buyer_name,
            "buyer_telephone": p.buyer_phone,
            "buyer_id_type": const("1"),
            "buyer_id_number": p.buyer_id,
            "pay_code": pay_code,
            "pay_name": pay_name,
            "pay_transaction_id": transaction,
            "consignee": p.consignee,
            "consignee_telephone": p.consignee_phone,
            "consignee_address": p.consignee_address,
            "consignee_district": p.consignee_district,
        },
    )
    line_parcel = pa.array(p.parcel)
    lines = len(p.parcel)
    order_lines = _table(
        ORDER_LINE,
        {
            "ebp_code": ebp_code.take(line_parcel),
            "order_no": order_no.take(line_parcel),
            "gnum": pa.array(p.gnum),
            "item_no": catalog.item_no.take(pa.array(p.sku)),
            "item_name": item_name,
            "gmodel": catalog.gmodel.take(pa.array(p.sku)),
            "bar_code": catalog.bar_code.take(pa.array(p.sku)),
            "unit": catalog.unit.take(pa.array(p.sku)),
            "qty": quantity(p.order_qty * 1000),
            "price": money(p.price),
            "total_price": money(p.order_total),
            "currency": constant_text(CNY, lines),
            "country": catalog.country.take(pa.array(p.sku)),
        },
    )
    payments = _table(
        PAYMENT,
        {
            "guid": guids(rng, n),
            "app_type": const("1"),
            "app_time": times(start + p.pay_app),
            "app_status": const("2"),
            "pay_code": pay_code,
            "pay_name": pay_name,
            "pay_transaction_id": transaction,
            "order_no": order_no,
            "ebp_code": ebp_code,
            "ebp_name": ebp_name,
            "payer_id_type": const("1"),
            "payer_id_number": p.payer_id,
            "payer_name": p.payer_name,
            "telephone": p.payer_phone,
            "amount_paid": money(p.amount_paid),
            "currency": const(CNY),
            "pay_time": times(start + p.pay_time),
        },
    )
    waybills = _table(
        WAYBILL,
        {
            "guid": guids(rng, n),
            "app_type": const("1"),
            "app_time": times(start + p.waybill_app),
            "app_status": const("2"),
            "logistics_code": logistics_code,
            "logistics_name": logistics_name,
            "logistics_no": logistics_no,
            "bill_no": bill_no,
            "order_no": order_no,
            "freight": money(p.freight),
            "insured_fee": money(p.insured),
            "currency": const(CNY),
            "weight": quantity(p.gross_grams),
            "pack_no": pa.array(np.ones(n, dtype=np.int32)),
            "goods_info": goods_info,
            "consignee": p.consignee,
            "consignee_address": p.waybill_address,
            "consignee_telephone": p.waybill_phone,
        },
    )
    inventories = _table(
        INVENTORY,
        {
            "guid": guids(rng, n),
            "app_type": const("1"),
            "app_time": times(start + p.invt_app),
            "app_status": const("2"),
            "order_no": order_no,
            "ebp_code": ebp_code,
            "ebp_name": ebp_name,
            "ebc_code": ebc_code,
            "ebc_name": names(sellers, "name", p.seller),
            "logistics_no": logistics_no,
            "logistics_code": logistics_code,
            "logistics_name": logistics_name,
            "cop_no": cop_no,
            "assure_code": pc.if_else(pa.array(p.assured_by_platform), ebp_code, ebc_code),
            "ems_no": null_where(
                ascii_column(
                    text("T", n),
                    choose([o.customs_code for o in offices], office),
                    text("W", n),
                    digits(p.seller + 1, 6),
                ),
                ~bonded,
            ),
            "ie_flag": const("I"),
            "decl_time": times(start + p.decl),
            "customs_code": null_where(customs, p.has("required_field_missing")),
            "port_code": customs,
            "ie_date": times(np.full(n, start)),
            "buyer_id_type": const("1"),
            "buyer_id_number": p.buyer_id,
            "buyer_name": p.invt_buyer_name,
            "buyer_telephone": p.buyer_phone,
            "consignee_address": p.consignee_address,
            "agent_code": names(agents, "code", p.agent),
            "agent_name": names(agents, "name", p.agent),
            "area_code": _zone(offices, office, bonded, "zone_code"),
            "area_name": _zone(offices, office, bonded, "zone_name"),
            "trade_mode": pick(TRADE_MODES, p.mode),
            "traf_mode": null_where(const("5"), bonded),
            "bill_no": bill_no,
            "country": catalog.country.take(pa.array(first_sku)),
            "freight": money(p.freight),
            "insured_fee": money(p.insured),
            "currency": pick([CNY, USD], p.has("currency_not_cny").astype(np.int64)),
            "wrap_type": const("2"),
            "pack_no": pa.array(np.ones(n, dtype=np.int32)),
            "gross_weight": quantity(p.gross_grams),
            "net_weight": quantity(p.net_grams),
        },
    )
    line_bonded = bonded[p.parcel]
    inventory_lines = _table(
        INVENTORY_LINE,
        {
            "agent_code": names(agents, "code", p.agent[p.parcel]),
            "cop_no": cop_no.take(line_parcel),
            "gnum": pa.array(p.gnum),
            "item_record_no": null_where(pa.array(p.sku + 1).cast(pa.string()), ~line_bonded),
            "item_no": catalog.item_no.take(pa.array(p.sku)),
            "item_name": item_name,
            "gcode": catalog.gcode.take(pa.array(p.sku)),
            "gname": item_name,
            "gmodel": catalog.gmodel.take(pa.array(p.sku)),
            "bar_code": catalog.bar_code.take(pa.array(p.sku)),
            "country": catalog.country.take(pa.array(p.sku)),
            "trade_country": catalog.country.take(pa.array(p.sku)),
            "currency": constant_text(CNY, lines),
            "qty": quantity(p.invt_qty * 1000),
            "unit": catalog.unit.take(pa.array(p.sku)),
            "qty1": quantity(p.invt_qty * catalog.legal[p.sku]),
            "unit1": catalog.legal_unit.take(pa.array(p.sku)),
            "price": money(p.price),
            "total_price": money(p.invt_total),
        },
    )
    # Parcels come grouped: complete, then without order, without payment, without waybill.
    counts = np.bincount(missing_group(p.defect), minlength=4)
    complete, no_order, no_payment = np.cumsum(counts)[:3].tolist()
    line_at = np.concatenate([p.first_line, [lines]]).tolist()
    return {
        ORDER.stem: _rows(orders, (0, complete), (no_order, n)),
        ORDER_LINE.stem: _rows(order_lines, (0, line_at[complete]), (line_at[no_order], lines)),
        PAYMENT.stem: _rows(payments, (0, no_order), (no_payment, n)),
        WAYBILL.stem: _rows(waybills, (0, no_payment)),
        INVENTORY.stem: inventories,
        INVENTORY_LINE.stem: inventory_lines,
    }


def _rows(table: pa.Table, *ranges: tuple[int, int]) -> pa.Table:
    """The rows of `table` in the half-open ranges (zero-copy slices)."""
    return pa.concat_tables([table.slice(low, high - low) for low, high in ranges])


def _zone(
    offices: tuple[object, ...], office: np.ndarray, bonded: np.ndarray, field: str
) -> pa.Array:
    values = [getattr(o, field) or "" for o in offices]
    return null_where(pick(values, office), ~bonded)


def cop_numbers(world: World, agent: np.ndarray, serial: np.ndarray) -> pa.Array:
    """copNo: the agent's 2-letter prefix, the day (YYYYMMDD) and the parcel's 10-digit serial,
    so unique per agent and, within the day, ordered by (agent prefix, serial)."""
    return ascii_column(
        choose([a.prefix for a in world.agents], agent),
        text(world.day.strftime("%Y%m%d"), len(serial)),
        digits(serial, 10),
    )
