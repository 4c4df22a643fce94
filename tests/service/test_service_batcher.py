"""The micro-batcher running in its thread, as under `cbec serve`: a parcel's messages posted,
cleared without anyone calling flush, the receipts read by long polling."""

from __future__ import annotations

from pathlib import Path

from service_world import AGENT, SENDERS, T_SHIRT, start

from builders import declaration, write_messages
from cbec.pipeline import Policy


def test_the_batcher_thread_clears_what_is_posted(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    with start(
        tmp_path, policy, pg_url=service_store, run_batcher=True, batch_max_seconds=1.0
    ) as running:
        for path in write_messages(tmp_path / "parcel", declaration("B1", T_SHIRT)):
            status, answer = running.post(SENDERS[path.stem[-3:]], path.read_bytes())
            assert status == 202, answer
        codes: list[object] = []
        cursor = 0
        while len(codes) < 3:  # 622 120, 622 800, 816; the four messages make one batch
            response = running.client.get(
                "/v1/receipts", params={"after": cursor, "wait": 30}, headers=running.headers(AGENT)
            )
            found = response.json()
            assert found, "no receipt within the long poll"
            codes += [r["code"] for r in found]
            cursor = found[-1]["cursor"]
        assert codes == ["622", "622", "816"]
        assert running.client.get("/health").json()["queue"] == 0
