"""Which provider carries each SMS and call: per number, per household, per contact; and which are down.

The default sends +86 numbers through Aliyun and the rest through Twilio (``ANJU_NOTIFY_ROUTES``);
a household or contact may name its own provider (``phone_provider``). With more than one phone
provider configured the outbox talks to a :class:`PhoneRouter`, which sends through the preferred
one unless that is known to be down, and turns a refusal or timeout into a :class:`RoutedFailure`
that names the provider to fail over to (``anju.notify.failover`` writes that second attempt).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from anju.clock import Clock, RealClock
from anju.config import Settings
from anju.domain import Channel
from anju.errors import DeliveryFailed
from anju.metrics import Metrics
from anju.notify.chat import build_chat_router
from anju.notify.policy import DEFAULT_POLICY
from anju.notify.provider import ChatProvider, Notifier, Outgoing, PhoneProvider, ResidentLine, Sent
from anju.notify.providers import PROVIDERS, BuildArgs, Capability, ProviderSettings
from anju.store.models import Contact, Household, Incident, Notification

log = logging.getLogger("anju.notify")
#: The ``step`` of an outbox row that repeats another through the other provider.
FAILOVER_PREFIX = "failover:"


class RoutingSettings(ProviderSettings):
    """``ANJU_NOTIFY_*``: the routing table and when a provider counts as down."""

    model_config = SettingsConfigDict(env_prefix="ANJU_NOTIFY_", extra="ignore")

    #: Number prefix → provider, longest prefix first; e.g. ``{"+86": "aliyun", "+852": "twilio"}``.
    routes: dict[str, str] = Field(default_factory=lambda: {"+86": "aliyun"})
    #: Provider for numbers no prefix matches.
    default_route: str = "twilio"
    #: Failed sends in a row after which a provider is down (skipped) ...
    down_after: int = 2
    #: ... for this long; then the next message tries it again and one success brings it back.
    down_for_s: float = 60.0


@dataclass
class Health:
    """A provider's recent sends: failures in a row, and until when it is skipped."""

    failures: int = 0
    down_until: datetime | None = None

    def is_down(self, now: datetime) -> bool:
        return self.down_until is not None and now < self.down_until


class RoutedFailure(DeliveryFailed):
    """A send that failed at ``provider``; ``failover_to`` is the provider that may try it next."""

    def __init__(self, provider: str, err: DeliveryFailed, failover_to: str | None) -> None:
        # With somewhere to fail over to, the row fails now instead of retrying the same provider.
        super().__init__(
            f"{provider}: {err.graceful_msg}", retryable=err.retryable and failover_to is None, code=err.code
        )
        self.provider = provider
        self.failover_to = failover_to


@dataclass
class PhoneRouter:
    """A :class:`PhoneProvider` over several: routes each message, skips the ones that are down."""

    providers: dict[str, PhoneProvider]
    routes: dict[str, str]
    default_route: str
    clock: Clock
    down_after: int = 2
    down_for: timedelta = timedelta(seconds=60)
    metrics: Metrics | None = None
    health: dict[str, Health] = field(default_factory=dict)
    name: str = "router"

    def preferred(self, message: Outgoing) -> str:
        """The provider this message should go through before health is considered."""
        if message.route in self.providers:
            return str(message.route)
        for prefix in sorted(self.routes, key=len, reverse=True):
            if message.to.startswith(prefix) and self.routes[prefix] in self.providers:
                return self.routes[prefix]
        return self.default_route if self.default_route in self.providers else next(iter(self.providers))

    def is_down(self, name: str) -> bool:
        return self.health.setdefault(name, Health()).is_down(self.clock.now())

    def alternative(self, name: str | None) -> str | None:
        """Another provider to try after ``name`` failed: one that is up, if any."""
        others = [other for other in self.providers if other != name]
        up = [other for other in others if not self.is_down(other)]
        pool = up or others
        return pool[0] if pool else None

    def choose(self, message: Outgoing) -> str:
        first = self.preferred(message)
        if message.pinned or not self.is_down(first):
            return first
        other = self.alternative(first)
        if other is not None and not self.is_down(other):
            log.info("%s is down: notification %s goes through %s", first, message.notification_id, other)
            return other
        return first

    def _outcome(self, name: str, channel: Channel, ok: bool) -> None:
        now = self.clock.now()
        health = self.health.setdefault(name, Health())
        if ok:
            if health.down_until is not None:
                log.warning("notification provider %s is back", name)
            health.failures, health.down_until = 0, None
        else:
            health.failures += 1
            if health.failures >= self.down_after:
                if not health.is_down(now):
                    log.error(
                        "notification provider %s is down (%s failures in a row)", name, health.failures
                    )
                health.down_until = now + self.down_for
        if self.metrics is not None:
            outcome = "sent" if ok else "failed"
            self.metrics.notify_provider_sends.labels(
                provider=name, channel=channel.value, outcome=outcome
            ).inc()
            self.metrics.notify_provider_up.labels(provider=name).set(0 if health.is_down(now) else 1)

    async def _send(self, message: Outgoing) -> Sent:
        name = self.choose(message)
        provider = self.providers[name]
        try:
            if message.channel is Channel.VOICE:
                sent = await provider.make_call(message)
            else:
                sent = await provider.send_sms(message)
        except DeliveryFailed as err:
            self._outcome(name, message.channel, ok=False)
            raise RoutedFailure(name, err, None if message.pinned else self.alternative(name)) from err
        self._outcome(name, message.channel, ok=True)
        return sent

    async def send_sms(self, message: Outgoing) -> Sent:
        return await self._send(message)

    async def make_call(self, message: Outgoing) -> Sent:
        return await self._send(message)

    async def find_sent(self, message: Outgoing, *, since: datetime, exclude: frozenset[str]) -> Sent | None:
        provider = self.providers[self.choose(message)]
        return await provider.find_sent(message, since=since, exclude=exclude)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()


async def route_for(
    session: AsyncSession, row: Notification, incident: Incident | None
) -> tuple[str | None, bool]:
    """The provider named for ``row`` (a failover's own, the contact's, the household's), and whether
    it is pinned (a failover goes through its provider or not at all)."""
    if (row.step or "").startswith(FAILOVER_PREFIX) and row.provider:
        return row.provider, True
    if row.contact_id is not None:
        contact = await session.get(Contact, row.contact_id)
        if contact is not None and contact.phone_provider:
            return contact.phone_provider, False
    if incident is not None:
        household = await session.get(Household, incident.household_id)
        if household is not None and household.phone_provider:
            return household.phone_provider, False
    return None, False


def build_notifier(
    settings: Settings,
    *,
    clock: Clock | None = None,
    dev_log: bool = False,
    residents: ResidentLine | None = None,
) -> Notifier:
    """Every configured provider of ``PROVIDERS``: phone providers behind a router when there are
    several, group robots behind a chat router; with none, rows are recorded ``not_sent``. Given
    ``residents`` (the demo), a dev-only phone hands check-ins to them when no real phone is set."""
    clock = clock or RealClock()
    args = BuildArgs(clock=clock, ring_timeout_s=DEFAULT_POLICY.ring_timeout_s, residents=residents)
    phones: dict[str, PhoneProvider] = {}
    chats: dict[str, ChatProvider] = {}
    for spec in PROVIDERS:
        is_phone = spec.serves(Capability.SMS) and spec.serves(Capability.VOICE)
        is_chat = spec.serves(Capability.GROUP) or spec.serves(Capability.DINGTALK)
        if spec.dev_only and not (
            residents is not None and not phones
            if spec.answers_for_residents
            else dev_log and (not phones or not chats)
        ):
            continue  # a development stand-in serves only what nothing else serves
        provider_settings = spec.settings.from_settings(settings)
        if not provider_settings.configured():
            continue
        provider = spec.build(provider_settings, args)
        if is_phone and isinstance(provider, PhoneProvider) and not (spec.dev_only and phones):
            phones[spec.name] = provider
        if is_chat and isinstance(provider, ChatProvider) and not (spec.dev_only and chats):
            chats[spec.name] = provider
    phone: PhoneProvider | None = None
    if len(phones) > 1:
        rules = RoutingSettings.from_settings(settings)
        phone = PhoneRouter(
            phones,
            routes=rules.routes,
            default_route=rules.default_route,
            clock=clock,
            down_after=rules.down_after,
            down_for=timedelta(seconds=rules.down_for_s),
        )
    elif phones:
        phone = next(iter(phones.values()))
    # Group posts go to the household's area robot (``ANJU_CHAT_ROUTES``), else the global ones.
    chat = build_chat_router(settings, chats, args)
    return Notifier(phone=phone, chat=chat)


def bind_metrics(notifier: Notifier, metrics: Metrics) -> None:
    """Per-provider counters for a router (the service's registry is known only once it runs)."""
    if isinstance(notifier.phone, PhoneRouter):
        notifier.phone.metrics = metrics
