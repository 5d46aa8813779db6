"""An embedded MQTT broker (amqtt, MQTT 3.1.1) for ``anju demo`` and single-site installs.

Authentication is required: amqtt keeps QoS 1 messages for an offline session only when that
session is not anonymous, so the ingestor logs in with a user name and loses nothing while it
restarts. amqtt's session store does not survive a broker restart reliably: for homes that matter,
run Mosquitto or EMQX.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from anju.errors import ConfigError

log = logging.getLogger(__name__)


class PasswordAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """Accepts a CONNECT only with a configured user name and its password."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        users: dict[str, str] = getattr(self.config, "users", {})
        username = session.username
        password = session.password or ""
        expected = users.get(username) if username else None
        if expected is None:
            log.warning("embedded broker: refused client %r (unknown user %r)", session.client_id, username)
            return False
        if not hmac.compare_digest(expected.encode(), str(password).encode()):
            log.warning("embedded broker: refused client %r (wrong password)", session.client_id)
            return False
        session.is_anonymous = False
        return True


class EmbeddedBroker:
    """amqtt in this process, listening on ``host:port``; every client must log in."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1884, *, users: dict[str, str]) -> None:
        if not users:
            raise ConfigError("the embedded broker needs at least one user: anonymous sessions lose messages")
        self.host = host
        self.port = port
        self._users = dict(users)
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{PasswordAuthPlugin.__module__}.{PasswordAuthPlugin.__qualname__}": {"users": self._users}
            },
        }

    async def start(self) -> None:
        # amqtt binds its asyncio objects to the running loop: create it here, not in __init__.
        self._broker = Broker(self.config())
        try:
            await self._broker.start()
        except Exception as err:
            self._broker = None
            raise ConfigError(
                f"embedded MQTT broker cannot listen on {self.host}:{self.port}: {err}"
            ) from err
        log.info("embedded MQTT broker (MQTT 3.1.1) listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
