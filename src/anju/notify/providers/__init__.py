"""The registration table: every notification provider Anju can use, in order of preference.

A provider is a package here (client, settings with its own env prefix, webhooks if it has
any) and one line in :data:`PROVIDERS`; nothing else in Anju names it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anju.notify.providers import aliyun, dingtalk, log, twilio, wecom
from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec

if TYPE_CHECKING:
    from fastapi import APIRouter

PROVIDERS: tuple[ProviderSpec, ...] = (
    twilio.SPEC,
    aliyun.SPEC,
    dingtalk.SPEC,
    wecom.SPEC,
    log.SPEC,
)


def webhook_routers() -> list[APIRouter]:
    """The routers of every provider that receives webhooks, mounted at the root by the web app."""
    return [spec.router() for spec in PROVIDERS if spec.router is not None]


__all__ = ["PROVIDERS", "BuildArgs", "Capability", "ProviderSettings", "ProviderSpec", "webhook_routers"]
