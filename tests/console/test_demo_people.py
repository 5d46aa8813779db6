"""The demo's homes carry a whole resident profile, in Chinese with an English rendering."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from anju.api.schemas import ContactIn, ResidentIn
from anju.context import Context
from anju.simulator.areas import village_of
from anju.simulator.fleet import build_fleet
from anju.simulator.live import register_fleet
from anju.simulator.people import people_for
from anju.store.db import transaction
from anju.store.models import Household

CJK = re.compile(r"[\u4e00-\u9fff]")
PROFILE = ("phone", "mobility", "hearing", "dialect", "medical_notes", "medication", "preferred_hospital")


def test_every_demo_home_has_a_full_profile_that_the_api_accepts() -> None:
    phones: set[str] = set()
    grid_workers: dict[int, tuple[str, str]] = {}
    for index in range(530):
        people = people_for(index)
        resident = ResidentIn(**people.resident)
        contacts = [ContactIn(**c) for c in people.contacts]
        assert all(getattr(resident, field) for field in PROFILE), index
        assert people.key_holder and people.access_notes
        # Chinese as entered; the English console gets a rendering with no Chinese in it.
        assert CJK.search(resident.name) and not CJK.search(resident.translations["en"]["name"])
        english = [people.translations["en"], resident.translations["en"]]
        english += [c.translations["en"] for c in contacts]
        assert not any(CJK.search(text) for texts in english for text in texts.values()), index
        # Fictional numbers in +86 170x, one per person; a village's grid worker is one person.
        numbers = [resident.phone, *(c.phone for c in contacts if c.relation != "grid_worker")]
        assert all(n and n.startswith("+86170") for n in numbers)
        assert not phones & set(numbers)
        phones |= {n for n in numbers if n}
        (grid,) = [c for c in contacts if c.relation == "grid_worker"]
        assert grid_workers.setdefault(village_of(index), (grid.name, grid.phone)) == (grid.name, grid.phone)
    assert len(set(grid_workers.values())) == len(grid_workers) == 12  # one per village, each their own
    assert not phones & {phone for _name, phone in grid_workers.values()}
    assert people_for(7) == people_for(7)


async def test_registered_demo_homes_hold_the_profile(ctx: Context) -> None:
    fleet = build_fleet(3, seed=1)
    async with transaction(ctx.db) as session:
        await register_fleet(session, fleet, ctx.clock.now())
    async with ctx.db() as session:
        homes = list(
            await session.scalars(
                select(Household).options(selectinload(Household.residents), selectinload(Household.contacts))
            )
        )
    assert [h.name for h in homes] == [h.name for h in fleet.households]
    for home in homes:
        assert home.has_access_notes and home.translations["en"]["name"].endswith("'s home")
        (resident,) = home.residents
        assert resident.phone and resident.mobility and resident.medication
        assert [c.relation for c in home.contacts][1] == "grid_worker"
