"""The console's pages: server-rendered Jinja2 views over the ORM, one per screen."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from anju.clock import isoformat
from anju.console import charts, queries, report
from anju.console.household_import import COLUMNS as IMPORT_COLUMNS
from anju.console.i18n import LANG_COOKIE, normalize
from anju.console.page import Page, signed_in_page
from anju.console.responder import router as responder_router
from anju.dispatch import access, sla
from anju.dispatch.service import ResponderKind
from anju.domain import IncidentState, Outcome, Role
from anju.store.models import Incident
from anju.web.deps import TOKEN_COOKIE, decode_token, get_context, user_for_token
from anju.web.session import (
    ACTING_ROLES,
    IMPORT_ROLES,
    REPORT_ROLES,
    STAFF_ROLES,
    clear_login_cookies,
    is_secure,
    same_origin,
    set_login_cookies,
)
from anju.web.signin import LoginOutcome, client_address, revoke, sign_in

STATIC_DIR = Path(__file__).parent / "static"
INCIDENT_EVENT_HOURS = queries.INCIDENT_EVENT_HOURS
HOUSEHOLD_EVENT_HOURS = 24
#: Transition buttons in loop order, each with its keyboard key.
TRANSITION_ORDER = tuple(s.value for s in IncidentState if s is not IncidentState.OPEN)
TRANSITION_KEYS = {"acknowledged": "a", "dispatched": "d", "resolved": "x", "follow_up": "u", "closed": "c"}
RESPONDER_KINDS = tuple(k.value for k in ResponderKind)
HANDOVER_CLOSED_STATES = frozenset({IncidentState.OPEN.value, IncidentState.CLOSED.value})
#: The acknowledgement targets the report measures, with the share each should reach (UK TEC code).
REPORT_ACK_TARGETS = tuple(zip(sla.ACK_TARGETS_S, (0.975, 0.99), strict=True))

router = APIRouter(include_in_schema=False)
router.include_router(responder_router)


def _safe_next(value: str | None) -> str:
    # Only same-site paths: "//evil.example" or "https://…" would make the login an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login")
async def login_form(request: Request) -> Response:
    ctx = get_context(request)
    page = Page(request, ctx, None)
    expired = request.query_params.get("expired")
    return page.render(
        "login.html",
        title_key="title.login",
        next_url=_safe_next(request.query_params.get("next")),
        error_key="login.expired" if expired else None,
        username="",
    )


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = get_context(request)
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    page = Page(request, ctx, None)
    if not same_origin(request):
        return page.render(
            "login.html",
            title_key="title.login",
            status_code=403,
            next_url=next_url,
            error_key="login.error_origin",
            username=username,
        )
    attempt = await sign_in(ctx, request, username=username, password=password, via="console")
    user, token = attempt.user, attempt.token
    if attempt.outcome is LoginOutcome.THROTTLED:
        page_response = page.render(
            "login.html",
            title_key="title.login",
            status_code=429,
            next_url=next_url,
            error_key="login.error_throttled",
            username=username,
        )
        page_response.headers["Retry-After"] = str(attempt.retry_after_s)
        return page_response
    if user is None or token is None:
        return page.render(
            "login.html",
            title_key="title.login",
            status_code=401,
            next_url=next_url,
            error_key="login.error_invalid",
            username=username,
        )
    response = RedirectResponse(next_url, status_code=303)
    set_login_cookies(response, token=token, max_age=ctx.settings.token_ttl_s, secure=is_secure(request, ctx))
    if user.language and normalize(user.language) and not request.cookies.get(LANG_COOKIE):
        response.set_cookie(
            LANG_COOKIE, normalize(user.language) or "zh-CN", max_age=365 * 24 * 3600, samesite="lax"
        )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out without script: the cookie's token is revoked as by ``POST /api/v1/auth/logout``."""
    ctx = get_context(request)
    token = request.cookies.get(TOKEN_COOKIE)
    claims = decode_token(ctx, token) if token and same_origin(request) else None
    if claims is not None:
        async with ctx.db() as session:
            user = await user_for_token(session, claims)
        if user is not None:
            await revoke(ctx, claims, actor=user.username, address=client_address(request), via="console")
    response = RedirectResponse("/login", status_code=303)
    clear_login_cookies(response)
    return response


@router.get("/")
async def queue_page(request: Request) -> Response:
    page = await signed_in_page(request)
    if not isinstance(page, Page):
        return page
    assert page.user is not None
    if page.user.role == Role.RESPONDER.value:
        return await _my_incidents(page)
    config = {
        "snapshot_url": "/api/v1/stream/queue",
        "stream_url": "/api/v1/stream",
        "can_act": page.user.role in ACTING_ROLES,
        "server_now": isoformat(page.ctx.clock.now()),
    }
    return page.render("queue.html", title_key="title.queue", nav="queue", queue_config=config)


async def _my_incidents(page: Page) -> Response:
    assert page.user is not None
    incidents: list[Incident] = []
    if page.user.contact_id is not None:
        async with page.ctx.db() as session:
            incidents = list(
                (
                    await session.scalars(
                        select(Incident)
                        .where(Incident.responder_contact_id == page.user.contact_id)
                        .order_by(Incident.opened_at.desc())
                        .limit(50)
                    )
                ).all()
            )
    return page.render("my_incidents.html", title_key="title.my_incidents", nav="queue", incidents=incidents)


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: int) -> Response:
    page = await signed_in_page(request)
    if not isinstance(page, Page):
        return page
    user = page.user
    assert user is not None
    async with page.ctx.db() as session:
        view = await queries.incident_view(
            session, incident_id, now=page.ctx.clock.now(), hours=INCIDENT_EVENT_HOURS
        )
        # A responder learns nothing of incidents not dispatched to them: the same 404 as the API.
        if view is None or not access.can_view(user, view.incident):
            return page.error(404, "error.not_found")
        inc = view.incident
        # Hand-over (supervisors, admins, the owner) runs between acknowledgement and closing.
        can_hand_over = access.transfer_refusal(user, inc) is None and inc.state not in HANDOVER_CLOSED_STATES
        candidates = await queries.handover_candidates(session, exclude=inc.owner_id) if can_hand_over else []
    # The buttons are exactly the API's allowed list for this user, in loop order.
    permitted = set(access.allowed_transitions(user, inc))
    allowed = [s for s in TRANSITION_ORDER if s in permitted]
    settled = inc.follow_up_done_at is not None or bool(inc.follow_up_waived_reason)
    can_settle = (
        access.follow_up_refusal(user) is None
        and inc.state in (IncidentState.RESOLVED.value, IncidentState.FOLLOW_UP.value)
        and inc.follow_up_due_at is not None
        and not settled
    )
    can_arrive = (
        inc.state == IncidentState.DISPATCHED.value
        and inc.arrived_at is None
        and access.act_refusal(user, inc) is None
    )
    can_note = access.note_refusal(user, inc) is None and inc.state != IncidentState.CLOSED.value
    config = {
        "id": inc.id,
        "state": inc.state,
        "transitions_url": f"/api/v1/incidents/{inc.id}/transitions",
        "arrival_url": f"/api/v1/incidents/{inc.id}/arrival",
        "notes_url": f"/api/v1/incidents/{inc.id}/notes",
        "follow_up_url": f"/api/v1/incidents/{inc.id}/follow-up",
        "follow_up_due": inc.follow_up_due_at is not None and not settled,
        "owner_url": f"/api/v1/incidents/{inc.id}/owner",
        "snapshot_url": "/api/v1/stream/queue",
        "stream_url": "/api/v1/stream",
        "watch_queue": user.role in STAFF_ROLES,
    }
    can_act = bool(allowed) or can_arrive or can_settle or can_note
    return page.render(
        "incident.html",
        title_key="title.incident",
        nav="queue",
        inc=inc,
        household=view.household,
        owner_name=(view.owner.display_name or view.owner.username) if view.owner else None,
        alerts=view.alerts,
        timeline=view.timeline,
        notifications=view.notifications,
        sensor_events=view.sensor_events,
        locations=view.locations,
        event_hours=INCIDENT_EVENT_HOURS,
        can_act=can_act,
        allowed=allowed,
        can_arrive=can_arrive,
        can_settle=can_settle,
        can_note=can_note,
        transition_keys=TRANSITION_KEYS,
        outcomes=[o.value for o in Outcome],
        responder_kinds=RESPONDER_KINDS,
        incident_config=config,
        can_hand_over=can_hand_over and bool(candidates),
        candidates=candidates,
    )


@router.get("/households")
async def households_page(request: Request) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    q = request.query_params.get("q", "").strip()[:100]
    async with page.ctx.db() as session:
        households, total, open_incidents = await queries.household_list(session, search=q)
    return page.render(
        "households.html",
        title_key="title.households",
        nav="households",
        q=q,
        households=households,
        total=total,
        open_incidents=open_incidents,
    )


def _zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


@router.get("/households/{household_id}")
async def household_page(request: Request, household_id: str) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    now = page.ctx.clock.now()
    async with page.ctx.db() as session:
        h = await queries.household_with_people(session, household_id)
        if h is None:
            return page.error(404, "error.not_found")
        tz = _zone(h.timezone, page.ctx.settings.tz)
        labels, counts = await queries.activity_counts(session, h.id, now=now, tz=tz)
        events = await queries.household_events(
            session, h.id, since=now - timedelta(hours=HOUSEHOLD_EVENT_HOURS), limit=300
        )
        incidents = await queries.household_incidents(session, h.id)
    return page.render(
        "household.html",
        title_key="title.household",
        nav="households",
        h=h,
        heatmap=charts.heatmap(labels, counts, page.t),
        tz_name=str(tz),
        events=events,
        timeline_hours=HOUSEHOLD_EVENT_HOURS,
        incidents=incidents,
        locations={d.id: d.location or d.id for d in h.devices},
        low_battery=queries.LOW_BATTERY_PERCENT,
    )


def _payload_head(raw: bytes | None) -> str:
    if not raw:
        return ""
    return raw[:160].decode("utf-8", errors="replace")


@router.get("/devices")
async def devices_page(request: Request) -> Response:
    page = await signed_in_page(request, STAFF_ROLES)
    if not isinstance(page, Page):
        return page
    async with page.ctx.db() as session:
        work = await queries.device_work_list(session, now=page.ctx.clock.now())
    return page.render(
        "devices.html",
        title_key="title.devices",
        nav="devices",
        offline=work.offline,
        low=work.low_battery,
        unknown=work.unknown,
        dead=work.dead_letters,
        dead_total=work.dead_total,
        names=work.household_names,
        low_battery=queries.LOW_BATTERY_PERCENT,
        head=_payload_head,
    )


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _fmt_duration(page: Page, seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return page.t("dur.s", s=s)
    if s < 3600:
        return page.t("dur.ms", m=s // 60, s=s % 60)
    if s < 86400:
        return page.t("dur.hm", h=s // 3600, m=(s % 3600) // 60)
    return page.t("dur.dh", d=s // 86400, h=(s % 86400) // 3600)


def _metric_attributes(name: str, value: float | None) -> Markup:
    """The report's metric name and raw value on the element that shows it (for checks and scrapers)."""
    return Markup(" data-metric=\"{}\" data-value='{}'").format(name, json.dumps(value))


@router.get("/reports")
async def reports_page(request: Request) -> Response:
    page = await signed_in_page(request, REPORT_ROLES)
    if not isinstance(page, Page):
        return page
    assert page.user is not None
    tz = page.ctx.settings.tz
    now = page.ctx.clock.now()
    today = now.astimezone(tz).date()
    until_day = _parse_day(request.query_params.get("until")) or today
    since_day = _parse_day(request.query_params.get("since")) or (until_day - timedelta(days=27))
    if since_day > until_day:
        since_day, until_day = until_day, since_day
    since = datetime(since_day.year, since_day.month, since_day.day, tzinfo=tz)
    until = datetime(until_day.year, until_day.month, until_day.day, tzinfo=tz) + timedelta(days=1)
    # One source of truth: the figures are the SLA report's (the API and the exports compute the same).
    async with page.ctx.db() as session:
        figures = await sla.sla_report(session, since=since, until=until, now=now)
        rows = report.incident_rows(await sla.incident_rows(session, since=since, until=until))
    weeks, series = report.rule_weeks(rows, since=since, until=until, tz=tz)
    outcome_rows = [
        (page.t(f"outcome.{o}") if o else page.t("chart.pending"), count)
        for o, count in report.outcome_counts(figures)
    ]
    params = {"since": isoformat(since), "until": isoformat(until)}
    return page.render(
        "reports.html",
        title_key="title.reports",
        nav="reports",
        since_date=since_day.isoformat(),
        until_date=until_day.isoformat(),
        report=figures,
        milestones=sla.MILESTONES,
        ack_targets=REPORT_ACK_TARGETS,
        metric=_metric_attributes,
        pct=lambda v: "—" if v is None else f"{100 * v:.1f}%",
        dur=lambda s: _fmt_duration(page, s),
        ack_chart=charts.ack_chart(report.ack_points(rows), page.t, page.fmt_time),
        rule_chart=charts.stacked_weeks(weeks, [(page.t(f"rule.{r}"), c) for r, c in series], page.t),
        outcome_chart=charts.horizontal_bars(outcome_rows, page.t, label=page.t("reports.outcome_chart")),
        export_csv="/api/v1/reports/sla?" + urlencode({**params, "format": "csv"}),
        export_xlsx="/api/v1/reports/sla?" + urlencode({**params, "format": "xlsx"}),
        can_import=page.user.role in IMPORT_ROLES,
        import_columns=IMPORT_COLUMNS,
    )
