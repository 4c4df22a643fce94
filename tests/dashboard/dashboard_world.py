"""The dashboard test world (its fixtures are in conftest.py): a small day cleared by
`cbec.pipeline.clear`, served by uvicorn on a free port of 127.0.0.1, and a headless Chromium
(Debian's, driven by Playwright)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from builders import declaration, merge, write_jsonl
from cbec.pipeline import Policy, clear
from cbec.service import auth
from cbec.service.app import create_app, create_service
from cbec.service.settings import Settings
from cbec.store.embedded import Store
from export_builders import parcel
from export_builders import write as write_exports

ADMIN_TOKEN = "dashboard-operator-secret"
ARTIFACTS = Path(__file__).parent / "artifacts"
CLOTHING = "6111200050"
COSMETICS = "3304990099"
HANGZHOU = "3301960002"  # an area of the Hangzhou pilot zone (registry code 3301)
SHANGHAI = "3101960001"  # an area of the Shanghai pilot zone (registry code 31)


def chromium_executable() -> str | None:
    """The system's Chromium (Debian's `chromium`), if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _day() -> dict[str, list[dict[str, Any]]]:
    """Ten imported parcels on 18 June 2024 (and one a year before, for the growth): released
    ones from Japan, Korea and the United States, through three customs offices, and rejected
    ones. D3 and D10 declare an area of the Hangzhou pilot zone (3301), D5 one of Shanghai's
    (31)."""
    clothes = [{"gcode": CLOTHING, "qty": 1, "price": "100"}]
    mixed = [
        {"gcode": COSMETICS, "qty": 1, "price": "300.00"},
        {"gcode": CLOTHING, "qty": 1, "price": "100.00"},
    ]

    def at(country: str, customs: str = "2991", area: str | None = None) -> dict[str, Any]:
        return {"inventories": {"country": country, "customs_code": customs, "area_code": area}}

    return merge(
        declaration("Y1", clothes, when="2023-06-18T10:00:00", alter=at("116")),
        declaration("D1", clothes, when="2024-06-18T09:00:00", alter=at("116")),
        declaration("D2", clothes, when="2024-06-18T09:00:10", alter=at("116")),
        declaration("D3", mixed, when="2024-06-18T09:00:20", alter=at("133", "2244", HANGZHOU)),
        declaration("D4", clothes, when="2024-06-18T09:00:30", alter=at("502", "2244")),
        declaration("D5", mixed, when="2024-06-18T10:15:00", alter=at("502", "4211", SHANGHAI)),
        declaration("D6", clothes, when="2024-06-18T11:00:00", alter=at("116")),
        declaration("D7", clothes, when="2024-06-18T11:30:00", alter=at("116"), omit=("payments",)),
        declaration("D8", clothes, when="2024-06-18T12:00:00", alter=at("133"), omit=("waybills",)),
        declaration("D9", clothes, when="2024-06-18T12:30:00", alter=at("502"), omit=("payments",)),
        declaration("D10", mixed, when="2024-06-18T13:00:00", alter=at("116", "4211", HANGZHOU)),
    )


def _exports() -> list[dict[str, Any]]:
    """Three export lists on the same day, each 120.00 CNY (export_builders.LINES), all
    released: two to the United States (502) through Guangzhou Nansha (5141, Guangdong 44), one
    to the United Kingdom (303) through Chengdu (5101, Sichuan 51)."""
    return [
        parcel(1, country="502", when=dt.datetime(2024, 6, 18, 14, 0)),
        parcel(2, country="502", when=dt.datetime(2024, 6, 18, 14, 10)),
        parcel(3, country="303", when=dt.datetime(2024, 6, 18, 14, 20), customs="5101"),
    ]


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT
    root: Path

    def get(self, path: str, token: str | None = ADMIN_TOKEN) -> tuple[int, Any]:
        request = urllib.request.Request(self.base + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=180) as response:
                body = response.read()
                status = response.status
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            body, status, kind = error.read(), error.code, error.headers.get("Content-Type", "")
        return status, json.loads(body) if kind.startswith("application/json") else body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(root: Path) -> Iterator[Served]:
    """The service over a store holding the cleared day, on a free port."""
    store = Store(root / "cbec.duckdb")
    try:
        write_exports(root / "exports", _exports())
        imports = write_jsonl(root / "day", _day())
        clear([imports, root / "exports"], store, root / "out", Policy.load())
        service = create_service(store, Settings())
        auth.set_admin_token(service.journal, ADMIN_TOKEN)
        app = create_app(service, run_batcher=False)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield Served(f"http://127.0.0.1:{port}", root)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    finally:
        store.close()


@contextmanager
def launch() -> Iterator[Any]:
    """Headless Chromium: the system's when installed (Debian's package), else Playwright's own
    download if present. Skipped only when no Chromium executable is found at all."""
    executable = chromium_executable()
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=executable, headless=True, args=["--no-sandbox"]
            )
        except PlaywrightError as exc:
            if executable is None:
                pytest.skip(f"no Chromium executable found (apt-get install chromium): {exc}")
            raise
        try:
            yield launched
        finally:
            launched.close()
