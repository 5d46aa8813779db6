"""Which providers and delivery policy the outbox worker uses for a context, and how to wake it."""

from __future__ import annotations

from anju.clock import Clock, RealClock
from anju.config import Settings
from anju.context import Context
from anju.notify.policy import DEFAULT_POLICY, DeliveryPolicy
from anju.notify.provider import ChatProvider, Notifier, PhoneProvider
from anju.notify.providers import PROVIDERS, BuildArgs, Capability


def build_provider(settings: Settings, *, clock: Clock | None = None, dev_log: bool = False) -> Notifier:
    """Providers from the settings, the first configured one of ``PROVIDERS`` per channel; with
    none, rows are recorded ``not_sent`` (or logged if ``dev_log``)."""
    args = BuildArgs(clock=clock or RealClock(), ring_timeout_s=DEFAULT_POLICY.ring_timeout_s)
    phone: PhoneProvider | None = None
    chat: ChatProvider | None = None
    for spec in PROVIDERS:
        wants_phone = phone is None and spec.serves(Capability.SMS) and spec.serves(Capability.VOICE)
        wants_chat = chat is None and spec.serves(Capability.DINGTALK)
        if not (wants_phone or wants_chat) or (spec.dev_only and not dev_log):
            continue
        provider_settings = spec.settings.from_settings(settings)
        if not provider_settings.configured():
            continue
        provider = spec.build(provider_settings, args)
        if wants_phone and isinstance(provider, PhoneProvider):
            phone = provider
        if wants_chat and isinstance(provider, ChatProvider):
            chat = provider
    return Notifier(phone=phone, chat=chat)


def use_notifier(ctx: Context, notifier: Notifier, policy: DeliveryPolicy | None = None) -> None:
    """Install the providers (and optionally a policy) ``deliver_due`` uses for this context."""
    ctx.notifier = notifier
    if policy is not None:
        ctx.delivery_policy = policy


def notifier_for(ctx: Context) -> Notifier:
    if ctx.notifier is None:
        ctx.notifier = build_provider(ctx.settings, clock=ctx.clock)
    return ctx.notifier


def policy_for(ctx: Context) -> DeliveryPolicy:
    return ctx.delivery_policy or DEFAULT_POLICY


def wake(ctx: Context) -> None:
    """Tell the outbox worker new rows are waiting (call after the commit that wrote them)."""
    ctx.bus.publish({"type": "notifications.pending"})
