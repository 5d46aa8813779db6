"""The operations console: server-rendered pages, the live queue, the responder's phone page."""

from __future__ import annotations

from anju.console.links import make_responder_link

__all__ = ["make_responder_link"]
