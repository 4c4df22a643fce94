"""`GET /dashboard`: the operators' live dashboard, and the JSON it reads (docs/statistics.md,
"Dashboard").

Every figure comes from `cbec.stats` over the store (`operations`, `statistics`, `with_growth`,
`headline` on the declaration facts); this module only shapes them into JSON. The page is vanilla
JavaScript with Plotly, whose script cbec serves itself from the installed `plotly` package, so the
page makes no request off the machine.

Access is the operator's (the admin token, `CBEC_ADMIN_TOKEN`), not an enterprise's key: the login
form posts the token and gets a session: a random id in an HttpOnly, SameSite=Strict cookie, whose
hash the service keeps in memory for 12 hours (the token itself never goes into a cookie, and
logging out ends the session). The JSON endpoints take the cookie or `Authorization: Bearer
TOKEN`. Without either: 401 (the page shows the login form).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import importlib.resources
import secrets
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qs

import ibis
import ibis.expr.types as ir
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from cbec.service import auth
from cbec.service.deps import Service, ServiceDep
from cbec.stats import facts, measures
from cbec.stats.facts import Facts
from cbec.stats.periods import Period, PeriodError
from cbec.stats.reference import Reference

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

COOKIE = "cbec_operator"
# Drill-down dimensions -> the `cbec.stats` dimension (facts.DIMENSIONS) they group by.
DRILLS = ("zone", "enterprise", "chapter", "province", "country")
DIRECTIONS = ("", "import", "export")  # a drill-down's direction; empty: both
TOP = 10
DECISION_COLUMNS = (
    "cop_no",
    "agent_code",
    "status",
    "reasons",
    "decl_time",
    "decided_at",
    "trade_mode",
    "value",
    "assessed_tax",
    "province",
    "country",
    "ebc_code",
)


@functools.cache
def _reference() -> Reference:
    return Reference.load()


@functools.cache
def plotly_js() -> bytes:
    """Plotly's JavaScript from the installed `plotly` package."""
    source = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    return source.read_bytes()


def _plain(value: Any) -> Any:
    """JSON-ready: money as a string with its two decimals (exact), times in ISO form."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _rows(table: ir.Table) -> list[dict[str, Any]]:
    plain: list[dict[str, Any]] = _plain(table.to_pyarrow().to_pylist())
    return plain


SESSION_SECONDS = 12 * 3600


class Sessions:
    """The operators' dashboard sessions of this process: the hash of each session id and when
    it ends. A restart ends them all (operators log in again)."""

    def __init__(self, seconds: int = SESSION_SECONDS):
        self.seconds = seconds
        self._ends: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(session: str) -> str:
        return hashlib.sha256(session.encode("utf-8")).hexdigest()

    def start(self) -> str:
        session = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            # Forget ended sessions here, so that the table never grows beyond the live ones.
            self._ends = {k: end for k, end in self._ends.items() if end > now}
            self._ends[self._digest(session)] = now + self.seconds
        return session

    def valid(self, session: str | None) -> bool:
        if not session:
            return False
        with self._lock:
            end = self._ends.get(self._digest(session))
        return end is not None and end > time.monotonic()

    def end(self, session: str | None) -> None:
        if session:
            with self._lock:
                self._ends.pop(self._digest(session), None)


def _sessions(request: Request) -> Sessions:
    state = request.app.state
    with _SESSIONS_LOCK:
        if not hasattr(state, "dashboard_sessions"):
            state.dashboard_sessions = Sessions()
    found: Sessions = state.dashboard_sessions
    return found


_SESSIONS_LOCK = threading.Lock()


def _is_operator(running: Service, request: Request, authorization: str | None) -> bool:
    token = auth.presented_key(authorization, None)
    if token is None:
        return _sessions(request).valid(request.cookies.get(COOKIE))
    return auth.is_admin(running.journal, token)


def _require_operator(running: Service, request: Request, authorization: str | None) -> None:
    if not _is_operator(running, request, authorization):
        raise auth.Refusal(
            401,
            "admin_token_required",
            "The dashboard needs the operator's token: log in at /dashboard, or send "
            "'Authorization: Bearer ADMIN_TOKEN'.",
        )


def _period(source: Facts, text: str | None) -> Period:
    """The period asked for; by default the day of the newest declaration (the store's today)."""
    if text:
        try:
            return Period.parse(text)
        except PeriodError as exc:
            raise auth.Refusal(422, "bad_period", str(exc)) from None
    rows = source.declarations()
    newest = rows.aggregate(newest=rows.decl_time.max()).to_pyarrow().to_pylist()[0]["newest"]
    day = newest.date() if newest is not None else dt.date.today()
    return Period.of("day", day.year, day.month, day.day)


def _with_stats(running: Service, work: Callable[[Facts], dict[str, Any]]) -> dict[str, Any]:
    with running.lock:
        source = Facts(running.store, _reference())
        return work(source)


def _grouped(
    source: Facts,
    by: str,
    period: Period,
    top: int = TOP,
    *,
    directions: bool = False,
    measure: str = "declarations",
    known: bool = False,
) -> list[dict[str, Any]]:
    """The top `top` groups of `by` by `measure`; with `directions`, the top `top` of imports
    and the top `top` of exports (a country is where imports come from and where exports go),
    imports first, so that a direction with few declarations still shows. With `known`, the
    groups without a code (e.g. no zone declared) are left out."""
    groups = ["direction", by] if directions else [by]
    table = measures.statistics(source, groups, period.start, period.end)
    if known:
        table = table.filter(table[by].notnull())
    order = [ibis.desc(measure), by]
    if directions:
        rank = ibis.row_number().over(group_by="direction", order_by=order)
        table = table.mutate(_rank=rank).filter(ibis._["_rank"] < top).drop("_rank")
        # "import" sorts after "export": descending puts imports first.
        return _rows(table.order_by([ibis.desc("direction"), *order]))
    return _rows(table.order_by(order).limit(top))


def _headline(figures: measures.Headline) -> dict[str, Any]:
    return {
        "value": _plain(figures.value),
        "declarations": figures.declarations,
        "value_year_before": _plain(figures.value_year_before),
        "growth_pct": figures.growth_pct,
    }


def _per_minute(source: Facts, period: Period) -> dict[str, Any]:
    day, minutes = measures.per_minute(source, period.start, period.end)
    return {"day": _plain(day), "minutes": _plain(minutes.to_pylist())}


def summary(source: Facts, period: Period, top: int = TOP) -> dict[str, Any]:
    """What the dashboard shows for `period` (see the module docstring), `top` groups of each
    dimension (of each direction, for provinces and countries)."""
    ops = measures.operations(source, period.start, period.end, top=top)
    held = ops.declarations - ops.admitted - ops.rejected - ops.inspected
    year = Period.of("year", period.start.year)
    trend = measures.with_growth(source, ["month"], year.start, year.end)
    figures = measures.headline(source, period)
    exports = measures.headline(source, period, "export")
    return {
        "period": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "operations": {
            "declarations": ops.declarations,
            "admitted": ops.admitted,
            "rejected": ops.rejected,
            "inspected": ops.inspected,
            "selected_for_inspection": ops.selected,
            "inspection_rate": ops.inspection_rate,
            "inspections_recorded": ops.inspections_recorded,
            "inspection_hit_rate": ops.inspection_hit_rate,
            "days": ops.days,
            "parcels_per_day": ops.parcels_per_day,
            "peak_minute": _plain(ops.peak_minute),
            "peak_minute_declarations": ops.peak_minute_declarations,
            "busiest_day": _plain(ops.busiest_day),
            "busiest_day_declarations": ops.busiest_day_declarations,
            "rejection_rate": ops.rejection_rate,
            "decision_seconds": ops.decision_seconds,
        },
        "status_mix": {
            "released": ops.admitted,
            "rejected": ops.rejected,
            "inspection": ops.inspected,
            "held": held,
        },
        "tax": _plain(
            {
                "customs_tax": ops.customs_tax,
                "value_added_tax": ops.value_added_tax,
                "consumption_tax": ops.consumption_tax,
                "tax_total": ops.tax_total,
                "tax_collected": ops.tax_collected,
                "late_fees": ops.late_fees,
            }
        ),
        "headline": _headline(figures),
        "exports": _headline(exports),
        "per_minute": _per_minute(source, period),
        "top_reasons": [{"reason": r, "declarations": n} for r, n in ops.top_reasons],
        "by_province": _grouped(source, "province", period, top, directions=True),
        "by_country": _grouped(source, "country", period, top, directions=True),
        "by_zone": _grouped(source, "zone", period, top, measure="value", known=True),
        "by_enterprise": _grouped(source, "enterprise", period, top),
        "by_chapter": _grouped(source, "chapter", period, top),
        "trend": _plain(trend.to_pylist()),
    }


def drill(
    source: Facts, by: str, value: str, period: Period, direction: str | None = None
) -> dict[str, Any]:
    """The figures of one zone, enterprise, chapter, province or country over `period` (of one
    direction, import or export, when given): its totals, and the same by month and by mode."""
    column = facts.DIMENSIONS[by]
    groups = [by] if direction is None else ["direction", by]

    def only(table: ir.Table) -> ir.Table:
        # An empty value is the group without a code (e.g. province unknown).
        table = table.filter(table[by].isnull() if value == "" else table[by] == value)
        return table if direction is None else table.filter(table.direction == direction)

    def rows(*more: str) -> list[dict[str, Any]]:
        table = measures.statistics(source, [*groups, *more], period.start, period.end)
        return _rows(only(table))

    totals = rows()
    return {
        "by": by,
        "column": column,
        "direction": direction,
        "value": value,
        "period": period.label,
        "totals": totals[0] if totals else None,
        "by_month": rows("month"),
        "by_mode": rows("mode"),
    }


def decisions(source: Facts, limit: int, cop_no: str | None = None) -> list[dict[str, Any]]:
    """The newest decisions (by decision time), or those of one copNo."""
    rows = source.declarations()
    if cop_no is not None:
        rows = rows.filter(rows.cop_no == cop_no)
    rows = rows.order_by([ibis.desc("decided_at"), ibis.desc("decl_time"), "cop_no"])
    return _rows(rows.select(*DECISION_COLUMNS).limit(limit))


@router.get("/static/plotly.min.js", include_in_schema=False)
def plotly_script() -> Response:
    """Plotly's JavaScript, served from the installed package (no CDN)."""
    return Response(
        plotly_js(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("", response_class=HTMLResponse)
def page(
    running: ServiceDep,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    """The dashboard; the login form (401) without the operator's token."""
    if not _is_operator(running, request, authorization):
        return HTMLResponse(login_page(), status_code=401)
    return HTMLResponse(DASHBOARD_PAGE)


@router.post("/login", response_model=None)
async def login(running: ServiceDep, request: Request) -> Response:
    """The login form posts `token`; the right one sets the cookie and goes to the dashboard."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    valid = auth.is_admin(running.journal, token)
    if not valid:
        return HTMLResponse(login_page("That is not the operator's token."), status_code=401)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE,
        _sessions(request).start(),
        httponly=True,
        samesite="strict",
        path="/dashboard",
        max_age=SESSION_SECONDS,
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> RedirectResponse:
    _sessions(request).end(request.cookies.get(COOKIE))
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.get("/api/summary")
def api_summary(
    running: ServiceDep,
    request: Request,
    period: str | None = None,
    top: Annotated[int, Query(ge=1, le=100)] = TOP,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The figures of `period` (2024, 2024-H1, 2024-Q2, 2024-06, 2024-06-15; by default the day
    of the newest declaration), the `top` groups of each dimension (and direction)."""
    _require_operator(running, request, authorization)
    return _with_stats(running, lambda source: summary(source, _period(source, period), top))


@router.get("/api/drill")
def api_drill(
    running: ServiceDep,
    request: Request,
    by: str,
    value: str = "",
    period: str | None = None,
    direction: str = "",
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """One zone, enterprise, chapter, province or country (`by`) with the code `value`; of
    imports or exports only with `direction` (import, export; empty: both)."""
    _require_operator(running, request, authorization)
    if by not in DRILLS:
        raise auth.Refusal(422, "bad_drill", f"by must be one of {', '.join(DRILLS)}")
    if direction not in DIRECTIONS:
        raise auth.Refusal(422, "bad_direction", "direction must be import, export or empty")
    return _with_stats(
        running,
        lambda source: drill(source, by, value, _period(source, period), direction or None),
    )


@router.get("/api/decisions")
def api_decisions(
    running: ServiceDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The stream of the newest decisions, newest first."""
    _require_operator(running, request, authorization)
    return _with_stats(running, lambda source: {"decisions": decisions(source, limit)})


@router.get("/api/declaration/{cop_no}", response_model=None)
def api_declaration(
    running: ServiceDep,
    request: Request,
    cop_no: str,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any] | JSONResponse:
    """The decision on one declaration (every agent that declared this copNo)."""
    _require_operator(running, request, authorization)
    found = _with_stats(running, lambda source: {"decisions": decisions(source, 50, cop_no)})
    if not found["decisions"]:
        return JSONResponse(
            {"error": "not_found", "detail": f"No decision on copNo {cop_no!r}."},
            status_code=404,
        )
    return {"cop_no": cop_no, **found}


def login_page(error: str = "") -> str:
    message = f'<p id="login-error" class="error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cbec dashboard: log in</title>
<style>{STYLE}</style></head>
<body><main class="login">
<h1>cbec dashboard</h1>
<p>Operators only: enter the operator's token (CBEC_ADMIN_TOKEN).</p>
{message}
<form id="login" method="post" action="/dashboard/login">
<label>Token <input id="token" name="token" type="password" autocomplete="current-password"
required></label>
<button id="login-submit" type="submit">Log in</button>
</form></main></body></html>"""


STYLE = """
body { font-family: sans-serif; margin: 1rem 2rem; color: #222; }
.kpis { display: flex; flex-wrap: wrap; gap: 1rem; }
.kpi { border: 1px solid #ccc; border-radius: 6px; padding: .5rem 1rem; min-width: 9rem; }
.kpi b { display: block; font-size: 1.4rem; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1rem; }
.chart { height: 320px; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: .85rem; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
.error { color: #b00; }
"""

_SCRIPT = r"""
const $ = (id) => document.getElementById(id);
const charts = {
  'chart-province': 'province', 'chart-enterprise': 'enterprise', 'chart-chapter': 'chapter',
  'chart-country': 'country', 'chart-zone': 'zone'
};
const DIRECTIONS = { import: 'imports', export: 'exports' };
const names = { province: 'province_name', zone: 'zone_name' };
const category = { type: 'category', automargin: true };
const layout = (title) => ({ title: { text: title }, margin: { t: 40, l: 50, r: 10, b: 60 } });
const config = { displayModeBar: false, responsive: true };
let period = null;

async function api(path) {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (response.status === 401) { window.location.reload(); throw new Error('401'); }
  return [response.status, await response.json()];
}
function cell(row, text, attrs) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  for (const [k, v] of Object.entries(attrs || {})) td.setAttribute(k, v);
  row.appendChild(td);
}
function table(id, header, rows, build) {
  const el = $(id);
  el.innerHTML = '';
  const head = document.createElement('tr');
  for (const h of header) { const th = document.createElement('th'); th.textContent = h;
    head.appendChild(th); }
  el.appendChild(head);
  for (const r of rows) {
    const tr = document.createElement('tr'); build(tr, r); el.appendChild(tr);
  }
}
function setKpi(id, value) {
  const el = $(id);
  el.textContent = value === null || value === undefined ? 'n/a' : String(value);
  el.dataset.value = value === null || value === undefined ? '' : String(value);
}
const codeOf = (r, key) => (r[key] === null ? '' : r[key]);
const labelOf = (r, key) => (r[key] === null || r[key] === '' ? '(unknown)'
  : (names[key] && r[names[key]] ? r[names[key]] + ' ' : '') + r[key]);
function bars(id, rows, key, title, measure) {
  const m = measure || 'declarations';
  Plotly.newPlot(id, [{ type: 'bar', x: rows.map((r) => labelOf(r, key)),
    y: rows.map((r) => Number(r[m])), customdata: rows.map((r) => codeOf(r, key)), name: m }],
    { ...layout(title), xaxis: category }, config);
}
// Imports and exports side by side: one trace each, its direction in the trace's `meta`.
function directionBars(id, rows, key, title, nouns) {
  Plotly.newPlot(id, Object.keys(DIRECTIONS).map((direction) => {
    const mine = rows.filter((r) => r.direction === direction);
    return { type: 'bar', name: nouns[direction], meta: direction,
      x: mine.map((r) => labelOf(r, key)), y: mine.map((r) => r.declarations),
      customdata: mine.map((r) => codeOf(r, key)) };
  }), { ...layout(title), xaxis: category, barmode: 'group' }, config);
}

async function loadSummary() {
  const q = period ? '?period=' + encodeURIComponent(period) : '';
  const [, s] = await api('/dashboard/api/summary' + q);
  period = s.period;
  $('period').value = s.period;
  setKpi('kpi-period', s.period);
  setKpi('kpi-declarations', s.operations.declarations);
  setKpi('kpi-admitted', s.operations.admitted);
  setKpi('kpi-rejected', s.operations.rejected);
  setKpi('kpi-peak-minute', s.operations.peak_minute);
  setKpi('kpi-peak-minute-declarations', s.operations.peak_minute_declarations);
  setKpi('kpi-parcels-per-day', s.operations.parcels_per_day);
  setKpi('kpi-value', s.headline.value);
  setKpi('kpi-growth', s.headline.growth_pct === null ? null : s.headline.growth_pct.toFixed(1));
  setKpi('kpi-export-value', s.exports.value);
  setKpi('kpi-export-growth', s.exports.growth_pct === null ? null
    : s.exports.growth_pct.toFixed(1));
  const minutes = s.per_minute.minutes;
  Plotly.newPlot('chart-minute', [{ type: 'bar', x: minutes.map((r) => r.minute),
    y: minutes.map((r) => r.declarations), name: 'declarations' }],
    layout('Parcels a minute on ' + (s.per_minute.day || 'no day with declarations')), config);
  setKpi('kpi-tax-total', s.tax.tax_total);
  const mix = s.status_mix;
  Plotly.newPlot('chart-status', [{ type: 'pie', labels: Object.keys(mix),
    values: Object.values(mix), hole: 0.4 }], layout('Status mix'), config);
  Plotly.newPlot('chart-trend', [
    { type: 'bar', x: s.trend.map((r) => r.month), y: s.trend.map((r) => Number(r.value)),
      name: 'value (CNY)' },
    { type: 'scatter', mode: 'lines+markers', x: s.trend.map((r) => r.month),
      y: s.trend.map((r) => r.growth_pct), name: 'growth %', yaxis: 'y2' }],
    { ...layout('Monthly value and growth on the year'), xaxis: category,
      yaxis2: { overlaying: 'y', side: 'right', title: { text: 'growth %' } } }, config);
  directionBars('chart-province', s.by_province, 'province', 'By province (declarations)',
    DIRECTIONS);
  directionBars('chart-country', s.by_country, 'country', 'By country (declarations)',
    { import: 'imports (origin)', export: 'exports (destination)' });
  bars('chart-zone', s.by_zone, 'zone', 'Value by pilot zone (CNY)', 'value');
  bars('chart-enterprise', s.by_enterprise, 'enterprise', 'By enterprise (declarations)');
  bars('chart-chapter', s.by_chapter, 'chapter', 'By tariff chapter (declarations)');
  Plotly.newPlot('chart-reasons', [{ type: 'bar', orientation: 'h',
    y: s.top_reasons.map((r) => r.reason), x: s.top_reasons.map((r) => r.declarations) }],
    { ...layout('Top rejection reasons'), yaxis: category }, config);
  const taxes = ['customs_tax', 'value_added_tax', 'consumption_tax'];
  Plotly.newPlot('chart-tax', [{ type: 'bar', x: taxes, y: taxes.map((t) => Number(s.tax[t])) }],
    { ...layout('Tax assessed (CNY)'), xaxis: category }, config);
  for (const [id, by] of Object.entries(charts)) {
    $(id).on('plotly_click', (event) => {
      const point = event.points[0];
      drill(by, point.customdata, point.data.meta || '');
    });
  }
  table('reasons-table', ['reason', 'declarations'], s.top_reasons, (tr, r) => {
    cell(tr, r.reason, { 'data-reason': r.reason });
    cell(tr, r.declarations, { 'data-reason-count': r.reason });
  });
  table('province-table', ['direction', 'province', 'name', 'declarations', 'value', 'tax'],
    s.by_province, (tr, r) => {
      const code = r.direction + ':' + codeOf(r, 'province');
      cell(tr, r.direction); cell(tr, r.province); cell(tr, r.province_name);
      cell(tr, r.declarations, { 'data-province-declarations': code });
      cell(tr, r.value, { 'data-province-value': code });
      cell(tr, r.tax_total, { 'data-province-tax': code });
    });
  table('country-table', ['direction', 'country', 'declarations', 'value'], s.by_country,
    (tr, r) => {
    const code = r.direction + ':' + (r.country === null ? '' : r.country);
    cell(tr, r.direction); cell(tr, r.country);
    cell(tr, r.declarations, { 'data-country-declarations': code });
    cell(tr, r.value, { 'data-country-value': code });
  });
  table('zone-table', ['zone', 'name', 'declarations', 'value', 'tax'], s.by_zone, (tr, r) => {
    cell(tr, r.zone); cell(tr, r.zone_name);
    cell(tr, r.declarations, { 'data-zone-declarations': r.zone });
    cell(tr, r.value, { 'data-zone-value': r.zone });
    cell(tr, r.tax_total, { 'data-zone-tax': r.zone });
  });
  $('dashboard').dataset.loaded = 'summary';
}

async function loadDecisions() {
  const [, d] = await api('/dashboard/api/decisions?limit=20');
  table('decisions-table', ['copNo', 'status', 'reasons', 'decided at', 'value', 'tax'],
    d.decisions, (tr, r) => {
      tr.dataset.copNo = r.cop_no;
      cell(tr, r.cop_no); cell(tr, r.status, { 'data-status': r.cop_no });
      cell(tr, (r.reasons || []).join(', ')); cell(tr, r.decided_at);
      cell(tr, r.value, { 'data-value': r.cop_no });
      cell(tr, r.assessed_tax, { 'data-tax': r.cop_no });
    });
  $('decisions-table').dataset.loaded = String(d.decisions.length);
}

async function drill(by, value, direction) {
  const q = new URLSearchParams({ by: by, value: value === null ? '' : value, period: period,
    direction: direction });
  const [, d] = await api('/dashboard/api/drill?' + q);
  const t = d.totals || {};
  $('drill-title').textContent = by + ' ' + (value === '' ? '(unknown)' : value)
    + (direction ? ' (' + DIRECTIONS[direction] + ')' : '');
  const box = $('drill');
  box.dataset.by = by; box.dataset.value = value; box.dataset.direction = direction;
  setKpi('drill-declarations', t.declarations === undefined ? 0 : t.declarations);
  setKpi('drill-admitted', t.admitted === undefined ? 0 : t.admitted);
  setKpi('drill-rejected', t.rejected === undefined ? 0 : t.rejected);
  setKpi('drill-value', t.value === undefined ? '0.00' : t.value);
  setKpi('drill-tax', t.tax_total === undefined ? '0.00' : t.tax_total);
  table('drill-modes', ['mode', 'declarations', 'value'], d.by_mode, (tr, r) => {
    cell(tr, r.mode); cell(tr, r.declarations, { 'data-mode-declarations': r.mode });
    cell(tr, r.value, { 'data-mode-value': r.mode });
  });
  box.hidden = false;
  box.dataset.loaded = by + ':' + value;
}

async function lookup(event) {
  event.preventDefault();
  const cop = $('lookup-cop').value.trim();
  if (!cop) return;
  const [status, d] = await api('/dashboard/api/declaration/' + encodeURIComponent(cop));
  const out = $('lookup-result');
  out.dataset.copNo = cop;
  if (status !== 200) {
    out.textContent = d.detail; out.dataset.loaded = 'missing'; return;
  }
  out.innerHTML = '';
  const t = document.createElement('table');
  t.id = 'lookup-table';
  out.appendChild(t);
  table('lookup-table', ['agent', 'status', 'reasons', 'declared', 'decided', 'value', 'tax',
    'province', 'country'], d.decisions, (tr, r) => {
      cell(tr, r.agent_code); cell(tr, r.status, { 'data-lookup-status': r.agent_code });
      cell(tr, (r.reasons || []).join(', '), { 'data-lookup-reasons': r.agent_code });
      cell(tr, r.decl_time); cell(tr, r.decided_at);
      cell(tr, r.value, { 'data-lookup-value': r.agent_code });
      cell(tr, r.assessed_tax, { 'data-lookup-tax': r.agent_code });
      cell(tr, r.province); cell(tr, r.country);
    });
  out.dataset.loaded = 'found';
}

async function refresh() { await loadSummary(); await loadDecisions(); }
$('period-form').addEventListener('submit', (e) => {
  e.preventDefault(); period = $('period').value.trim() || null; refresh();
});
$('lookup').addEventListener('submit', lookup);
refresh();
setInterval(loadDecisions, 10000);
"""

_KPIS = (
    ("kpi-period", "period"),
    ("kpi-declarations", "parcels (declarations)"),
    ("kpi-admitted", "released"),
    ("kpi-rejected", "rejected"),
    ("kpi-parcels-per-day", "parcels a day"),
    ("kpi-peak-minute", "peak minute"),
    ("kpi-peak-minute-declarations", "parcels in the peak minute"),
    ("kpi-value", "imports released (CNY)"),
    ("kpi-growth", "imports: growth on the year (%)"),
    ("kpi-export-value", "exports released (CNY)"),
    ("kpi-export-growth", "exports: growth on the year (%)"),
    ("kpi-tax-total", "tax assessed (CNY)"),
)
CHARTS = (
    "chart-status",
    "chart-minute",
    "chart-trend",
    "chart-province",
    "chart-country",
    "chart-zone",
    "chart-enterprise",
    "chart-chapter",
    "chart-reasons",
    "chart-tax",
)

DASHBOARD_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cbec dashboard</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
<script src="/dashboard/static/plotly.min.js"></script></head>
<body><main id="dashboard">
<h1>cbec dashboard</h1>
<form id="period-form">Period <input id="period" placeholder="2024-06-15, 2024-06, 2024-Q2, 2024">
<button type="submit">Show</button></form>
<form method="post" action="/dashboard/logout"><button id="logout">Log out</button></form>
<section class="kpis">
{"".join(f'<div class="kpi">{label}<b id="{id_}"></b></div>' for id_, label in _KPIS)}
</section>
<section class="charts">
{"".join(f'<div class="chart" id="{id_}"></div>' for id_ in CHARTS)}
</section>
<section id="drill" hidden><h2>Drill-down: <span id="drill-title"></span></h2>
<div class="kpis">
<div class="kpi">declarations<b id="drill-declarations"></b></div>
<div class="kpi">released<b id="drill-admitted"></b></div>
<div class="kpi">rejected<b id="drill-rejected"></b></div>
<div class="kpi">value (CNY)<b id="drill-value"></b></div>
<div class="kpi">tax (CNY)<b id="drill-tax"></b></div>
</div><table id="drill-modes"></table></section>
<section><h2>One declaration</h2>
<form id="lookup"><input id="lookup-cop" placeholder="copNo"><button id="lookup-submit"
type="submit">Look up</button></form><div id="lookup-result"></div></section>
<section><h2>Recent decisions</h2><table id="decisions-table"></table></section>
<section><h2>Top rejection reasons</h2><table id="reasons-table"></table></section>
<section><h2>By province</h2><table id="province-table"></table></section>
<section><h2>By country</h2><table id="country-table"></table></section>
<section><h2>By pilot zone</h2><table id="zone-table"></table></section>
</main>
<script>{_SCRIPT}</script>
</body></html>"""
