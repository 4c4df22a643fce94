"""What every route needs: the running service, and the enterprise calling."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from cbec.enterprises import Enterprise
from cbec.service import auth
from cbec.service.batcher import Batcher
from cbec.service.journal import Journal
from cbec.service.metrics import Metrics
from cbec.service.settings import Settings
from cbec.store.embedded import Store


class ReceiptSignal:
    """Wakes the long polls of `GET /v1/receipts` when a batch records receipts. The count tells
    a poller whether receipts came between its query and its wait (no lost wake-up)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.count = 0

    def notify(self) -> None:
        with self.condition:
            self.count += 1
            self.condition.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Waits up to `timeout` unless receipts were recorded since the count was `seen`."""
        with self.condition:
            if self.count == seen:
                self.condition.wait(timeout)


@dataclass
class Service:
    store: Store
    settings: Settings
    # The batcher's lock on the store's own connection (a DuckDB connection is used by one
    # thread at a time); the dashboard takes it too.
    lock: threading.RLock
    metrics: Metrics
    limiter: auth.RateLimiter
    batcher: Batcher
    receipts_recorded: ReceiptSignal
    # The intake and receipt logs: requests (keys, intake, receipts, decisions, health) use
    # its own connection, so that an acknowledgement never waits for a micro-batch to clear.
    journal: Journal


def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


ServiceDep = Annotated[Service, Depends(service)]


def caller(
    running: ServiceDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Enterprise:
    """The enterprise whose key the request carries. Refusal 401 otherwise."""
    key = auth.presented_key(authorization, x_api_key)
    return auth.enterprise_by_key(running.journal, key)


CallerDep = Annotated[Enterprise, Depends(caller)]
