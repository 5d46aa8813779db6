"""WeCom group robot, group posts per area (``ANJU_CHAT_ROUTES``), and the ``area_group`` policy step.

Every post goes to a local server that checks the request as WeCom (and DingTalk) document it;
nothing talks to the internet.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from anju.clock import SimClock
from anju.context import Context
from anju.dispatch import service
from anju.dispatch.escalation import run_due_escalations, runtime_policies
from anju.domain import Channel, NotificationStatus, Rule, Severity
from anju.engine.model import Finding
from anju.errors import ConfigError
from anju.notify import DeliveryPolicy, build_provider, deliver_due
from anju.notify.chat import ChatRouter, area_key, covers
from anju.store.db import transaction
from anju.store.models import Household, IncidentEvent
from tests.notify.chat_fake import ChatFake
from tests.support.settings import make_settings
from tests.support.twilio_fake import PUBLIC_URL, Harness, harness, rows

FAST = DeliveryPolicy(backoff_base_s=0.0, backoff_max_s=0.0)
GLOBAL_KEY = "global-0000-4bc4-97a0-0ec2"
XIHU_KEY = "xihu-1111-4bc4-97a0-0ec2"
LIUXIA_TOKEN = "liuxia-token"
LIUXIA_SECRET = "SEC-liuxia-secret"


@dataclass
class Env:
    h: Harness
    chat: ChatFake

    @property
    def ctx(self) -> Context:
        return self.h.ctx


@contextlib.asynccontextmanager
async def chat_env(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    clock: SimClock,
    *,
    routes: Callable[[str], dict[str, object]] = lambda url: {},
) -> AsyncIterator[Env]:
    chat = await ChatFake(wecom_keys={GLOBAL_KEY, XIHU_KEY}, dingtalk={LIUXIA_TOKEN: LIUXIA_SECRET}).start()
    try:
        monkeypatch.setenv("ANJU_WECOM_KEY", GLOBAL_KEY)
        monkeypatch.setenv("ANJU_WECOM_API_BASE", chat.url)
        monkeypatch.setenv("ANJU_CHAT_ROUTES", json.dumps(routes(chat.url), ensure_ascii=False))
        for var in ("ANJU_DINGTALK_WEBHOOK", "ANJU_DINGTALK_SECRET", "ANJU_TWILIO_ACCOUNT_SID"):
            monkeypatch.delenv(var, raising=False)
        settings = make_settings(db_url, public_url=PUBLIC_URL)
        async with harness(settings, clock=clock, policy=FAST) as h:
            yield Env(h, chat)
    finally:
        await chat.stop()


def _routes(chat_url: str) -> dict[str, object]:
    return {
        "西湖区": {"provider": "wecom", "key": XIHU_KEY},
        "西湖区/留下街道": {
            "provider": "dingtalk",
            "webhook": f"{chat_url}/robot/send?access_token={LIUXIA_TOKEN}",
            "secret": LIUXIA_SECRET,
        },
    }


async def _household(env: Env, area: str) -> str:
    hid = f"h-{uuid.uuid4().hex[:8]}"
    now = env.ctx.clock.now()
    async with transaction(env.ctx.db) as session:
        session.add(
            Household(
                id=hid,
                name="王秀英家",
                address="杭州市西湖区留和路 18 号",
                area=area,
                timezone="Asia/Shanghai",
                rule_overrides={},
                created_at=now,
                updated_at=now,
            )
        )
    return hid


async def _press(env: Env, hid: str) -> int:
    """A button press raised the way the runtime raises it (its policies post to area groups)."""
    now = env.ctx.clock.now()
    finding = Finding(
        household_id=hid, rule=Rule.BUTTON, severity=Severity.CRITICAL, at=now, key=uuid.uuid4().hex
    )
    async with transaction(env.ctx.db) as session:
        result = await service.raise_findings(
            session, [finding], now=now, bus=env.ctx.bus, policies=runtime_policies(env.ctx)
        )
        return result.opened[0].id


def test_an_area_covers_its_own_segments_only() -> None:
    assert area_key(" 西湖区 / 留下街道/ ") == "西湖区/留下街道"
    assert covers("西湖区", "西湖区/留下街道/小和山社区") and covers("", "上城区")
    assert covers("西湖区/留下街道", "西湖区/留下街道")
    assert not covers("sim-1", "sim-12") and not covers("西湖区/留下街道", "西湖区")


async def test_each_areas_incidents_post_to_its_own_group_with_the_incident_link(
    db_url: str, monkeypatch: pytest.MonkeyPatch, sim_clock: SimClock
) -> None:
    async with chat_env(db_url, monkeypatch, sim_clock, routes=_routes) as env:
        xihu = await _household(env, "西湖区/灵隐街道/茅家埠社区")
        liuxia = await _household(env, "西湖区/留下街道/小和山社区")
        elsewhere = await _household(env, "上城区/湖滨街道")
        pressed = [("xihu", xihu), ("liuxia", liuxia), ("other", elsewhere)]
        incidents = {name: await _press(env, hid) for name, hid in pressed}
        await deliver_due(env.ctx, env.ctx.clock.now())
        [to_xihu] = env.chat.of(XIHU_KEY)
        [to_liuxia] = env.chat.of(LIUXIA_TOKEN)
        [to_global] = env.chat.of(GLOBAL_KEY)
        assert to_xihu.body["msgtype"] == "markdown"
        assert f"]({PUBLIC_URL}/incidents/{incidents['xihu']})" in to_xihu.text
        assert "王秀英家" in to_xihu.text and "茅家埠社区" in to_xihu.text
        # DingTalk's robot gets the plain text post with the link, its URL signed with the area's secret.
        assert f"{PUBLIC_URL}/incidents/{incidents['liuxia']}" in to_liuxia.text
        assert f"{PUBLIC_URL}/incidents/{incidents['other']}" in to_global.text
        assert env.chat.refused == []
        groups = [r for r in await rows(env.ctx) if r.channel == Channel.GROUP.value]
        assert sorted((r.provider or "", r.status) for r in groups) == [
            ("dingtalk", "sent"),
            ("wecom", "sent"),
            ("wecom", "sent"),
        ]
        assert all(r.step == "notify_duty" for r in groups)


async def test_the_critical_policy_posts_on_open_and_again_when_it_escalates(
    db_url: str, monkeypatch: pytest.MonkeyPatch, sim_clock: SimClock
) -> None:
    async with chat_env(
        db_url,
        monkeypatch,
        sim_clock,
    ) as env:
        hid = await _household(env, "西湖区/留下街道")
        incident_id = await _press(env, hid)
        await deliver_due(env.ctx, env.ctx.clock.now())
        sim_clock.advance(60)
        assert await run_due_escalations(env.ctx, env.ctx.clock.now()) == 1
        await deliver_due(env.ctx, env.ctx.clock.now())
        posts = env.chat.of(GLOBAL_KEY)
        assert len(posts) == 2 and all(f"/incidents/{incident_id})" in p.text for p in posts)
        steps = [r.step for r in await rows(env.ctx, incident_id) if r.channel == Channel.GROUP.value]
        assert steps == ["notify_duty", "call_supervisor"]


async def test_a_refused_post_keeps_the_key_secret_and_a_rate_limit_is_retried(
    db_url: str, monkeypatch: pytest.MonkeyPatch, sim_clock: SimClock
) -> None:
    async with chat_env(
        db_url,
        monkeypatch,
        sim_clock,
    ) as env:
        hid = await _household(env, "上城区")
        env.chat.errcodes.append(45009)  # 20 posts a minute per robot: WeCom's frequency limit
        incident_id = await _press(env, hid)
        await deliver_due(env.ctx, env.ctx.clock.now())
        [group] = [r for r in await rows(env.ctx, incident_id) if r.channel == Channel.GROUP.value]
        assert group.status == NotificationStatus.PENDING.value and "45009" in (group.last_error or "")
        sim_clock.advance(1)
        await deliver_due(env.ctx, env.ctx.clock.now())
        assert len(env.chat.of(GLOBAL_KEY)) == 1
        # A key WeCom does not know (a deleted robot): failed at once, the key never written down.
        env.chat.wecom_keys.discard(GLOBAL_KEY)
        second = await _press(env, await _household(env, "上城区"))
        await deliver_due(env.ctx, env.ctx.clock.now())
        [failed] = [r for r in await rows(env.ctx, second) if r.channel == Channel.GROUP.value]
        assert failed.status == NotificationStatus.FAILED.value and "93000" in (failed.last_error or "")
        assert GLOBAL_KEY not in (failed.last_error or "")
        async with env.ctx.db() as session:
            events = list(await session.scalars(select(IncidentEvent)))
        notes = " ".join(str(e.note) + json.dumps(e.data, default=str) for e in events)
        assert GLOBAL_KEY not in notes and "the group chat post failed" in notes


async def test_without_a_robot_the_area_group_step_writes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch, sim_clock: SimClock
) -> None:
    async with chat_env(
        db_url,
        monkeypatch,
        sim_clock,
    ) as env:
        monkeypatch.delenv("ANJU_WECOM_KEY")
        monkeypatch.delenv("ANJU_CHAT_ROUTES")
        assert env.ctx.notifier is not None
        await env.ctx.notifier.aclose()
        env.ctx.notifier = build_provider(env.ctx.settings, clock=env.ctx.clock)
        assert env.ctx.notifier.chat is None
        incident_id = await _press(env, await _household(env, "上城区"))
        channels = [r.channel for r in await rows(env.ctx, incident_id)]
        assert channels == [Channel.CONSOLE.value, Channel.SMS.value]


def test_a_route_to_an_unknown_provider_or_without_credentials_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANJU_WECOM_KEY", raising=False)
    monkeypatch.setenv("ANJU_CHAT_ROUTES", json.dumps({"西湖区": {"provider": "feishu", "key": "x"}}))
    with pytest.raises(ConfigError, match=r"'feishu' is not a group chat provider .*dingtalk, wecom"):
        build_provider(make_settings("sqlite+aiosqlite:///:memory:"))
    monkeypatch.setenv("ANJU_CHAT_ROUTES", json.dumps({"西湖区": {"provider": "wecom"}}))
    with pytest.raises(ConfigError, match="global wecom robot, which is not configured"):
        build_provider(make_settings("sqlite+aiosqlite:///:memory:"))
    monkeypatch.setenv("ANJU_CHAT_ROUTES", json.dumps({"西湖区": {"provider": "wecom", "webhook": "x"}}))
    with pytest.raises(ConfigError, match="unknown fields webhook"):
        build_provider(make_settings("sqlite+aiosqlite:///:memory:"))
    monkeypatch.setenv("ANJU_CHAT_ROUTES", json.dumps({"": {"provider": "wecom", "key": "k"}}))
    chat = build_provider(make_settings("sqlite+aiosqlite:///:memory:")).chat
    assert isinstance(chat, ChatRouter) and list(chat.areas) == [""] and chat.robots == []
