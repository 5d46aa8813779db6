"""A small QoS 1 publisher driven by the asyncio loop, with a bounded in-flight window."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from anju.errors import ConfigError

log = logging.getLogger(__name__)

MqttVersion = Literal["v5", "v311"]
#: paho numbers messages 1..65535: far fewer than that may be unacknowledged at once.
MAX_WINDOW = 20000


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_url(url: str) -> Broker:
    """``mqtt://user:pass@host:port`` (``mqtts://`` for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"MQTT URL must look like mqtt://host:port, got {url!r}")
    tls = parts.scheme == "mqtts"
    return Broker(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


class Publisher:
    """Publishes QoS 1 messages; ``publish`` waits while ``window`` messages await their PUBACK."""

    def __init__(
        self,
        url: str,
        *,
        protocol: MqttVersion = "v311",
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        window: int = 1000,
    ) -> None:
        self.broker = parse_url(url)
        if username is not None:
            self.broker = Broker(self.broker.host, self.broker.port, self.broker.tls, username, password)
        if not 1 <= window <= MAX_WINDOW:
            raise ConfigError(f"in-flight window must be 1..{MAX_WINDOW}")
        self.window = window
        self.published = 0
        self.acked = 0
        self.connected = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._inflight: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._sock: Any = None
        self._misc: asyncio.TimerHandle | None = None
        cid = client_id or f"anju-sim-{uuid.uuid4().hex[:10]}"
        if protocol == "v5":
            self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=paho.MQTTv5)
        else:
            self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=paho.MQTTv311)
        self.protocol = protocol
        c = self._client
        if self.broker.username is not None:
            c.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            c.tls_set_context(ssl.create_default_context())
        c.max_inflight_messages_set(window)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_socket_open = lambda _c, _u, sock: self._call(self._attach, sock)
        c.on_socket_close = lambda _c, _u, sock: self._call(self._detach, sock)
        c.on_socket_register_write = lambda _c, _u, sock: self._call(self._want_write, sock)
        c.on_socket_unregister_write = lambda _c, _u, sock: self._call(self._done_writing, sock)

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def connect(self, timeout_s: float = 10.0) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        if self.protocol == "v5":
            self._client.connect(self.broker.host, self.broker.port, keepalive=30, clean_start=True)
        else:
            self._client.connect(self.broker.host, self.broker.port, keepalive=30)
        self._tick()
        try:
            await asyncio.wait_for(self.connected.wait(), timeout_s)
        except TimeoutError as err:
            raise ConfigError(f"MQTT broker {self.broker.host}:{self.broker.port} did not accept us") from err

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        while len(self._inflight) >= self.window or not self.connected.is_set():
            self._room.clear()
            await self._room.wait()
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise ConfigError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        self._inflight.add(info.mid)
        self.published += 1

    async def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every published message is acknowledged; False on timeout."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._inflight:
            if asyncio.get_running_loop().time() > deadline:
                return False
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), 0.1)
        return True

    async def close(self) -> None:
        if self._sock is not None:
            self._client.disconnect()
            for _ in range(50):
                if self._sock is None:
                    break
                await asyncio.sleep(0.02)
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None

    # paho callbacks, marshalled onto the loop when they come from elsewhere
    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        if threading.get_ident() == self._thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _attach(self, sock: Any) -> None:
        self._sock = sock
        assert self._loop is not None
        self._loop.add_reader(sock, self._client.loop_read)

    def _detach(self, sock: Any) -> None:
        if self._loop is not None and sock.fileno() >= 0:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        if sock is self._sock:
            self._sock = None
        self.connected.clear()

    def _want_write(self, sock: Any) -> None:
        if self._loop is not None and sock.fileno() >= 0:
            self._loop.add_writer(sock, self._client.loop_write)

    def _done_writing(self, sock: Any) -> None:
        if self._loop is not None and sock.fileno() >= 0:
            self._loop.remove_writer(sock)

    def _tick(self) -> None:
        if self._loop is None:
            return
        if self._sock is not None:
            self._client.loop_misc()
        elif self.connected.is_set() is False and self._misc is not None:
            # Lost the connection: paho resends unacknowledged QoS 1 messages after reconnecting.
            with contextlib.suppress(OSError, ValueError):
                self._client.reconnect()
        self._misc = self._loop.call_later(1.0, self._tick)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the simulator: %s", reason)
            return
        self._call(self._connected)

    def _connected(self) -> None:
        self.connected.set()
        self._room.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._call(self.connected.clear)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._call(self._acked, mid)

    def _acked(self, mid: int) -> None:
        if mid in self._inflight:
            self._inflight.discard(mid)
            self.acked += 1
        if len(self._inflight) < self.window:
            self._room.set()
