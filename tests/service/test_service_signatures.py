"""Signatures verified at intake (issue 4): an enterprise that registered a certificate must
sign what it declares (appStatus 2) with its key; anything else is refused at once (403), before
it reaches the intake log. Enterprises without a certificate are not checked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from service_world import PLATFORM, T_SHIRT, start

from builders import declaration, signer, write_messages
from cbec.messages.signatures import sign_message
from cbec.pipeline import Policy

NOW = dt.datetime(2026, 6, 18, 10, 0, 0)


def test_a_registered_sender_must_sign_with_its_key(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    key = signer("Platform", dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1))
    other = signer("Someone else", dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1))
    order = write_messages(tmp_path / "m", declaration("G1", T_SHIRT))[0]
    with start(tmp_path, policy, pg_url=service_store, clock=lambda: NOW) as running:
        store = running.service.store
        store.add_enterprise(PLATFORM, "Platform", ["platform"], key.cert_pem)
        unsigned = order.read_bytes()
        status, answer = running.post(PLATFORM, unsigned)
        assert (status, answer["error"]) == (403, "signature_invalid")
        assert "no signature" in str(answer["detail"])
        status, answer = running.post(
            PLATFORM, sign_message(unsigned, other.key_pem, other.cert_pem)
        )
        assert (status, answer["error"]) == (403, "signature_invalid")
        status, answer = running.post(PLATFORM, sign_message(unsigned, key.key_pem, key.cert_pem))
        assert status == 202, answer
        logged = running.rows("SELECT count(*) FROM service_intake")
        assert logged[0][0] == 1  # the refused ones never reached the log


def test_a_certificate_expired_at_arrival_is_refused(
    tmp_path: Path, policy: Policy, service_store: str | None
) -> None:
    key = signer("Platform", dt.datetime(2025, 1, 1), dt.datetime(2026, 1, 1))
    order = write_messages(tmp_path / "m", declaration("G2", T_SHIRT))[0]
    with start(tmp_path, policy, pg_url=service_store, clock=lambda: NOW) as running:
        running.service.store.add_enterprise(PLATFORM, "Platform", ["platform"], key.cert_pem)
        signed = sign_message(order.read_bytes(), key.key_pem, key.cert_pem)
        status, answer = running.post(PLATFORM, signed)
        assert (status, answer["error"]) == (403, "signature_invalid")
