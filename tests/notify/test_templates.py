"""Message text, phone numbers, replies, and the DingTalk robot's signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from aiohttp import web

from anju.clock import SimClock
from anju.domain import Channel, Rule, Severity
from anju.errors import DeliveryFailed
from anju.notify.phone import mask_phone, normalize_phone
from anju.notify.provider import Outgoing
from anju.notify.providers.dingtalk import DingTalkProvider
from anju.notify.replies import Decision, parse_reply
from anju.notify.templates import AlertFacts, Lang, language_of, sms_text, voice_text
from tests.support.twilio_fake import free_port

FACTS = AlertFacts(
    household="王秀英家",
    address="上海市徐汇区天平路88弄3号502",
    rule=Rule.BUTTON.value,
    severity=Severity.CRITICAL.value,
    at=datetime(2026, 11, 28, 23, 5, tzinfo=UTC),
    timezone="Asia/Shanghai",
)


def test_sms_names_who_where_what_when_and_how_to_answer_in_chinese() -> None:
    text = sms_text(FACTS, Lang.ZH)
    for part in ("紧急", "王秀英家", "天平路88弄3号502", "紧急按钮报警", "11月29日 07:05", "回复1", "回复2"):
        assert part in text


def test_sms_in_english_for_english_speaking_contacts() -> None:
    text = sms_text(FACTS, language_of("en-GB"))
    assert "CRITICAL" in text and "alarm button pressed" in text
    assert "29 Nov 07:05" in text and "Reply 1" in text


def test_a_visit_request_asks_to_accept_the_visit() -> None:
    facts = AlertFacts(**{**FACTS.__dict__, "visit_request": True})
    assert "确认上门" in sms_text(facts, Lang.ZH)
    assert "accept the visit" in voice_text(facts, Lang.EN)


def test_voice_text_speaks_the_address_and_the_keys() -> None:
    spoken = voice_text(FACTS, Lang.ZH)
    assert "地址" in spoken and "按1" in spoken and "按2" in spoken


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("+44 7700 900123", "+447700900123"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_masked_numbers_hide_the_middle() -> None:
    assert mask_phone("+8613800138000") == "+861*******000"


@pytest.mark.parametrize(
    ("reply", "decision"),
    [
        ("1", Decision.ACCEPT),
        ("收到", Decision.ACCEPT),
        ("OK", Decision.ACCEPT),
        ("ok!", Decision.ACCEPT),
        ("１", Decision.ACCEPT),  # full-width digit from a Chinese keyboard
        ("好的。", Decision.ACCEPT),
        ("2", Decision.DECLINE),
        ("拒绝", Decision.DECLINE),
        ("我在外地", None),
        ("", None),
    ],
)
def test_replies_are_read_as_accept_decline_or_something_else(reply: str, decision: Decision | None) -> None:
    assert parse_reply(reply) == decision


@pytest.fixture
async def robot() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """A DingTalk-shaped robot that checks the signature the way DingTalk documents it."""
    secret = "SEC-test-secret"
    seen: list[dict[str, object]] = []

    async def send(request: web.Request) -> web.Response:
        ts, sign = request.query.get("timestamp", ""), request.query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        if unquote(sign) != expected:
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        seen.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_post("/robot/send", send)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/robot/send?access_token=abc", seen
    finally:
        await runner.cleanup()


async def test_dingtalk_posts_are_signed_and_mention_the_phone(
    robot: tuple[str, list[dict[str, object]]],
) -> None:
    url, seen = robot
    clock = SimClock(datetime(2026, 11, 29, tzinfo=UTC))
    provider = DingTalkProvider(webhook=url, secret="SEC-test-secret", clock=clock)
    message = Outgoing(
        notification_id=7, attempt=1, channel=Channel.DINGTALK, to="+8613800138000", body="告警"
    )
    sent = await provider.post(message)
    assert sent.provider == "dingtalk" and not sent.tracked
    assert seen == [
        {
            "msgtype": "text",
            "text": {"content": "告警"},
            "at": {"atMobiles": ["13800138000"], "isAtAll": False},
        }
    ]
    wrong = DingTalkProvider(webhook=url, secret="not-the-secret", clock=clock)
    with pytest.raises(DeliveryFailed) as refused:
        await wrong.post(message)
    assert refused.value.code == "310000" and not refused.value.retryable
    await provider.aclose()
    await wrong.aclose()
