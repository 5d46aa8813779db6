"""Notification latency: alarm button → Twilio request, and `undelivered` report → fallback call.

Drives the real dispatch (``raise_findings`` with the shipped escalation policy, as the runtime does
on a stored button event) and the real outbox worker (``outbox_loop``, woken by the bus) against the
local Twilio fake in tests/twilio_fake.py, and times each request's arrival at the fake. The
reference column is the bare twilio SDK sending one SMS to the same fake: what no Anju code costs.

    python bench/notify_latency.py                   # SQLite, 1000 presses
    python bench/notify_latency.py --db postgresql   # a scratch PostgreSQL database
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.twilio_fake import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    TwilioFake,
    harness,
    press_button,
    seed_household,
    twilio_settings,
)

from anju.config import load_settings  # noqa: E402
from anju.notify import DeliveryPolicy, outbox_loop  # noqa: E402
from anju.notify.provider import Outgoing  # noqa: E402
from anju.notify.twilio import TwilioProvider  # noqa: E402
from anju.store.migrate import upgrade  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def reference(fake: TwilioFake, n: int) -> list[float]:
    """The bare SDK: request issued → arrival at the fake, no database, no worker."""
    provider = TwilioProvider(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        public_url=PUBLIC_URL,
        api_base=fake.url,
    )
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await provider.send_sms(
            Outgoing(
                notification_id=i,
                attempt=1,
                channel="sms",
                to="+8613800000009",  # type: ignore[arg-type]
                body="ref",
            )
        )
        out.append(fake.created[-1].arrived - t0)
    await provider.aclose()
    return out


async def run(db: str, presses: int, fallbacks: int) -> None:
    scratch = None
    if db == "postgresql":
        scratch = f"anju_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{scratch}"')
        await conn.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{scratch}"
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    await upgrade(url)
    fake = await TwilioFake().start()
    settings = load_settings(
        database_url=url, secret_key="bench-secret-0123456789abcdef", **twilio_settings(fake.url)
    )
    try:
        ref = await reference(fake, 200)
        while not fake.arrivals.empty():
            fake.arrivals.get_nowait()
        # Report deadlines far away, so no timeout fallback mixes into the figures.
        policy = DeliveryPolicy(sms_report_timeout_s=3600, voice_report_timeout_s=3600)
        async with harness(settings, policy=policy) as env:
            homes = [(await seed_household(env.ctx, contacts=1))[0] for _ in range(presses)]
            stop = asyncio.Event()
            worker = asyncio.create_task(outbox_loop(env.ctx, stop))
            await asyncio.sleep(0.5)
            press_ms: list[float] = []
            duty_sms = []
            for hid in homes:
                t0 = time.perf_counter()
                await press_button(env.ctx, hid)  # what the pipeline does once the event is stored
                record = await fake.next_created(within_s=10)
                press_ms.append((record.arrived - t0) * 1000)
                duty_sms.append(record)
            fallback_ms: list[float] = []
            for record in duty_sms[:fallbacks]:
                t0 = time.perf_counter()
                response = await env.twilio.report(record, "undelivered", ErrorCode="30003")
                assert response.status_code == 204
                call = await fake.next_created(within_s=10)
                assert call.kind == "voice"
                fallback_ms.append((call.arrived - t0) * 1000)
            stop.set()
            await worker
    finally:
        await fake.stop()
        if scratch:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            await conn.close()
    ref_ms = [x * 1000 for x in ref]
    print(f"database: {db}; presses: {presses}; fallbacks: {fallbacks}")
    print(f"{'figure':44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = [
        ("reference: bare SDK request → fake", ref_ms),
        ("button press → Twilio SMS request (Anju)", press_ms),
        ("`undelivered` callback → fallback call", fallback_ms),
    ]
    for name, values in rows:
        print(f"{name:44} {pct(values, 0.5):8.1f} {pct(values, 0.99):8.1f} {max(values):8.1f}")
    print(
        f"ratio press/reference: p50 {pct(press_ms, 0.5) / pct(ref_ms, 0.5):.1f}x, "
        f"p99 {pct(press_ms, 0.99) / pct(ref_ms, 0.99):.1f}x; mean press {statistics.mean(press_ms):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument("--fallbacks", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.db, args.presses, args.fallbacks))


if __name__ == "__main__":
    main()
