"""The annual allowance under concurrency (issue 4): two declaration lists of one buyer, sent in
the same instant by two agents, cannot both use the last of the allowance.

26,000 CNY a year per buyer (Cai Guan Shui [2018] No. 49). The buyer has 23,000 admitted; the
two lists of 2,000 each are declared at the same second: the first (by declaration time, then
`appTime`, then `copNo`, docs/decisions.md) reaches 25,000 and is released, the second would reach
27,000 and is rejected `over_annual_limit`, whatever order the two requests took."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

from service_world import AGENT, OTHER_AGENT, last_of_the_allowance, post_all, start

from cbec.pipeline import Policy


def test_two_lists_of_one_buyer_at_the_same_instant_share_the_last_allowance(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    with start(tmp_path, policy, pg_url=service_store) as running:
        messages = last_of_the_allowance(tmp_path)
        post_all(running, messages.earlier)
        assert running.service.batcher.flush() == 4
        post_all(running, messages.first[:3] + messages.second[:3])  # the companions
        posts = [
            threading.Thread(target=post_all, args=(running, [messages.first[3]], AGENT)),
            threading.Thread(target=post_all, args=(running, [messages.second[3]], OTHER_AGENT)),
        ]
        for post in posts:
            post.start()
        for post in posts:
            post.join()
        running.service.batcher.flush()
        con = running.service.store.con.con
        decided = con.execute(
            "SELECT cop_no, status, reasons FROM decisions WHERE cop_no IN ('C1', 'C2') "
            "ORDER BY cop_no"
        ).fetchall()
        assert decided == [("C1", 800, []), ("C2", 100, ["over_annual_limit"])]
        used = con.execute("SELECT sum(value) FROM allowance_ledger WHERE year = 2024").fetchall()[
            0
        ][0]
        assert used == Decimal("25000.00")
