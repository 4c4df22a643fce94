"""Tax per line: the reduced retail-import tax, or full tax for one indivisible item.

Cai Guan Shui [2016] No. 18, art. 2 (and [2018] No. 49): within the limits the tariff is 0 and
VAT and consumption tax are charged at 70 %; an indivisible item above the single limit pays
everything in full (domain digest section 3). Per line, with dutiable price P, duty rate t,
ad valorem consumption rate c, specific consumption tax Q*s (legal quantity times rate), VAT rate v
and factor F (0.7 within the limits, 1 in full):

    D   = P * t                                  (t = 0 within the limits)
    B   = P + D + Q*s
    CT  = F * (B * c / (1 - c) + Q*s)
    VAT = F * v * B / (1 - c)                    (= F * v * (P + D + CT_statutory))

P is the line total plus its pro-rata share of the declaration's freight and insured fee:
P = L * (S + E) / S. Each tax is computed exactly from these unrounded quantities and rounded once
to 0.01 half-up (clearance/money.py). The ad valorem consumption tax applies only from the tariff
row's `consumption_min_unit_price` (high-end cosmetics, watches) when one is given.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cbec.clearance.money import WORKING_SCALE, ratio_half_up, wide
from cbec.engines.reuse import reused

RATE_COLUMNS = (
    "mfn_rate",
    "provisional_rate",
    "vat_rate",
    "consumption_rate",
    "consumption_min_unit_price",
    "consumption_specific",
    "consumption_specific_unit",
)


@reused
def with_tariff(lines: ir.Table, tariff: ir.Table) -> ir.Table:
    """Each line with the tariff row of the longest code prefix (10, then 8 digits) valid then."""
    rates = tariff.select("code", "valid_from", "valid_to", *RATE_COLUMNS)
    exact = rates.filter(rates.code.length() == 10).rename("t10_{name}")
    heading = rates.filter(rates.code.length() == 8).rename("t8_{name}")
    j = lines.left_join(
        exact,
        [
            lines.gcode == exact.t10_code,
            (exact.t10_valid_from.isnull() | (exact.t10_valid_from <= lines.decl_date))
            & (exact.t10_valid_to.isnull() | (lines.decl_date < exact.t10_valid_to)),
        ],
    )
    j = j.left_join(
        heading,
        [
            j.gcode.substr(0, 8) == heading.t8_code,
            (heading.t8_valid_from.isnull() | (heading.t8_valid_from <= j.decl_date))
            & (heading.t8_valid_to.isnull() | (j.decl_date < heading.t8_valid_to)),
        ],
    )
    use_exact = j.t10_code.notnull()
    picked = {
        name: ibis.ifelse(use_exact, j[f"t10_{name}"], j[f"t8_{name}"]) for name in RATE_COLUMNS
    }
    result = j.mutate(tariff_found=use_exact | j.t8_code.notnull(), **picked)
    return result.drop(*[c for c in result.columns if c.startswith(("t10_", "t8_"))])


@reused
def unknown_tariff(lines: ir.Table) -> ir.Table:
    """Per declaration: `r_tariff_line_unknown` for a well-formed gcode no tariff row covers, and
    `r_required_field_missing` for a specific consumption tax without the legal quantity (qty1)."""
    well_formed = lines.gcode.re_search(r"^[0-9]{10}$").fill_null(False)
    return lines.group_by(["agent_code", "cop_no"]).aggregate(
        r_tariff_line_unknown=(well_formed & ~lines.tariff_found).any(),
        r_required_field_missing=(
            lines.consumption_specific.notnull()
            & (lines.consumption_specific > 0)
            & lines.qty1.isnull()
        )
        .fill_null(False)
        .any(),
    )


@reused
def line_terms(lines: ir.Table, terms: ir.Table) -> ir.Table:
    """Each line's taxes as exact numerators over exact denominators (in fen, before rounding).

    `lines` come from `with_tariff`; `terms` has per declaration (`agent_code`, `cop_no`):
    `taxable`, `full_tax`, `goods_total`, `extras` (freight + insured fee), `tax_factor` and
    `tariff_factor`. Lines of declarations that are not taxable get zeros. The pipeline stores
    this table before `line_taxes` rounds it, so that the engine computes each product once.
    """
    j = lines.inner_join(terms, ["agent_code", "cop_no"])
    taxable = j.taxable & j.tariff_found
    zero = ibis.literal(0)
    line_total = wide(ibis.ifelse(taxable, j.total_price, zero), 2)
    goods = wide(ibis.ifelse(taxable, j.goods_total, zero), 2)
    extras = wide(ibis.ifelse(taxable, j.extras, zero), 2)
    duty_rate = j.provisional_rate.fill_null(j.mfn_rate).fill_null(0)
    t = wide(ibis.ifelse(j.full_tax, duty_rate, duty_rate * j.tariff_factor), 6)
    factor = wide(ibis.ifelse(j.full_tax, ibis.literal(1), j.tax_factor), 6)
    applies = j.consumption_min_unit_price.isnull() | (j.price >= j.consumption_min_unit_price)
    c = wide(ibis.ifelse(applies.fill_null(False), j.consumption_rate.fill_null(0), zero), 6)
    v = wide(j.vat_rate.fill_null(0), 6)
    specific = wide(j.consumption_specific.fill_null(0), 4) * wide(j.qty1.fill_null(0), 5)

    has_goods = goods > 0
    one = ibis.literal(1).cast("decimal(38, 6)")
    hundred = ibis.literal(100)
    share = line_total * (goods + extras)  # P * S, scale 4
    base = share * (one + t) + specific * goods  # B * S, scale 11
    return j.select(
        "agent_code",
        "cop_no",
        "gnum",
        "gcode",
        price_num=wide(share * hundred, WORKING_SCALE),
        duty_num=wide(share * t * hundred, WORKING_SCALE),
        consumption_num=wide(
            factor * (share * (one + t) * c + specific * goods) * hundred, WORKING_SCALE
        ),
        vat_num=wide(factor * v * base * hundred, WORKING_SCALE),
        # S * (1 - c) and S; 1 where there are no goods (the numerators are 0 there).
        tax_den=wide(ibis.ifelse(has_goods, goods * (one - c), one), WORKING_SCALE),
        price_den=wide(ibis.ifelse(has_goods, goods, one), WORKING_SCALE),
    )


@reused
def line_taxes(terms: ir.Table) -> ir.Table:
    """Tax per line in fen, each rounded once half-up: `tax_price_fen`, `customs_tax_fen`,
    `value_added_tax_fen`, `consumption_tax_fen` (from `line_terms`)."""
    return terms.select(
        "agent_code",
        "cop_no",
        "gnum",
        "gcode",
        tax_price_fen=ratio_half_up(terms.price_num, terms.price_den),
        customs_tax_fen=ratio_half_up(terms.duty_num, terms.price_den),
        consumption_tax_fen=ratio_half_up(terms.consumption_num, terms.tax_den),
        value_added_tax_fen=ratio_half_up(terms.vat_num, terms.tax_den),
    )
