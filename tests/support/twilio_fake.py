"""A small Twilio-shaped server for the paths Prism cannot play: errors, timeouts, lookups, callbacks.

It speaks the 2010-04-01 Messages and Calls resources closely enough for the official SDK, records
each request with its arrival time, and plays Twilio's side of the webhooks (signed callbacks, the
call fetching its script, a key press) against Anju's app through an httpx client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiohttp import web
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from anju.clock import Clock
from anju.context import Context
from anju.dispatch import escalation, service
from anju.domain import Channel, Rule, Severity
from anju.engine.model import Finding
from anju.notify import DeliveryPolicy, notifier_for, use_notifier
from anju.notify.outbox import build_provider
from anju.store.db import transaction
from anju.store.models import Contact, Household, Notification
from anju.web.app import create_app

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-twilio-auth-token-0123456789"
FROM_NUMBER = "+15005550006"
PUBLIC_URL = "http://anju.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


@dataclass
class Created:
    """A message or call the fake accepted."""

    kind: str  # "sms" | "voice"
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str
    url: str
    arrived: float
    date_created: datetime
    form: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        common = {
            "sid": self.sid,
            "account_sid": ACCOUNT_SID,
            "to": self.to,
            "from": self.from_,
            "status": "queued",
            "date_created": format_datetime(self.date_created),
            "date_updated": format_datetime(self.date_created),
            "api_version": "2010-04-01",
            "direction": "outbound-api",
        }
        if self.kind == "sms":
            return {**common, "body": self.body, "num_segments": "1", "date_sent": None, "error_code": None}
        return {**common, "start_time": None, "end_time": None, "duration": None}


@dataclass
class Fault:
    """What the fake does to the next create request instead of (or after) serving it."""

    status: int = 500
    #: Seconds to hang before answering (past the client's timeout: a timeout).
    hang_s: float = 0.0
    #: Create the message first, then fail or hang (Twilio has it, the client does not know).
    after_create: bool = False
    code: int = 20500


class TwilioFake:
    def __init__(self) -> None:
        self.created: list[Created] = []
        self.requests: list[tuple[float, str, str]] = []
        self.faults: deque[Fault] = deque()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None
        self.arrivals: asyncio.Queue[Created] = asyncio.Queue()

    # --- server ------------------------------------------------------------------------------

    async def start(self) -> TwilioFake:
        app = web.Application()
        base = "/2010-04-01/Accounts/{account}"
        app.router.add_post(base + "/Messages.json", self._create_sms)
        app.router.add_post(base + "/Calls.json", self._create_call)
        app.router.add_get(base + "/Messages.json", self._list_sms)
        app.router.add_get(base + "/Calls.json", self._list_calls)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _create(self, request: web.Request, kind: str) -> web.Response:
        arrived = time.perf_counter()
        self.requests.append((arrived, request.method, request.path))
        if not self._authorised(request):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        posted = await request.post()
        # Repeated fields (StatusCallbackEvent) joined with commas, to check them in one string.
        form = {k: ",".join(str(v) for v in posted.getall(k)) for k in set(posted.keys())}
        if "To" not in form:
            return web.json_response(
                {"code": 21604, "message": "'To' is required", "status": 400}, status=400
            )
        fault = self.faults.popleft() if self.faults else None
        record = Created(
            kind=kind,
            sid=("SM" if kind == "sms" else "CA") + uuid.uuid4().hex,
            to=form["To"],
            from_=form.get("From", ""),
            body=form.get("Body", ""),
            status_callback=form.get("StatusCallback", ""),
            url=form.get("Url", ""),
            arrived=arrived,
            date_created=datetime.now(UTC).replace(microsecond=0),
            form=form,
        )
        if fault is None or fault.after_create:
            self.created.append(record)
            self.arrivals.put_nowait(record)
        if fault is not None:
            if fault.hang_s:
                await asyncio.sleep(fault.hang_s)
            body = {"code": fault.code, "message": "fake failure", "more_info": "", "status": fault.status}
            return web.json_response(body, status=fault.status)
        return web.json_response(record.as_json(), status=201)

    async def _create_sms(self, request: web.Request) -> web.Response:
        return await self._create(request, "sms")

    async def _create_call(self, request: web.Request) -> web.Response:
        return await self._create(request, "voice")

    async def _list(self, request: web.Request, kind: str, key: str) -> web.Response:
        self.requests.append((time.perf_counter(), request.method, request.path))
        if not self._authorised(request):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        to, from_ = request.query.get("To"), request.query.get("From")
        found = [
            c.as_json()
            for c in reversed(self.created)
            if c.kind == kind and (to is None or c.to == to) and (from_ is None or c.from_ == from_)
        ]
        page = {key: found, "next_page_uri": None, "page": 0, "page_size": 50, "uri": request.path}
        return web.json_response(page)

    async def _list_sms(self, request: web.Request) -> web.Response:
        return await self._list(request, "sms", "messages")

    async def _list_calls(self, request: web.Request) -> web.Response:
        return await self._list(request, "voice", "calls")

    # --- test helpers ------------------------------------------------------------------------

    def of(self, kind: str, to: str | None = None) -> list[Created]:
        return [c for c in self.created if c.kind == kind and (to is None or c.to == to)]

    async def next_created(self, within_s: float = 5.0) -> Created:
        return await asyncio.wait_for(self.arrivals.get(), within_s)


class TwilioSide:
    """Plays Twilio's webhooks against Anju's app: signed like Twilio signs them."""

    def __init__(self, client: httpx.AsyncClient, token: str = AUTH_TOKEN) -> None:
        self.client = client
        self.token = token

    async def post(
        self, url: str, params: dict[str, str], *, signed: bool = True, signature: str | None = None
    ) -> httpx.Response:
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = signature or sign(url, params, self.token)
        return await self.client.post(url, data=params, headers=headers)

    async def report(self, record: Created, status: str, **extra: str) -> httpx.Response:
        """The status callback Twilio would send for ``record``."""
        if record.kind == "sms":
            params = {"MessageSid": record.sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID}
        else:
            params = {"CallSid": record.sid, "CallStatus": status, "AccountSid": ACCOUNT_SID}
        params.update({"To": record.to, "From": record.from_, **extra})
        return await self.post(record.status_callback, params)

    async def fetch_script(self, record: Created) -> httpx.Response:
        """The call's answered: Twilio fetches the TwiML from the URL it was given."""
        params = {"CallSid": record.sid, "CallStatus": "in-progress", "To": record.to, "From": record.from_}
        return await self.post(record.url, params)

    async def press(self, record: Created, gather_url: str, digits: str) -> httpx.Response:
        params = {"CallSid": record.sid, "Digits": digits, "To": record.to, "From": record.from_}
        return await self.post(gather_url, params)

    async def sms_in(self, from_: str, body: str, *, signed: bool = True) -> httpx.Response:
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "From": from_,
            "To": FROM_NUMBER,
            "Body": body,
            "AccountSid": ACCOUNT_SID,
        }
        return await self.post(f"{PUBLIC_URL}/twilio/sms/inbound", params, signed=signed)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- Anju's side: a context wired to the fake, a household, a button press --------------------


def twilio_settings(api_base: str) -> dict[str, Any]:
    return {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from": FROM_NUMBER,
        "twilio_api_base": api_base,
        "public_url": PUBLIC_URL,
    }


@dataclass
class Harness:
    ctx: Context
    twilio: TwilioSide
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def harness(
    settings: Any, *, clock: Clock | None = None, policy: DeliveryPolicy | None = None
) -> AsyncIterator[Harness]:
    """A context whose notifier talks to ``settings.twilio_api_base``, and Anju's app in process."""
    ctx = Context.create(settings, clock=clock)
    use_notifier(ctx, build_provider(settings, clock=ctx.clock), policy)
    app = create_app(ctx)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        try:
            yield Harness(ctx, TwilioSide(client), client)
        finally:
            await notifier_for(ctx).aclose()
            await ctx.close()


def unique_phone() -> str:
    return "+86139" + str(uuid.uuid4().int)[:8]


async def seed_household(
    ctx: Context, *, contacts: int = 2, language: str = "zh-CN"
) -> tuple[str, list[int]]:
    """A household with ``contacts`` contacts in priority order; returns its id and the contact ids."""
    hid = f"h-{uuid.uuid4().hex[:8]}"
    now = ctx.clock.now()
    async with transaction(ctx.db) as session:
        session.add(
            Household(
                id=hid,
                name="王秀英家",
                address="上海市徐汇区天平路88弄3号502",
                area="天平街道",
                timezone="Asia/Shanghai",
                notes="糖尿病，独居，女儿在外地",
                rule_overrides={},
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        people = []
        for i in range(contacts):
            contact = Contact(
                household_id=hid,
                name=["李明", "张阿姨", "陈伟"][i % 3],
                relation=["family", "neighbour", "grid_worker"][i % 3],
                phone=unique_phone(),
                language=language,
                priority=i,
            )
            session.add(contact)
            people.append(contact)
        await session.flush()
        return hid, [c.id for c in people]


async def press_button(ctx: Context, household_id: str) -> int:
    """What the engine hands dispatch for an alarm button press; returns the incident id."""
    now = ctx.clock.now()
    finding = Finding(
        household_id=household_id,
        rule=Rule.BUTTON,
        severity=Severity.CRITICAL,
        at=now,
        key=f"button:{uuid.uuid4().hex}",
        device_id=f"btn-{household_id}",
    )
    async with transaction(ctx.db) as session:
        result = await service.raise_findings(session, [finding], now=now, bus=ctx.bus)
        return result.opened[0].id


async def page(
    ctx: Context,
    incident_id: int | None,
    channel: Channel,
    *,
    to: str,
    contact_id: int | None = None,
    name: str = "",
    language: str = "zh-CN",
    body: str = "",
) -> int:
    """An outbox row written the way dispatch writes them."""
    async with transaction(ctx.db) as session:
        row = await escalation.add_notification(
            session,
            incident_id=incident_id,
            channel=channel,
            recipient=escalation.Recipient(
                name=name, kind="test", address=to, language=language, contact_id=contact_id
            ),
            body=body,
            step="test",
            now=ctx.clock.now(),
            actor="test",
        )
        return row.id


async def rows(ctx: Context, incident_id: int | None = None) -> list[Notification]:
    async with ctx.db() as session:
        query = select(Notification).order_by(Notification.id)
        if incident_id is not None:
            query = query.where(Notification.incident_id == incident_id)
        return list(await session.scalars(query))


async def row(ctx: Context, row_id: int) -> Notification:
    async with ctx.db() as session:
        found = await session.get(Notification, row_id)
        assert found is not None
        return found
