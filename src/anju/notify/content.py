"""Turns an outbox row and its incident into the words sent or spoken."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from anju.domain import Channel, IncidentState
from anju.notify.templates import AlertFacts, Lang, group_text, language_of, sms_text, voice_text
from anju.store.models import Household, Incident, Notification

#: The console's page of one incident, linked from group chat posts.
INCIDENT_PATH = "/incidents/{incident_id}"
#: Channels that post to a group chat robot.
GROUP_CHANNELS = frozenset({Channel.GROUP, Channel.DINGTALK})


def incident_url(public_url: str | None, incident_id: int) -> str | None:
    """The incident's console page at ``ANJU_PUBLIC_URL``, or None when Anju has no public URL."""
    if not public_url:
        return None
    return public_url.rstrip("/") + INCIDENT_PATH.format(incident_id=incident_id)


def ref_marker(notification_id: int) -> str:
    """The reference appended to each SMS: unique per outbox row, so Twilio's copy can be found."""
    return f"#{notification_id}"


def reply_hint(lang: Lang) -> str:
    return "回复1接警，回复2转下一位联系人。" if lang is Lang.ZH else " Reply 1 to accept, 2 to pass it on."


def _awaits_answer(incident: Incident, text: str) -> bool:
    states = (IncidentState.OPEN.value, IncidentState.ACKNOWLEDGED.value)
    return incident.state in states and "回复1" not in text and "Reply 1" not in text


def is_visit_request(incident: Incident, row: Notification) -> bool:
    """A contact paged after the center acknowledged is being asked to go and look."""
    return incident.state == IncidentState.ACKNOWLEDGED.value and row.contact_id is not None


async def alert_facts(
    session: AsyncSession,
    incident: Incident,
    *,
    default_tz: str,
    visit_request: bool = False,
    public_url: str | None = None,
) -> AlertFacts:
    household = await session.get(Household, incident.household_id)
    return AlertFacts(
        household=household.name if household else incident.household_id,
        address=household.address if household else "",
        rule=incident.rule,
        severity=incident.severity,
        at=incident.opened_at,
        timezone=(household.timezone if household and household.timezone else default_tz),
        visit_request=visit_request,
        area=household.area if household else "",
        incident_url=incident_url(public_url, incident.id),
    )


def render(row: Notification, incident: Incident | None, facts: AlertFacts | None) -> str:
    """The text for ``row``: its own body if dispatch wrote one, else the template for its language.

    ``facts`` are ``alert_facts`` of ``incident`` (None without one), looked up once by the caller.
    """
    channel = Channel(row.channel)
    text = row.body
    lang = language_of(row.language)
    if not text and facts is not None and channel in GROUP_CHANNELS:
        text = group_text(facts, lang)
    elif not text and facts is not None:
        text = voice_text(facts, lang) if channel is Channel.VOICE else sms_text(facts, lang)
    elif channel is Channel.SMS and incident is not None and _awaits_answer(incident, text):
        # A body written elsewhere without the answer keys: say how to answer, or nobody will.
        text = f"{text.rstrip()}{reply_hint(lang)}"
    if channel is Channel.SMS:
        marker = ref_marker(row.id)
        if not text.rstrip().endswith(marker):
            text = f"{text.rstrip()} {marker}".lstrip()
    return text
