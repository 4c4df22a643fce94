"""The service's settings, each from an environment variable `CBEC_...` (defaults in brackets).

- `CBEC_BATCH_MAX_MESSAGES` [500]: the most messages one micro-batch clears.
- `CBEC_BATCH_MAX_SECONDS` [0.5]: how long a message waits for others to fill its batch.
- `CBEC_MAX_BODY_BYTES` [the parser's envelope limit, about 13.4 MB]: a larger body gets 413.
- `CBEC_RATE_PER_SECOND` [200] and `CBEC_RATE_BURST` [400]: messages an enterprise may post,
  sustained and at once (a token bucket); beyond them 429.
- `CBEC_LONG_POLL_MAX_SECONDS` [30]: the longest `wait` of `GET /v1/receipts`.
- `CBEC_COMPANION_WINDOW_SECONDS` [600]: how long a declaration list waits for a late order,
  payment or waybill before it is cleared without it (and rejected for it).
- `CBEC_DUCKDB_THREADS` [DuckDB's: one per core]: the threads of the store's DuckDB connection,
  which clears the micro-batches.
- `CBEC_ADMIN_TOKEN`: the operator's token (else generated at first start, printed once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cbec.messages.parse import ENVELOPE_BYTES


class SettingsError(ValueError):
    """An environment variable holds a value that is not a number."""


@dataclass(frozen=True)
class Settings:
    batch_max_messages: int = 500
    batch_max_seconds: float = 0.5
    max_body_bytes: int = ENVELOPE_BYTES
    rate_per_second: float = 200.0
    rate_burst: int = 400
    long_poll_max_seconds: float = 30.0
    companion_window_seconds: float = 600.0
    duckdb_threads: int | None = None  # DuckDB's own default
    admin_token: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def number(name: str, default: float, kind: type[int] | type[float]) -> float:
            text = env.get(f"CBEC_{name}")
            if text is None or not text.strip():
                return default
            try:
                value = kind(text)
            except ValueError:
                raise SettingsError(
                    f"CBEC_{name}={text!r} is not a{'n integer' if kind is int else ' number'}"
                ) from None
            if value <= 0:
                raise SettingsError(f"CBEC_{name}={text!r} must be greater than 0")
            return value

        return cls(
            batch_max_messages=int(number("BATCH_MAX_MESSAGES", defaults.batch_max_messages, int)),
            batch_max_seconds=number("BATCH_MAX_SECONDS", defaults.batch_max_seconds, float),
            max_body_bytes=int(number("MAX_BODY_BYTES", defaults.max_body_bytes, int)),
            rate_per_second=number("RATE_PER_SECOND", defaults.rate_per_second, float),
            rate_burst=int(number("RATE_BURST", defaults.rate_burst, int)),
            long_poll_max_seconds=number(
                "LONG_POLL_MAX_SECONDS", defaults.long_poll_max_seconds, float
            ),
            companion_window_seconds=number(
                "COMPANION_WINDOW_SECONDS", defaults.companion_window_seconds, float
            ),
            duckdb_threads=int(number("DUCKDB_THREADS", 0, int)) or None,
            admin_token=env.get("CBEC_ADMIN_TOKEN") or None,
        )
