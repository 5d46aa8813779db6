"""The provider interface: Anju asks for an SMS, a call or a chat post; vendors stay behind it.

Every provider raises only :class:`anju.errors.DeliveryFailed`; vendor exceptions are translated
at this edge so the outbox can decide between retrying and falling back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from anju.domain import Channel, NotificationStatus
from anju.notify.templates import AlertFacts


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """One delivery attempt of one outbox row: the rendered text and the facts it was rendered from.

    A provider that sends its own approved templates (SMS in mainland China) fills them from
    ``facts``, ``incident_id`` and ``recipient`` instead of sending ``body``.
    """

    notification_id: int
    attempt: int
    channel: Channel
    to: str
    body: str
    language: str = "zh-CN"
    incident_id: int | None = None
    household_id: str | None = None
    recipient: str | None = None
    #: Household, address, rule, severity, time; None for a row without an incident.
    facts: AlertFacts | None = None
    #: The phone provider named for this row (its contact's or household's, or a failover's own).
    route: str | None = None
    #: A failover: it goes through ``route`` or fails, never through a third attempt elsewhere.
    pinned: bool = False
    #: The check-in this row asks the resident for (their keys or reply answer it), else None.
    checkin_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Sent:
    """What the provider accepted: its id for the message or call, and the status it reported."""

    provider: str
    provider_id: str
    status: NotificationStatus = NotificationStatus.QUEUED
    #: Whether the provider reports delivery later (status callbacks); if not, no fallback timer.
    tracked: bool = True


class ResidentLine(Protocol):
    """Simulated residents behind their phones (``anju demo``): who picks up, and how an answer returns."""

    def pick_up(self, message: Outgoing, at: datetime) -> tuple[str, float] | None:
        """The key the resident presses (or replies) and after how many seconds; None: no answer."""
        ...

    async def answer(self, message: Outgoing, key: str) -> None:
        """Give the resident's key or reply to what ``message`` asked, as a webhook would."""
        ...


@runtime_checkable
class PhoneProvider(Protocol):
    """SMS and voice with delivery reports (Twilio; a regional backup could be another)."""

    name: str

    async def send_sms(self, message: Outgoing) -> Sent:
        """Hand an SMS to the vendor."""
        ...

    async def make_call(self, message: Outgoing) -> Sent:
        """Place a voice call that speaks the alert and gathers one key."""
        ...

    async def find_sent(self, message: Outgoing, *, since: datetime, exclude: frozenset[str]) -> Sent | None:
        """The vendor's record of ``message`` if an earlier, unrecorded attempt reached it."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class ChatProvider(Protocol):
    """A group chat robot (DingTalk, WeCom): posts, no delivery reports."""

    name: str

    async def post(self, message: Outgoing) -> Sent:
        """Post the text to the group, mentioning ``message.to`` when it is a phone number."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass
class Notifier:
    """Which provider serves which channel; a channel without one is recorded as not sent."""

    phone: PhoneProvider | None = None
    chat: ChatProvider | None = None
    extra: list[PhoneProvider | ChatProvider] = field(default_factory=list)

    def describe(self) -> str:
        phones = getattr(self.phone, "providers", None)
        phone = "+".join(phones) if phones else (self.phone.name if self.phone else "none")
        chats = getattr(self.chat, "robots", None)
        chat = "+".join(c.name for c in chats) if chats else (self.chat.name if self.chat else "none")
        parts = [f"sms/voice: {phone}", f"group chat: {chat}"]
        return ", ".join(parts)

    async def aclose(self) -> None:
        seen: set[int] = set()
        for provider in (self.phone, self.chat, *self.extra):
            if provider is not None and id(provider) not in seen:
                seen.add(id(provider))
                await provider.aclose()
