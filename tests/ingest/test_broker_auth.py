"""Only the kit may speak for a home: per-gateway credentials and ACLs on a real Mosquitto, and for EMQX.

A private Mosquitto (``allow_anonymous false``, ``per_listener_settings false``) runs for the module,
loaded with the ``password_file`` and ``acl_file`` that ``anju broker write-auth`` renders from each
test's registry; the real service (``anju.runtime.Service``) ingests through it as Anju's own user.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from anju.context import Context
from anju.domain import DeviceKind, Protocol
from anju.errors import AnjuError
from anju.ingest.broker_auth import (
    PBKDF2_ITERATIONS,
    BrokerFiles,
    broker_warnings,
    ensure_service_user,
    hash_password,
    issue_gateway,
    parse_hash,
    render,
    revoke,
    verify_password,
    write_auth,
    write_if_changed,
)
from anju.ingest.mqtt import parse_mqtt_url
from anju.ingest.profiles import load_profiles
from anju.runtime import MqttTarget, Service
from anju.store.models import BrokerCredential, DeadLetter, Incident, SensorEvent, UnknownDevice
from tests.support.ingest import NOW, eventually, free_port, kit_payload, register, uid
from tests.support.settings import TEST_SECRET, make_settings

ANJU_USER = "anju"
NOT_AUTHORIZED = 135
BAD_CREDENTIALS = 134
EMQX_AUTHN = "SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1"
EMQX_AUTHZ = "SELECT permission, action, topic FROM mqtt_acl WHERE username = ${username}"


@dataclass
class Broker:
    port: int
    proc: subprocess.Popen[bytes]
    password_file: Path
    acl_file: Path
    pid_file: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A private Mosquitto that admits only users in its password file, as their ACL allows."""
    work = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    passwords, acl, pid_file = work / "passwd", work / "acl", work / "mosquitto.pid"
    passwords.write_text("")
    acl.write_text("")
    conf = work / "mosquitto.conf"
    conf.write_text(
        "per_listener_settings false\n"
        f"listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {passwords}\nacl_file {acl}\npid_file {pid_file}\npersistence false\n"
        + (f"user {getpass.getuser()}\n" if os.geteuid() == 0 else "")
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not pid_file.exists() or connack(port) < 0:
        assert time.monotonic() < deadline and proc.poll() is None, "mosquitto did not start"
        time.sleep(0.05)
    try:
        yield Broker(port, proc, passwords, acl, pid_file)
    finally:
        proc.terminate()
        proc.wait(5)


def connack(port: int, username: str | None = None, password: str | None = None) -> int:
    """The CONNACK reason code a fresh MQTT 5 client gets (-1: no answer)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uid()}", protocol=paho.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    result: dict[str, int] = {}
    client.on_connect = lambda c, u, flags, reason, props: result.setdefault("rc", reason.value)
    try:
        client.connect("127.0.0.1", port)
    except OSError:
        return -1
    deadline = time.monotonic() + 5
    while "rc" not in result and time.monotonic() < deadline:
        client.loop(timeout=0.05)
    client.disconnect()
    return result.get("rc", -1)


async def until_connack(port: int, username: str, password: str | None, expected: int) -> None:
    """Waits for the broker's reload to give ``expected`` at CONNECT (SIGHUP is handled asynchronously)."""

    async def check() -> bool:
        return await asyncio.to_thread(connack, port, username, password) == expected

    await eventually(check, within_s=5)


class Gateway:
    """A home gateway's MQTT client: ``publish`` returns the PUBACK reason code the broker sent."""

    def __init__(self, port: int, username: str, password: str, *, v311: bool = False) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"gw-{username}-{uid()}",
            protocol=paho.MQTTv311 if v311 else paho.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.acks: dict[int, int] = {}
        self.client.on_publish = lambda c, u, mid, reason, props: self.acks.__setitem__(mid, reason.value)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        deadline = time.monotonic() + 5
        while not self.client.is_connected():
            assert time.monotonic() < deadline, f"gateway {username} did not connect"
            time.sleep(0.02)

    async def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        await asyncio.to_thread(info.wait_for_publish, 5)
        for _ in range(100):
            if info.mid in self.acks:
                return self.acks[info.mid]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no PUBACK for {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Homes:
    ctx: Context
    anju_password: str
    gw_a: str
    gw_b: str


@pytest.fixture
async def homes(db_url: str, broker: Broker) -> AsyncIterator[Homes]:
    """Homes A (button, PIR) and B (button), each with its gateway, and the broker files written."""
    ctx = Context.create(make_settings(db_url))
    await register(ctx.db, "home-a", [("btn-a", DeviceKind.BUTTON), ("pir-a", DeviceKind.PIR)])
    await register(ctx.db, "home-b", [("btn-b", DeviceKind.BUTTON)])
    gw_a = await issue_gateway(ctx.db, "gw-a", household_id="home-a")
    gw_b = await issue_gateway(ctx.db, "gw-b", household_id="home-b")
    anju_password = f"anju-{uid()}"
    result = await write_auth(
        ctx.db,
        load_profiles(ctx.settings.sensors_dir),
        BrokerFiles(broker.password_file, broker.acl_file, pid_file=broker.pid_file),
        service_user=(ANJU_USER, anju_password),
    )
    assert result.changed and result.reloaded and result.skipped == []
    await until_connack(broker.port, "gw-a", gw_a, 0)
    try:
        yield Homes(ctx, anju_password, gw_a, gw_b)
    finally:
        await ctx.close()


async def test_the_broker_refuses_anonymous_clients_and_wrong_passwords_at_connect(
    homes: Homes, broker: Broker
) -> None:
    assert await asyncio.to_thread(connack, broker.port) == NOT_AUTHORIZED
    assert await asyncio.to_thread(connack, broker.port, "gw-a", "not-its-password") in (
        NOT_AUTHORIZED,
        BAD_CREDENTIALS,
    )
    assert await asyncio.to_thread(connack, broker.port, "gw-a", homes.gw_b) != 0
    assert await asyncio.to_thread(connack, broker.port, "nobody", homes.gw_a) != 0
    assert await asyncio.to_thread(connack, broker.port, "gw-a", homes.gw_a) == 0
    assert await asyncio.to_thread(connack, broker.port, ANJU_USER, homes.anju_password) == 0
    # What is written is what both brokers read: Mosquitto's $7$ PBKDF2-SHA512, 12-byte salt.
    line = next(row for row in broker.password_file.read_text().splitlines() if row.startswith("gw-a:"))
    assert line.split(":", 1)[1].startswith(f"$7${PBKDF2_ITERATIONS}$")
    assert homes.gw_a not in broker.password_file.read_text()


async def test_a_gateway_publishing_another_homes_device_is_refused_and_raises_nothing(
    homes: Homes, broker: Broker
) -> None:
    url = f"mqtt://{ANJU_USER}:{homes.anju_password}@127.0.0.1:{broker.port}"
    address = parse_mqtt_url(url)
    service = Service(
        homes.ctx,
        MqttTarget(url=url, username=address.username, password=address.password, client_id=f"t-{uid()}"),
        serve_http=False,
    )
    await service.start()
    gw_v5 = Gateway(broker.port, "gw-a", homes.gw_a)
    gw_v311 = Gateway(broker.port, "gw-a", homes.gw_a, v311=True)
    try:
        await asyncio.wait_for(service.ingestor.connected.wait(), 10)
        press = kit_payload(1, NOW, type="button", event="press")
        # MQTT 5 tells the intruder no; MQTT 3.1.1 has no way to, and the message is dropped the same.
        assert await gw_v5.publish("anju/v1/btn-b/event", press) == NOT_AUTHORIZED
        assert await gw_v5.publish("anju/v1/btn-b/heartbeat", kit_payload(2, NOW)) == NOT_AUTHORIZED
        assert (
            await gw_v311.publish("anju/v1/btn-b/event", kit_payload(3, NOW, type="button", event="press"))
            == 0
        )
        assert await gw_v5.publish("anju/sys/canary/anju-ingest", b'{"sent_at": "x"}') == NOT_AUTHORIZED
        # Its own home's button is heard, and opens an incident for home A.
        assert (
            await gw_v5.publish("anju/v1/btn-a/event", kit_payload(4, NOW, type="button", event="press")) == 0
        )

        async def incident_a() -> int | None:
            async with homes.ctx.db() as session:
                return await session.scalar(select(Incident.id).where(Incident.household_id == "home-a"))

        await eventually(incident_a, within_s=10)
        # Anju's own user may write and read its canary topic.
        await service.ingestor.publish_canary()

        async def canary_stored() -> bool:
            return service.ingestor.canary_stored_at is not None

        await eventually(canary_stored, within_s=5)
        async with homes.ctx.db() as session:
            events_b = await session.scalar(
                select(func.count()).select_from(SensorEvent).where(SensorEvent.household_id == "home-b")
            )
            incidents_b = await session.scalar(
                select(func.count()).select_from(Incident).where(Incident.household_id == "home-b")
            )
            events_a = await session.scalar(
                select(func.count()).select_from(SensorEvent).where(SensorEvent.household_id == "home-a")
            )
            dead = await session.scalar(select(func.count()).select_from(DeadLetter))
            unknown = await session.scalar(select(func.count()).select_from(UnknownDevice))
        assert (events_b, incidents_b) == (0, 0)
        assert events_a == 1
        assert (dead, unknown) == (0, 0)
    finally:
        gw_v5.close()
        gw_v311.close()
        await service.stop()


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def _anju(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """``anju ARGS`` in this process (on a thread: the command runs its own event loop)."""
    from anju.cli import main

    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return Ran(code, out, err)


async def test_a_new_gateway_connects_after_the_watcher_reloads_the_running_broker(
    homes: Homes,
    broker: Broker,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {
        "ANJU_DATABASE_URL": db_url,
        "ANJU_SECRET_KEY": TEST_SECRET,
        "ANJU_MQTT_URL": f"mqtt://{ANJU_USER}:{homes.anju_password}@127.0.0.1:{broker.port}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    files = ["--password-file", str(broker.password_file), "--acl-file", str(broker.acl_file)]
    # Nothing changed since the fixture wrote the files: nothing is rewritten and the broker not poked.
    mtime = broker.acl_file.stat().st_mtime_ns
    once = await _anju(capsys, "broker", "write-auth", *files, "--pid-file", str(broker.pid_file))
    assert once.returncode == 0, once.stderr
    assert "unchanged" in once.stdout and broker.acl_file.stat().st_mtime_ns == mtime

    watch = ["--pid-file", str(broker.pid_file), "--watch", "--interval", "0.2"]
    watcher = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "anju.cli", "broker", "write-auth", *files, *watch],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    old = Gateway(broker.port, "gw-a", homes.gw_a)
    try:
        assert await asyncio.to_thread(connack, broker.port, "gw-c", "anything") != 0
        issued = await _anju(capsys, "broker", "credentials", "gw-c", "--household", "home-a")
        assert issued.returncode == 0, issued.stderr
        password = issued.stdout.strip().splitlines()[-1]
        assert len(password) == 32 and "仅显示" in issued.stdout
        await until_connack(broker.port, "gw-c", password, 0)
        new = Gateway(broker.port, "gw-c", password)
        try:
            assert (
                await new.publish("anju/v1/pir-a/event", kit_payload(1, NOW, type="pir", event="motion")) == 0
            )
            assert await new.publish(
                "anju/v1/btn-b/event", kit_payload(1, NOW, type="button", event="press")
            ) == (NOT_AUTHORIZED)
        finally:
            new.close()
        # The same broker process, and the gateway connected before the reload never dropped.
        assert broker.proc.poll() is None and int(broker.pid_file.read_text()) == broker.pid
        assert old.client.is_connected()
        assert await old.publish("anju/v1/btn-a/heartbeat", kit_payload(9, NOW)) == 0
        # A device installed in home A while everything runs: its gateway may speak for it shortly.
        assert await old.publish("anju/v1/door-a/event", kit_payload(1, NOW, type="door", event="open")) == (
            NOT_AUTHORIZED
        )
        await register(homes.ctx.db, "home-a", [("door-a", DeviceKind.DOOR)])

        async def door_allowed() -> bool:
            payload = kit_payload(2, NOW, type="door", event="close")
            return await old.publish("anju/v1/door-a/event", payload) == 0

        await eventually(door_allowed, within_s=5, interval=0.1)
        # Rotating a password locks the old one out; revoking locks the gateway out.
        rotated = await _anju(capsys, "broker", "credentials", "gw-c")
        assert rotated.returncode == 0, rotated.stderr
        await until_connack(broker.port, "gw-c", rotated.stdout.strip().splitlines()[-1], 0)
        assert await asyncio.to_thread(connack, broker.port, "gw-c", password) != 0
        revoked = await _anju(capsys, "broker", "revoke", "gw-c")
        assert revoked.returncode == 0, revoked.stderr
        await until_connack(broker.port, "gw-c", rotated.stdout.strip().splitlines()[-1], NOT_AUTHORIZED)
    finally:
        old.close()
        watcher.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(watcher.communicate(), 10)
    assert watcher.returncode == 0, err.decode()


async def test_bad_credentials_requests_are_refused_with_a_reason(
    ctx: Context,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await register(ctx.db, "home-x", [("btn-x", DeviceKind.BUTTON)])
    await register(ctx.db, "home-y", [("btn-y", DeviceKind.BUTTON)])
    for name, kwargs, reason in (
        ("gw:x", {"household_id": "home-x"}, "invalid MQTT user name"),
        ("gw\nx", {"household_id": "home-x"}, "invalid MQTT user name"),
        ("gw-x", {}, "--household"),
        ("gw-x", {"household_id": "nowhere"}, "no household"),
        ("gw-x", {"device_id": "nothing"}, "no device"),
        ("gw-x", {"household_id": "home-y", "device_id": "btn-x"}, "belongs to"),
    ):
        with pytest.raises(AnjuError, match=reason):
            await issue_gateway(ctx.db, name, **kwargs)  # type: ignore[arg-type]
    assert not await revoke(ctx.db, "gw-x")
    monkeypatch.setenv("ANJU_DATABASE_URL", db_url)
    refused = await _anju(capsys, "broker", "credentials", "bad name", "--household", "home-x")
    assert refused.returncode == 2 and "invalid MQTT user name" in refused.stderr
    assert "用户名无效" in refused.stderr
    monkeypatch.setenv("ANJU_MQTT_URL", "mqtt://127.0.0.1:1883")
    no_user = await _anju(
        capsys, "broker", "write-auth", "--password-file", "/nonexistent/p", "--acl-file", "/nonexistent/a"
    )
    assert no_user.returncode == 2 and "no user and password" in no_user.stderr
    monkeypatch.setenv("ANJU_MQTT_URL", "mqtt://anju:pw@127.0.0.1:1883")
    unwritable = await _anju(
        capsys, "broker", "write-auth", "--password-file", "/nonexistent/p", "--acl-file", "/nonexistent/a"
    )
    assert unwritable.returncode == 2 and "cannot write the broker files" in unwritable.stderr
    monkeypatch.setenv("ANJU_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'never-upgraded.db'}")
    no_schema = await _anju(capsys, "broker", "credentials", "gw-x", "--household", "home-x")
    assert no_schema.returncode == 2 and "anju db upgrade" in no_schema.stderr
    # Anju's own login follows ANJU_MQTT_URL: a renamed user leaves no old login behind.
    assert await ensure_service_user(ctx.db, "anju-old", "pw-1")
    assert not await ensure_service_user(ctx.db, "anju-old", "pw-1")
    assert await ensure_service_user(ctx.db, "anju-new", "pw-2")
    async with ctx.db() as session:
        services = (await session.execute(select(BrokerCredential.username))).scalars().all()
    assert services == ["anju-new"]
    with pytest.raises(AnjuError, match="Anju's own broker user"):
        await issue_gateway(ctx.db, "anju-new", household_id="home-x")


async def test_device_credentials_and_unsafe_names_are_limited_the_same_for_mosquitto_and_emqx(
    pg_url: str,
) -> None:
    """EMQX's documented default queries, run against the views on the real PostgreSQL."""
    ctx = Context.create(make_settings(pg_url))
    try:
        await register(ctx.db, "home-a", [("btn-a", DeviceKind.BUTTON), ("pir-a", DeviceKind.PIR)])
        await register(
            ctx.db,
            "home-a",
            [("z-door", DeviceKind.DOOR, "hall door"), ("z-bad", DeviceKind.PIR, "room+1")],
            protocol=Protocol.ZIGBEE2MQTT,
        )
        await register(ctx.db, "home-b", [("btn-b", DeviceKind.BUTTON)])
        gw = await issue_gateway(ctx.db, "gw-a", household_id="home-a")
        solo = await issue_gateway(ctx.db, "btn-b", device_id="btn-b")
        await ensure_service_user(ctx.db, ANJU_USER, "anju-secret")
        files = await render(ctx.db, load_profiles(ctx.settings.sensors_dir))
    finally:
        await ctx.close()
    dsn = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        # EMQX turns ${username} into a prepared-statement parameter.
        authn = EMQX_AUTHN.replace("${username}", "$1")
        authz = EMQX_AUTHZ.replace("${username}", "$1")
        for user, password in (("gw-a", gw), ("btn-b", solo), (ANJU_USER, "anju-secret")):
            row = await conn.fetchrow(authn, user)
            assert row is not None and row["is_superuser"] is False
            # EMQX's pbkdf2 check: lowercase hex of PBKDF2-HMAC-SHA512(password, salt text, 1000, 64).
            key = hashlib.pbkdf2_hmac(
                "sha512", password.encode(), row["salt"].encode(), PBKDF2_ITERATIONS, 64
            )
            assert key.hex() == row["password_hash"]
            wrong = hashlib.pbkdf2_hmac("sha512", b"guess", row["salt"].encode(), PBKDF2_ITERATIONS, 64)
            assert wrong.hex() != row["password_hash"]
        assert await conn.fetchrow(authn, "nobody") is None
        acl = {u: sorted(tuple(r) for r in await conn.fetch(authz, u)) for u in ("gw-a", "btn-b", ANJU_USER)}
    finally:
        await conn.close()
    assert acl["gw-a"] == sorted(
        ("allow", "publish", topic)
        for topic in (
            "anju/v1/btn-a/event",
            "anju/v1/btn-a/heartbeat",
            "anju/v1/pir-a/event",
            "anju/v1/pir-a/heartbeat",
            "zigbee2mqtt/hall door",
            "zigbee2mqtt/hall door/availability",
        )
    )
    assert acl["btn-b"] == [
        ("allow", "publish", "anju/v1/btn-b/event"),
        ("allow", "publish", "anju/v1/btn-b/heartbeat"),
    ]
    assert ("allow", "all", "anju/sys/canary/#") in acl[ANJU_USER]
    assert ("allow", "subscribe", "anju/v1/+/event") in acl[ANJU_USER]
    assert not any(action == "publish" for _, action, _ in acl[ANJU_USER])
    # Mosquitto's ACL file says exactly the same, and names what it left out and why.
    mosquitto: dict[str, list[tuple[str, str, str]]] = {}
    user = ""
    for line in files.acl.splitlines():
        if line.startswith("user "):
            user = line[5:]
            mosquitto[user] = []
        elif line.startswith("topic "):
            _, access, topic = line.split(" ", 2)
            kind = {"write": "publish", "read": "subscribe", "readwrite": "all"}[access]
            mosquitto[user].append(("allow", kind, topic))
    assert {u: sorted(rules) for u, rules in mosquitto.items()} == acl
    assert any("room+1" in reason for reason in files.skipped)
    assert "room+1" not in files.acl


def test_the_hash_is_mosquittos_format_and_checks_passwords() -> None:
    encoded = hash_password("correct horse", salt="abcdefghijkl")
    parsed = parse_hash(encoded)
    assert (parsed.iterations, parsed.salt, len(parsed.key)) == (PBKDF2_ITERATIONS, "abcdefghijkl", 64)
    assert verify_password("correct horse", encoded) and not verify_password("correct horsE", encoded)
    for bad in ("", "$6$abc$def", "$7$x$y$z", "$7$1000$!!!$AAAA", encoded[:-8]):
        assert not verify_password("correct horse", bad)
    with pytest.raises(ValueError, match="12 ASCII"):
        hash_password("x", salt="短")


async def test_anju_warns_at_start_when_its_broker_is_remote_without_credentials_or_tls(
    sqlite_url: str,
) -> None:
    assert broker_warnings(parse_mqtt_url("mqtt://127.0.0.1:1883")) == []
    assert broker_warnings(parse_mqtt_url("mqtt://[::1]:1883")) == []
    assert broker_warnings(parse_mqtt_url("mqtts://anju:pw@broker.example:8883")) == []
    both = broker_warnings(parse_mqtt_url("mqtt://10.1.2.3:1883"))
    assert len(both) == 2 and "without credentials" in both[0] and "mqtts://" in both[1]
    assert len(broker_warnings(parse_mqtt_url("mqtt://anju:pw@broker.example:1883"))) == 1
    env = {
        **os.environ,
        "ANJU_DATABASE_URL": sqlite_url,
        "ANJU_SECRET_KEY": TEST_SECRET,
        "ANJU_MQTT_URL": "mqtt://192.0.2.1:1883",  # TEST-NET-1: never answers
        "ANJU_HTTP_PORT": str(free_port()),
    }
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "anju.cli", "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len([s for s in seen if "WARNING" in s]) < 2:
            line = await asyncio.wait_for(proc.stderr.readline(), 20)
            if not line:
                break
            seen.append(line.decode())
    finally:
        proc.kill()
        await proc.wait()
    warnings = [s for s in seen if "WARNING" in s and "192.0.2.1" in s]
    assert len(warnings) == 2, seen
    assert "未配置用户名密码" in warnings[0] and "未加密" in warnings[1]


def test_files_are_replaced_atomically_only_on_change_keeping_their_mode(tmp_path: Path) -> None:
    target = tmp_path / "anju.acl"
    assert write_if_changed(target, "user a\n") and target.stat().st_mode & 0o777 == 0o640
    target.chmod(0o644)
    inode = target.stat().st_ino
    assert not write_if_changed(target, "user a\n") and target.stat().st_ino == inode
    assert write_if_changed(target, "user b\n") and target.read_text() == "user b\n"
    assert target.stat().st_ino != inode and target.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anju.acl"]
