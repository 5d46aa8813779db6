"""Notifications: the outbox worker and the providers behind it (Twilio, DingTalk, log)."""

from anju.notify.outbox import build_provider, deliver_due, notifier_for, outbox_loop, use_notifier, wake
from anju.notify.policy import DEFAULT_POLICY, DeliveryPolicy
from anju.notify.provider import Notifier

__all__ = [
    "DEFAULT_POLICY",
    "DeliveryPolicy",
    "Notifier",
    "build_provider",
    "deliver_due",
    "notifier_for",
    "outbox_loop",
    "use_notifier",
    "wake",
]
