"""The store's side of the guarantee and the payments: registered guarantees, payments recorded,
and what each guarantee still covers. SQL over the embedded store's tables (`embedded.py`
creates them); the rules themselves live in `cbec.ledgers`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cbec.store.embedded import Store

GUARANTEE_COLUMNS = ("assure_code", "amount", "registered_at", "outstanding", "remaining")
MONEY_COLUMNS = ("amount", "outstanding", "remaining")


def set_guarantee(store: Store, assure_code: str, amount: Decimal, when: dt.datetime) -> None:
    """Registers (or replaces) the agent's guarantee."""
    store.insert_rows("guarantees", [(assure_code, amount, when)], replace=("assure_code",))


def remove_guarantee(store: Store, assure_code: str) -> bool:
    """The agent is no longer limited; False when it had no guarantee."""
    return store.delete_rows("guarantees", "assure_code", assure_code) > 0


def guarantees(store: Store) -> pa.Table:
    """Every registered guarantee with the tax it covers now (`outstanding`: released, not
    returned, not paid) and what remains, by agent."""
    con = store.con.con
    if not con.execute("SELECT count(*) FROM guarantees").fetchall()[0][0]:
        return _empty()
    paths = store.document_paths("inventories")
    if not paths:
        return con.sql(
            "SELECT assure_code, amount, registered_at, CAST(0 AS DECIMAL(18,2)) AS outstanding, "
            "amount AS remaining FROM guarantees ORDER BY assure_code"
        ).to_arrow_table()
    return con.sql(_GUARANTEES, params=[paths]).to_arrow_table()


def _empty() -> pa.Table:
    money = pa.decimal128(18, 2)
    return pa.table(
        {
            "assure_code": pa.array([], pa.string()),
            "amount": pa.array([], money),
            "registered_at": pa.array([], pa.timestamp("us")),
            "outstanding": pa.array([], money),
            "remaining": pa.array([], money),
        }
    )


def remaining_fen(store: Store) -> pa.Table | None:
    """(assure_code, remaining_fen) of every registered guarantee; None when there is none
    (then nobody is limited and the clearing run skips the judgement)."""
    table = guarantees(store)
    if table.num_rows == 0:
        return None
    fen = [int(v * 100) for v in table["remaining"].to_pylist()]
    return pa.table(
        {"assure_code": table["assure_code"], "remaining_fen": pa.array(fen, pa.int64())}
    )


# Released lists of the guaranteed agents (their assureCode from the stored declaration list, the
# latest version), less the tax of returned lines, less the bills paid.
_GUARANTEES = """
WITH agents AS (
    SELECT coalesce(agent_code, '') AS agent_code, cop_no,
           arg_max(assure_code, app_time) AS assure_code
    FROM read_parquet(?) GROUP BY ALL
), returned AS (
    SELECT agent_code, cop_no,
           sum(customs_tax + value_added_tax + consumption_tax) AS tax_returned
    FROM returned_lines GROUP BY ALL
), owed AS (
    SELECT a.assure_code, sum(d.tax_total - coalesce(r.tax_returned, 0)) AS outstanding
    FROM decisions d
    JOIN agents a USING (agent_code, cop_no)
    LEFT JOIN returned r USING (agent_code, cop_no)
    WHERE d.status = 800 AND a.assure_code IN (SELECT assure_code FROM guarantees)
      AND NOT EXISTS (SELECT 1 FROM tax_payments p
                      WHERE p.agent_code = d.agent_code AND p.cop_no = d.cop_no)
    GROUP BY ALL
)
SELECT g.assure_code, g.amount, g.registered_at,
       CAST(coalesce(o.outstanding, 0) AS DECIMAL(18,2)) AS outstanding,
       CAST(g.amount - coalesce(o.outstanding, 0) AS DECIMAL(18,2)) AS remaining
FROM guarantees g LEFT JOIN owed o USING (assure_code)
ORDER BY g.assure_code
"""


def bills_named(store: Store, tax_nos: list[str]) -> dict[str, dict[str, Any]]:
    """The released lists whose bills (`invtNo` + `01`) are named, by tax_no, with their payment
    if one was recorded (`Store.released_lists` rows)."""
    wanted = {t[:-2] for t in tax_nos if t.endswith("01")}
    if not wanted:
        return {}
    # Released lists live in decisions; only the days those lists were released are read.
    days = store.con.con.execute(
        "SELECT min(decided_at), max(decided_at) FROM decisions "
        "WHERE status = 800 AND invt_no IN (SELECT unnest(?))",
        [sorted(wanted)],
    ).fetchall()[0]
    if days[0] is None:
        return {}
    end = days[1].date() + dt.timedelta(days=1)
    table = store.released_lists(None, days[0].date(), end)
    return {f"{r['invt_no']}01": r for r in table.to_pylist() if r["invt_no"] in wanted}


def record_payments(store: Store, accepted: list[dict[str, Any]], when: dt.datetime) -> None:
    """Adds the accepted payments, all or none."""
    if not accepted:
        return
    store.insert_rows(
        "tax_payments",
        [
            (p["tax_no"], p["agent_code"], p["cop_no"], p["assure_code"], p["tax_paid"],
             p["late_fee"], p["paid_at"], when)
            for p in accepted
        ],
    )  # fmt: skip
