"""Stoplight Prism serving Twilio's OpenAPI description, module-scoped, for the notify and e2e tests.

Install it once with ``npm ci --prefix tests/prism``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.twilio_fake import free_port

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / "tests" / "prism" / "node_modules" / ".bin" / "prism"
SPEC = Path(
    os.environ.get("ANJU_TWILIO_SPEC", ROOT.parent / "shared" / "specs" / "twilio" / "twilio_api_v2010.json")
)


class Prism:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def refused(self) -> list[str]:
        """Log lines of requests Prism found invalid (its own examples' flaws are not ours)."""
        text = self.lines()
        bad = [i for i, line in enumerate(text) if "Request did not pass the validation rules" in line]
        return [line for i in bad for line in text[i : i + 4]]

    def passed(self) -> int:
        return sum("The request passed the validation rules" in line for line in self.lines())


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism]:
    assert PRISM.exists(), "Prism is not installed: run `npm ci --prefix tests/prism`"
    assert SPEC.exists(), f"Twilio's OpenAPI description is missing at {SPEC} (set ANJU_TWILIO_SPEC)"
    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"Prism exited: {log.read_text()[-2000:]}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "Prism did not start within 60 s"
                time.sleep(0.2)
        yield Prism(f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
