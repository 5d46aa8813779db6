"""Twilio: SMS and voice, delivery reports and replies on its webhooks (``/twilio/...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anju.notify.providers.base import BuildArgs, Capability, ProviderSettings, ProviderSpec
from anju.notify.providers.twilio.client import TwilioProvider
from anju.notify.providers.twilio.settings import TwilioSettings

if TYPE_CHECKING:
    from fastapi import APIRouter


def _build(settings: ProviderSettings, args: BuildArgs) -> TwilioProvider:
    assert isinstance(settings, TwilioSettings)
    assert settings.account_sid and settings.auth_token and settings.from_number
    return TwilioProvider(
        account_sid=settings.account_sid,
        auth_token=settings.auth_token.get_secret_value(),
        from_number=settings.from_number,
        public_url=settings.public_url or "",
        api_base=settings.api_base,
        ring_timeout_s=args.ring_timeout_s,
    )


def _router() -> APIRouter:
    from fastapi import APIRouter

    from anju.notify.providers.twilio import bridge, webhooks

    combined = APIRouter()
    combined.include_router(webhooks.router)
    combined.include_router(bridge.router)
    return combined


SPEC = ProviderSpec(
    name=TwilioProvider.name,
    capabilities=frozenset(
        {Capability.SMS, Capability.VOICE, Capability.DELIVERY_STATUS, Capability.REPLIES, Capability.LOOKUP}
    ),
    settings=TwilioSettings,
    build=_build,
    router=_router,
)

__all__ = ["SPEC", "TwilioProvider", "TwilioSettings"]
