"""Twilio SMS and voice through the official SDK (async client), and Twilio's status vocabulary.

``ANJU_TWILIO_API_BASE`` points the SDK at another server (Prism or a fake in tests) by rewriting
each request's URL, which covers every Twilio domain the SDK may use.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from anju.domain import Channel, NotificationStatus
from anju.errors import ConfigError, DeliveryFailed
from anju.notify.provider import Outgoing, Sent
from anju.notify.providers.twilio.settings import DEFAULT_API_BASE

# No ``StatusCallbackEvent``: Twilio then reports only the call's end (completed, busy,
# no-answer, failed, canceled), which is all the fallback needs; that the call was answered we
# learn when Twilio fetches its script. (Asking for more events means repeating the field, which
# Twilio accepts but Prism's form parser cannot validate: stoplightio/prism#2654.)

#: Twilio message statuses → ours. ``sending``/``sent`` mean "handed to the carrier", not delivered.
SMS_STATUS: dict[str, NotificationStatus] = {
    "accepted": NotificationStatus.QUEUED,
    "scheduled": NotificationStatus.QUEUED,
    "queued": NotificationStatus.QUEUED,
    "sending": NotificationStatus.SENT,
    "sent": NotificationStatus.SENT,
    "delivered": NotificationStatus.DELIVERED,
    "read": NotificationStatus.DELIVERED,
    "undelivered": NotificationStatus.UNDELIVERED,
    "failed": NotificationStatus.FAILED,
    "canceled": NotificationStatus.FAILED,
}

#: Twilio call statuses → ours. A call only reaches ``completed`` after being answered.
CALL_STATUS: dict[str, NotificationStatus] = {
    "queued": NotificationStatus.QUEUED,
    "initiated": NotificationStatus.QUEUED,
    "ringing": NotificationStatus.SENT,
    "in-progress": NotificationStatus.ANSWERED,
    "answered": NotificationStatus.ANSWERED,
    "completed": NotificationStatus.ANSWERED,
    "busy": NotificationStatus.BUSY,
    "no-answer": NotificationStatus.NO_ANSWER,
    "failed": NotificationStatus.FAILED,
    "canceled": NotificationStatus.FAILED,
}


def map_status(channel: Channel, raw: str) -> NotificationStatus | None:
    """Our status for a Twilio ``MessageStatus``/``CallStatus``; None for one we do not track."""
    table = CALL_STATUS if channel is Channel.VOICE else SMS_STATUS
    return table.get(raw.strip().lower())


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's async client with a hard deadline per request, optionally sent to ``api_base``.

    The SDK passes no timeout of its own to aiohttp (whose default is five minutes); a provider
    that hangs must instead fail fast so the outbox can retry or fall back.
    """

    def __init__(self, api_base: str | None, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(api_base.rstrip("/")) if api_base else None
        self._deadline_s = timeout

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        if self._base is not None and parts.hostname and parts.hostname.endswith("twilio.com"):
            path = self._base.path + parts.path
            url = parts._replace(scheme=self._base.scheme, netloc=self._base.netloc, path=path).geturl()
        async with asyncio.timeout(self._deadline_s):
            response: Response = await super().request(method, url, *args, **kwargs)
            return response


def translate(err: BaseException, what: str) -> DeliveryFailed:
    """A vendor or network error as Anju's own; 4xx (bad number, bad account) are not retried."""
    if isinstance(err, TwilioRestException):
        status = err.status or 0
        retryable = status >= 500 or status == 429 or status == 0
        code = str(err.code) if err.code is not None else f"http-{status}"
        return DeliveryFailed(
            f"Twilio refused the {what} (HTTP {status}, code {code}): {err.msg}",
            retryable=retryable,
            code=code,
        )
    if isinstance(err, asyncio.TimeoutError | TimeoutError):
        return DeliveryFailed(f"Twilio did not answer the {what} in time", retryable=True, code="timeout")
    if isinstance(err, aiohttp.ClientError | OSError):
        return DeliveryFailed(f"could not reach Twilio for the {what}: {err}", retryable=True, code="network")
    if isinstance(err, TwilioException):
        return DeliveryFailed(f"Twilio client error on the {what}: {err}", retryable=True, code="client")
    return DeliveryFailed(f"unexpected error on the {what}: {err!r}", retryable=True, code="unexpected")


class TwilioProvider:
    """SMS and voice via Twilio; every request carries callback URLs that name the outbox row."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        public_url: str,
        api_base: str = DEFAULT_API_BASE,
        timeout_s: float = 10.0,
        ring_timeout_s: int = 25,
    ) -> None:
        if not public_url:
            raise ConfigError(
                "ANJU_PUBLIC_URL is required with Twilio: calls fetch their script from it and "
                "delivery reports come back to it"
            )
        self._sid = account_sid
        self._token = auth_token
        self.from_number = from_number
        self.public_url = public_url.rstrip("/")
        self._api_base = api_base
        self._timeout_s = timeout_s
        self._ring_timeout_s = ring_timeout_s
        self._client: Client | None = None
        self._http: AsyncTwilioHttpClient | None = None

    def _get_client(self) -> Client:
        # aiohttp sessions must be created inside the running loop, hence lazily.
        if self._client is None:
            rebase = None if self._api_base.rstrip("/") == DEFAULT_API_BASE else self._api_base
            self._http = _HttpClient(rebase, timeout=self._timeout_s)
            self._client = Client(self._sid, self._token, http_client=self._http)
        return self._client

    def callback_url(self, channel: Channel, message: Outgoing) -> str:
        """Status callback URL; ``n`` and ``a`` are the idempotency marker a restart relies on."""
        kind = "voice" if channel is Channel.VOICE else "sms"
        query = urlencode({"n": message.notification_id, "a": message.attempt})
        return f"{self.public_url}/twilio/{kind}/status?{query}"

    def twiml_url(self, notification_id: int) -> str:
        return f"{self.public_url}/twilio/voice/{notification_id}/twiml"

    async def send_sms(self, message: Outgoing) -> Sent:
        client = self._get_client()
        try:
            created = await client.messages.create_async(
                to=message.to,
                from_=self.from_number,
                body=message.body,
                status_callback=self.callback_url(Channel.SMS, message),
            )
        except Exception as err:
            raise translate(err, "SMS") from err
        # Just created: queued, whatever the answer claims (Prism's example call is "in-progress").
        return Sent(provider=self.name, provider_id=str(created.sid), status=NotificationStatus.QUEUED)

    async def make_call(self, message: Outgoing) -> Sent:
        client = self._get_client()
        try:
            created = await client.calls.create_async(
                to=message.to,
                from_=self.from_number,
                url=self.twiml_url(message.notification_id),
                method="POST",
                status_callback=self.callback_url(Channel.VOICE, message),
                status_callback_method="POST",
                timeout=self._ring_timeout_s,
            )
        except Exception as err:
            raise translate(err, "voice call") from err
        # Just created: queued, whatever the answer claims (Prism's example call is "in-progress").
        return Sent(provider=self.name, provider_id=str(created.sid), status=NotificationStatus.QUEUED)

    def bridge_url(self, ref: int, what: str) -> str:
        """A bridged call's webhook (``twiml``, ``status``, ``dialed``); ``ref`` is its timeline entry."""
        return f"{self.public_url}/twilio/bridge/{ref}/{what}"

    async def bridge_call(self, *, desk_phone: str, ref: int) -> Sent:
        """Ring the operator's desk phone; its answer fetches the script that dials the resident."""
        client = self._get_client()
        try:
            created = await client.calls.create_async(
                to=desk_phone,
                from_=self.from_number,
                url=self.bridge_url(ref, "twiml"),
                method="POST",
                status_callback=self.bridge_url(ref, "status"),
                status_callback_method="POST",
                timeout=self._ring_timeout_s,
            )
        except Exception as err:
            raise translate(err, "bridged call") from err
        return Sent(provider=self.name, provider_id=str(created.sid), status=NotificationStatus.QUEUED)

    async def find_sent(self, message: Outgoing, *, since: datetime, exclude: frozenset[str]) -> Sent | None:
        """Twilio's record of an attempt whose answer we never stored.

        SMS: the body ends with the outbox reference ``#<id>``, unique per row. Calls carry no
        text, so a call to the same number from our number created since the claim, and not
        recorded against another row, is taken to be this one.
        """
        client = self._get_client()
        try:
            # One page, newest first: an unrecorded attempt is minutes old at most. Filtering by
            # time happens here, not with ``StartTime>``, which a call not yet started may miss.
            if message.channel is Channel.VOICE:
                for call in await client.calls.page_async(
                    to=message.to, from_=self.from_number, page_size=20
                ):
                    created = call.date_created
                    if call.sid in exclude or created is None or created < since - timedelta(seconds=5):
                        continue
                    status = map_status(Channel.VOICE, str(call.status or "queued"))
                    return Sent(
                        provider=self.name,
                        provider_id=str(call.sid),
                        status=status or NotificationStatus.QUEUED,
                    )
                return None
            marker = message.body.rsplit(" ", 1)[-1]
            for sms in await client.messages.page_async(to=message.to, from_=self.from_number, page_size=50):
                if sms.sid in exclude or not str(sms.body or "").rstrip().endswith(marker):
                    continue
                status = map_status(Channel.SMS, str(sms.status or "queued"))
                return Sent(
                    provider=self.name, provider_id=str(sms.sid), status=status or NotificationStatus.QUEUED
                )
            return None
        except Exception as err:
            raise translate(err, "lookup") from err

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._client = None
        self._http = None


def signature_url(public_url: str, path: str, query: str) -> str:
    """The URL Twilio signed: the public one, not what a proxy forwarded to us."""
    base = public_url.rstrip("/") + path
    return f"{base}?{query}" if query else base
