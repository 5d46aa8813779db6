"""The console in Debian's Chromium: sign-in, the live queue, the whole loop by clicks, languages, roles."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from anju.domain import Role
from tests.support.browser import (
    PASSWORD,
    LiveServer,
    add_home,
    add_user,
    fresh_database,
    incident_of,
    incident_state,
    live_server,
    live_service,
    new_page,
    press_button,
    press_button_over_mqtt,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def server(template: Path, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The app alone, for pages whose incidents are raised directly."""
    async with live_server(fresh_database(template, tmp_path)) as srv:
        yield srv


@pytest_asyncio.fixture(loop_scope="module")
async def runtime(template: Path, tmp_path: Path, mqtt_url: str) -> AsyncIterator[LiveServer]:
    """The whole runtime (``anju run``) on the real Mosquitto: presses arrive over MQTT."""
    async with live_service(fresh_database(template, tmp_path), mqtt_url) as srv:
        yield srv


async def sign_in(page: Page, username: str, *, password: str = PASSWORD) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


@pytest.mark.mqtt
async def test_operator_signs_in_and_a_button_press_over_mqtt_appears_live_with_a_chime(
    browser: Browser,
    runtime: LiveServer,
    mqtt_url: str,
) -> None:
    await add_user(runtime.ctx, "op-live", Role.OPERATOR)
    home = await add_home(runtime.ctx)
    context, page = await new_page(browser, runtime.base_url)
    await page.goto("/")
    assert "/login" in page.url
    await shoot(page, "01-login")
    await page.fill("#username", "op-live")
    await page.fill("#password", "wrong password")
    await page.click("button[type=submit]")
    await expect(page.locator(".flash-error")).to_have_text("用户名或密码不正确。")
    await sign_in(page, "op-live")
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    await expect(page.locator("#queue-empty")).to_be_visible()
    await page.click("#enable-alerts")
    loads = await page.evaluate("performance.getEntriesByType('navigation').length")

    # The kit's button, pressed: MQTT → ingest → rule engine → dispatch → the page, no reload.
    await press_button_over_mqtt(runtime.ctx, home, mqtt_url)

    row = page.locator("#queue-active tbody tr").first
    await expect(row).to_be_visible(timeout=5000)
    incident = await incident_of(runtime.ctx, home)
    assert incident is not None and incident.rule == "button" and incident.severity == "critical"
    await expect(row).to_have_attribute("data-id", str(incident.id))
    await expect(row).to_contain_text("王秀英")
    await expect(row).to_contain_text("紧急按钮")
    await expect(row).to_contain_text("待响应")
    await expect(row.locator("td.countdown")).to_have_text(re.compile(r"^\d+秒$"))
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == loads
    await page.wait_for_function("window.anjuChimes === 1")
    assert await page.evaluate("window.anjuAnnounced") == [incident.id]
    assert await page.evaluate("window.anjuNotified") == [incident.id]
    await shoot(page, "02-queue-live-critical")

    # Keyboard: select the row, acknowledge it with "a".
    await page.keyboard.press("j")
    await expect(row).to_have_class(re.compile(r"\bselected\b"))
    await page.keyboard.press("a")
    await expect(row).to_contain_text("已接警")
    await expect(row).to_contain_text("值班员小李")
    assert (await incident_state(runtime.ctx, incident.id)).state == "acknowledged"
    await context.close()


@pytest.mark.mqtt
async def test_a_new_critical_incident_chimes_and_notifies_on_an_incident_page_too(
    browser: Browser,
    runtime: LiveServer,
    mqtt_url: str,
) -> None:
    await add_user(runtime.ctx, "op-watch", Role.OPERATOR)
    first = await add_home(runtime.ctx)
    second = await add_home(runtime.ctx, name="赵桂兰", area="湖南路街道")
    context, page = await new_page(browser, runtime.base_url)
    await sign_in(page, "op-watch")
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    await press_button_over_mqtt(runtime.ctx, first, mqtt_url)
    row = page.locator("#queue-active tbody tr").first
    await expect(row).to_be_visible(timeout=5000)
    opened = await incident_of(runtime.ctx, first)
    assert opened is not None
    # Acknowledged through the console's own API call (the keyboard path has its own test above),
    # so no escalation step reloads the page while this test watches it.
    result = await page.evaluate(
        f"Anju.api('POST', '/api/v1/incidents/{opened.id}/transitions', {{to: 'acknowledged'}})"
        ".then((r) => r.ok)"
    )
    assert result is True
    await page.goto(f"{runtime.base_url}/incidents/{opened.id}")
    await expect(page).to_have_url(re.compile(rf"/incidents/{opened.id}$"))
    await expect(page.locator("#incident-state")).to_have_attribute("data-state", "acknowledged")
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    assert await page.evaluate("window.anjuChimes || 0") == 0
    loads = await page.evaluate("performance.getEntriesByType('navigation').length")

    await press_button_over_mqtt(runtime.ctx, second, mqtt_url)

    banner = page.locator("#new-critical")
    await expect(banner).to_be_visible(timeout=5000)
    await expect(banner).to_contain_text("赵桂兰")
    await expect(banner).to_contain_text("紧急按钮")
    incident = await incident_of(runtime.ctx, second)
    assert incident is not None and incident.severity == "critical"
    await page.wait_for_function("window.anjuChimes === 1")
    assert await page.evaluate("window.anjuNotified") == [incident.id]
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == loads
    await shoot(page, "16-incident-new-critical")
    async with page.expect_navigation():
        await banner.locator(f'a[data-incident-id="{incident.id}"]').click()
    await expect(page).to_have_url(re.compile(rf"/incidents/{incident.id}$"))
    await expect(page.locator("#incident-state")).to_have_attribute("data-state", "open")
    await context.close()


async def click_action(page: Page, to: str) -> None:
    """Click a transition button and wait for the page to come back with the new state."""
    async with page.expect_navigation():
        await page.click(f'button.transition[data-to="{to}"]')


async def test_operator_takes_an_incident_round_the_whole_loop_by_clicks(browser: Browser, server) -> None:  # type: ignore[no-untyped-def]
    await add_user(server.ctx, "op-loop", Role.OPERATOR)
    home = await add_home(server.ctx)
    incident_id = await press_button(server.ctx, home)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-loop")
    await page.click(f'#queue-active tr[data-id="{incident_id}"] a.incident-link')
    await expect(page).to_have_url(re.compile(rf"/incidents/{incident_id}$"))
    state = page.locator("#incident-state")
    await expect(state).to_have_attribute("data-state", "open")
    # Exactly the transitions allowed now: from open, only acknowledge.
    await expect(page.locator("button.transition")).to_have_count(1)
    await expect(page.locator(".household-card")).to_contain_text("+8613900002222")
    await expect(page.locator(".household-card")).to_contain_text("高血压，独居")
    await shoot(page, "03-incident-open")

    await click_action(page, "acknowledged")
    await expect(state).to_have_attribute("data-state", "acknowledged")
    await expect(page.locator("#incident-owner")).to_have_text("值班员小李")
    buttons = page.locator("button.transition")
    await expect(buttons).to_have_count(2)  # dispatch, or resolve at once (the resident answered)

    # Dispatch without a responder is refused in the page, before anything is sent.
    await page.select_option("#responder-contact", "")
    await page.fill("#responder-name", "")
    await page.click('button.transition[data-to="dispatched"]')
    await expect(page.locator("#action-error")).to_have_text("请填写处置人姓名。")
    await page.select_option("#responder-contact", str(home.contact_ids[0]))
    await page.fill("#note", "电话无人接听，派儿子上门")
    await click_action(page, "dispatched")
    await expect(state).to_have_attribute("data-state", "dispatched")
    await expect(page.locator(".head-meta")).to_contain_text("李明")

    async with page.expect_navigation():
        await page.click("#arrive")
    await expect(page.locator(".head-meta")).to_contain_text("到达现场")
    await shoot(page, "04-incident-dispatched")

    await page.select_option("#outcome", "taken_to_hospital")
    await page.fill("#note", "老人摔倒，已送瑞金医院")
    await click_action(page, "resolved")
    await expect(state).to_have_attribute("data-state", "resolved")
    await expect(page.locator(".head-meta")).to_contain_text("送医")

    await click_action(page, "follow_up")
    await expect(state).to_have_attribute("data-state", "follow_up")
    await page.fill("#note", "次日电话回访，老人已出院")
    async with page.expect_navigation():
        await page.click("#follow-up-done")
    await click_action(page, "closed")
    await expect(state).to_have_attribute("data-state", "closed")
    await expect(page.locator("button.transition")).to_have_count(0)
    timeline = page.locator("#timeline li")
    await expect(timeline.filter(has_text="状态变更")).to_have_count(5)
    await expect(timeline.filter(has_text="到达现场")).to_have_count(1)
    await expect(timeline.filter(has_text="回访完成")).to_have_count(1)
    await shoot(page, "05-incident-closed")

    incident = await incident_state(server.ctx, incident_id)
    assert incident.state == "closed"
    assert incident.outcome == "taken_to_hospital"
    assert incident.responder_contact_id == home.contact_ids[0]
    assert incident.arrived_at is not None and incident.follow_up_done_at is not None
    await context.close()


async def test_language_switch_turns_every_page_english_and_sticks(browser: Browser, server) -> None:  # type: ignore[no-untyped-def]
    await add_user(server.ctx, "sup-lang", Role.SUPERVISOR)
    home = await add_home(server.ctx)
    incident_id = await press_button(server.ctx, home)
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "sup-lang")
    await expect(page.locator("h1")).to_have_text("值班队列")
    await page.click('[data-lang-switch="en"]')
    await expect(page.locator("h1")).to_have_text("Live queue")
    row = page.locator(f'#queue-active tr[data-id="{incident_id}"]')
    await expect(row).to_contain_text("alarm button")
    await expect(row).to_contain_text("critical")
    await expect(page.locator("#queue-empty")).to_have_text("No active incidents.")
    pages = {
        "/": ("Live queue", "en-queue"),
        f"/incidents/{incident_id}": (f"Incident #{incident_id}", "en-incident"),
        "/households": ("Households", "en-households"),
        f"/households/{home.household_id}": ("王秀英", "en-household"),
        "/devices": ("Installers' work list", "en-devices"),
        "/reports": ("Service-level report", "en-reports"),
    }
    for path, (heading, shot) in pages.items():
        await page.goto(path)  # no ?lang=: the choice is remembered in a cookie
        await expect(page.locator("h1").first).to_contain_text(heading)
        await shoot(page, shot)
        text = await page.locator("body").inner_text()
        # No catalog key leaks through, and no Chinese interface word is left (data may be Chinese).
        assert not re.search(r"\b(?:nav|col|queue|state|rule|household|devices|reports)\.[a-z_]+\b", text), (
            path
        )
        for word in ("值班队列", "住户", "设备", "报表", "状态", "级别"):
            assert word not in text.replace("王秀英", ""), (path, word)
    await page.click('[data-lang-switch="zh-CN"]')
    await expect(page.locator("h1").first).to_have_text("服务质量报表")
    await context.close()


async def test_responder_link_opens_a_phone_page_for_that_incident_only(browser: Browser, server) -> None:  # type: ignore[no-untyped-def]
    from anju.console import make_responder_link
    from anju.dispatch import service
    from anju.domain import IncidentState
    from anju.store.db import transaction
    from anju.store.models import User

    home = await add_home(server.ctx)
    other = await add_home(server.ctx, name="赵桂兰")
    incident_id = await press_button(server.ctx, home)
    other_incident = await press_button(server.ctx, other)
    now = server.ctx.clock.now()
    async with transaction(server.ctx.db) as session:
        op = User(username="op-system", password_hash="x", role="operator", created_at=now)
        session.add(op)
        await session.flush()
        for to in (IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED):
            await service.transition(
                session,
                incident_id,
                to=to,
                actor="op-system",
                now=server.ctx.clock.now(),
                user=op,
                responder=service.Responder(contact_id=home.contact_ids[0]),
            )
    link = make_responder_link(server.ctx.settings, incident_id, home.contact_ids[0], 1800)
    assert link.startswith(server.base_url + "/r/") and len(link) - len(server.base_url) < 45

    context, page = await new_page(browser, server.base_url, phone=True)
    await page.goto(link)
    await expect(page.locator("h1")).to_have_text("现场处置")
    await expect(page.locator("body")).to_contain_text("上海市徐汇区天平路")
    await expect(page.locator("body")).not_to_contain_text("赵桂兰")
    await expect(page.locator("a.phone").first).to_have_attribute("href", "tel:+8613900001111")
    await shoot(page, "08-responder-phone")
    async with page.expect_navigation():
        await page.click('[data-action="arrived"]')
    await expect(page.locator('[data-action="arrived"]')).to_have_count(0)
    await expect(page.locator("body")).to_contain_text("到达现场:")
    await page.select_option("#outcome", "resident_well")
    await page.click('[data-action="resolved"]')
    await expect(page.locator("#action-error")).to_have_text("请填写备注。")
    await page.fill("#note", "老人在家，血压偏高，已提醒服药")
    async with page.expect_navigation():
        await page.click('[data-action="resolved"]')
    await expect(page.locator("#incident-state")).to_have_attribute("data-state", "resolved")
    await expect(page.locator("#responder-actions")).to_have_count(0)
    await shoot(page, "09-responder-resolved")
    incident = await incident_state(server.ctx, incident_id)
    assert incident.state == "resolved" and incident.outcome == "resident_well"
    assert incident.arrived_at is not None

    # The same contact's link bound to another incident is refused; so are tampered and expired links.
    wrong = make_responder_link(server.ctx.settings, other_incident, home.contact_ids[0], 1800)
    await page.goto(wrong)
    await expect(page.locator("h1")).to_contain_text("该事件已不再分派给您")
    token = link.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    await page.goto(f"/r/{forged}")
    await expect(page.locator("h1")).to_contain_text("链接无效")
    expired = make_responder_link(
        server.ctx.settings,
        incident_id,
        home.contact_ids[0],
        60,
        now=now - __import__("datetime").timedelta(hours=1),
    )
    await page.goto(expired)
    await expect(page.locator("h1")).to_contain_text("链接已过期")
    await page.goto(link + "?lang=en")
    await expect(page.locator("h1")).to_have_text("On-site response")
    await shoot(page, "en-responder")
    await context.close()


async def test_each_role_sees_what_it_may_and_every_page_renders(browser: Browser, server) -> None:  # type: ignore[no-untyped-def]
    from anju.store.db import transaction
    from anju.store.models import DeadLetter, Device, UnknownDevice

    home = await add_home(server.ctx)
    await add_home(server.ctx, name="赵桂兰", area="湖南路街道")
    incident_id = await press_button(server.ctx, home)
    now = server.ctx.clock.now()
    async with transaction(server.ctx.db) as session:
        pir = await session.get(Device, home.pir_id)
        assert pir is not None
        pir.online = False
        session.add(
            UnknownDevice(
                key="anju-v1:pir-9999",
                protocol="anju-v1",
                first_seen_at=now,
                last_seen_at=now,
                message_count=3,
                last_topic="anju/v1/pir-9999/event",
                last_payload_head=b'{"seq":1,"type":"pir","event":"motion"}',
            )
        )
        session.add(
            DeadLetter(
                received_at=now,
                topic="anju/v1/door-0001/event",
                payload_head=b"{not json",
                payload_size=9,
                reason="payload is not valid JSON",
                device_id="door-0001",
            )
        )
    await add_user(server.ctx, "op-roles", Role.OPERATOR)
    await add_user(server.ctx, "sup-roles", Role.SUPERVISOR)

    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-roles")
    nav = page.locator("nav.nav")
    await expect(nav).not_to_contain_text("报表")
    await page.goto("/reports")
    await expect(page.locator("h1")).to_contain_text("无权")

    await page.goto("/households")
    await page.fill("#household-search", "湖南路")
    await page.press("#household-search", "Enter")
    await expect(page.locator("#household-list tbody tr")).to_have_count(1)
    await expect(page.locator("#household-list")).to_contain_text("赵桂兰")
    await page.fill("#household-search", "")
    await page.press("#household-search", "Enter")
    await expect(page.locator("#household-list tbody tr")).to_have_count(2)
    await shoot(page, "10-households")

    await page.goto(f"/households/{home.household_id}")
    heat = page.locator("svg.heatmap rect")
    await expect(heat).to_have_count(7 * 24)
    busy = await page.locator("svg.heatmap rect[data-count]:not([data-count='0'])").count()
    assert busy > 7 * 10  # the seeded routine: motion through the waking hours every day
    await expect(page.locator("#device-table")).to_contain_text("12%")
    await expect(page.locator("#device-table")).to_contain_text("-71 dBm")
    await expect(page.locator("body")).to_contain_text("day_hours")
    await shoot(page, "11-household")

    await page.goto("/devices")
    await expect(page.locator("#offline")).to_contain_text(home.pir_id)
    await expect(page.locator("#low-battery")).to_contain_text(home.door_id)
    await expect(page.locator("#unknown")).to_contain_text("anju-v1:pir-9999")
    await expect(page.locator("#dead-letters")).to_contain_text("payload is not valid JSON")
    await shoot(page, "12-devices")
    await context.close()

    # A supervisor reads everything, reports included, but has no transition buttons.
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "sup-roles")
    await page.goto(f"/incidents/{incident_id}")
    await expect(page.locator("#incident-state")).to_have_attribute("data-state", "open")
    await expect(page.locator("button.transition")).to_have_count(0)
    await page.goto("/reports")
    await expect(page.locator("h1")).to_have_text("服务质量报表")
    await expect(page.locator("svg.ack-chart")).to_have_count(1)
    await expect(page.locator("#import")).to_have_count(0)  # importing households is for admins
    await shoot(page, "13-reports")
    await context.close()


async def test_admin_imports_households_all_or_nothing_from_the_reports_page(
    browser: Browser,
    server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    from sqlalchemy import func, select

    from anju.store.models import Household

    await add_user(server.ctx, "admin-imp", Role.ADMIN)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "household_id,name,address,area,resident_name,resident_birth_year,contact_name,contact_phone\n"
        "h-imp-1,钱淑芬,上海市静安区,静安寺街道,钱淑芬,1941,钱小东,+8613911112222\n"
        "h-imp-2,孙玉兰,上海市黄浦区,外滩街道,孙玉兰,19x5,孙强,12345\n"
        "bad id!,周建国,,,,,,\n",
        encoding="utf-8",
    )
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "admin-imp")
    await page.goto("/reports")
    await page.set_input_files("#import-file", str(bad))
    await page.click("#import-form button[type=submit]")
    result = page.locator("#import-result")
    await expect(result.locator(".flash-error")).to_contain_text("未导入任何数据")
    rows = result.locator("table.import-errors tbody tr")
    await expect(rows).to_have_count(3)  # every problem of every row, not just the first
    await expect(rows.nth(0)).to_contain_text("电话号码格式不对")
    await expect(rows.nth(1)).to_contain_text("出生年份不对")
    await expect(rows.nth(2)).to_contain_text("编号只能包含字母")
    await shoot(page, "14-import-rejected")
    async with server.ctx.db() as session:
        assert await session.scalar(select(func.count()).select_from(Household)) == 0

    good = tmp_path / "good.csv"
    good.write_text(
        "household_id,name,address,area,resident_name,resident_birth_year,contact_name,contact_phone\n"
        "h-imp-1,钱淑芬,上海市静安区,静安寺街道,钱淑芬,1941,钱小东,+8613911112222\n"
        "h-imp-1,,,,,,邻居老吴,+8613911113333\n",
        encoding="utf-8",
    )
    await page.set_input_files("#import-file", str(good))
    await page.click("#import-form button[type=submit]")
    await expect(result.locator(".flash-ok")).to_contain_text("已导入 1 户，1 位老人，2 位联系人")
    await page.goto("/households/h-imp-1")
    await expect(page.locator(".household-card")).to_contain_text("邻居老吴")
    await context.close()


async def test_supervisor_hands_an_incident_over_to_another_operator_from_its_page(
    browser: Browser, server: LiveServer
) -> None:
    from anju.dispatch import service
    from anju.domain import IncidentState
    from anju.store.db import transaction
    from anju.store.models import User

    owner_id = await add_user(server.ctx, "op-morning", Role.OPERATOR, display_name="早班小李")
    next_id = await add_user(server.ctx, "op-evening", Role.OPERATOR, display_name="晚班小王")
    await add_user(server.ctx, "sup-hand", Role.SUPERVISOR)
    home = await add_home(server.ctx, events=False)
    incident_id = await press_button(server.ctx, home)
    async with transaction(server.ctx.db) as session:
        owner = await session.get(User, owner_id)
        await service.transition(
            session,
            incident_id,
            to=IncidentState.ACKNOWLEDGED,
            actor="op-morning",
            now=server.ctx.clock.now(),
            user=owner,
        )

    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "sup-hand")
    await page.goto(f"/incidents/{incident_id}")
    await expect(page.locator("#incident-owner")).to_have_text("早班小李")
    await expect(page.locator("button.transition")).to_have_count(0)  # supervisors do not move states
    picker = page.locator("#handover-user option")
    await expect(picker.filter(has_text="晚班小王")).to_have_count(1)
    await expect(picker.filter(has_text="早班小李")).to_have_count(0)  # the owner already has it
    await page.click("#hand-over")
    await expect(page.locator("#action-error")).to_have_text("请选择接手的值班员。")
    await page.select_option("#handover-user", str(next_id))
    await page.fill("#handover-note", "早班下班，家属电话已打过一次")
    async with page.expect_navigation():
        await page.click("#hand-over")
    await expect(page.locator("#incident-owner")).to_have_text("晚班小王")
    entry = page.locator("#timeline li").filter(has_text="移交负责人")
    await expect(entry).to_contain_text("op-evening")
    await expect(entry).to_contain_text("早班下班，家属电话已打过一次")
    await expect(entry).to_contain_text("sup-hand")
    await shoot(page, "15-incident-handover")
    assert (await incident_state(server.ctx, incident_id)).owner_id == next_id
    await context.close()

    # The new owner now has the buttons; the former one has none and cannot hand it over again.
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-evening")
    await page.goto(f"/incidents/{incident_id}")
    await expect(page.locator('button.transition[data-to="dispatched"]')).to_have_count(1)
    await expect(page.locator("#handover")).to_have_count(1)
    await context.close()
    context, page = await new_page(browser, server.base_url)
    await sign_in(page, "op-morning")
    await page.goto(f"/incidents/{incident_id}")
    await expect(page.locator("#incident-state")).to_have_attribute("data-state", "acknowledged")
    await expect(page.locator('button.transition[data-to="dispatched"]')).to_have_count(0)
    await expect(page.locator("#handover")).to_have_count(0)
    await context.close()
