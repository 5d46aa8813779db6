"""Where the tests find the real services, and the settings every domain builds its context from."""

from __future__ import annotations

import os

from anju.config import Settings, load_settings

PG_ADMIN_DSN = os.environ.get("ANJU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MQTT_HOST = os.environ.get("ANJU_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("ANJU_TEST_MQTT_PORT", "1883"))
TEST_SECRET = "test-secret-key-0123456789abcdef"


def make_settings(database_url: str, **overrides: object) -> Settings:
    return load_settings(database_url=database_url, secret_key=TEST_SECRET, **overrides)
