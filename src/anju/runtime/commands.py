"""The CLI's verbs on the service: ``anju run``, ``db upgrade``, ``user add``, ``audit verify``, ``demo``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from anju.clock import Clock, RealClock
from anju.config import Settings, load_settings
from anju.context import Context
from anju.domain import Role
from anju.errors import AnjuError, ConfigError
from anju.runtime.service import MqttTarget, Service
from anju.store.db import transaction

log = logging.getLogger("anju.runtime")


def _settings() -> Settings:
    return load_settings()


def run_service() -> int:
    """``anju run``: the service against the configured broker and database."""
    settings = _settings()
    settings.require_production_secret()
    if not settings.mqtt_url:
        raise ConfigError(
            "ANJU_MQTT_URL is not set: `anju run` needs a broker (the embedded one is for "
            "`anju demo`), e.g. mqtt://anju:PASSWORD@127.0.0.1:1883"
        )
    from urllib.parse import urlsplit

    mqtt_url = settings.mqtt_url
    url = urlsplit(mqtt_url)
    from anju.ingest.broker_auth import broker_warnings
    from anju.ingest.mqtt import parse_mqtt_url

    for warning in broker_warnings(parse_mqtt_url(mqtt_url)):
        log.warning("%s", warning)

    async def _main() -> None:
        await _require_migrated(settings.database_url)
        ctx = Context.create(settings)
        try:
            service = Service(
                ctx,
                MqttTarget(
                    url=mqtt_url,
                    protocol="v5",
                    username=url.username,
                    password=url.password,
                    client_id=settings.mqtt_client_id,
                ),
            )
            print(
                f"Anju is running: console and API at http://{settings.http_host}:{settings.http_port}",
                flush=True,
            )
            await service.run_until_stopped()
        finally:
            await ctx.close()

    asyncio.run(_main())
    return 0


def db_upgrade() -> int:
    from anju.store.migrate import upgrade_sync

    settings = _settings()
    upgrade_sync(settings.database_url)
    print(f"database at {_redact(settings.database_url)} is up to date")
    return 0


def _require_file(url: str) -> None:
    """SQLite would create an empty file on the first connection: refuse a missing one instead."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_file():
            raise ConfigError(
                f"no database at {path.resolve()}: set ANJU_DATABASE_URL to the service's database "
                "(or create one with `anju db upgrade`)"
            )


async def _require_migrated(url: str) -> None:
    """Refuse, with what to do, a database that is absent, unreachable or not migrated; create none."""
    from anju.store.migrate import current_is_head

    _require_file(url)
    try:
        migrated = await current_is_head(url)
    except (OSError, SQLAlchemyError) as err:
        reason = getattr(err, "orig", None) or err
        raise ConfigError(f"cannot open the database at {_redact(url)}: {reason}") from err
    if not migrated:
        raise ConfigError(f"the database at {_redact(url)} is not up to date: run `anju db upgrade` first")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def add_user(
    name: str,
    *,
    role: str,
    password: str,
    display_name: str = "",
    phone: str | None = None,
    contact_id: int | None = None,
    clock: Clock | None = None,
) -> int:
    from anju.accounts import check_responder_contact, create_user

    try:
        check_responder_contact(role, contact_id)  # before any connection: the API's rule
    except ValueError as err:
        raise AnjuError(str(err)) from err
    settings = _settings()
    await _require_migrated(settings.database_url)
    ctx = Context.create(settings)
    try:
        async with transaction(ctx.db) as session:
            user = await create_user(
                session,
                username=name,
                password=password,
                role=Role(role),
                clock=clock or RealClock(),
                display_name=display_name,
                phone=phone,
                contact_id=contact_id,
            )
        print(f"user {user.username!r} ({user.role}) created")
        return 0
    except ValueError as err:
        raise AnjuError(str(err)) from err
    finally:
        await ctx.close()


async def audit_verify(anchor: str | None = None) -> int:
    """``anju audit verify [--anchor ID:HASH]``: exit 1 at the first broken record."""
    from anju.audit import ChainHead, verify_chain

    head: ChainHead | None = None
    if anchor:
        ident, sep, digest = anchor.partition(":")
        if not sep or not ident.isdigit() or len(digest) != 64:
            raise AnjuError("--anchor takes ID:HASH as printed by an earlier `anju audit verify`")
        head = ChainHead(record_id=int(ident), hash=digest)
    settings = _settings()
    await _require_migrated(settings.database_url)
    ctx = Context.create(settings)
    try:
        async with ctx.db() as session:
            count, broken, last = await verify_chain(session, anchor=head)
    finally:
        await ctx.close()
    if broken is None:
        print(f"audit chain intact: {count} records verified")
        if last is not None:
            print(f"head: {last.record_id}:{last.hash}  (keep it; --anchor detects a later cut of the tail)")
        return 0
    print(
        f"audit chain BROKEN at record {broken.record_id}: {broken.reason} "
        f"({count} records before it verified)"
    )
    return 1


def run_demo(**kwargs: Any) -> int:
    from anju.runtime.demo import run_demo as _run

    return _run(**kwargs)
