"""The registration table: every notification provider Anju can use, in order of preference.

A provider is a package here (client, settings with its own env prefix, webhooks if it has
any) and one line in :data:`PROVIDERS`; nothing else in Anju names it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anju.notify.providers import aliyun, dingtalk, log, simulated_phone, twilio, wecom
from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec

if TYPE_CHECKING:
    from fastapi import APIRouter

PROVIDERS: tuple[ProviderSpec, ...] = (
    twilio.SPEC,
    aliyun.SPEC,
    dingtalk.SPEC,
    wecom.SPEC,
    # Before the log provider: given simulated residents (the demo), they take the phones.
    simulated_phone.SPEC,
    log.SPEC,
)


def phone_provider_names() -> list[str]:
    """The providers a household or contact may name for its SMS and calls (``phone_provider``)."""
    phone = (Capability.SMS, Capability.VOICE)
    return [spec.name for spec in PROVIDERS if all(spec.serves(c) for c in phone) and not spec.dev_only]


def webhook_routers() -> list[APIRouter]:
    """The routers of every provider that receives webhooks, mounted at the root by the web app."""
    return [spec.router() for spec in PROVIDERS if spec.router is not None]


__all__ = [
    "PROVIDERS",
    "BuildArgs",
    "Capability",
    "ProviderSettings",
    "ProviderSpec",
    "phone_provider_names",
    "webhook_routers",
]
