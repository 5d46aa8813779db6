"""The audit trail: one hash-chained record per change; any edit, removal or reordering is found."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from anju import audit
from anju.audit import ChainHead, verify_database
from anju.context import Context
from anju.dispatch import service
from anju.domain import IncidentState, Role
from anju.store.db import transaction
from anju.store.models import AuditRecord
from tests.support.dispatch import add_household, add_user, client, drive, open_incident


async def _ids(ctx: Context) -> list[int]:
    async with ctx.db() as session:
        return list((await session.scalars(select(AuditRecord.id).order_by(AuditRecord.id))).all())


async def _some_history(ctx: Context) -> int:
    household = await add_household(ctx)
    incident_id = await open_incident(ctx, household.id)
    await drive(ctx, incident_id, IncidentState.CLOSED)
    return incident_id


async def _raw(ctx: Context, *statements: tuple[str, dict[str, object]]) -> None:
    """Tamper as someone with database access would: plain SQL, around the application."""
    async with ctx.db_engine.begin() as conn:
        for sql, params in statements:
            await conn.execute(text(sql), params)


async def test_every_change_of_an_incident_leaves_one_chained_record(dctx: Context) -> None:
    incident_id = await _some_history(dctx)
    async with dctx.db() as session:
        actions = (
            await session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.entity == "incident", AuditRecord.entity_id == str(incident_id))
                .order_by(AuditRecord.id)
            )
        ).all()
    assert actions == [
        "incident.open",
        "incident.escalation_step",
        "incident.transition",
        "incident.transition",
        "incident.transition",
        "incident.transition",
        "incident.follow_up_done",
        "incident.transition",
    ]
    count, broken = await verify_database(dctx.settings.database_url)
    assert broken is None and count == len(await _ids(dctx))


async def test_an_edited_record_is_found(dctx: Context) -> None:
    await _some_history(dctx)
    ids = await _ids(dctx)
    victim = ids[len(ids) // 2]
    await _raw(dctx, ("UPDATE audit_log SET actor = 'mallory' WHERE id = :id", {"id": victim}))
    count, broken = await verify_database(dctx.settings.database_url)
    assert broken is not None and broken.record_id == victim and "edited" in broken.reason
    assert count == ids.index(victim)


async def test_an_edited_record_with_its_hash_recomputed_breaks_the_next_link(dctx: Context) -> None:
    await _some_history(dctx)
    ids = await _ids(dctx)
    victim = ids[3]
    async with dctx.db() as session:
        rec = await session.get(AuditRecord, victim)
        assert rec is not None
        forged = audit.record_hash(
            prev_hash=rec.prev_hash,
            at=rec.at,
            actor="mallory",
            action=rec.action,
            entity=rec.entity,
            entity_id=rec.entity_id,
            content=rec.content,
        )
    await _raw(
        dctx,
        ("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE id = :id", {"h": forged, "id": victim}),
    )
    _count, broken = await verify_database(dctx.settings.database_url)
    assert broken is not None and broken.record_id == ids[4] and "removed or reordered" in broken.reason


async def test_a_deleted_record_is_found(dctx: Context) -> None:
    await _some_history(dctx)
    ids = await _ids(dctx)
    await _raw(dctx, ("DELETE FROM audit_log WHERE id = :id", {"id": ids[2]}))
    _count, broken = await verify_database(dctx.settings.database_url)
    assert broken is not None and broken.record_id == ids[3] and "removed" in broken.reason


async def test_reordered_records_are_found(dctx: Context) -> None:
    await _some_history(dctx)
    ids = await _ids(dctx)
    a, b = ids[2], ids[5]
    await _raw(
        dctx,
        ("UPDATE audit_log SET id = :tmp WHERE id = :a", {"tmp": -1, "a": a}),
        ("UPDATE audit_log SET id = :a WHERE id = :b", {"a": a, "b": b}),
        ("UPDATE audit_log SET id = :b WHERE id = :tmp", {"b": b, "tmp": -1}),
    )
    _count, broken = await verify_database(dctx.settings.database_url)
    assert broken is not None and broken.record_id == a


async def test_a_cut_tail_is_found_against_a_noted_head(dctx: Context) -> None:
    await _some_history(dctx)
    async with dctx.db() as session:
        _n, broken, head = await audit.verify_chain(session)
    assert broken is None and head is not None
    await _raw(dctx, ("DELETE FROM audit_log WHERE id = :id", {"id": head.record_id}))
    count, broken = await verify_database(
        dctx.settings.database_url, anchor=ChainHead(head.record_id, head.hash)
    )
    assert broken is not None and "tail was cut" in broken.reason and count == len(await _ids(dctx))


async def test_concurrent_writers_keep_one_linear_chain(dctx: Context) -> None:
    households = [await add_household(dctx) for _ in range(8)]

    async def work(household_id: str) -> None:
        incident_id = await open_incident(dctx, household_id)
        async with transaction(dctx.db) as session:
            await service.transition(
                session, incident_id, to=IncidentState.ACKNOWLEDGED, actor="op", now=dctx.clock.now()
            )
        async with transaction(dctx.db) as session:
            await service.add_note(session, incident_id, actor="op", now=dctx.clock.now(), note="已致电")

    await asyncio.gather(*(work(h.id) for h in households))
    count, broken = await verify_database(dctx.settings.database_url)
    assert broken is None
    assert count == len(await _ids(dctx)) >= 8 * 5


async def test_audit_routes_are_for_supervisors_and_admins(dctx: Context) -> None:
    await _some_history(dctx)
    async with client(dctx) as http:
        for role in Role:
            _user, headers = await add_user(dctx, role)
            listing = await http.get("/api/v1/audit?entity=incident&limit=5", headers=headers)
            check = await http.get("/api/v1/audit/verify", headers=headers)
            if role in (Role.SUPERVISOR, Role.ADMIN):
                assert listing.status_code == 200 and len(listing.json()) == 5
                ids = [r["id"] for r in listing.json()]
                assert ids == sorted(ids, reverse=True)
                assert check.status_code == 200 and check.json()["ok"] is True
            else:
                assert (listing.status_code, check.status_code) == (403, 403), role
        assert (await http.get("/api/v1/audit")).status_code == 401
        ids = await _ids(dctx)
        await _raw(dctx, ("UPDATE audit_log SET action = 'x' WHERE id = :id", {"id": ids[1]}))
        _user, headers = await add_user(dctx, Role.SUPERVISOR)
        body = (await http.get("/api/v1/audit/verify", headers=headers)).json()
        assert body["ok"] is False and body["broken_record_id"] == ids[1]
