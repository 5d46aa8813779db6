"""Who a policy's notify entry reaches, and the outbox row written for each of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from anju import audit
from anju.dispatch.policy import Policies, Target
from anju.domain import Channel, NotificationStatus, Role
from anju.store.models import Contact, Notification, User
from anju.vocabulary import CHANNELS

#: Recipients that are posts, not people: Chinese in the data, English through ``vocabulary.TITLES``.
DUTY_OPERATORS = "值班坐席"
AREA_GROUP = CHANNELS[Channel.GROUP].zh
HOUSEHOLD_CONTACTS = "家属/联系人"


@dataclass(frozen=True, kw_only=True)
class Recipient:
    name: str
    kind: str
    address: str
    language: str
    contact_id: int | None = None
    user_id: int | None = None


async def _oncall_supervisor(session: AsyncSession, policies: Policies) -> Recipient | None:
    oc = policies.oncall
    if oc.supervisor_phone:
        return Recipient(
            name=oc.supervisor_name,
            kind="oncall_supervisor",
            address=oc.supervisor_phone,
            language=oc.language,
        )
    # No number in the file: the first active supervisor with a phone on their user record.
    user = await session.scalar(
        select(User)
        .where(User.role == Role.SUPERVISOR.value, User.active.is_(True), User.phone.is_not(None))
        .order_by(User.id)
        .limit(1)
    )
    if user is None or not user.phone:
        return None
    return Recipient(
        name=user.display_name or user.username,
        kind="oncall_supervisor",
        address=user.phone,
        language=user.language,
        user_id=user.id,
    )


async def resolve(
    session: AsyncSession, entry: dict[str, Any], policies: Policies
) -> tuple[list[Recipient], str | None]:
    """The recipients of one notify entry, or the name of whoever could not be reached."""
    to = Target(entry["to"])
    oc = policies.oncall
    if to is Target.DUTY_OPERATORS:
        return [Recipient(name=DUTY_OPERATORS, kind=to.value, address="console", language="zh-CN")], None
    if to is Target.AREA_GROUP:
        if not policies.group_chat:
            return [], None  # no group chat robot configured: nothing to post to, nothing missed
        # The notify worker picks the robot by the household's area when it posts.
        group = Recipient(name=AREA_GROUP, kind=to.value, address="group", language=oc.language)
        return [group], None
    if to is Target.ONCALL_PHONE:
        if not oc.duty_phone:
            return [], oc.duty_name
        return [
            Recipient(name=oc.duty_name, kind=to.value, address=oc.duty_phone, language=oc.language)
        ], None
    if to is Target.ONCALL_SUPERVISOR:
        sup = await _oncall_supervisor(session, policies)
        return ([sup], None) if sup else ([], oc.supervisor_name)
    if to is Target.CONTACT:
        contact = await session.get(Contact, int(entry["contact_id"]))
        if contact is None or not contact.phone:
            return [], str(entry.get("name") or f"contact {entry['contact_id']}")
        return [
            Recipient(
                name=contact.name,
                kind=f"contact:{contact.relation}",
                address=contact.phone,
                language=contact.language,
                contact_id=contact.id,
            )
        ], None
    # household_contacts left unexpanded: the household had no contacts when the incident opened.
    return [], HOUSEHOLD_CONTACTS


async def add_notification(
    session: AsyncSession,
    *,
    incident_id: int | None,
    channel: Channel,
    recipient: Recipient,
    body: str,
    step: str,
    now: datetime,
    actor: str,
) -> Notification:
    """One outbox row, audited in the caller's transaction; the notify worker delivers it."""
    note = Notification(
        incident_id=incident_id,
        channel=channel.value,
        recipient_name=recipient.name,
        recipient_kind=recipient.kind,
        contact_id=recipient.contact_id,
        user_id=recipient.user_id,
        to_address=recipient.address,
        language=recipient.language,
        body=body,
        status=NotificationStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        step=step,
        created_at=now,
        updated_at=now,
    )
    session.add(note)
    await session.flush()
    await audit.record(
        session,
        at=now,
        actor=actor,
        action="notification.create",
        entity="notification",
        entity_id=note.id,
        content={
            "incident_id": incident_id,
            "channel": channel.value,
            "to": recipient.address,
            "recipient": recipient.name,
            "step": step,
        },
    )
    return note
