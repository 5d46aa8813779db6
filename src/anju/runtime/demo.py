"""``anju demo``: the whole system on one machine with no outside service.

An embedded MQTT broker, SQLite, a simulated fleet living its days (at real speed by default) with
emergencies frequent enough to see within minutes, the service, and the console. Check-ins are on
(rules/checkin.toml): a simulated phone hands each check-in call or SMS to the home's simulated
resident, who answers as their persona does (``runtime.demo_residents``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import select

from anju.accounts import create_user
from anju.clock import Clock, RealClock, SimClock
from anju.config import DEMO_SECRET, Settings, load_settings
from anju.context import Context
from anju.domain import Role
from anju.errors import ConfigError
from anju.runtime.demo_residents import DemoResidents
from anju.runtime.demo_tasks import seed_responder_task
from anju.runtime.service import MqttTarget, Service, ensure_port_free
from anju.store.db import transaction
from anju.store.migrate import upgrade
from anju.store.models import Contact, User

log = logging.getLogger("anju.demo")

#: Long and uncommon enough for the password rule (zxcvbn score 4), like every password.
DEMO_PASSWORD = "anju-demo-2026"
#: Display names in Chinese, as a center enters them; the English console renders these posts in
#: English (``vocabulary.TITLES``).
DEMO_USERS = (
    ("admin", Role.ADMIN, "管理员"),
    ("supervisor", Role.SUPERVISOR, "值班主管"),
    ("operator", Role.OPERATOR, "值班员"),
    ("responder", Role.RESPONDER, "网格员"),
)


#: The rule pack of the demo: check-ins on, so the console's check-in lane fills and empties.
CHECKIN_RULES = "checkin.toml"


@dataclass(frozen=True)
class DemoOptions:
    households: int = 530
    speed: float = 1.0
    seed: int = 1
    port: int | None = None
    mqtt_port: int = 1884
    database_url: str | None = None
    simulate: bool = True


def demo_settings(opts: DemoOptions) -> Settings:
    overrides: dict[str, object] = {}
    if opts.database_url:
        overrides["database_url"] = opts.database_url
    if opts.port:
        overrides["http_port"] = opts.port
    settings = load_settings(**overrides)
    if not settings.secret_key.get_secret_value():
        settings.secret_key = SecretStr(DEMO_SECRET)
    return settings


async def seed_users(ctx: Context) -> None:
    """The demo logins, created once; the responder is the grid worker of the first village's homes."""
    async with transaction(ctx.db) as session:
        for name, role, display in DEMO_USERS:
            if await session.scalar(select(User.id).where(User.username == name)) is not None:
                continue
            contact_id = None
            if role is Role.RESPONDER:
                contact_id = await session.scalar(
                    select(Contact.id).where(Contact.relation == "grid_worker").order_by(Contact.id).limit(1)
                )
            await create_user(
                session,
                username=name,
                password=DEMO_PASSWORD,
                role=role,
                clock=ctx.clock,
                actor="demo",
                display_name=display,
                contact_id=contact_id,
                phone="+8613900000000" if role is Role.SUPERVISOR else None,
            )


async def _demo(opts: DemoOptions) -> None:
    from anju.ingest.broker import EmbeddedBroker
    from anju.simulator.answers import ResidentPhones
    from anju.simulator.fleet import build_fleet
    from anju.simulator.live import register_fleet, run_live

    if opts.households < 0 or opts.speed <= 0:
        raise ConfigError("--households must be ≥ 0 and --speed > 0")
    settings = demo_settings(opts)
    clock: Clock = RealClock() if opts.speed == 1.0 else SimClock(RealClock().now(), speed=opts.speed)
    ensure_port_free(settings.http_host, settings.http_port, "--port")
    ensure_port_free("127.0.0.1", opts.mqtt_port, "--mqtt-port")
    await upgrade(settings.database_url)
    ingest_pw, sim_pw = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    broker = EmbeddedBroker("127.0.0.1", opts.mqtt_port, users={"anju": ingest_pw, "simulator": sim_pw})
    await broker.start()
    ctx = Context.create(settings, clock=clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    service: Service | None = None
    simulator: asyncio.Task[object] | None = None
    try:
        fleet = build_fleet(opts.households, opts.seed)
        async with transaction(ctx.db) as session:
            added = await register_fleet(session, fleet, clock.now())
        await seed_users(ctx)
        await seed_responder_task(ctx)
        phones = ResidentPhones(fleet)
        mqtt_url = f"mqtt://127.0.0.1:{opts.mqtt_port}"
        service = Service(
            ctx,
            MqttTarget(
                url=mqtt_url,
                protocol="v311",
                username="anju",
                password=ingest_pw,
                client_id="anju-demo-ingest",
            ),
            rules_path=str(settings.rules_dir / CHECKIN_RULES),
            residents=DemoResidents(ctx, phones),
        )
        service.stop_event = stop
        await service.start()
        if opts.simulate and opts.households:
            simulator = asyncio.ensure_future(
                run_live(
                    fleet,
                    mqtt_url=mqtt_url,
                    speed=opts.speed,
                    clock=clock,
                    stop=stop,
                    protocol="v311",
                    username="simulator",
                    password=sim_pw,
                    scenario="demo",
                    client_id="anju-demo-sim",
                    on_truth=phones.note_truth,
                )
            )
        _banner(settings, opts, added, mqtt_url)
        await stop.wait()
    finally:
        stop.set()
        if simulator is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(simulator, 10)
        if service is not None:
            await service.stop()
        if ctx.notifier is not None:
            await ctx.notifier.aclose()
        await ctx.close()
        await broker.stop()


def _banner(settings: Settings, opts: DemoOptions, added: int, mqtt_url: str) -> None:
    url = f"http://{settings.http_host}:{settings.http_port}"
    users = "  ".join(f"{name} / {DEMO_PASSWORD}" for name, _role, _d in DEMO_USERS)
    lines = [
        "",
        "安居 Anju demo is running — 演示已启动",
        f"  console 控制台:   {url}",
        f"  logins 登录:      {users}",
        f"  homes 住户:       {opts.households} simulated at {opts.speed:g}× ({added} new records)",
        f"  database 数据库:  {settings.database_url}",
        f"  MQTT broker:      {mqtt_url} (embedded, authenticated)",
        "  Check-ins 主动问候: on; simulated residents answer the calls (模拟住户接听).",
        "  Other SMS and calls are logged, not sent (no provider settings). Ctrl-C stops the demo.",
        "",
    ]
    print("\n".join(lines), flush=True)


def run_demo(
    *,
    households: int = 530,
    speed: float = 1.0,
    seed: int = 1,
    port: int | None = None,
    mqtt_port: int = 1884,
    database_url: str | None = None,
    simulate: bool = True,
) -> int:
    opts = DemoOptions(
        households=households,
        speed=speed,
        seed=seed,
        port=port,
        mqtt_port=mqtt_port,
        database_url=database_url,
        simulate=simulate,
    )
    asyncio.run(_demo(opts))
    return 0
