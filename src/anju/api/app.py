"""The FastAPI application, kept importable here for older callers; it lives in ``anju.web.app``."""

from anju.web.app import API_PREFIX, HardenedHTTP, create_app

__all__ = ["API_PREFIX", "HardenedHTTP", "create_app"]
