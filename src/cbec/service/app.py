"""The FastAPI application of `cbec serve`, built around one open store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cbec import pipeline
from cbec.service import auth, intake, masking
from cbec.service.batcher import Batcher
from cbec.service.deps import ReceiptSignal, Service
from cbec.service.journal import open_journal
from cbec.service.metrics import Metrics
from cbec.service.routes import (
    admin,
    dashboard,
    declarations,
    health,
    messages,
    outcomes,
    receipts,
)
from cbec.service.settings import Settings
from cbec.store.embedded import Store


def create_service(
    store: Store,
    settings: Settings,
    policy: pipeline.Policy | None = None,
    clock: Callable[[], dt.datetime] = intake.now,
) -> Service:
    """The service's parts around `store` (its intake and receipt tables created if needed);
    `clock` is the wall clock in China Standard Time (tests give their own)."""
    policy = policy or pipeline.Policy.load()  # first: a policy that fails opens nothing
    journal = open_journal(store)
    lock = threading.RLock()
    metrics = Metrics()
    recorded = ReceiptSignal()
    batcher = Batcher(store, journal, lock, policy, settings, metrics, recorded.notify, clock)
    return Service(
        store=store,
        settings=settings,
        lock=lock,
        metrics=metrics,
        limiter=auth.RateLimiter(settings.rate_per_second, settings.rate_burst),
        batcher=batcher,
        receipts_recorded=recorded,
        journal=journal,
    )


def create_app(service: Service, run_batcher: bool = True) -> FastAPI:
    """The application; with `run_batcher`, the micro-batcher runs in a thread while it serves
    (tests drive it instead with `service.batcher.flush()`)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        masking.install()  # after uvicorn has set up its log handlers
        if run_batcher:
            service.batcher.start()
        try:
            yield
        finally:
            if run_batcher:
                service.batcher.stop()

    app = FastAPI(
        title="cbec",
        summary="Online clearance of cross-border e-commerce parcels: CEB messages in, receipts "
        "out.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = service
    for module in (messages, receipts, declarations, health, admin, outcomes, dashboard):
        app.include_router(module.router)

    @app.exception_handler(auth.Refusal)
    async def refused(_: Request, exc: auth.Refusal) -> JSONResponse:
        headers = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if exc.status == 429:
            headers["Retry-After"] = "1"
        return JSONResponse(
            {"error": exc.code, "detail": exc.detail}, status_code=exc.status, headers=headers
        )

    return app
