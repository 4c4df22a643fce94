"""The dashboard in a real headless Chromium: it loads with no request leaving the machine, every
chart renders, the numbers shown are the API's, a drill-down and a declaration lookup work.
Screenshots go to tests/dashboard/artifacts/."""

from __future__ import annotations

import http.client
import importlib.resources
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from dashboard_world import ADMIN_TOKEN, ARTIFACTS, Served

from cbec.service.routes.dashboard import CHARTS

# The page's figures are computed when it asks; on a CI machine busy with the rest of the suite
# that takes longer than Playwright's default 30 s (waits end as soon as the page is ready).
PAGE_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def session(served: Served, browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page logged in to the dashboard, and every URL it requested."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(served.base + "/dashboard")
    assert page.locator("#login").is_visible()
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    page.fill("#token", ADMIN_TOKEN)
    page.click("#login-submit")
    page.wait_for_selector("#dashboard[data-loaded='summary']")
    page.wait_for_selector("#decisions-table[data-loaded]", state="attached")
    try:
        yield page, requested
    finally:
        context.close()


def test_without_the_operator_token_401(served: Served) -> None:
    status, body = served.get("/dashboard/api/summary", token=None)
    assert status == 401 and body["error"] == "admin_token_required"
    assert served.get("/dashboard/api/summary", token="wrong")[0] == 401
    status, page = served.get("/dashboard", token=None)
    assert status == 401 and b'id="login"' in page


def _request(served: Served, method: str, path: str, **headers: str) -> Any:
    url = urlsplit(served.base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=120)
    body = urlencode({"token": ADMIN_TOKEN}) if path.endswith("/login") else None
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_session_cookie_is_not_the_token_and_ends_at_logout(served: Served) -> None:
    login = _request(served, "POST", "/dashboard/login")
    assert login.status == 303
    cookie = SimpleCookie(login.getheader("Set-Cookie"))["cbec_operator"]
    assert cookie.value and cookie.value != ADMIN_TOKEN
    assert cookie["httponly"] and cookie["samesite"].lower() == "strict"
    session = f"cbec_operator={cookie.value}"
    assert _request(served, "GET", "/dashboard/api/summary", Cookie=session).status == 200
    # The token itself in the cookie is not a session.
    forged = f"cbec_operator={ADMIN_TOKEN}"
    assert _request(served, "GET", "/dashboard/api/summary", Cookie=forged).status == 401
    assert _request(served, "POST", "/dashboard/logout", Cookie=session).status == 303
    assert _request(served, "GET", "/dashboard/api/summary", Cookie=session).status == 401


def test_a_wrong_token_shows_the_form_again(served: Served, browser: Any) -> None:
    page = browser.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page.goto(served.base + "/dashboard")
        page.fill("#token", "not-the-token")
        page.click("#login-submit")
        page.wait_for_selector("#login-error")
        assert page.locator("#dashboard").count() == 0
    finally:
        page.close()


def test_plotly_is_served_from_the_installed_package(served: Served) -> None:
    status, body = served.get("/dashboard/static/plotly.min.js", token=None)
    packaged = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    assert status == 200 and body == packaged.read_bytes()


def test_the_page_requests_nothing_off_the_machine(session: tuple[Any, list[str]]) -> None:
    _, requested = session
    assert requested, "no request recorded"
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, requested
    assert any(url.endswith("/dashboard/static/plotly.min.js") for url in requested)


def test_every_chart_renders_an_svg(session: tuple[Any, list[str]]) -> None:
    page, _ = session
    for chart in CHARTS:
        assert page.locator(f"#{chart} .main-svg").count() >= 1, chart
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def _shown(page: Any, selector: str) -> str:
    text: str = page.locator(selector).inner_text()
    return text.strip()


def test_the_numbers_shown_are_the_apis(served: Served, session: tuple[Any, list[str]]) -> None:
    page, _ = session
    status, summary = served.get("/dashboard/api/summary")
    assert status == 200
    assert summary["period"] == "2024-06-18"
    ops = summary["operations"]
    # The day of dashboard_world.py: ten imported parcels, three rejected, seven released; three
    # export lists, released.
    assert (ops["declarations"], ops["rejected"], ops["admitted"]) == (13, 3, 10)
    assert ops["peak_minute_declarations"] == 4
    # Parcels a minute on the period's last day: every declaration of the day, once.
    minutes = summary["per_minute"]
    assert minutes["day"] == "2024-06-18"
    assert sum(m["declarations"] for m in minutes["minutes"]) == 13
    assert max(m["declarations"] for m in minutes["minutes"]) == 4
    assert summary["exports"] == {
        "value": "360.00",  # three lists of 120.00
        "declarations": 3,
        "value_year_before": None,
        "growth_pct": None,
    }
    expected = {
        "#kpi-period": summary["period"],
        "#kpi-declarations": str(ops["declarations"]),
        "#kpi-admitted": str(ops["admitted"]),
        "#kpi-rejected": str(ops["rejected"]),
        "#kpi-peak-minute-declarations": str(ops["peak_minute_declarations"]),
        "#kpi-peak-minute": ops["peak_minute"],
        "#kpi-value": summary["headline"]["value"],
        "#kpi-tax-total": summary["tax"]["tax_total"],
        "#kpi-growth": f"{summary['headline']['growth_pct']:.1f}",
        "#kpi-export-value": summary["exports"]["value"],
        "#kpi-export-growth": "n/a",  # no exports a year before
    }
    for selector, value in expected.items():
        assert _shown(page, selector) == value, selector
    for row in summary["by_province"]:
        code = f"{row['direction']}:{row['province'] or ''}"
        assert _shown(page, f"[data-province-declarations='{code}']") == str(row["declarations"])
        assert _shown(page, f"[data-province-value='{code}']") == row["value"]
    for row in summary["by_country"]:
        code = f"{row['direction']}:{row['country'] or ''}"
        assert _shown(page, f"[data-country-declarations='{code}']") == str(row["declarations"])
        assert _shown(page, f"[data-country-value='{code}']") == row["value"]
    for row in summary["by_zone"]:
        assert _shown(page, f"[data-zone-declarations='{row['zone']}']") == str(row["declarations"])
        assert _shown(page, f"[data-zone-value='{row['zone']}']") == row["value"]
    for row in summary["top_reasons"]:
        assert _shown(page, f"[data-reason-count='{row['reason']}']") == str(row["declarations"])
    status, stream = served.get("/dashboard/api/decisions?limit=20")
    assert status == 200 and len(stream["decisions"]) == 14
    for row in stream["decisions"]:
        assert _shown(page, f"[data-status='{row['cop_no']}']") == str(row["status"])
        assert _shown(page, f"[data-tax='{row['cop_no']}']") == row["assessed_tax"]


def _exports_and_imports(rows: list[dict[str, Any]], by: str) -> dict[tuple[str, str], Any]:
    return {(row["direction"], row[by]): (row["declarations"], row["value"]) for row in rows}


def test_imports_and_exports_by_country_and_province(
    served: Served, session: tuple[Any, list[str]]
) -> None:
    """Each direction keeps its own top: the export destinations and the exporting provinces
    show beside the imports (the page's cells are compared in test_the_numbers_shown...)."""
    page, _ = session
    status, summary = served.get("/dashboard/api/summary")
    assert status == 200
    countries = _exports_and_imports(summary["by_country"], "country")
    assert countries[("export", "502")] == (2, "240.00")
    assert countries[("export", "303")] == (1, "120.00")
    assert countries[("import", "116")] == (5, "700.00")
    provinces = _exports_and_imports(summary["by_province"], "province")
    assert provinces[("export", "44")] == (2, "240.00")  # Guangzhou Nansha
    assert provinces[("export", "51")] == (1, "120.00")  # Chengdu
    for direction, code in (("export", "502"), ("export", "303")):
        shown = _shown(page, f"[data-country-value='{direction}:{code}']")
        assert shown == countries[(direction, code)][1]
    for direction, code in (("export", "44"), ("export", "51")):
        shown = _shown(page, f"[data-province-value='{direction}:{code}']")
        assert shown == provinces[(direction, code)][1]
    # The top N is per direction: with one group each, imports keep Japan and exports the USA
    # (a top 1 over both would have kept Japan's imports only).
    status, top = served.get("/dashboard/api/summary?top=1")
    assert status == 200
    assert [(r["direction"], r["country"]) for r in top["by_country"]] == [
        ("import", "116"),
        ("export", "502"),
    ]
    assert [(r["direction"], r["province"]) for r in top["by_province"]] == [
        ("import", "33"),
        ("export", "44"),
    ]


def _click_bar(page: Any, chart: str, trace: int) -> None:
    """Clicks the first bar of the chart's trace number `trace` (0: the first)."""
    page.evaluate("document.getElementById('drill').dataset.loaded = ''")
    bar = page.locator(f"#{chart} .trace.bars").nth(trace).locator(".point path").first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


@pytest.mark.parametrize(
    "chart,trace,by,expected",
    [
        ("chart-province", 0, "province", ("33", "import", 8, "1100.00")),
        ("chart-chapter", 0, "chapter", None),
        # The pilot-zone chart shows value: Hangzhou first, D3 and D10 (400.00 each).
        ("chart-zone", 0, "zone", ("3301", "", 2, "800.00")),
        # The imports' enterprise declares all ten imported parcels.
        ("chart-enterprise", 0, "enterprise", ("3301960001", "", 10, "1600.00")),
        # The exports' trace of the country chart: the USA as a destination only.
        ("chart-country", 1, "country", ("502", "export", 2, "240.00")),
    ],
)
def test_clicking_a_bar_drills_down(
    served: Served,
    session: tuple[Any, list[str]],
    chart: str,
    trace: int,
    by: str,
    expected: tuple[str, str, int, str] | None,
) -> None:
    page, _ = session
    _click_bar(page, chart, trace)
    page.wait_for_selector(f"#drill[data-loaded^='{by}:']")
    value = page.locator("#drill").get_attribute("data-value")
    direction = page.locator("#drill").get_attribute("data-direction")
    query = urlencode({"by": by, "value": value, "period": "2024-06-18", "direction": direction})
    status, drilled = served.get(f"/dashboard/api/drill?{query}")
    assert status == 200 and drilled["totals"] is not None
    totals = drilled["totals"]
    if expected is not None:
        assert (value, direction, totals["declarations"], totals["value"]) == expected
    assert _shown(page, "#drill-declarations") == str(totals["declarations"])
    assert _shown(page, "#drill-admitted") == str(totals["admitted"])
    assert _shown(page, "#drill-value") == totals["value"]
    assert _shown(page, "#drill-tax") == totals["tax_total"]
    for row in drilled["by_mode"]:
        assert _shown(page, f"[data-mode-declarations='{row['mode']}']") == str(row["declarations"])
    page.locator("#drill").screenshot(path=str(ARTIFACTS / f"drill-{by}-{trace}.png"))


def test_looking_up_a_declaration(served: Served, session: tuple[Any, list[str]]) -> None:
    page, _ = session
    status, found = served.get("/dashboard/api/declaration/D7")
    assert status == 200 and [row["status"] for row in found["decisions"]] == [100]
    page.fill("#lookup-cop", "D7")
    page.click("#lookup-submit")
    page.wait_for_selector("#lookup-result[data-loaded='found'][data-cop-no='D7']")
    row = found["decisions"][0]
    agent = row["agent_code"]
    assert _shown(page, f"[data-lookup-status='{agent}']") == "100"
    assert _shown(page, f"[data-lookup-reasons='{agent}']") == ", ".join(row["reasons"])
    page.locator("#lookup-result").screenshot(path=str(ARTIFACTS / "lookup.png"))
    assert served.get("/dashboard/api/declaration/NOPE")[0] == 404
    page.fill("#lookup-cop", "NOPE")
    page.click("#lookup-submit")
    page.wait_for_selector("#lookup-result[data-loaded='missing'][data-cop-no='NOPE']")


def test_bad_requests_say_what_to_write(served: Served) -> None:
    status, body = served.get("/dashboard/api/summary?period=June")
    assert status == 422 and body["error"] == "bad_period"
    status, body = served.get("/dashboard/api/drill?by=planet&value=x")
    assert status == 422 and body["error"] == "bad_drill"
    assert served.get("/dashboard/api/decisions?limit=0")[0] == 422


def test_the_summary_of_a_month_has_its_trend(served: Served) -> None:
    status, summary = served.get("/dashboard/api/summary?period=2024-06")
    assert status == 200 and summary["operations"]["declarations"] == 13
    june = [row for row in summary["trend"] if row["month"] == "2024-06"]
    assert len(june) == 1 and june[0]["growth_pct"] is not None
    assert summary["headline"]["value_year_before"] == june[0]["value_year_before"]
