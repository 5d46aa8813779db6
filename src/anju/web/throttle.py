"""Login throttling: failed sign-ins counted per username and per client address (``limits``).

The counters live in this process's memory (``limits``' async memory storage): a restart forgets
them, and each process of a cluster counts on its own. Only failures count; a success clears the
username's counter (not the address's: one address guessing many names stays throttled).
``limits`` measures its windows on wall time, as PyJWT does for ``exp``: a simulated clock must
never lift a throttle.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from anju.store.safe import storable

#: Failed sign-ins one username may take in the window before it is refused for a while.
USER_FAILURES = 5
#: Failed sign-ins one client address may make, over every username, in the window.
ADDRESS_FAILURES = 20
WINDOW_MINUTES = 15
#: What a key keeps of an attacker-chosen username (its counter, not the name, is what matters).
KEY_LIMIT = 128


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in may be tried now and, if not, in how many seconds (``Retry-After``)."""

    allowed: bool
    retry_after_s: int = 0
    reason: str = ""


class LoginThrottle:
    """Counts failed sign-ins per username and per address; one instance per application."""

    def __init__(
        self,
        *,
        user_failures: int = USER_FAILURES,
        address_failures: int = ADDRESS_FAILURES,
        window_minutes: int = WINDOW_MINUTES,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._locks: dict[str, asyncio.Lock] = {}
        self._per_user: RateLimitItem = RateLimitItemPerMinute(
            user_failures, window_minutes, namespace="user"
        )
        self._per_address: RateLimitItem = RateLimitItemPerMinute(
            address_failures, window_minutes, namespace="address"
        )

    @staticmethod
    def _key(text: str) -> str:
        return storable(text, limit=KEY_LIMIT)

    @asynccontextmanager
    async def serialised(self, address: str) -> AsyncIterator[None]:
        """One attempt at a time per address: parallel guesses cannot all pass ``check`` at once."""
        key = self._key(address)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def check(self, username: str, address: str) -> Verdict:
        """May ``address`` try a password for ``username`` now? (Counts nothing.)"""
        for item, key, reason in (
            (self._per_user, self._key(username), "user"),
            (self._per_address, self._key(address), "address"),
        ):
            if not await self._limiter.test(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                return Verdict(allowed=False, retry_after_s=wait, reason=reason)
        return Verdict(allowed=True)

    async def failed(self, username: str, address: str) -> None:
        """Count one failed sign-in against both the username and the address."""
        await self._limiter.hit(self._per_user, self._key(username))
        await self._limiter.hit(self._per_address, self._key(address))

    async def succeeded(self, username: str) -> None:
        """A correct password clears the username's failures."""
        await self._limiter.clear(self._per_user, self._key(username))
