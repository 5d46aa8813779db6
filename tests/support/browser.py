"""A live Anju in this event loop on a migrated SQLite file, Debian's Chromium, and seed data.

``live_server`` serves the app alone (uvicorn); ``live_service`` runs the whole runtime — ingest from
the real Mosquitto, rule engine, dispatch, escalation and outbox — as ``anju run`` does, so a test can
press a button over MQTT and watch the incident arrive in the browser.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from sqlalchemy import select

from anju.accounts import create_user
from anju.clock import isoformat
from anju.config import load_settings
from anju.context import Context
from anju.dispatch import service
from anju.domain import Role, Rule, Severity
from anju.engine.model import Finding
from anju.runtime import MqttTarget, Service
from anju.store.db import transaction
from anju.store.migrate import upgrade
from anju.store.models import Contact, Device, Household, Incident, Resident, SensorEvent
from anju.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "console-test-password"
SECRET = "console-test-secret-0123456789abcdef"
DISPLAY_NAMES = {"operator": "值班员小李", "supervisor": "主管老周", "admin": "管理员"}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def migrated_template(directory: Path) -> Path:
    """One migrated SQLite file; tests copy it instead of migrating again."""
    path = directory / "template.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def fresh_database(template: Path, directory: Path) -> str:
    path = directory / f"anju-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@dataclass
class LiveServer:
    ctx: Context
    base_url: str
    server: uvicorn.Server
    task: asyncio.Task[None] | None = None
    service: Service | None = None


@asynccontextmanager
async def live_server(database_url: str, **settings: Any) -> AsyncIterator[LiveServer]:
    """The real app served over HTTP by uvicorn, in the test's own event loop."""
    port = free_port()
    ctx = Context.create(
        load_settings(
            database_url=database_url,
            secret_key=SECRET,
            http_port=port,
            public_url=f"http://127.0.0.1:{port}",
            **settings,
        )
    )
    config = uvicorn.Config(
        create_app(ctx),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveServer(ctx, f"http://127.0.0.1:{port}", server, task)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        await ctx.close()


@asynccontextmanager
async def live_service(database_url: str, mqtt_url: str, **settings: Any) -> AsyncIterator[LiveServer]:
    """The real runtime (``anju run``) on the shared Mosquitto, serving the app over HTTP."""
    port = free_port()
    ctx = Context.create(
        load_settings(
            database_url=database_url,
            secret_key=SECRET,
            http_port=port,
            public_url=f"http://127.0.0.1:{port}",
            mqtt_url=mqtt_url,
            # A test's broker session must not outlive it on the shared broker.
            mqtt_session_expiry_s=5,
            ingest_batch_wait_ms=10,
            **settings,
        )
    )
    service = Service(ctx, MqttTarget(url=mqtt_url, client_id=f"console-test-{uuid.uuid4().hex[:10]}"))
    try:
        await service.start()
        assert service.ingestor is not None
        await asyncio.wait_for(service.ingestor.connected.wait(), 10)
        for _ in range(250):
            if service.http is not None and service.http.started:
                break
            await asyncio.sleep(0.02)
        assert service.http is not None and service.http.started, "the runtime's HTTP server did not start"
        # A browser left connected by a failed test keeps an event stream open: do not wait on it long.
        service.http.config.timeout_graceful_shutdown = 1
        yield LiveServer(ctx, f"http://127.0.0.1:{port}", service.http, service=service)
    finally:
        await service.stop()
        await ctx.close()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless; never a browser downloaded by Playwright."""
    pw: Playwright = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        await browser.close()
        await pw.stop()


async def new_page(browser: Browser, base_url: str, *, phone: bool = False) -> tuple[BrowserContext, Page]:
    viewport = {"width": 390, "height": 844} if phone else {"width": 1440, "height": 900}
    # A Chinese browser, as in the center: dates and numbers in form fields follow the browser's locale.
    context = await browser.new_context(
        base_url=base_url,
        viewport=viewport,
        device_scale_factor=1,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    await context.grant_permissions(["notifications"], origin=base_url)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    return context, page


async def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot in tests/screenshots/ (git-ignored), for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def add_user(
    ctx: Context,
    username: str,
    role: Role,
    *,
    contact_id: int | None = None,
    display_name: str | None = None,
) -> int:
    """A console user with the shared test password; returns the user's id."""
    async with transaction(ctx.db) as session:
        user = await create_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            clock=ctx.clock,
            display_name=display_name or DISPLAY_NAMES.get(role.value, username),
            contact_id=contact_id,
        )
        await session.flush()
        return user.id


@dataclass(frozen=True)
class Home:
    household_id: str
    button_id: str
    pir_id: str
    door_id: str
    contact_ids: list[int]


async def add_home(
    ctx: Context, *, name: str = "王秀英", area: str = "天平街道", events: bool = True
) -> Home:
    """A household with a resident, two contacts, a button, a PIR and a door sensor, and a week of events."""
    tag = uuid.uuid4().hex[:6]
    hid = f"h-{tag}"
    now = ctx.clock.now()
    btn, pir, door = f"btn-{tag}", f"pir-{tag}", f"door-{tag}"
    async with transaction(ctx.db) as session:
        session.add(
            Household(
                id=hid,
                name=name,
                address=f"上海市徐汇区天平路 88 弄 {tag[:2]} 号 502",
                area=area,
                timezone="Asia/Shanghai",
                rule_overrides={"inactivity": {"day_hours": 3}},
                created_at=now,
                updated_at=now,
                residents=[
                    Resident(name=name, birth_year=1938, phone="+8613900001111", notes="高血压，独居")
                ],
                contacts=[
                    Contact(name="李明", relation="family", phone="+8613900002222", priority=0),
                    Contact(name="张阿姨", relation="neighbour", phone="+8613900003333", priority=1),
                ],
            )
        )
        for dev, kind, loc, battery in (
            (btn, "button", "卧室床头", 92),
            (pir, "pir", "客厅", 64),
            (door, "door", "入户门", 12),
        ):
            session.add(
                Device(
                    id=dev,
                    household_id=hid,
                    type=kind,
                    location=loc,
                    protocol="anju-v1",
                    profile=f"anju-{kind}",
                    heartbeat_s=3600,
                    last_seen_at=now - timedelta(minutes=5),
                    last_heartbeat_at=now - timedelta(minutes=5),
                    battery=battery,
                    rssi=-71,
                    online=True,
                    created_at=now,
                )
            )
        if events:
            session.add_all(_week_of_events(hid, pir, door, now))
    async with ctx.db() as session:
        contacts = (
            await session.scalars(
                select(Contact.id).where(Contact.household_id == hid).order_by(Contact.priority)
            )
        ).all()
    return Home(hid, btn, pir, door, list(contacts))


def _week_of_events(hid: str, pir: str, door: str, now: Any) -> list[SensorEvent]:
    """A plausible routine: motion through the waking hours, a walk out in the morning."""
    rows = []
    seq = 0
    for day in range(7):
        for hour in range(24):
            at = now - timedelta(days=day, hours=hour)
            local_hour = (at + timedelta(hours=8)).hour
            bursts = (
                0
                if local_hour < 6 or local_hour > 22
                else (6 if 7 <= local_hour <= 9 or 17 <= local_hour <= 19 else 2)
            )
            for k in range(bursts):
                seq += 1
                ts = at - timedelta(minutes=7 * k)
                rows.append(
                    SensorEvent(
                        device_id=pir,
                        household_id=hid,
                        type="pir",
                        event="motion",
                        seq=seq,
                        ts=ts,
                        received_at=ts,
                        event_time=ts,
                        clock_skewed=False,
                    )
                )
            if local_hour == 9:
                for ev, minutes in (("open", 0), ("close", 1)):
                    seq += 1
                    ts = at + timedelta(minutes=minutes)
                    rows.append(
                        SensorEvent(
                            device_id=door,
                            household_id=hid,
                            type="door",
                            event=ev,
                            seq=seq,
                            ts=ts,
                            received_at=ts,
                            event_time=ts,
                            clock_skewed=False,
                        )
                    )
    return rows


async def press_button(ctx: Context, home: Home) -> int:
    """What the runtime does after a stored press: the finding raised in one transaction, the bus told."""
    now = ctx.clock.now()
    finding = Finding(
        household_id=home.household_id,
        rule=Rule.BUTTON,
        severity=Severity.CRITICAL,
        at=now,
        key=f"button:{home.button_id}:{uuid.uuid4().hex[:8]}",
        detail={"device": home.button_id, "location": "卧室床头", "event": "press"},
        device_id=home.button_id,
    )
    async with transaction(ctx.db) as session:
        result = await service.raise_findings(session, [finding], now=now, bus=ctx.bus)
    incident = (result.opened + result.joined)[0]
    return incident.id


async def incident_state(ctx: Context, incident_id: int) -> Incident:
    async with ctx.db() as session:
        incident = await session.get(Incident, incident_id)
    assert incident is not None
    return incident


async def press_button_over_mqtt(ctx: Context, home: Home, mqtt_url: str, *, seq: int = 1) -> None:
    """The kit's alarm button pressed: one QoS 1 event on ``anju/v1/{device}/event``, as the contract says."""
    from tests.support.ingest import Publisher

    body = {"seq": seq, "ts": isoformat(ctx.clock.now()), "type": "button", "event": "press"}
    publisher = Publisher(mqtt_url)
    try:
        await publisher.publish(f"anju/v1/{home.button_id}/event", json.dumps(body))
    finally:
        publisher.close()


async def incident_of(ctx: Context, home: Home) -> Incident | None:
    """The household's latest incident, if any."""
    async with ctx.db() as session:
        return await session.scalar(
            select(Incident)
            .where(Incident.household_id == home.household_id)
            .order_by(Incident.id.desc())
            .limit(1)
        )
