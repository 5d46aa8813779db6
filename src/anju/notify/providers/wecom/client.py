"""WeCom (企业微信) group robot: one markdown post per row, with the incident's console link.

The robot's webhook (``POST {api_base}/cgi-bin/webhook/send?key=KEY``, JSON) has no signature
option: the key in the URL is the whole credential. So the key is a secret setting, never put in
an error, a log line or the timeline (``redact``), and posts go over HTTPS only outside tests.
A robot reports no delivery, so posts are never tracked.
"""

from __future__ import annotations

from typing import Any

import httpx

from anju.errors import DeliveryFailed
from anju.notify.provider import Outgoing, Sent
from anju.notify.providers.robot import robot_answer
from anju.notify.templates import group_markdown, language_of

SEND_PATH = "/cgi-bin/webhook/send"
#: A markdown post may hold 4096 bytes of UTF-8; a longer one is refused (errcode 40058).
MAX_MARKDOWN_BYTES = 4096
#: errcodes worth retrying: frequency limit (20 posts/min per robot, 45009) and "system busy" (-1).
RETRYABLE_ERRCODES = frozenset({45009, -1})


def clip_utf8(text: str, limit: int = MAX_MARKDOWN_BYTES) -> str:
    """``text`` cut to ``limit`` bytes of UTF-8 on a character boundary."""
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore")


class WeComProvider:
    name = "wecom"

    def __init__(self, *, key: str, api_base: str, timeout_s: float = 10.0) -> None:
        if not key:
            raise ValueError("a WeCom robot needs its webhook key")
        self._key = key
        self.api_base = api_base.rstrip("/")
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None

    def redact(self, text: str) -> str:
        """``text`` without the key (an error may quote the URL)."""
        return text.replace(self._key, "***")

    def payload(self, message: Outgoing) -> dict[str, Any]:
        lang = language_of(message.language)
        content = group_markdown(message.facts, lang) if message.facts is not None else message.body
        return {"msgtype": "markdown", "markdown": {"content": clip_utf8(content)}}

    async def post(self, message: Outgoing) -> Sent:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout_s)
        url = f"{self.api_base}{SEND_PATH}"
        try:
            response = await self._http.post(url, params={"key": self._key}, json=self.payload(message))
        except httpx.TimeoutException as err:
            raise DeliveryFailed("WeCom did not answer in time", retryable=True, code="timeout") from err
        except httpx.HTTPError as err:
            reason = self.redact(str(err) or type(err).__name__)
            raise DeliveryFailed(f"could not reach WeCom: {reason}", retryable=True, code="network") from err
        return robot_answer(
            response,
            vendor="WeCom",
            provider=self.name,
            provider_id=f"wecom-{message.notification_id}-{message.attempt}",
            retryable_codes=RETRYABLE_ERRCODES,
            redact=self.redact,
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
