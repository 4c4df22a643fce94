"""One chunk of parcels: goods, quantities, money, people, times, and the injected defects.

Everything is drawn as whole columns (numpy), never parcel by parcel. Amounts are integer fen.

Ordinary parcels have 1-5 lines (mostly 1-2) of catalogue products (by popularity), 1-3 units
mostly; a clean declaration's dutiable value (line totals + freight + insured fee) never exceeds
the single limit: quantities, then prices, are scaled down where a draw would. Luxury parcels are
one premium item (a single line, quantity 1) above the limit; resellers' parcels are 1-3 lines of
dear goods worth 55-95 % of the single limit.

How each injected defect is built, so that it is the only reason a correct clearance finds:

- order_missing / payment_missing / waybill_missing: that document (an order with its lines) is
  not written; everything else is consistent.
- amount_paid_mismatch: the payment's amountPaid is the order's acturalPaid without the tax, or
  plus 1-20 CNY.
- actural_paid_mismatch: the order's acturalPaid leaves the tax out, or adds 1-20 CNY, and the
  payment pays that same wrong amount.
- payer_not_buyer: the payer (name, identity number, telephone) is another valid person.
- consignee_mismatch: the waybill's telephone (or, for half, the address: another floor) differs
  from the order's.
- buyer_mismatch: the declaration's buyer name has another surname; the number is unchanged.
- lines_mismatch: line 1's quantity differs between order and declaration: the declaration
  declares one unit less (or, for a single unit, the order says 2); each side's line total is its
  own price x quantity, and the declaration's value never grows.
- line_total_mismatch: the declaration's largest line total is 1-20 CNY (at most half of it)
  below price x quantity.
- buyer_id_number_invalid: the buyer's number has a wrong check character, the same on order,
  payment (payer) and declaration.
- currency_not_cny: the declaration head's currency is 502 (USD).
- required_field_missing: the declaration's customsCode is null.
- not_on_positive_list / bonded_only_goods / excluded_goods: line 1 is a product whose tariff
  line is off the list that day / bonded-only (and the declaration is 9610) / excluded; it is
  priced within the limit and has a tariff row, on the order and the declaration alike.
- over_single_limit: a declaration of 2 or more lines whose line 1 quantity is raised until the
  dutiable value exceeds the single limit by 1 CNY to 30 % of the limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cbec.simulate.columns import replace
from cbec.simulate.defects import CODE
from cbec.simulate.goods import BONDED_ONLY, CLEAN, EXCLUDED, UNLISTED
from cbec.simulate.people import Population
from cbec.simulate.plan import DAIGOU, LUXURY, Plan
from cbec.simulate.world import TRADE_MODE_SHARES, TRADE_MODES, World

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

LINE_COUNT_SHARES = (0.66, 0.22, 0.07, 0.03, 0.02)
QUANTITY_SHARES = (0.72, 0.17, 0.06, 0.03, 0.01, 0.01)
DIFFERENT_CONSIGNEE = 0.12
# Declarations per hour of the day (China Standard Time): quiet at night, busy in the evening.
HOURS = np.array(
    [2.0, 1.2, 0.8, 0.5, 0.4, 0.5, 1.0, 2.0, 3.5, 4.5, 5.0, 5.2,
     5.0, 4.8, 4.8, 4.9, 5.0, 5.0, 5.2, 5.8, 6.8, 7.5, 7.0, 4.0],
)  # fmt: skip
HOURS = HOURS / HOURS.sum()


@dataclass
class Parcels:
    """A chunk of parcels as columns: heads indexed by parcel, lines by line.

    Parcels are ordered by `missing_group`; `serial` is each one's index in the day.
    """

    serial: Ints  # global parcel index
    defect: npt.NDArray[np.int8]
    profile: npt.NDArray[np.int8]
    # enterprises
    mode: Ints
    agent: Ints
    platform: Ints
    seller: Ints
    payer: Ints
    carrier: Ints
    assured_by_platform: Mask
    # lines
    lines: Ints  # count per parcel
    parcel: Ints  # per line
    gnum: Ints
    sku: Ints
    price: Ints
    order_qty: Ints
    invt_qty: Ints
    order_total: Ints
    invt_total: Ints
    # money per parcel
    goods_value: Ints
    freight: Ints
    insured: Ints
    discount: Ints
    tax_total: Ints
    actural_paid: Ints
    amount_paid: Ints
    dutiable: Ints
    net_grams: Ints
    gross_grams: Ints
    # people
    buyer_name: pa.Array
    invt_buyer_name: pa.Array
    buyer_id: pa.Array
    buyer_phone: pa.Array
    buyer_reg_no: pa.Array
    consignee: pa.Array
    consignee_phone: pa.Array
    consignee_address: pa.Array
    consignee_district: pa.Array
    waybill_phone: pa.Array
    waybill_address: pa.Array
    payer_name: pa.Array
    payer_id: pa.Array
    payer_phone: pa.Array
    # times, seconds since the simulated day's midnight
    decl: Ints
    invt_app: Ints
    order_app: Ints
    pay_time: Ints
    pay_app: Ints
    waybill_app: Ints

    def has(self, name: str) -> Mask:
        """Parcels carrying the injected defect `name`."""
        return injected(self.defect, self.profile, name)

    @property
    def first_line(self) -> Ints:
        return np.cumsum(self.lines) - self.lines


MISSING = ("order_missing", "payment_missing", "waybill_missing")


def missing_group(defect: npt.NDArray[np.int8]) -> Ints:
    """0 for parcels with all their documents, else 1 + the index in `MISSING` of the one absent."""
    group = np.zeros(len(defect), dtype=np.int64)
    for i, name in enumerate(MISSING):
        group[defect == CODE[name]] = i + 1
    return group


def injected(defect: npt.NDArray[np.int8], profile: npt.NDArray[np.int8], name: str) -> Mask:
    """Where the defect `name` was injected (a luxury item's over_single_limit is natural)."""
    found: Mask = defect == CODE[name]
    if name == "over_single_limit":
        found &= profile != LUXURY
    return found


def _sample(rng: np.random.Generator, world: World, mask: Mask, size: int) -> npt.NDArray[np.int64]:
    """`size` products drawn by popularity among those where `mask` holds."""
    chosen, cumulative = world.catalog.pool(mask)
    if len(chosen) == 0:
        raise ValueError("the catalogue has no product of the kind needed")
    draws = rng.random(size) * cumulative[-1]
    return chosen[np.minimum(np.searchsorted(cumulative, draws, side="right"), len(chosen) - 1)]


def _per_parcel(values: Ints, first_line: Ints) -> Ints:
    return np.add.reduceat(values, first_line) if len(values) else np.zeros(0, dtype=np.int64)


def _choose(rng: np.random.Generator, weights: npt.ArrayLike, size: int) -> Ints:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size, p=p / p.sum()).astype(np.int64)


def generate(
    world: World, people: Population, plan: Plan, start: int, stop: int, seed: int
) -> Parcels:
    """Parcels `start..stop-1` of the day (deterministic in `seed` and `start`)."""
    rng = np.random.default_rng([seed, 0x7AFF1C, start])
    n = stop - start
    catalog, limits = world.catalog, world.limits
    # Parcels whose order, payment or waybill is missing come last, group by group, so that
    # each document table is at most two slices of the chunk (documents.py).
    defect, profile = plan.defect[start:stop], plan.profile[start:stop]
    within = np.argsort(missing_group(defect), kind="stable")
    serial = start + within
    defect, profile = defect[within], profile[within]

    def has(name: str) -> Mask:
        return injected(defect, profile, name)

    # Enterprises --------------------------------------------------------------------------
    mode = _choose(rng, TRADE_MODE_SHARES, n)
    mode[has("bonded_only_goods")] = 0
    agent = np.zeros(n, dtype=np.int64)
    for m, name in enumerate(TRADE_MODES):
        chosen = mode == m
        agent[chosen] = _choose(rng, world.agent_weights(name), int(chosen.sum()))
    platform = _choose(rng, [p.weight for p in world.platforms], n)
    first_seller, sellers = world.seller_range()
    seller = first_seller[platform] + (rng.random(n) * sellers[platform]).astype(np.int64)
    payer = _choose(rng, [p.weight for p in world.payers], n)
    carrier = _choose(rng, [c.weight for c in world.carriers], n)
    assured_by_platform = rng.random(n) < 0.2

    # Lines --------------------------------------------------------------------------------
    lines = _choose(rng, LINE_COUNT_SHARES, n) + 1
    daigou, luxury = profile == DAIGOU, profile == LUXURY
    lines[daigou] = rng.integers(1, 4, int(daigou.sum()))
    lines[luxury] = 1
    over_single = has("over_single_limit")
    lines[over_single] = np.maximum(lines[over_single], 2)
    parcel = np.repeat(np.arange(n, dtype=np.int64), lines)
    first_line = np.cumsum(lines) - lines
    gnum = np.arange(len(parcel), dtype=np.int64) - first_line[parcel] + 1

    ordinary = (catalog.kind == CLEAN) & ~catalog.premium
    sku = _sample(rng, world, ordinary, len(parcel))
    for mask, products in (
        (daigou[parcel], ordinary & catalog.daigou),
        (luxury[parcel], catalog.premium),
    ):
        sku[mask] = _sample(rng, world, products, int(mask.sum()))
    dear = ordinary & (catalog.price >= limits.single * 15 // 100)
    for name, products in (
        ("not_on_positive_list", catalog.kind == UNLISTED),
        ("bonded_only_goods", catalog.kind == BONDED_ONLY),
        ("excluded_goods", catalog.kind == EXCLUDED),
        ("over_single_limit", dear if dear.any() else ordinary),
    ):
        heads = first_line[has(name)]
        sku[heads] = _sample(rng, world, products, len(heads))

    price = catalog.price[sku].copy()
    qty = np.minimum(_choose(rng, QUANTITY_SHARES, len(parcel)) + 1, catalog.max_qty[sku])
    target = rng.uniform(0.55, 0.95, n) * limits.single / lines
    bulk = np.clip(target[parcel] // price, 1, 12).astype(np.int64)
    qty = np.where(daigou[parcel] & (catalog.max_qty[sku] > 1), bulk, qty)
    qty[luxury[parcel]] = 1

    # Freight and insurance: bonded goods ship from a domestic warehouse, often free.
    bonded = mode > 0
    free = rng.random(n) < np.where(bonded, 0.7, 0.45)
    freight = np.where(free, 0, rng.integers(5, 31, n) * 100)
    insured = np.where(rng.random(n) < 0.03, rng.integers(1, 11, n) * 50, 0)

    # Keep within the single limit (luxury items excepted): fewer units, then lower prices.
    budget = limits.single - freight - insured
    goods = _per_parcel(price * qty, first_line)
    over = (goods > budget) & ~luxury
    if over.any():
        lo = over[parcel]
        qty[lo] = np.maximum(1, qty[lo] * budget[parcel][lo] // goods[parcel][lo])
        goods = _per_parcel(price * qty, first_line)
        lo = ((goods > budget) & ~luxury)[parcel]
        price[lo] = np.maximum(1, price[lo] * budget[parcel][lo] // goods[parcel][lo])
        goods = _per_parcel(price * qty, first_line)

    # over_single_limit: raise line 1's quantity until the value passes the limit.
    heads = first_line[over_single]
    if len(heads):
        dutiable = goods[over_single] + freight[over_single] + insured[over_single]
        extra = rng.integers(100, max(101, limits.single * 3 // 10), len(heads))
        need = limits.single - dutiable + extra
        qty[heads] += -(-need // price[heads])

    # Order and declaration lines, and their deliberate differences.
    order_qty, invt_qty = qty.copy(), qty.copy()
    heads = first_line[has("lines_mismatch")]
    single_unit = qty[heads] == 1
    order_qty[heads[single_unit]] = 2
    invt_qty[heads[~single_unit]] -= 1
    order_total, invt_total = price * order_qty, price * invt_qty
    # line_total_mismatch: on the parcel's largest line, which is always >= 10 CNY.
    largest = _largest_line(invt_total, parcel, first_line)[has("line_total_mismatch")]
    invt_total[largest] -= np.minimum(
        rng.integers(100, 2001, len(largest)), invt_total[largest] // 2
    )

    goods_value = _per_parcel(order_total, first_line)
    tax_total = (goods_value * 91 + 500) // 1000  # the platform's estimate, 9.1 %
    coupon = np.array([0, 300, 500, 1000, 2000, 3000, 5000])[
        _choose(rng, [0.8, 0.04, 0.05, 0.05, 0.03, 0.02, 0.01], n)
    ]
    discount = np.where(coupon <= goods_value // 4, coupon, 0)
    actural_paid = goods_value + freight + tax_total - discount
    without_tax = rng.random(n) < 0.5
    slip = rng.integers(100, 2001, n)
    wrong = np.where(without_tax, -tax_total, slip)
    actural_paid = np.where(has("actural_paid_mismatch"), actural_paid + wrong, actural_paid)
    amount_paid = np.where(has("amount_paid_mismatch"), actural_paid + wrong, actural_paid)
    dutiable = _per_parcel(invt_total, first_line) + freight + insured

    net_grams = _per_parcel(invt_qty * catalog.grams[sku], first_line)
    gross_grams = net_grams + rng.integers(100, 801, n)

    # People -------------------------------------------------------------------------------
    buyer = plan.buyer[serial].astype(np.int64)
    bad_id = has("buyer_id_number_invalid")
    buyer_name = people.names(buyer)
    buyer_id = people.id_numbers(buyer, corrupt=bad_id)
    buyer_phone = people.phones(buyer)
    other = rng.random(n) < DIFFERENT_CONSIGNEE
    receiver = np.where(other, people.others(buyer, "consignee"), buyer)
    consignee = _replace(buyer_name, other, people.names(receiver[other]))
    consignee_phone = _replace(buyer_phone, other, people.phones(receiver[other]))
    consignee_address = people.addresses(receiver)
    consignee_district = people.districts(receiver)
    moved = has("consignee_mismatch")
    by_phone = moved & (rng.random(n) < 0.5)
    by_address = moved & ~by_phone
    waybill_phone = _replace(
        consignee_phone, by_phone, people.phones(receiver[by_phone], changed=_all(by_phone))
    )
    waybill_address = _replace(
        consignee_address, by_address, people.addresses(receiver[by_address], _all(by_address))
    )
    renamed = has("buyer_mismatch")
    invt_buyer_name = _replace(
        buyer_name, renamed, people.names(buyer[renamed], other_surname=_all(renamed))
    )
    paid_by_other = has("payer_not_buyer")
    stranger = people.others(buyer[paid_by_other], "payer")
    payer_name = _replace(buyer_name, paid_by_other, people.names(stranger))
    payer_id = _replace(buyer_id, paid_by_other, people.id_numbers(stranger))
    payer_phone = _replace(buyer_phone, paid_by_other, people.phones(stranger))

    # Times --------------------------------------------------------------------------------
    decl = _choose(rng, HOURS, n) * 3600 + rng.integers(0, 3600, n)
    # Ordered 30 minutes to about a day earlier, never before the previous midnight.
    lead = np.minimum(1800 + rng.exponential(6 * 3600, n).astype(np.int64), decl + 86_340)
    created = decl - lead
    step = np.maximum(lead // 5, 1)
    pay_time = created + np.minimum(rng.integers(10, 900, n), step)
    order_app = pay_time + np.minimum(rng.integers(30, 1200, n), step)
    pay_app = pay_time + np.minimum(rng.integers(30, 600, n), step)
    waybill_app = decl - np.minimum(rng.integers(60, 7200, n), step)
    invt_app = decl - rng.integers(0, 600, n)

    return Parcels(
        serial=serial.astype(np.int64),
        defect=defect,
        profile=profile,
        mode=mode,
        agent=agent,
        platform=platform,
        seller=seller,
        payer=payer,
        carrier=carrier,
        assured_by_platform=assured_by_platform,
        lines=lines,
        parcel=parcel,
        gnum=gnum,
        sku=sku,
        price=price,
        order_qty=order_qty,
        invt_qty=invt_qty,
        order_total=order_total,
        invt_total=invt_total,
        goods_value=goods_value,
        freight=freight,
        insured=insured,
        discount=discount,
        tax_total=tax_total,
        actural_paid=actural_paid,
        amount_paid=amount_paid,
        dutiable=dutiable,
        net_grams=net_grams,
        gross_grams=gross_grams,
        buyer_name=buyer_name,
        invt_buyer_name=invt_buyer_name,
        buyer_id=buyer_id,
        buyer_phone=buyer_phone,
        buyer_reg_no=people.registrations(buyer),
        consignee=consignee,
        consignee_phone=consignee_phone,
        consignee_address=consignee_address,
        consignee_district=consignee_district,
        waybill_phone=waybill_phone,
        waybill_address=waybill_address,
        payer_name=payer_name,
        payer_id=payer_id,
        payer_phone=payer_phone,
        decl=decl,
        invt_app=invt_app,
        order_app=order_app,
        pay_time=pay_time,
        pay_app=pay_app,
        waybill_app=waybill_app,
    )


def _largest_line(totals: Ints, parcel: Ints, first_line: Ints) -> Ints:
    """Per parcel, the index of its (first) line with the largest total."""
    largest = np.maximum.reduceat(totals, first_line)
    candidates = np.flatnonzero(totals == largest[parcel])
    _, first = np.unique(parcel[candidates], return_index=True)
    return candidates[first]


def _all(mask: Mask) -> Mask:
    return np.ones(int(mask.sum()), dtype=np.bool_)


def _replace(base: pa.Array, mask: Mask, values: pa.Array) -> pa.Array:
    return replace(base, mask, values) if mask.any() else base


def midnight(day: dt.date) -> int:
    """Seconds from 1970-01-01 00:00 to `day` 00:00 on the same (naive, CST) wall clock."""
    return (day - dt.date(1970, 1, 1)).days * 86_400
