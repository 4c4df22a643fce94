"""Fraud with ground truth, over a simulated day: what risk targeting must find.

`inject_fraud(day, out, rate, seed)` copies a simulated day (`simulate_day`'s folder) and turns a
share `rate` of its clean declarations into fraud, consistently across the order, payment,
waybill and declaration list so that the fraud passes every check (as real fraud does), and
writes `fraud.parquet`: `agent_code`, `cop_no`, `fraud_type`, `true_value` (the goods value
before the fraud). The kinds (FRAUD_TYPES):

- `undervaluation`: every price declared at 10-40 % of the real one (order, payment, list);
- `tariff_misdeclaration`: goods that carry consumption tax declared under a plain tariff code
  (the day's most common code without it), name unchanged;
- `goods_mismatch`: the goods declared as another product (that plain code and its name on the
  list and the order), price unchanged: what is in the box is not what is declared;
- `split_order`: groups of three parcels given one buyer, each raised to 85-95 % of the single
  limit: one purchase split to stay under it;
- `identity_borrowing`: groups of six parcels of different buyers sent to one telephone and
  address: identities borrowed to spread a reseller's purchases over several allowances.

Choices are draws from a hash of `cop_no` and the seed (`cbec.risk.scoring.hash_draw`), so a
declaration's fate does not depend on the others. The transformations are SQL over the day's
tables (DuckDB), not a loop over rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cbec.policy.lists import load_tariff
from cbec.risk.scoring import hash_draw

FRAUD_TYPES = ("undervaluation", "tariff_misdeclaration", "goods_mismatch", "split_order",
               "identity_borrowing")  # fmt: skip
TABLES = ("orders", "order_lines", "payments", "waybills", "inventories", "inventory_lines")
SPLIT_GROUP, BORROW_GROUP = 3, 6
FRAUD = pa.schema(
    [
        ("agent_code", pa.string()),
        ("cop_no", pa.string()),
        ("fraud_type", pa.string()),
        ("true_value", pa.decimal128(18, 2)),
    ]
)


def inject_fraud(day: Path, out: Path, rate: float = 0.04, seed: int = 1) -> pa.Table:
    """Write `out`: the day of `day` with fraud in a share `rate` of its clean declarations."""
    con = duckdb.connect()
    for name in TABLES:
        con.register(f"src_{name}", pq.read_table(day / f"{name}.parquet"))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM src_{name}")
    con.register("truth", pq.read_table(day / "truth.parquet"))
    con.register("tariff", load_tariff())
    chosen = _choose(con, rate, seed)
    con.register("chosen_rows", chosen)
    con.execute("CREATE TABLE chosen AS SELECT * FROM chosen_rows")
    _target(con)
    _undervalue(con)
    _misdeclare(con)
    _split(con)
    _borrow(con)
    _recompute_orders(con)
    out.mkdir(parents=True, exist_ok=True)
    for path in day.glob("*.parquet"):
        if path.stem not in TABLES:
            shutil.copyfile(path, out / path.name)
    for name in TABLES:
        table = con.sql(f"SELECT * FROM {name}").to_arrow_table()
        pq.write_table(table.cast(pq.read_schema(day / f"{name}.parquet")), out / f"{name}.parquet")
    fraud = con.sql(
        "SELECT agent_code, cop_no, fraud_type, CAST(true_value AS DECIMAL(18,2)) AS true_value "
        "FROM chosen ORDER BY agent_code, cop_no"
    ).to_arrow_table()
    fraud = fraud.cast(FRAUD)
    pq.write_table(fraud, out / "fraud.parquet")
    return fraud


def _choose(con: duckdb.DuckDBPyConnection, rate: float, seed: int) -> pa.Table:
    """Clean declarations (no defect), the share `rate` of them by hash, each with a kind."""
    clean = con.sql(
        "SELECT i.agent_code, i.cop_no, i.order_no, i.ebp_code, i.buyer_id_number, "
        "sum(l.total_price) AS true_value, "
        "bool_or(coalesce(t.consumption_rate, 0) > 0) AS taxed "
        "FROM inventories i JOIN truth USING (agent_code, cop_no) "
        "JOIN inventory_lines l USING (agent_code, cop_no) "
        "LEFT JOIN tariff t ON t.code = left(l.gcode, length(t.code)) "
        "WHERE len(truth.defects) = 0 AND i.trade_mode = '9610' GROUP BY ALL "
        "ORDER BY i.agent_code, i.cop_no"
    ).to_arrow_table()
    draw = hash_draw(clean["cop_no"], seed)
    kind_draw = hash_draw(clean["cop_no"], seed + 1)
    picked = draw < rate
    kinds = np.minimum((kind_draw * len(FRAUD_TYPES)).astype(int), len(FRAUD_TYPES) - 1)
    taxed = np.asarray(clean["taxed"].to_numpy(zero_copy_only=False), dtype=bool)
    # Only goods that carry consumption tax gain by a plain code; the others are undervalued.
    kinds = np.where((kinds == 1) & ~taxed, 0, kinds)
    names = np.asarray(FRAUD_TYPES, dtype=object)[kinds]
    table = clean.filter(pa.array(picked)).append_column(
        "fraud_type", pa.array(names[picked].tolist(), pa.string())
    )
    order = np.argsort(draw[picked] / rate, kind="stable")  # groups of neighbours in draw order
    return table.append_column("rank", pa.array(np.argsort(order, kind="stable")))


def _target(con: duckdb.DuckDBPyConnection) -> None:
    """The plain product misdeclared goods are declared as: the day's most common code with no
    consumption tax (and its name)."""
    con.execute(
        "CREATE TABLE target AS SELECT l.gcode, any_value(l.gname) AS gname, "
        "any_value(l.item_name) AS item_name FROM inventory_lines l "
        "JOIN tariff t ON t.code = left(l.gcode, length(t.code)) "
        "WHERE coalesce(t.consumption_rate, 0) = 0 AND t.vat_rate = 0.13 "
        "GROUP BY l.gcode ORDER BY count(*) DESC, l.gcode LIMIT 1"
    )


def _undervalue(con: duckdb.DuckDBPyConnection) -> None:
    # The factor is a function of the cop_no's rank among the chosen: 10 % to 40 %.
    con.execute(
        "CREATE TABLE factor AS SELECT agent_code, cop_no, order_no, ebp_code, "
        "0.10 + 0.30 * ((rank * 7919) % 1000) / 1000.0 AS f FROM chosen "
        "WHERE fraud_type = 'undervaluation'"
    )
    _scale_prices(con, "factor")


def _scale_prices(con: duckdb.DuckDBPyConnection, factors: str) -> None:
    """Multiply the prices of the declarations in `factors` (column `f`), list and order alike."""
    con.execute(
        "UPDATE inventory_lines l SET price = round(l.price * f.f, 2), "
        "total_price = round(round(l.price * f.f, 2) * l.qty, 2) FROM "
        f"{factors} f WHERE l.agent_code = f.agent_code AND l.cop_no = f.cop_no"
    )
    con.execute(
        "UPDATE order_lines o SET price = round(o.price * f.f, 2), "
        "total_price = round(round(o.price * f.f, 2) * o.qty, 2) FROM "
        f"{factors} f WHERE o.order_no = f.order_no AND o.ebp_code = f.ebp_code"
    )


def _misdeclare(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "UPDATE inventory_lines l SET gcode = t.gcode FROM chosen c, target t "
        "WHERE l.agent_code = c.agent_code AND l.cop_no = c.cop_no "
        "AND c.fraud_type IN ('tariff_misdeclaration', 'goods_mismatch')"
    )
    con.execute(
        "UPDATE inventory_lines l SET gname = t.gname, item_name = t.item_name "
        "FROM chosen c, target t WHERE l.agent_code = c.agent_code AND l.cop_no = c.cop_no "
        "AND c.fraud_type = 'goods_mismatch'"
    )
    con.execute(
        "UPDATE order_lines o SET item_name = t.gname FROM chosen c, target t "
        "WHERE o.order_no = c.order_no AND o.ebp_code = c.ebp_code "
        "AND c.fraud_type = 'goods_mismatch'"
    )


def _groups(con: duckdb.DuckDBPyConnection, kind: str, size: int) -> str:
    """A table of the `kind` declarations with their group's first member (`lead_*`)."""
    name = f"group_{kind}"
    con.execute(
        f"CREATE TABLE {name} AS SELECT c.*, "
        f"first_value(c.order_no) OVER w AS lead_order, first_value(c.ebp_code) OVER w AS lead_ebp "
        f"FROM (SELECT *, row_number() OVER (ORDER BY rank) - 1 AS n FROM chosen "
        f"WHERE fraud_type = '{kind}') c "
        f"WINDOW w AS (PARTITION BY n // {size} ORDER BY n)"
    )
    return name


def _split(con: duckdb.DuckDBPyConnection) -> None:
    group = _groups(con, "split_order", SPLIT_GROUP)
    # One buyer for the group: the lead order's buyer, payer, consignee, everywhere.
    con.execute(
        f"CREATE TABLE lead_buyer AS SELECT g.agent_code, g.cop_no, g.order_no, g.ebp_code, "
        f"o.buyer_id_number, o.buyer_name, o.buyer_telephone, o.consignee, "
        f"o.consignee_telephone, o.consignee_address FROM {group} g "
        f"JOIN orders o ON o.order_no = g.lead_order AND o.ebp_code = g.lead_ebp"
    )
    con.execute(
        "UPDATE orders o SET buyer_id_number = b.buyer_id_number, buyer_name = b.buyer_name, "
        "buyer_telephone = b.buyer_telephone, consignee = b.consignee, "
        "consignee_telephone = b.consignee_telephone, consignee_address = b.consignee_address "
        "FROM lead_buyer b WHERE o.order_no = b.order_no AND o.ebp_code = b.ebp_code"
    )
    con.execute(
        "UPDATE payments p SET payer_id_number = b.buyer_id_number, payer_name = b.buyer_name "
        "FROM lead_buyer b WHERE p.order_no = b.order_no AND p.ebp_code = b.ebp_code"
    )
    con.execute(
        "UPDATE waybills w SET consignee = b.consignee, consignee_telephone = "
        "b.consignee_telephone, consignee_address = b.consignee_address FROM lead_buyer b, "
        "inventories i WHERE i.agent_code = b.agent_code AND i.cop_no = b.cop_no "
        "AND w.logistics_code = i.logistics_code AND w.logistics_no = i.logistics_no"
    )
    con.execute(
        "UPDATE inventories i SET buyer_id_number = b.buyer_id_number, buyer_name = b.buyer_name, "
        "buyer_telephone = b.buyer_telephone, consignee_address = b.consignee_address "
        "FROM lead_buyer b WHERE i.agent_code = b.agent_code AND i.cop_no = b.cop_no"
    )
    # Each parcel raised to 85-95 % of the single limit of the day (5,000 CNY from 2019).
    con.execute(
        f"CREATE TABLE raise AS SELECT g.agent_code, g.cop_no, g.order_no, g.ebp_code, "
        f"(5000 * (0.85 + 0.10 * ((g.rank * 7919) % 1000) / 1000.0) - coalesce(i.freight, 0)) "
        f"/ g.true_value AS f FROM {group} g JOIN inventories i USING (agent_code, cop_no)"
    )
    _scale_prices(con, "raise")
    con.execute(
        "UPDATE chosen c SET true_value = r.f * c.true_value FROM raise r "
        "WHERE c.agent_code = r.agent_code AND c.cop_no = r.cop_no"
    )


def _borrow(con: duckdb.DuckDBPyConnection) -> None:
    group = _groups(con, "identity_borrowing", BORROW_GROUP)
    con.execute(
        f"CREATE TABLE lead_contact AS SELECT g.agent_code, g.cop_no, g.order_no, g.ebp_code, "
        f"o.consignee_telephone AS phone, o.consignee_address AS address FROM {group} g "
        f"JOIN orders o ON o.order_no = g.lead_order AND o.ebp_code = g.lead_ebp"
    )
    con.execute(
        "UPDATE orders o SET consignee_telephone = b.phone, consignee_address = b.address, "
        "buyer_telephone = b.phone FROM lead_contact b "
        "WHERE o.order_no = b.order_no AND o.ebp_code = b.ebp_code"
    )
    con.execute(
        "UPDATE waybills w SET consignee_telephone = b.phone, consignee_address = b.address "
        "FROM lead_contact b, inventories i WHERE i.agent_code = b.agent_code "
        "AND i.cop_no = b.cop_no AND w.logistics_code = i.logistics_code "
        "AND w.logistics_no = i.logistics_no"
    )
    con.execute(
        "UPDATE inventories i SET buyer_telephone = b.phone, consignee_address = b.address "
        "FROM lead_contact b WHERE i.agent_code = b.agent_code AND i.cop_no = b.cop_no"
    )


def _recompute_orders(con: duckdb.DuckDBPyConnection) -> None:
    """Orders and payments of the changed parcels agree with their new lines again."""
    con.execute(
        "CREATE TABLE new_goods AS SELECT o.order_no, o.ebp_code, sum(l.total_price) AS goods "
        "FROM order_lines l JOIN chosen o ON l.order_no = o.order_no AND l.ebp_code = o.ebp_code "
        "GROUP BY ALL"
    )
    con.execute(
        "UPDATE orders o SET goods_value = g.goods, actural_paid = g.goods + "
        "coalesce(o.freight, 0) + coalesce(o.tax_total, 0) - coalesce(o.discount, 0) "
        "FROM new_goods g WHERE o.order_no = g.order_no AND o.ebp_code = g.ebp_code"
    )
    con.execute(
        "UPDATE payments p SET amount_paid = o.actural_paid FROM orders o, new_goods g "
        "WHERE p.order_no = g.order_no AND p.ebp_code = g.ebp_code "
        "AND o.order_no = g.order_no AND o.ebp_code = g.ebp_code"
    )
