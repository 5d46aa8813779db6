"""Aliyun SMS (dysmsapi) and voice (dyvmsapi) through the official SDKs, and their vocabulary.

Every request names its outbox row in ``OutId`` (``n<id>a<attempt>``), which the receipts pushed
back carry, so a receipt binds its row even before the worker recorded the send. Business refusals
come back as HTTP 200 with a ``Code`` other than ``OK``; they are translated here like HTTP errors.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client as SmsClient
from alibabacloud_dyvmsapi20170525 import models as vms_models
from alibabacloud_dyvmsapi20170525.client import Client as VoiceClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from anju.domain import NotificationStatus
from anju.errors import ConfigError, DeliveryFailed
from anju.notify.provider import Outgoing, Sent
from anju.notify.providers.aliyun.settings import AliyunSettings
from anju.notify.providers.aliyun.templates import (
    CHECKIN_KEYS,
    alert_params,
    checkin_params,
    notice_params,
)
from anju.notify.templates import Lang, language_of

SMS_ENDPOINT = "dysmsapi.aliyuncs.com"
VOICE_ENDPOINT = "dyvmsapi.aliyuncs.com"

#: Codes worth another try: throttling, flow control and the service's own trouble.
RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
        "isp.SYSTEM_ERROR",
        "isp.RAM_PERMISSION_DENY",
    }
)

_OUT_ID = re.compile(r"^n(\d{1,18})a(\d{1,9})$")


def out_id(message: Outgoing) -> str:
    return f"n{message.notification_id}a{message.attempt}"


def parse_out_id(raw: object) -> int | None:
    """The outbox row an ``out_id`` names, or None for one we did not write."""
    found = _OUT_ID.match(str(raw or "").strip())
    return int(found.group(1)) if found else None


def aliyun_number(e164: str) -> str:
    """Mainland numbers without +86 (as Aliyun wants them); others as country code + number."""
    digits = e164.lstrip("+")
    return digits[2:] if e164.startswith("+86") else digits


def translate(err: BaseException, what: str) -> DeliveryFailed:
    """An SDK or network error as Anju's own; refusals other than throttling are not retried."""
    if isinstance(err, DeliveryFailed):
        return err
    if isinstance(err, ThrottlingException):
        return DeliveryFailed(
            f"Aliyun throttled the {what}", retryable=True, code=str(err.code or "Throttling")
        )
    if isinstance(err, AlibabaCloudException):
        status = getattr(err, "status_code", None) or 0
        code = str(err.code or f"http-{status}")
        retryable = status >= 500 or status == 429 or code in RETRYABLE_CODES
        return DeliveryFailed(
            f"Aliyun refused the {what} (HTTP {status}, code {code}): {err.message}",
            retryable=retryable,
            code=code,
        )
    if isinstance(err, asyncio.TimeoutError | TimeoutError):
        return DeliveryFailed(f"Aliyun did not answer the {what} in time", retryable=True, code="timeout")
    if isinstance(err, OSError):
        return DeliveryFailed(f"could not reach Aliyun for the {what}: {err}", retryable=True, code="network")
    return DeliveryFailed(f"Aliyun client error on the {what}: {err!r}", retryable=True, code="client")


def _refusal(code: str | None, message: str | None, what: str) -> DeliveryFailed:
    code = code or "unknown"
    return DeliveryFailed(
        f"Aliyun refused the {what} (code {code}): {message or ''}".rstrip(),
        retryable=code in RETRYABLE_CODES,
        code=code,
    )


class AliyunProvider:
    """SMS and voice through Aliyun's communication services (mainland China)."""

    name = "aliyun"

    def __init__(
        self, settings: AliyunSettings, *, timeout_s: float = 10.0, ring_timeout_s: int = 25
    ) -> None:
        if not (settings.access_key_id and settings.access_key_secret):
            raise ConfigError("ANJU_ALIYUN_ACCESS_KEY_ID and ANJU_ALIYUN_ACCESS_KEY_SECRET are required")
        self.settings = settings
        self._timeout_s = timeout_s
        self._ring_timeout_s = ring_timeout_s
        self._sms: SmsClient | None = None
        self._voice: VoiceClient | None = None

    def _config(self, endpoint: str) -> Config:
        s = self.settings
        assert s.access_key_id and s.access_key_secret
        protocol = "https"
        if s.api_base:
            base = urlsplit(s.api_base)
            endpoint, protocol = base.netloc, base.scheme or "http"
        return Config(
            access_key_id=s.access_key_id,
            access_key_secret=s.access_key_secret.get_secret_value(),
            endpoint=endpoint,
            protocol=protocol,
            region_id=s.region,
            connect_timeout=int(self._timeout_s * 1000),
            read_timeout=int(self._timeout_s * 1000),
        )

    def _runtime(self) -> RuntimeOptions:
        # No retries inside the SDK (its backoff sleeps block the loop): the outbox retries.
        return RuntimeOptions(autoretry=False, max_attempts=0)

    def sms_client(self) -> SmsClient:
        if self._sms is None:
            self._sms = SmsClient(self._config(SMS_ENDPOINT))
        return self._sms

    def voice_client(self) -> VoiceClient:
        if self._voice is None:
            self._voice = VoiceClient(self._config(VOICE_ENDPOINT))
        return self._voice

    def _registered(self, kind: str, lang: Lang) -> str | None:
        """The template code for ``kind`` in ``lang`` (else the zh-CN one), or None if none is set."""
        own = getattr(self.settings, f"{kind}_{'en' if lang is Lang.EN else 'zh'}")
        code = own or getattr(self.settings, f"{kind}_zh")
        return str(code) if code else None

    def _template(self, kind: str, lang: Lang) -> str:
        code = self._registered(kind, lang)
        if not code:
            raise DeliveryFailed(
                f"no Aliyun template registered for {kind} (ANJU_ALIYUN_{kind.upper()}_ZH)",
                retryable=False,
                code="no-template",
            )
        return str(code)

    async def send_sms(self, message: Outgoing) -> Sent:
        lang = language_of(message.language)
        checkin = self._registered("sms_template_checkin", lang) if message.checkin_id is not None else None
        if message.facts is not None:
            code, params = self._template("sms_template_alert", lang), alert_params(message.facts, message)
        elif checkin is not None:
            code, params = checkin, checkin_params(message)
        else:
            code, params = self._template("sms_template_notice", lang), notice_params(message)
        request = sms_models.SendSmsRequest(
            phone_numbers=aliyun_number(message.to),
            sign_name=self.settings.sms_sign_name,
            template_code=code,
            template_param=json.dumps(params, ensure_ascii=False),
            out_id=out_id(message),
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self.sms_client().send_sms_with_options_async(request, self._runtime())
        except Exception as err:
            raise translate(err, "SMS") from err
        body = answer.body
        if body is None or body.code != "OK" or not body.biz_id:
            raise _refusal(body.code if body else None, body.message if body else None, "SMS")
        return Sent(provider=self.name, provider_id=str(body.biz_id), status=NotificationStatus.QUEUED)

    async def make_call(self, message: Outgoing) -> Sent:
        lang = language_of(message.language)
        try:
            async with asyncio.timeout(self._timeout_s):
                call_id, code, text = await self._call(message, lang)
        except DeliveryFailed:
            raise
        except Exception as err:
            raise translate(err, "voice call") from err
        if code != "OK" or not call_id:
            raise _refusal(code, text, "voice call")
        return Sent(provider=self.name, provider_id=str(call_id), status=NotificationStatus.QUEUED)

    async def _call(self, message: Outgoing, lang: Lang) -> tuple[str | None, str | None, str | None]:
        number = aliyun_number(message.to)
        checkin = self._registered("voice_template_checkin", lang) if message.checkin_id is not None else None
        if checkin is not None:
            # The resident's check-in: 1 = well, 9 = help, read back by the webhooks' key handler.
            spoken = {**self.settings.voice_key_templates, **self.settings.voice_checkin_key_templates}
            ivr = self._ivr(message, number, checkin, checkin_params(message), spoken, CHECKIN_KEYS)
            answer: Any = await self.voice_client().ivr_call_with_options_async(ivr, self._runtime())
        elif message.facts is None:
            # Nothing to answer: a plain TTS call speaks the row's text.
            tts = vms_models.SingleCallByTtsRequest(
                called_number=number,
                called_show_number=self.settings.voice_show_number or None,
                tts_code=self._template("voice_template_notice", lang),
                tts_param=json.dumps(notice_params(message), ensure_ascii=False),
                play_times=2,
                out_id=out_id(message),
            )
            answer = await self.voice_client().single_call_by_tts_with_options_async(tts, self._runtime())
        else:
            start = self._template("voice_template_alert", lang)
            params = alert_params(message.facts, message)
            ivr = self._ivr(message, number, start, params, self.settings.voice_key_templates, None)
            answer = await self.voice_client().ivr_call_with_options_async(ivr, self._runtime())
        body = answer.body
        return (body.call_id, body.code, body.message) if body is not None else (None, None, None)

    def _ivr(
        self,
        message: Outgoing,
        number: str,
        start: str,
        params: dict[str, str],
        spoken: dict[str, str],
        only: tuple[str, ...] | None,
    ) -> vms_models.IvrCallRequest:
        """An interactive call: the start template, then what each key (of ``only``, if given) says."""
        keys = [
            vms_models.IvrCallRequestMenuKeyMap(key=key, code=code)
            for key, code in sorted(spoken.items())
            if only is None or key in only
        ]
        return vms_models.IvrCallRequest(
            called_number=number,
            called_show_number=self.settings.voice_show_number or None,
            start_code=start,
            start_tts_params=json.dumps(params, ensure_ascii=False),
            menu_key_map=keys or None,
            play_times=2,
            # How long Aliyun waits for a key after the prompt, in milliseconds.
            timeout=self._ring_timeout_s * 1000,
            out_id=out_id(message),
        )

    async def find_sent(self, message: Outgoing, *, since: datetime, exclude: frozenset[str]) -> Sent | None:
        """Not looked up: an SMS or call whose answer was lost may go out a second time."""
        return None

    async def aclose(self) -> None:
        self._sms = None
        self._voice = None
