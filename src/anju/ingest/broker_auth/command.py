"""``anju broker credentials | revoke | write-auth``."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from anju.config import Settings, load_settings
from anju.errors import AnjuError, ConfigError
from anju.ingest.broker_auth.credentials import issue_gateway, revoke
from anju.ingest.broker_auth.files import BrokerFiles, watch, write_auth
from anju.ingest.mqtt import parse_mqtt_url
from anju.ingest.profiles import load_profiles
from anju.store.db import SessionFactory, create_engine, session_factory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="broker_command", required=True)
    cred = sub.add_parser("credentials", help="issue or rotate a gateway's MQTT password (printed once)")
    cred.add_argument("gateway", help="MQTT user name of the gateway (1-64 of A-Z a-z 0-9 _ . -)")
    cred.add_argument("--household", default=None, help="the home whose devices it may publish")
    cred.add_argument("--device", default=None, help="only this device (a device that logs in itself)")
    rev = sub.add_parser("revoke", help="remove a gateway's credentials")
    rev.add_argument("gateway")
    write = sub.add_parser("write-auth", help="write Mosquitto's password_file and acl_file")
    write.add_argument("--password-file", type=Path, required=True)
    write.add_argument("--acl-file", type=Path, required=True)
    target = write.add_mutually_exclusive_group()
    target.add_argument("--reload-pid", type=int, default=None, help="broker pid to SIGHUP on change")
    target.add_argument("--pid-file", type=Path, default=None, help="Mosquitto's pid_file")
    write.add_argument("--watch", action="store_true", help="keep rewriting as the registry changes")
    write.add_argument("--interval", type=float, default=10.0, help="seconds between checks (--watch)")


def _service_user(settings: Settings) -> tuple[str, str]:
    if not settings.mqtt_url:
        raise ConfigError("ANJU_MQTT_URL is not set: Anju's own broker user comes from it")
    address = parse_mqtt_url(settings.mqtt_url)
    if not address.username or not address.password:
        raise ConfigError(
            "ANJU_MQTT_URL has no user and password (mqtt://anju:PASSWORD@host): Anju needs its own "
            "broker login / ANJU_MQTT_URL 须包含 Anju 的用户名和密码"
        )
    return address.username, address.password


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    db = session_factory(engine)
    try:
        return await _command(args, settings, db)
    except SQLAlchemyError as err:
        raise AnjuError(
            f"database error ({type(err).__name__}: {getattr(err, 'orig', None) or err}); is the database "
            "reachable and upgraded (`anju db upgrade`)? / 数据库错误"
        ) from err
    finally:
        await engine.dispose()


async def _command(args: argparse.Namespace, settings: Settings, db: SessionFactory) -> int:
    if args.broker_command == "credentials":
        password = await issue_gateway(db, args.gateway, household_id=args.household, device_id=args.device)
        print(
            f"MQTT password for gateway {args.gateway}, shown only this once; put it in the gateway, "
            f"then run `anju broker write-auth` (or let --watch do it).\n"
            f"网关 {args.gateway} 的 MQTT 密码仅显示这一次，请写入网关。",
            flush=True,
        )
        print(password, flush=True)
        return 0
    if args.broker_command == "revoke":
        if not await revoke(db, args.gateway):
            raise AnjuError(f"no gateway {args.gateway!r} / 网关不存在")
        print(f"revoked {args.gateway} / 已吊销", flush=True)
        return 0
    profiles = load_profiles(settings.sensors_dir)
    target = BrokerFiles(args.password_file, args.acl_file, args.reload_pid, args.pid_file)
    service_user = _service_user(settings)
    if args.watch:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await watch(db, profiles, target, stop, service_user=service_user, interval_s=max(0.1, args.interval))
        return 0
    result = await write_auth(db, profiles, target, service_user=service_user)
    state = "written" if result.changed else "unchanged"
    print(f"broker files {state}{' and broker reloaded' if result.reloaded else ''}", flush=True)
    for reason in result.skipped:
        print(f"left out / 未写入: {reason}", flush=True)
    return 0
