"""The page helper every console view renders through: language, user, time formatting, headers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from anju import vocabulary
from anju.clock import isoformat
from anju.console.i18n import (
    CATALOG,
    LANG_COOKIE,
    js_catalog,
    normalize,
    pick_language,
    translate,
    translate_or,
)
from anju.console.localize import localized
from anju.console.queries import device_status
from anju.context import Context
from anju.domain import NotificationStatus, Role
from anju.store.models import Device, User
from anju.web.deps import get_context
from anju.web.session import REPORT_ROLES, STAFF_ROLES, user_from_request

TEMPLATE_DIR = Path(__file__).parent / "templates"

#: Evidence keys whose values are catalog words (key -> catalog prefix).
EVIDENCE_VOCABULARY = {
    "event": "event",
    "kind": "kind",
    "type": "kind",
    "rule": "rule",
    "severity": "severity",
}
#: Evidence keys whose values are rooms (``living_room``) or an installer's free text.
EVIDENCE_ROOMS = frozenset({"location", "last_location"})

env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]))


class Page:
    """What every template needs: language, user, time formatting, role flags."""

    def __init__(self, request: Request, ctx: Context, user: User | None, lang: str | None = None) -> None:
        self.request = request
        self.ctx = ctx
        self.user = user
        self.lang = lang or pick_language(request, user.language if user else None)

    def t(self, key: str, **params: Any) -> str:
        return translate(self.lang, key, **params)

    def fmt_time(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return value.astimezone(self.ctx.settings.tz).strftime("%Y-%m-%d %H:%M:%S")

    def evidence_value(self, key: str, value: Any) -> Any:
        """Vocabulary values of an alert's evidence (``event: press``) in words; numbers and ids as-is."""
        if key in EVIDENCE_VOCABULARY and isinstance(value, str):
            return translate_or(self.lang, EVIDENCE_VOCABULARY[key], value)
        if key in EVIDENCE_ROOMS and isinstance(value, str):
            return vocabulary.room_word(value, self.lang)
        return value

    def delivery(self, channel: str, status: str) -> str:
        """A notification's status; "not sent" names the channel whose provider is missing."""
        if status == NotificationStatus.NOT_SENT.value:
            key = f"nstatus.not_sent.{channel}"
            return translate(self.lang, key if key in CATALOG else "nstatus.not_sent")
        return translate_or(self.lang, "nstatus", status)

    def device_status(self, device: Device) -> str:
        """``online``, ``offline`` or ``never`` (registered, not a message yet): a catalog ``device.`` key."""
        return device_status(device, self.ctx.clock.now())

    def lang_url(self, lang: str) -> str:
        params = dict(self.request.query_params)
        params["lang"] = lang
        return f"{self.request.url.path}?{urlencode(params)}"

    def render(
        self, template: str, *, title_key: str, nav: str = "", status_code: int = 200, **data: Any
    ) -> HTMLResponse:
        role = self.user.role if self.user else None
        context = {
            "lang": self.lang,
            "user": self.user,
            "t": self.t,
            "t_relation": lambda v: translate_or(self.lang, "relation", v or "other"),
            "t_timeline": lambda v: translate_or(self.lang, "timeline", v),
            "t_evidence": lambda v: translate_or(self.lang, "evidence", v),
            "t_evidence_value": self.evidence_value,
            "t_actor": lambda v: translate_or(self.lang, "actor", v),
            "t_or": lambda prefix, v: translate_or(self.lang, prefix, v),
            "t_step": lambda v: vocabulary.step_word(v or "", self.lang),
            "t_room": lambda v: vocabulary.room_word(v or "", self.lang),
            "t_title": lambda v: vocabulary.title_word(v or "", self.lang),
            "t_delivery": self.delivery,
            "device_status": self.device_status,
            "fmt_time": self.fmt_time,
            "loc": lambda record, field: localized(record, field, self.lang),
            "iso": isoformat,
            "lang_url": self.lang_url,
            "js_catalog": js_catalog(self.lang),
            "title_key": title_key,
            "nav": nav,
            "is_staff": role in STAFF_ROLES,
            "is_responder": role == Role.RESPONDER.value,
            "can_see_queue": role in STAFF_ROLES,
            "can_see_reports": role in REPORT_ROLES,
            # The health banner polls /readyz as often as the service evaluates it (at most once a second).
            "health_poll_ms": int(max(1.0, self.ctx.settings.health_interval_s) * 1000),
            **data,
        }
        html = env.get_template(template).render(context)
        response = HTMLResponse(html, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'"
        )
        response.headers["Referrer-Policy"] = "same-origin"
        chosen = normalize(self.request.query_params.get("lang"))
        if chosen:
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax", path="/")
        return response

    def error(self, status_code: int, message_key: str, detail: str = "") -> HTMLResponse:
        return self.render(
            "error.html",
            title_key="title.error",
            status_code=status_code,
            message_key=message_key,
            detail=detail,
        )


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


async def signed_in_page(request: Request, roles: frozenset[str] | None = None) -> Page | Response:
    """The signed-in user's page helper, or the response to send instead (sign-in, 403)."""
    ctx = get_context(request)
    user = await user_from_request(ctx, request)
    if user is None:
        return login_redirect(request)
    page = Page(request, ctx, user)
    if roles is not None and user.role not in roles:
        return page.error(403, "error.forbidden")
    return page
