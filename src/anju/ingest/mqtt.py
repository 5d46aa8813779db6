"""paho-mqtt driven by the asyncio loop (the Home Assistant pattern), with reconnects and flow control.

paho tells us when its socket opens, closes and has data to write; we hand the socket to the loop
(``add_reader`` / ``add_writer``) and call ``loop_read`` / ``loop_write`` / ``loop_misc`` from there,
so every paho callback runs on the loop thread. Only the blocking TCP/TLS connect runs in a worker
thread; what paho calls from there is passed to the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from anju.errors import ConfigError

log = logging.getLogger(__name__)

MqttVersion = Literal["v5", "v311"]
#: Packets read per readiness callback: fewer loop wake-ups per message, bounded latency for others.
_READS_PER_WAKEUP = 64
_BACKOFF_MIN_S = 0.5
_BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    #: PEM CA file for ``mqtts://`` (``ANJU_MQTT_CA_FILE``); None: the system's trusted CAs.
    ca_file: str | None = None

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://user:pass@host:port`` (``mqtts://`` for TLS) as a broker address."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ConfigError(f"MQTT URL has no host: {url!r}")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as err:
        raise ConfigError(f"MQTT URL has an invalid port: {url!r}") from err
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying TLS context trusting ``ca_file`` (else the system's CAs)."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"MQTT CA file {ca_file!r} cannot be loaded: {err}") from err


class MqttLink:
    """One persistent-session MQTT connection, read and written by the asyncio loop."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        version: MqttVersion,
        subscriptions: Sequence[str],
        on_message: Callable[[paho.MQTTMessage, int], None],
        session_expiry_s: int,
        receive_maximum: int = 65535,
        keepalive_s: int = 60,
    ) -> None:
        self.address = address
        self.version = version
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = max(1, min(receive_maximum, 65535))
        self._keepalive_s = keepalive_s
        self.connected = asyncio.Event()
        #: Bumped when a socket is attached (one per connection): a message id is only meaningful on
        #: the connection it came on, and a new socket exists before its CONNACK, so an ack of an
        #: old message in between must not go out on it. Without a socket nothing is acked at all.
        self.generation = 0
        #: Whether the broker still had our session (subscriptions, queued messages) at the last connect.
        self.session_present = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._sock: Any = None
        self._fd = -1
        self._connecting: asyncio.Future[None] | None = None
        self._writing = False
        self._paused = False
        self._stopping = False
        self._received = 0
        self._was_subscribed = False
        self._closed = asyncio.Event()
        self._misc: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._client = self._make_client(client_id)

    def _make_client(self, client_id: str) -> paho.Client:
        if self.version == "v5":
            client = paho.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, manual_ack=True
            )
        else:
            client = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=paho.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set_context(tls_context(self.address.ca_file))
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_message
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._socket_register_write
        client.on_socket_unregister_write = self._socket_unregister_write
        return client

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting (and reconnecting) in the background; ``connected`` tells when subscribed."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping = False
        self._task = asyncio.create_task(self._connection_loop(), name=f"mqtt {self.address}")
        self._schedule_misc()

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Send DISCONNECT (the broker keeps the session and our unacknowledged messages)."""
        self._stopping = True
        if self._connecting is not None:
            # A blocking connect cannot be interrupted: let it finish, then disconnect cleanly.
            await asyncio.wait({self._connecting}, timeout=15)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sock is not None:
            self._client.disconnect()
            try:
                await asyncio.wait_for(self._closed.wait(), timeout_s)
            except TimeoutError:
                log.warning("MQTT broker did not close the connection in %.0f s; closing it", timeout_s)
        self._force_close()
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        self.connected.clear()

    def _force_close(self) -> None:
        sock = self._sock
        if sock is None:
            return
        self._socket_close(self._client, None, sock)
        with contextlib.suppress(OSError):
            sock.close()

    async def _connection_loop(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = _BACKOFF_MIN_S
        while not self._stopping:
            self._closed.clear()
            self._connecting = loop.run_in_executor(None, self._connect_blocking)
            try:
                await asyncio.shield(self._connecting)
            except ssl.SSLCertVerificationError as err:
                log.error(
                    "Refusing MQTT broker %s: its TLS certificate does not verify (%s); check "
                    "ANJU_MQTT_CA_FILE and the broker's certificate; retrying in %.1f s",
                    self.address,
                    err,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            except (OSError, ValueError, ssl.SSLError) as err:
                log.warning("MQTT connect to %s failed: %s; retrying in %.1f s", self.address, err, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            await self._closed.wait()
            self.connected.clear()
            if self._stopping:
                return
            # A connection that got as far as subscribing resets the backoff.
            backoff = _BACKOFF_MIN_S if self._was_subscribed else min(backoff * 2, _BACKOFF_MAX_S)
            log.warning("MQTT connection to %s lost; reconnecting in %.1f s", self.address, backoff)
            await asyncio.sleep(backoff)

    def _connect_blocking(self) -> None:
        self._was_subscribed = False
        if self.version == "v5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._session_expiry_s
            props.ReceiveMaximum = self._receive_maximum
            # clean_start=False from the very first connect: mosquitto keeps (and persists) only
            # sessions whose CONNECT asked for it, so messages sent while we are down wait for us.
            self._client.connect(
                self.address.host,
                self.address.port,
                keepalive=self._keepalive_s,
                clean_start=False,
                properties=props,
            )
        else:
            self._client.connect(self.address.host, self.address.port, keepalive=self._keepalive_s)

    # -- flow control and acknowledgement -----------------------------------------------------

    def ack(self, mid: int, qos: int, generation: int) -> bool:
        """Acknowledge a message, if it came on the current connection (else the broker resends it)."""
        if qos == 0 or generation != self.generation or self._sock is None:
            return False
        return self._client.ack(mid, qos) == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Publish on this connection (the loop writes it); False when not connected."""
        if self._sock is None or not self.connected.is_set():
            return False
        info = self._client.publish(topic, payload, qos=qos)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    @property
    def paused(self) -> bool:
        return self._paused

    def pause_reading(self) -> None:
        """Stop reading the socket: unacknowledged QoS 1 messages wait at the broker."""
        if self._paused:
            return
        self._paused = True
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        if self._sock is not None and self._loop is not None:
            self._loop.add_reader(self._fd, self._readable)
            self._loop.call_soon(self._readable)

    # -- paho callbacks (all on the loop thread, except during the blocking connect) -----------

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._attach, sock)

    def _attach(self, sock: Any) -> None:
        self.generation += 1
        if sock.fileno() < 0:
            return
        self._sock = sock
        self._fd = sock.fileno()
        if not self._paused and self._loop is not None:
            self._loop.add_reader(self._fd, self._readable)

    def _socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._detach, sock)

    def _detach(self, sock: Any) -> None:
        if sock is not self._sock:
            return
        # By file number: when this runs via call_soon_threadsafe the socket may already be closed.
        if self._loop is not None and self._fd >= 0:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._writing = False
        self._sock = None
        self._fd = -1
        self._closed.set()

    def _socket_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if not self._writing:
            self._on_loop(self._want_write, sock)

    def _want_write(self, sock: Any) -> None:
        if self._writing or self._loop is None or sock is not self._sock or self._fd < 0:
            return
        self._writing = True
        self._loop.add_writer(self._fd, self._writable)

    def _socket_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if self._writing:
            self._on_loop(self._done_writing, sock)

    def _done_writing(self, sock: Any) -> None:
        if self._writing and self._loop is not None and sock is self._sock and self._fd >= 0:
            self._loop.remove_writer(self._fd)
        self._writing = False

    def _readable(self) -> None:
        for _ in range(_READS_PER_WAKEUP):
            if self._sock is None or self._paused:
                return
            before = self._received
            if self._client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return  # paho has closed the socket and reported the disconnect
            if self._received == before:
                break
        sock = self._sock
        # TLS may hold decrypted bytes the socket no longer signals as readable.
        if sock is not None and isinstance(sock, ssl.SSLSocket) and sock.pending() and self._loop:
            self._loop.call_soon(self._readable)

    def _writable(self) -> None:
        self._client.loop_write()

    def _schedule_misc(self) -> None:
        if self._loop is None or self._stopping:
            return
        if self._sock is not None:
            self._client.loop_misc()  # keepalive pings; closes a connection whose broker went silent
        self._misc = self._loop.call_later(1.0, self._schedule_misc)

    def _handle_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s refused the connection: %s", self.address, reason)
            return
        self.session_present = bool(flags.session_present)
        log.info(
            "MQTT connected to %s (session %s)",
            self.address,
            "resumed" if flags.session_present else "new",
        )
        if self.version == "v5":
            # Retained messages (Zigbee2MQTT availability) only for a subscription the session lacks.
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(topic, options) for topic in self._subscriptions])
        else:
            client.subscribe([(topic, 1) for topic in self._subscriptions])

    def _handle_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("MQTT broker refused subscriptions %s: %s", self._subscriptions, failed)
        self._was_subscribed = True
        self.connected.set()

    def _handle_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning("MQTT disconnected from %s: %s", self.address, reason)
        self._closed.set()

    def _handle_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._received += 1
        self._on_message(message, self.generation)
