"""``anju simulate``: the hardware simulator, to files or live to an MQTT broker."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from anju.clock import RealClock
from anju.config import load_settings
from anju.errors import ConfigError
from anju.simulator.catalog import load_mix, load_scenario
from anju.simulator.files import truth_line, write_files
from anju.simulator.fleet import Fleet, build_fleet
from anju.simulator.household import Truth
from anju.simulator.live import LiveStats, register_fleet, run_live
from anju.simulator.messages import formatter
from anju.store.db import create_engine, session_factory, transaction

#: File mode starts here by default, so the same seed gives the same files.
DEFAULT_START = "2026-11-01T00:00"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", type=Path, help="file mode: write events.csv, truth.jsonl and fleet.json here")
    mode.add_argument(
        "--mqtt", metavar="URL", help="live mode: publish to this broker (mqtt://user:pass@host:port)"
    )
    parser.add_argument("--households", type=int, default=530, help="homes in the fleet (default 530)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same fleet and events")
    parser.add_argument("--mix", default="default", help="fleet mix in simulator/fleet.toml")
    parser.add_argument(
        "--scenario", default="default", help="emergency and fault rates in simulator/scenarios.toml"
    )
    parser.add_argument("--emergency-multiplier", type=float, default=1.0, help="scale every emergency rate")
    parser.add_argument("--id-prefix", default="", help="prefix for household and device ids (e.g. bench-)")
    parser.add_argument("--timezone", default=None, help="the households' time zone (default: the mix's)")
    files = parser.add_argument_group("file mode")
    files.add_argument("--days", type=float, default=7.0, help="simulated days (default 7)")
    parser.add_argument(
        "--start",
        default=None,
        help=f"local start time (files: default {DEFAULT_START}; live: default now)",
    )
    files.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: CPUs)")
    live = parser.add_argument_group("live mode")
    live.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    live.add_argument("--protocol", choices=["v311", "v5"], default="v311", help="MQTT protocol version")
    live.add_argument("--username", default=None)
    live.add_argument("--password", default=None)
    live.add_argument("--window", type=int, default=1000, help="QoS 1 messages in flight at most")
    live.add_argument(
        "--database-url", default=None, help="where to register the fleet (default ANJU_DATABASE_URL)"
    )
    live.add_argument("--no-register", action="store_true", help="do not register the fleet first")
    live.add_argument(
        "--no-retain",
        action="store_true",
        help="do not retain Zigbee2MQTT availability (benchmarks and tests on a shared broker)",
    )
    live.add_argument("--duration", type=float, default=None, help="stop after this many simulated seconds")
    live.add_argument(
        "--measure",
        type=float,
        default=None,
        metavar="SECONDS",
        help="run this many real seconds, then report rates",
    )
    live.add_argument(
        "--truth", type=Path, default=None, help="append ground truth JSON lines here as emergencies start"
    )


def run(args: argparse.Namespace) -> int:
    if args.households < 1:
        raise ConfigError("--households must be at least 1")
    fleet = build_fleet(
        args.households, args.seed, args.mix, id_prefix=args.id_prefix, timezone=args.timezone
    )
    if args.out is not None:
        return _files(args, fleet)
    return asyncio.run(_live(args, fleet))


def _start(args: argparse.Namespace, default: str) -> datetime:
    tz = ZoneInfo(args.timezone or load_mix(args.mix).timezone)
    text = args.start or default
    try:
        start = datetime.fromisoformat(text)
    except ValueError as err:
        raise ConfigError(f"--start {text!r} is not an ISO date or time") from err
    return start if start.tzinfo is not None else start.replace(tzinfo=tz)


def _files(args: argparse.Namespace, fleet: Fleet) -> int:
    start = _start(args, DEFAULT_START)
    scenario = load_scenario(args.scenario).scaled(args.emergency_multiplier)
    run_ = write_files(
        args.out, fleet, scenario=scenario, start=start.timestamp(), days=args.days, workers=args.workers
    )
    print(
        f"{run_.households} homes x {run_.days:g} days: {run_.rows:,} event rows "
        f"({run_.messages:,} messages) in {run_.seconds:.1f} s = {run_.rows_per_s:,.0f} events/s"
    )
    print(f"emergencies: {dict(sorted(run_.truth.items())) or 'none'}")
    print(f"device faults: {dict(sorted(run_.faults.items()))}")
    print(f"wrote {args.out / 'events.csv'}, {args.out / 'truth.jsonl'}, {args.out / 'fleet.json'}")
    return 0


async def _register(fleet: Fleet, database_url: str | None) -> None:
    url = database_url or load_settings().database_url
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            added = await register_fleet(session, fleet, RealClock().now())
        print(f"registered the fleet in {engine.url.render_as_string(hide_password=True)}: {added} new rows")
    finally:
        await engine.dispose()


def _open_truth(path: Path | None) -> TextIO | None:
    return open(path, "a", encoding="utf-8") if path is not None else None


async def _live(args: argparse.Namespace, fleet: Fleet) -> int:
    if not args.no_register:
        await _register(fleet, args.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready() -> None:
        print(f"fleet built; publishing to {args.mqtt}", flush=True)
        if args.measure is not None:
            loop.call_later(args.measure, stop.set)

    truth_file = _open_truth(args.truth)
    fmts = {h.id: formatter(h.timezone) for h in fleet.households}

    def on_truth(t: Truth) -> None:
        if truth_file is not None:
            # Written when the emergency is planned; its `end` is when it will end, null if never.
            truth_file.write(truth_line(t, fmts[t.household_id], None))
            truth_file.flush()

    start = _start(args, "") if args.start else None
    print(
        f"publishing {len(fleet.households)} homes to {args.mqtt} at {args.speed:g}x; Ctrl-C stops",
        flush=True,
    )
    try:
        stats = await run_live(
            fleet,
            mqtt_url=args.mqtt,
            speed=args.speed,
            start=start,
            stop=stop,
            protocol=args.protocol,
            username=args.username,
            password=args.password,
            scenario=args.scenario,
            emergency_rate_multiplier=args.emergency_multiplier,
            window=args.window,
            duration_s=args.duration,
            on_truth=on_truth,
            on_ready=ready,
            retain_availability=not args.no_retain,
        )
    finally:
        if truth_file is not None:
            truth_file.close()
    _report(stats, fleet, args.speed)
    return 0


def _report(stats: LiveStats, fleet: Fleet, speed: float) -> None:
    due = stats.published + stats.skipped_lost
    needed = due / stats.simulated_s * speed if stats.simulated_s > 0 else 0.0
    print(
        f"{len(fleet.households)} homes, {stats.simulated_s:,.0f} simulated s in {stats.real_s:,.1f} real s: "
        f"{stats.published:,} published, {stats.acked:,} acknowledged, "
        f"{stats.skipped_lost:,} lost on purpose, {stats.malformed:,} malformed on purpose"
    )
    print(
        f"rate needed {needed:,.0f} msg/s, achieved {stats.rate:,.0f} msg/s, "
        f"worst lag {stats.max_lag_s:.2f} s (simulated), emergencies {len(stats.truth)}"
    )
    sys.stdout.flush()
