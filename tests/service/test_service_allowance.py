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

from service_world import AGENT, OTHER_AGENT, SENDERS, Running, start

from builders import declaration, merge, write_messages
from cbec.pipeline import Policy


def _one(price: str) -> list[dict[str, object]]:
    return [{"gcode": "6111200050", "qty": 1, "price": price}]


def _post_all(running: Running, paths: list[Path], agent: str) -> None:
    for path in paths:
        code = path.stem[-3:]
        status, answer = running.post(agent if code == "621" else SENDERS[code], path.read_bytes())
        assert status == 202, answer


def test_two_lists_of_one_buyer_at_the_same_instant_share_the_last_allowance(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    with start(tmp_path, policy, pg_url=service_store) as running:
        earlier = merge(
            *(declaration(f"E{n}", _one("5000.00"), when="2024-06-01T10:00:00") for n in range(4)),
            declaration("E4", _one("3000.00"), when="2024-06-01T11:00:00"),
        )
        _post_all(running, write_messages(tmp_path / "earlier", earlier), AGENT)
        assert running.service.batcher.flush() == 4
        same_instant = "2024-06-15T10:00:00"
        first = write_messages(
            tmp_path / "a", declaration("C1", _one("2000.00"), when=same_instant), prefix="a"
        )
        second = write_messages(
            tmp_path / "b",
            declaration("C2", _one("2000.00"), when=same_instant, agent_code=OTHER_AGENT),
            prefix="b",
        )
        _post_all(running, first[:3] + second[:3], AGENT)  # the companions
        posts = [
            threading.Thread(target=_post_all, args=(running, [first[3]], AGENT)),
            threading.Thread(target=_post_all, args=(running, [second[3]], OTHER_AGENT)),
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
