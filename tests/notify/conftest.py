"""The notify tests' fixtures: a Twilio-shaped fake, and Prism serving Twilio's own description."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.prism import prism
from tests.support.twilio_fake import TwilioFake

__all__ = ["fake", "prism"]


@pytest.fixture
async def fake() -> AsyncIterator[TwilioFake]:
    server = await TwilioFake().start()
    try:
        yield server
    finally:
        await server.stop()
