"""The HTTP API (FastAPI): JSON under /api/v1, OpenAPI at /openapi.json."""
