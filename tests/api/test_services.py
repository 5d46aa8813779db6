"""The household and device services on both databases: round trips, diffs, filters, event queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from anju.context import Context
from anju.errors import Conflict, NotFound
from anju.store import households as service
from anju.store.db import transaction
from anju.store.households import ContactData, ResidentData
from tests.support.api import add_events

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


async def test_household_round_trip_keeps_residents_contacts_and_overrides(ctx: Context) -> None:
    async with transaction(ctx.db) as session:
        await service.create_household(
            session=session,
            household_id="h-rt",
            name="赵淑芬",
            now=T0,
            address="杭州市西湖区 7 号",
            area="西湖",
            timezone="Asia/Shanghai",
            rule_overrides={"door_left_open": {"threshold": "30m"}},
            residents=[ResidentData(name="赵淑芬", birth_year=1941, phone="+8657100000000")],
            contacts=[
                ContactData(name="女儿", phone="+8613000000002", relation="daughter", priority=1),
                ContactData(name="网格员", phone="+8613000000001", relation="grid_worker", priority=0),
            ],
        )
    async with ctx.db() as session:
        household = await service.get_household(session=session, household_id="h-rt")
        assert household.created_at == T0 and household.created_at.tzinfo is not None
        assert household.rule_overrides == {"door_left_open": {"threshold": "30m"}}
        assert [r.birth_year for r in household.residents] == [1941]
        assert [c.name for c in household.contacts] == ["网格员", "女儿"]


async def test_household_update_returns_the_diff_and_replaces_people(ctx: Context) -> None:
    async with transaction(ctx.db) as session:
        await service.create_household(
            session=session,
            household_id="h-up",
            name="Old",
            now=T0,
            contacts=[ContactData(name="A", phone="+8613000000001")],
        )
    later = T0 + timedelta(hours=1)
    async with transaction(ctx.db) as session:
        household = await service.get_household(session=session, household_id="h-up")
        diff = await service.update_household(
            session=session,
            household=household,
            now=later,
            changes={"name": "New", "area": ""},
            contacts=[ContactData(name="B", phone="+8613000000002")],
        )
        assert diff == {
            "name": {"from": "Old", "to": "New"},
            "contacts": {
                "from": [
                    {
                        "name": "A",
                        "relation": "family",
                        "phone": "+8613000000001",
                        "language": "zh-CN",
                        "priority": 0,
                        "translations": {},
                        "phone_provider": None,
                    }
                ],
                "to": [
                    {
                        "name": "B",
                        "relation": "family",
                        "phone": "+8613000000002",
                        "language": "zh-CN",
                        "priority": 0,
                        "translations": {},
                        "phone_provider": None,
                    }
                ],
            },
        }
        with pytest.raises(ValueError, match="monitoring_degraded"):
            await service.update_household(
                session=session, household=household, now=later, changes={"monitoring_degraded": True}
            )
    async with ctx.db() as session:
        household = await service.get_household(session=session, household_id="h-up")
        assert household.name == "New" and household.updated_at == later
        assert [c.name for c in household.contacts] == ["B"]


async def test_household_list_search_is_case_insensitive_and_treats_wildcards_as_text(ctx: Context) -> None:
    async with transaction(ctx.db) as session:
        for hid, name in (("h-1", "Mary Smith"), ("h-2", "50% Street"), ("h-3", "under_score")):
            await service.create_household(session=session, household_id=hid, name=name, now=T0)
    async with ctx.db() as session:
        page = await service.list_households(session=session, search="MARY")
        assert [h.id for h in page.items] == ["h-1"] and page.total == 1
        assert [h.id for h in (await service.list_households(session=session, search="%")).items] == ["h-2"]
        assert [h.id for h in (await service.list_households(session=session, search="_")).items] == ["h-3"]
        assert (await service.list_households(session=session, limit=1, offset=1)).total == 3


async def test_device_registration_conflicts_and_missing_household(ctx: Context) -> None:
    async with transaction(ctx.db) as session:
        await service.create_household(session=session, household_id="h-d", name="X", now=T0)
        await service.register_device(
            session=session,
            device_id="door-1",
            household_id="h-d",
            type="door",
            protocol="anju-v1",
            profile="anju-door",
            now=T0,
            heartbeat_s=3600,
        )
    async with transaction(ctx.db) as session:
        with pytest.raises(Conflict):
            await service.register_device(
                session=session,
                device_id="door-1",
                household_id="h-d",
                type="door",
                protocol="anju-v1",
                profile="anju-door",
                now=T0,
            )
        with pytest.raises(NotFound):
            await service.register_device(
                session=session,
                device_id="door-2",
                household_id="h-none",
                type="door",
                protocol="anju-v1",
                profile="anju-door",
                now=T0,
            )
        with pytest.raises(ValueError, match="1-64 characters"):
            await service.register_device(
                session=session,
                device_id="door 3",
                household_id="h-d",
                type="door",
                protocol="anju-v1",
                profile="anju-door",
                now=T0,
            )
    async with ctx.db() as session:
        device = await service.get_device(session=session, device_id="door-1")
        assert (device.heartbeat_s, device.created_at) == (3600, T0)
        page = await service.list_devices(session=session, household_id="h-d")
        assert [d.id for d in page.items] == ["door-1"]
        with pytest.raises(NotFound):
            await service.get_device(session=session, device_id="door-2")


async def test_event_query_orders_bounds_and_continues_after_a_row(ctx: Context) -> None:
    async with transaction(ctx.db) as session:
        await service.create_household(session=session, household_id="h-e", name="X", now=T0)
    await add_events(ctx, "h-e", "pir-e", [T0 + timedelta(minutes=m) for m in (0, 1, 1, 2, 3)])
    async with ctx.db() as session:
        desc = await service.list_events(session=session, household_id="h-e")
        assert [e.event_time for e in desc] == sorted((e.event_time for e in desc), reverse=True)
        bounded = await service.list_events(
            session=session,
            household_id="h-e",
            since=T0 + timedelta(minutes=1),
            until=T0 + timedelta(minutes=3),
            order="asc",
        )
        assert [e.event_time.minute for e in bounded] == [1, 1, 2]
        first = await service.list_events(session=session, household_id="h-e", order="asc", limit=2)
        rest = await service.list_events(
            session=session, household_id="h-e", order="asc", after=(first[-1].event_time, first[-1].id)
        )
        assert [e.id for e in first + rest] == [e.id for e in reversed(desc)]
