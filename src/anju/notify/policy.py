"""How hard the outbox tries: retries, backoff, and how long to wait for a delivery report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from anju.domain import Channel


@dataclass(frozen=True, kw_only=True)
class DeliveryPolicy:
    #: Attempts per outbox row before it is marked failed (and falls back).
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    #: An SMS not confirmed delivered within this falls back to a voice call. Chosen so that
    #: failure → voice call → next contact stays inside the 60 s the center promises.
    sms_report_timeout_s: float = 30.0
    #: How long a call may ring before Twilio reports ``no-answer``.
    ring_timeout_s: int = 25
    #: A call not answered (nor reported failed) within this goes to the next contact.
    voice_report_timeout_s: float = 45.0
    #: A row left in ``sending`` this long belongs to a worker that died mid-send.
    stuck_after_s: float = 30.0
    #: Rows claimed per pass, and sends in flight at once.
    batch: int = 50
    concurrency: int = 8

    def backoff(self, attempts: int) -> timedelta:
        """Exponential: 1 s, 2 s, 4 s … capped, after the ``attempts``-th failure."""
        seconds = min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=seconds)

    def report_timeout(self, channel: Channel) -> timedelta:
        if channel is Channel.VOICE:
            return timedelta(seconds=self.voice_report_timeout_s)
        return timedelta(seconds=self.sms_report_timeout_s)


DEFAULT_POLICY = DeliveryPolicy()
