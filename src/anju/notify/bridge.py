"""Bridged calls: the voice provider rings the operator's desk phone, then connects the resident.

The operator's own phone never shows the resident a private number, and every call goes through
the provider that records it. A provider that can bridge has ``bridge_call``; the log provider of
the demo cannot, and the console then offers the ``tel:`` link alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from anju.notify.outbox import notifier_for
from anju.notify.provider import Sent

if TYPE_CHECKING:
    from anju.context import Context


@runtime_checkable
class BridgeProvider(Protocol):
    """A voice provider that can connect two phones."""

    name: str

    async def bridge_call(self, *, desk_phone: str, ref: int) -> Sent:
        """Ring ``desk_phone``; when it answers, the script at the bridge URL for ``ref`` dials on."""
        ...


def bridge_provider(ctx: Context) -> BridgeProvider | None:
    """The configured provider that can bridge a call, or None (no voice channel configured)."""
    phone = notifier_for(ctx).phone
    return phone if isinstance(phone, BridgeProvider) else None
