"""DingTalk custom-robot webhook (centers in China run on DingTalk), with its signature.

The robot's "加签" security setting: ``sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))``
with ``timestamp`` in epoch milliseconds, both added to the webhook URL; DingTalk refuses a
timestamp more than an hour off. A robot reports no delivery, so posts are never tracked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

import httpx

from anju.clock import Clock
from anju.errors import DeliveryFailed
from anju.notify.provider import Outgoing, Sent
from anju.notify.providers.robot import robot_answer

#: errcodes worth retrying: rate limit (20 posts/min per robot) and server busy.
RETRYABLE_ERRCODES = frozenset({130101, -1})


def sign(secret: str, timestamp_ms: int) -> str:
    """The URL-encoded signature DingTalk expects for ``timestamp_ms``."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class DingTalkProvider:
    name = "dingtalk"

    def __init__(self, *, webhook: str, secret: str | None, clock: Clock, timeout_s: float = 10.0) -> None:
        self.webhook = webhook
        self._secret = secret
        self._clock = clock
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None

    def signed_url(self) -> str:
        if not self._secret:
            return self.webhook
        ts = int(self._clock.now().timestamp() * 1000)
        sep = "&" if "?" in self.webhook else "?"
        return f"{self.webhook}{sep}timestamp={ts}&sign={sign(self._secret, ts)}"

    def payload(self, message: Outgoing) -> dict[str, Any]:
        mention = message.to if message.to.lstrip("+").isdigit() else None
        body: dict[str, Any] = {"msgtype": "text", "text": {"content": message.body}}
        if mention:
            # DingTalk matches mentions against the mobile number without a country code.
            body["at"] = {"atMobiles": [mention.removeprefix("+86")], "isAtAll": False}
        return body

    async def post(self, message: Outgoing) -> Sent:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout_s)
        try:
            response = await self._http.post(self.signed_url(), json=self.payload(message))
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"could not reach DingTalk: {err}", retryable=True, code="network") from err
        return robot_answer(
            response,
            vendor="DingTalk",
            provider=self.name,
            provider_id=f"dingtalk-{message.notification_id}-{message.attempt}",
            retryable_codes=RETRYABLE_ERRCODES,
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
