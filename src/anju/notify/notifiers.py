"""Which providers and delivery policy the outbox worker uses for a context, and how to wake it."""

from __future__ import annotations

from anju.clock import Clock
from anju.config import Settings
from anju.context import Context
from anju.notify.policy import DEFAULT_POLICY, DeliveryPolicy
from anju.notify.provider import Notifier, ResidentLine
from anju.notify.routing import bind_metrics, build_notifier


def build_provider(
    settings: Settings,
    *,
    clock: Clock | None = None,
    dev_log: bool = False,
    residents: ResidentLine | None = None,
) -> Notifier:
    """Providers from the settings, routed by number when several serve phones
    (``anju.notify.routing.build_notifier``); with none, rows are recorded ``not_sent`` (or logged
    if ``dev_log``, or handed to simulated ``residents`` in the demo)."""
    return build_notifier(settings, clock=clock, dev_log=dev_log, residents=residents)


def use_notifier(ctx: Context, notifier: Notifier, policy: DeliveryPolicy | None = None) -> None:
    """Install the providers (and optionally a policy) ``deliver_due`` uses for this context."""
    ctx.notifier = notifier
    bind_metrics(notifier, ctx.metrics)
    if policy is not None:
        ctx.delivery_policy = policy


def notifier_for(ctx: Context) -> Notifier:
    if ctx.notifier is None:
        ctx.notifier = build_provider(ctx.settings, clock=ctx.clock)
        bind_metrics(ctx.notifier, ctx.metrics)
    return ctx.notifier


def policy_for(ctx: Context) -> DeliveryPolicy:
    return ctx.delivery_policy or DEFAULT_POLICY


def wake(ctx: Context) -> None:
    """Tell the outbox worker new rows are waiting (call after the commit that wrote them)."""
    ctx.bus.publish({"type": "notifications.pending"})
