"""Anju's own errors; vendor and library errors are translated into these at the edges."""

from __future__ import annotations


class AnjuError(Exception):
    """Base of every error Anju raises on purpose."""


class ConfigError(AnjuError):
    """The settings do not allow the service to start."""


class NotFound(AnjuError):
    """A referenced record does not exist."""


class Conflict(AnjuError):
    """The request contradicts the current state (illegal transition, lost race)."""


class InvalidTransition(Conflict):
    """An incident was asked to move along an edge the state machine does not have."""

    def __init__(self, current: str, requested: str, reason: str = "") -> None:
        self.current = current
        self.requested = requested
        msg = f"cannot move from {current!r} to {requested!r}"
        super().__init__(f"{msg}: {reason}" if reason else msg)


class DecodeError(AnjuError):
    """A message could not be decoded; ``reason`` is what an operator sees."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ProfileError(AnjuError):
    """A device profile or rule file is invalid."""


class DeliveryFailed(AnjuError):
    """A notification provider could not deliver; ``retryable`` says whether to try again."""

    def __init__(self, graceful_msg: str, *, retryable: bool = True, code: str | None = None) -> None:
        self.graceful_msg = graceful_msg
        self.retryable = retryable
        self.code = code
        super().__init__(graceful_msg)
