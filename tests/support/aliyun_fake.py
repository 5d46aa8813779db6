"""A local server that speaks Alibaba Cloud's RPC API for SMS and voice, and Aliyun's receipt pushes.

The official SDKs are pointed at it (``ANJU_ALIYUN_API_BASE``); it recomputes each request's
ACS3-HMAC-SHA256 signature with the configured AccessKey secret and refuses a bad one as the
service does (``SignatureDoesNotMatch``, HTTP 400). It answers ``SendSms``, ``IvrCall`` and
``SingleCallByTts`` with success, or with the next queued fault: a business refusal (HTTP 200 with
a code, e.g. ``isv.BUSINESS_LIMIT_CONTROL``), a throttling or server error, or a hang. Aliyun's side
of the receipts (SmsReport, SmsUp, VoiceReport, VoiceCallReport) is played against Anju's app.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiohttp import web

ACCESS_KEY_ID = "LTAI5tAnjuTestKey0001"
ACCESS_KEY_SECRET = "anju-test-aliyun-secret-0123456789"
RECEIPT_TOKEN = "receipt-token-0123456789abcdef"
SIGN_NAME = "安居守护"
TEMPLATES = {
    "sms_template_alert_zh": "SMS_100000001",
    "sms_template_alert_en": "SMS_100000002",
    "sms_template_notice_zh": "SMS_100000003",
    "voice_template_alert_zh": "TTS_200000001",
    "voice_template_alert_en": "TTS_200000002",
    "voice_template_notice_zh": "TTS_200000003",
}
KEY_TEMPLATES = {"1": "TTS_300000001", "2": "TTS_300000002", "9": "TTS_300000009"}
SHOW_NUMBER = "057100000001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _canonical_query(query: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(query[k], safe='~')}" for k in sorted(query))


def expected_signature(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    signed: list[str],
    payload_hash: str,
    secret: str,
) -> str:
    """ACS3-HMAC-SHA256 as Alibaba Cloud computes it over the request it received."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        [method, path or "/", _canonical_query(query), canonical_headers, ";".join(signed), payload_hash]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class Request:
    """An SMS or call the fake accepted (or refused), with its parameters."""

    action: str
    params: dict[str, str]
    arrived: float
    provider_id: str = ""
    code: str = "OK"

    @property
    def kind(self) -> str:
        return "sms" if self.action == "SendSms" else "voice"

    @property
    def to(self) -> str:
        return self.params.get("PhoneNumbers") or self.params.get("CalledNumber", "")

    @property
    def out_id(self) -> str:
        return self.params.get("OutId", "")

    @property
    def template(self) -> str:
        return (
            self.params.get("TemplateCode") or self.params.get("StartCode") or self.params.get("TtsCode", "")
        )

    @property
    def variables(self) -> dict[str, str]:
        raw = (
            self.params.get("TemplateParam")
            or self.params.get("StartTtsParams")
            or self.params.get("TtsParam")
        )
        loaded: dict[str, str] = json.loads(raw or "{}")
        return loaded


@dataclass
class Fault:
    """What the fake does to the next send instead of accepting it."""

    #: A business refusal in a 200 answer, or the code of an HTTP error when ``status`` >= 400.
    code: str = "isv.BUSINESS_LIMIT_CONTROL"
    status: int = 200
    hang_s: float = 0.0


@dataclass
class AliyunFake:
    secret: str = ACCESS_KEY_SECRET
    port: int = field(default_factory=free_port)
    requests: list[Request] = field(default_factory=list)
    refused_signatures: int = 0
    faults: deque[Fault] = field(default_factory=deque)
    arrivals: asyncio.Queue[Request] = field(default_factory=asyncio.Queue)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> AliyunFake:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _verify(self, request: web.Request, body: bytes) -> str | None:
        """None when the signature holds, else the error code the service answers."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("ACS3-HMAC-SHA256 "):
            return "MissingSignature" if not auth else "IncompleteSignature"
        fields = dict(part.split("=", 1) for part in auth.removeprefix("ACS3-HMAC-SHA256 ").split(","))
        if fields.get("Credential") != ACCESS_KEY_ID:
            return "InvalidAccessKeyId.NotFound"
        payload_hash = hashlib.sha256(body).hexdigest()
        if request.headers.get("x-acs-content-sha256") != payload_hash:
            return "SignatureDoesNotMatch"
        signed = fields.get("SignedHeaders", "").split(";")
        if "host" not in signed or "x-acs-date" not in signed or "x-acs-signature-nonce" not in signed:
            return "IncompleteSignature"
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = {k: v for k, v in request.query.items()}
        want = expected_signature(
            request.method, request.path, query, headers, signed, payload_hash, self.secret
        )
        return None if hmac.compare_digest(want, fields.get("Signature", "")) else "SignatureDoesNotMatch"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        request_id = str(uuid.uuid4()).upper()
        refused = self._verify(request, body)
        if refused is not None:
            self.refused_signatures += 1
            return web.json_response(
                {"RequestId": request_id, "Code": refused, "Message": "signature"}, status=400
            )
        action = request.headers.get("x-acs-action", "")
        params = dict(request.query)
        if action not in ("SendSms", "IvrCall", "SingleCallByTts"):
            return web.json_response({"RequestId": request_id, "Code": "InvalidAction.NotFound"}, status=404)
        seen = Request(action, params, time.perf_counter())
        self.requests.append(seen)
        if self.faults:
            fault = self.faults.popleft()
            seen.code = fault.code
            if fault.hang_s:
                await asyncio.sleep(fault.hang_s)
            answer = {"RequestId": request_id, "Code": fault.code, "Message": f"fake fault {fault.code}"}
            self.arrivals.put_nowait(seen)
            return web.json_response(answer, status=fault.status)
        if action == "SendSms":
            seen.provider_id = f"{int(time.time() * 1000)}^{uuid.uuid4().int % 10**10}"
            answer = {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": seen.provider_id}
        else:
            seen.provider_id = f"{uuid.uuid4().int % 10**12}^{uuid.uuid4().int % 10**11}"
            answer = {"RequestId": request_id, "Code": "OK", "Message": "OK", "CallId": seen.provider_id}
        self.arrivals.put_nowait(seen)
        return web.json_response(answer)

    def of(self, kind: str) -> list[Request]:
        return [r for r in self.requests if r.kind == kind and r.code == "OK"]

    async def next_request(self, within_s: float = 10.0) -> Request:
        return await asyncio.wait_for(self.arrivals.get(), within_s)


def aliyun_env(api_base: str) -> dict[str, str]:
    """The ``ANJU_ALIYUN_*`` environment of a deployment that uses the fake."""
    env = {
        "ANJU_ALIYUN_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "ANJU_ALIYUN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
        "ANJU_ALIYUN_SMS_SIGN_NAME": SIGN_NAME,
        "ANJU_ALIYUN_VOICE_SHOW_NUMBER": SHOW_NUMBER,
        "ANJU_ALIYUN_VOICE_KEY_TEMPLATES": json.dumps(KEY_TEMPLATES),
        "ANJU_ALIYUN_RECEIPT_TOKEN": RECEIPT_TOKEN,
        "ANJU_ALIYUN_API_BASE": api_base,
    }
    env.update({f"ANJU_ALIYUN_{k.upper()}": v for k, v in TEMPLATES.items()})
    return env


@contextlib.contextmanager
def aliyun_configured(monkeypatch: pytest.MonkeyPatch, api_base: str) -> Iterator[None]:
    for key, value in aliyun_env(api_base).items():
        monkeypatch.setenv(key, value)
    yield


@contextlib.asynccontextmanager
async def running_fake() -> AsyncIterator[AliyunFake]:
    fake = await AliyunFake().start()
    try:
        yield fake
    finally:
        await fake.stop()


class AliyunSide:
    """Plays Aliyun's HTTP receipt pushes against Anju's app (JSON arrays, as the consoles push them)."""

    def __init__(self, client: httpx.AsyncClient, token: str = RECEIPT_TOKEN) -> None:
        self.client = client
        self.token = token

    async def push(
        self, kind: str, items: list[dict[str, Any]], *, token: str | None = None
    ) -> httpx.Response:
        return await self.client.post(f"/aliyun/{token or self.token}/{kind}", json=items)

    async def sms_report(
        self, sent: Request, *, success: bool = True, code: str = "DELIVERED"
    ) -> httpx.Response:
        item = {
            "phone_number": sent.to,
            "send_time": "2026-12-08 10:00:00",
            "report_time": "2026-12-08 10:00:03",
            "success": success,
            "err_code": code,
            "err_msg": "用户接收成功" if success else "失败",
            "sms_size": "1",
            "biz_id": sent.provider_id,
            "out_id": sent.out_id,
        }
        return await self.push("SmsReport", [item])

    async def voice_report(
        self, sent: Request, status_code: str = "200000", dtmf: str = ""
    ) -> httpx.Response:
        item = {
            "call_id": sent.provider_id,
            "start_time": "2026-12-08 10:00:00",
            "end_time": "2026-12-08 10:00:40",
            "duration": "40",
            "status_code": status_code,
            "status_msg": "用户听到了",
            "out_id": sent.out_id,
            "dtmf": dtmf,
        }
        return await self.push("VoiceReport", [item])

    async def press(self, sent: Request, digits: str) -> httpx.Response:
        """The key pressed during an IVR call, as VoiceCallReport carries it (status 300000)."""
        item = {
            "call_id": sent.provider_id,
            "status_code": "300000",
            "status_time": "2026-12-08 10:00:20",
            "out_id": sent.out_id,
            "dtmf": digits,
        }
        return await self.push("VoiceCallReport", [item])

    async def sms_up(self, phone: str, content: str) -> httpx.Response:
        item = {
            "phone_number": phone.removeprefix("+86"),
            "send_time": "2026-12-08 10:01:00",
            "content": content,
            "sign_name": SIGN_NAME,
            "dest_code": "1234",
            "sequence_id": uuid.uuid4().int % 10**9,
        }
        return await self.push("SmsUp", [item])
