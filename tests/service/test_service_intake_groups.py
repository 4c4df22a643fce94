"""Messages acknowledged together (group commit, docs/service.md "How fast"): each keeps its own
id and companion keys, a message sent twice is one entry, an offer refused in a group leaves the
others appended, and messages posted at once over HTTP are each cleared once. On both stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from service_world import SENDERS, T_SHIRT, Running, start

from builders import declaration, write_messages
from cbec.pipeline import Policy
from cbec.service.journal import Offer

RECEIVED = dt.datetime(2024, 6, 15, 10, 0)


@pytest.fixture
def running(tmp_path: Path, policy: Policy, service_store: str | None) -> Iterator[Running]:
    with start(tmp_path, policy, pg_url=service_store) as service:
        yield service


def offer(guid: str, provides: tuple[str, ...] = (), received_at: Any = RECEIVED) -> Offer:
    return Offer("3301964J31", guid, "311", (f"{guid}-node",), b"<m/>", received_at, provides, ())


def test_offers_appended_together_keep_their_ids_and_the_first_provider(running: Running) -> None:
    journal = running.service.journal
    (earlier, new) = journal.accept("3301964J31", "G0", "311", ["n"], b"<m/>", RECEIVED)
    assert new
    results = journal.accept_all(
        [
            offer("G1", ("order:3301964J31:O1",)),
            offer("G2", ("order:3301964J31:O1", "order:3301964J31:O2")),
            offer("G1", ("order:3301964J31:O1",)),  # sent twice in one group
            offer("G0"),  # sent again, after its first time
        ]
    )
    assert not any(isinstance(r, BaseException) for r in results)
    (g1, g1_new), (g2, g2_new), (g1_again, again_new), (g0, g0_new) = results  # type: ignore[misc]
    assert (g1_new, g2_new, again_new, g0_new) == (True, True, False, False)
    assert g1_again == g1 and g0 == earlier and len({earlier, g1, g2}) == 3
    assert running.rows("SELECT guid, id FROM service_intake ORDER BY guid") == [
        ("G0", earlier),
        ("G1", g1),
        ("G2", g2),
    ]
    # O1 is provided by G1 and G2: G1 came first and is remembered, as one by one.
    assert running.rows("SELECT key, intake_id FROM service_companions ORDER BY key") == [
        ("order:3301964J31:O1", g1),
        ("order:3301964J31:O2", g2),
    ]


def test_an_offer_refused_in_a_group_leaves_the_others_appended(running: Running) -> None:
    results = running.service.journal.accept_all(
        [offer("G1"), offer("G2", received_at="not a time"), offer("G3", ("order:X:O3",))]
    )
    assert isinstance(results[1], Exception)
    assert [r[1] for r in results if isinstance(r, tuple)] == [True, True]
    assert running.rows("SELECT guid FROM service_intake ORDER BY guid") == [("G1",), ("G3",)]
    assert running.rows("SELECT key FROM service_companions") == [("order:X:O3",)]


def test_messages_posted_at_once_are_each_acknowledged_and_cleared_once(
    running: Running,
) -> None:
    """Twelve parcels' 48 messages, each posted twice, from sixteen threads at once."""
    bodies = [
        (SENDERS[path.stem.split("CEB")[-1]], path.read_bytes())
        for n in range(12)
        for path in write_messages(
            running.root / f"p{n}", declaration(f"P{n}", T_SHIRT), prefix=f"P{n}-"
        )
    ]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda sent: running.post(*sent), bodies + bodies))
    assert {status for status, _ in answers} == {202}
    first, again = answers[: len(bodies)], answers[len(bodies) :]
    assert [a["id"] for _, a in first] == [a["id"] for _, a in again]
    assert len({a["id"] for _, a in first}) == 48
    assert running.rows("SELECT count(*) FROM service_intake") == [(48,)]
    assert running.service.batcher.flush() == 48
    assert running.rows("SELECT status, count(*) FROM decisions GROUP BY status") == [(800, 12)]
