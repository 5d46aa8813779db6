"""The end-to-end tests' fixtures: Prism serving Twilio's own description (module-scoped)."""

from __future__ import annotations

from tests.support.prism import prism

__all__ = ["prism"]
