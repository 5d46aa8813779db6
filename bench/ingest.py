"""Ingest throughput: the same QoS 1 stream through a bare paho subscriber and through Anju's ingestor.

One run, on a private Mosquitto (so other users of the machine's broker neither slow it nor see it):

1. start ``mosquitto`` on a free port with unlimited queues; create a fresh PostgreSQL database and
   register the fleet's devices;
2. open two persistent sessions (a: the bare subscriber, b: the ingestor) and disconnect both;
3. a publisher process sends N contract messages at QoS 1 (bounded in-flight window); the broker
   queues the whole stream for each session;
4. (a) a bare paho subscriber (paho's own network loop, automatic acknowledgement) resumes its session
   and counts the N messages; (b) Anju's ingestor resumes its session and decodes, deduplicates,
   stores into PostgreSQL and acknowledges after commit. Both drain the same backlog: the consumer
   is the bottleneck, as behind any publisher faster than it.

Prints both rates (msg/s) and the ratio b/a. With ``--against REV`` each round also drains the same
backlog with the ingestor of git revision REV (a temporary worktree; both trees' ingestors then run
in fresh processes with their own source first on the path, in alternating order), and prints the
ratio of the two trees side by side. Usage::

    python bench/ingest.py              # 100k messages
    python bench/ingest.py --messages 20000 --batch-size 1000
    python bench/ingest.py --against 2a83644 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import func, select

from anju.config import load_settings
from anju.context import Context
from anju.ingest import Ingestor
from anju.store.db import transaction
from anju.store.migrate import upgrade
from anju.store.models import Device, Household, SensorEvent

PG_ADMIN = os.environ.get("ANJU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TOPICS = ("anju/v1/+/event", "anju/v1/+/heartbeat")
KINDS = (("door", ("open", "close")), ("pir", ("motion",)), ("button", ("press",)))
SESSION_EXPIRY_S = 3600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mosquitto(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        # The whole stream waits for each offline session: no queue limit.
        "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n"
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("mosquitto did not start")


def devices(n_devices: int) -> list[tuple[str, str, str]]:
    """(device id, household id, kind) for a fleet of homes with a door, a PIR and a button each."""
    fleet = []
    for i in range(n_devices):
        kind = KINDS[i % 3][0]
        fleet.append((f"{kind}-{i:05d}", f"h-{i // 3:05d}", kind))
    return fleet


def messages(n: int, fleet: list[tuple[str, str, str]]) -> list[tuple[str, bytes]]:
    """N contract messages: mostly events, one in ten a heartbeat; per-device seq, real-time ts."""
    start = datetime.now(UTC) - timedelta(seconds=60)
    seqs = dict.fromkeys((d for d, _, _ in fleet), 0)
    out = []
    for i in range(n):
        device_id, _, kind = fleet[i % len(fleet)]
        seq = seqs[device_id] = seqs[device_id] + 1
        ts = (start + timedelta(milliseconds=i)).isoformat(timespec="milliseconds")
        if i % 10 == 9:
            body = {"seq": seq, "ts": ts, "battery": 80, "rssi": -70, "fw": "1.4.2"}
            out.append((f"anju/v1/{device_id}/heartbeat", json.dumps(body).encode()))
        else:
            events = dict(KINDS)[kind]
            body = {"seq": seq, "ts": ts, "type": kind, "event": events[seq % len(events)], "battery": 80}
            out.append((f"anju/v1/{device_id}/event", json.dumps(body).encode()))
    return out


def publish(port: int, n: int, fleet: list[tuple[str, str, str]], window: int) -> None:
    """Runs in its own process: QoS 1 with at most ``window`` messages awaiting PUBACK."""
    stream = messages(n, fleet)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(window)
    done = threading.Semaphore(0)
    client.on_publish = lambda *args: done.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    outstanding = 0
    for topic, payload in stream:
        while outstanding >= window:
            done.acquire()
            outstanding -= 1
        while client.publish(topic, payload, qos=1).rc == paho.MQTT_ERR_QUEUE_SIZE:
            done.acquire()
            outstanding -= 1
        outstanding += 1
    for _ in range(outstanding):
        done.acquire()
    client.disconnect()
    client.loop_stop()


def bare_subscriber(port: int, client_id: str, expected: int | None) -> float:
    """Resumes the session, counts messages (paho acknowledges each); returns msg/s (0 when priming)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    count = 0
    finished = threading.Event()
    subscribed = threading.Event()

    def on_connect(c: paho.Client, u: object, flags: object, reason: object, props: object) -> None:
        opts = SubscribeOptions(qos=1)
        c.subscribe([(t, opts) for t in TOPICS])

    def on_message(c: paho.Client, u: object, msg: paho.MQTTMessage) -> None:
        nonlocal count
        count += 1
        if expected is not None and count >= expected:
            finished.set()

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    started = time.perf_counter()
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    subscribed.wait(10)
    if expected is None:
        client.disconnect()
        client.loop_stop()
        return 0.0
    if not finished.wait(600):
        raise SystemExit(f"bare subscriber got {count} of {expected} messages")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return expected / elapsed


async def prepare_database(fleet: list[tuple[str, str, str]]) -> tuple[str, str]:
    name = f"anju_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    await upgrade(url)
    ctx = Context.create(load_settings(database_url=url, secret_key="bench-secret-0123456789"))
    now = datetime.now(UTC)
    async with transaction(ctx.db) as session:
        for household in sorted({h for _, h, _ in fleet}):
            session.add(Household(id=household, name=household, created_at=now, updated_at=now))
        await session.flush()
        for device_id, household, kind in fleet:
            session.add(
                Device(
                    id=device_id,
                    household_id=household,
                    type=kind,
                    protocol="anju-v1",
                    profile=f"anju-{kind}",
                    created_at=now,
                )
            )
    await ctx.close()
    return name, url


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def run_ingestor(
    url: str, port: int, client_id: str, expected: int | None, batch_size: int
) -> tuple[float, int]:
    settings = load_settings(
        database_url=url,
        secret_key="bench-secret-0123456789",
        mqtt_session_expiry_s=SESSION_EXPIRY_S,
        ingest_batch_size=batch_size,
    )
    ctx = Context.create(settings)
    ingestor = Ingestor(ctx, mqtt_url=f"mqtt://127.0.0.1:{port}", client_id=client_id)
    started = time.perf_counter()
    await ingestor.start()
    try:
        await asyncio.wait_for(ingestor.connected.wait(), 60)  # a loaded machine connects slowly
        if expected is None:
            return 0.0, 0
        while ingestor.stats.committed < expected:
            await asyncio.sleep(0.01)
            if time.perf_counter() - started > 600:
                raise SystemExit(f"ingestor committed {ingestor.stats.committed} of {expected}")
        elapsed = time.perf_counter() - started
    finally:
        await ingestor.stop()
    async with ctx.db() as session:
        rows = int(await session.scalar(select(func.count()).select_from(SensorEvent)) or 0)
    stats = ingestor.stats
    print(
        f"    ingestor: stored {stats.stored}, duplicate {stats.duplicate}, "
        f"dead letters {stats.dead_letter}, unknown {stats.unknown_device}, batches {stats.batches}, "
        f"failed {stats.failed_batches}, pauses {stats.pauses}, acked {stats.acked}"
    )
    await ctx.close()
    return expected / elapsed, rows


def ingest_in_process(tree: Path, url: str, port: int, client_id: str, expected: int, batch: int) -> float:
    """``run_ingestor`` in a fresh process with ``tree``'s source first on the path; returns msg/s."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    args = [sys.executable, __file__, "--ingest-only", url, str(port), client_id, str(expected), str(batch)]
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: ingestor failed: {out.stderr.strip()[-400:]}")
    return float(out.stdout.split()[-1])


def worktree(rev: str, tmp: Path) -> Path:
    root = Path(__file__).resolve().parents[1]
    ref = tmp / f"ref-{rev}"
    add = ["git", "-C", str(root), "worktree", "add", "--detach", str(ref), rev]
    subprocess.run(add, capture_output=True, check=True)
    return ref


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--ingest-only":
        url, port, client_id, expected, batch = sys.argv[2:]
        rate, rows = asyncio.run(run_ingestor(url, int(port), client_id, int(expected), int(batch)))
        if rows != int(expected):
            raise SystemExit(f"expected {expected} rows, found {rows}")
        print(f"{rate:.1f}")
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="(a) and (b) alternate this many times")
    parser.add_argument("--window", type=int, default=2000, help="publisher's in-flight QoS 1 window")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--against", metavar="REV", help="also drain each round with REV's ingestor")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    fleet = devices(args.devices)
    port = free_port()
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(port, Path(tmp))
        root = Path(__file__).resolve().parents[1]
        ref = worktree(args.against, Path(tmp)) if args.against else None
        databases = [asyncio.run(prepare_database(fleet)) for _ in range(args.rounds)]
        ref_databases = [asyncio.run(prepare_database(fleet)) for _ in range(args.rounds)] if ref else []
        try:
            # Every session exists before the stream starts, so the broker queues all of it for each.
            bare_ids = [f"bench-bare-{tag}-{r}" for r in range(args.rounds)]
            anju_ids = [f"bench-anju-{tag}-{r}" for r in range(args.rounds)]
            ref_ids = [f"bench-ref-{tag}-{r}" for r in range(args.rounds)]
            for r in range(args.rounds):
                bare_subscriber(port, bare_ids[r], None)
                asyncio.run(run_ingestor(databases[r][1], port, anju_ids[r], None, args.batch_size))
                if ref:
                    asyncio.run(run_ingestor(ref_databases[r][1], port, ref_ids[r], None, args.batch_size))

            t0 = time.perf_counter()
            proc = multiprocessing.Process(target=publish, args=(port, args.messages, fleet, args.window))
            proc.start()
            proc.join()
            pub_rate = args.messages / (time.perf_counter() - t0)
            print(
                f"published {args.messages} QoS 1 messages from {len(fleet)} devices at {pub_rate:,.0f} msg/s"
            )

            bare_rates, anju_rates, ref_rates = [], [], []
            for r in range(args.rounds):
                bare_rates.append(bare_subscriber(port, bare_ids[r], args.messages))
                print(f"round {r + 1}: (a) bare paho subscriber   {bare_rates[-1]:8,.0f} msg/s")
                if ref is None:
                    rate, rows = asyncio.run(
                        run_ingestor(databases[r][1], port, anju_ids[r], args.messages, args.batch_size)
                    )
                    print(
                        f"round {r + 1}: (b) Anju ingestor -> PG    {rate:8,.0f} msg/s   ({rows} rows stored)"
                    )
                    if rows != args.messages:
                        raise SystemExit(f"expected {args.messages} rows, found {rows}")
                    anju_rates.append(rate)
                    continue
                # Both trees in fresh processes, the order alternating from round to round.
                runs = [(root, databases, anju_ids, anju_rates), (ref, ref_databases, ref_ids, ref_rates)]
                for tree, dbs, ids, rates in runs if r % 2 == 0 else runs[::-1]:
                    rates.append(
                        ingest_in_process(tree, dbs[r][1], port, ids[r], args.messages, args.batch_size)
                    )
                    label = "this tree" if tree == root else args.against
                    print(f"round {r + 1}: (b) ingestor of {label:>10}  {rates[-1]:8,.0f} msg/s")
            bare, anju = statistics.median(bare_rates), statistics.median(anju_rates)
            print(f"(a) bare paho subscriber (count + ack), median:                      {bare:8,.0f} msg/s")
            print(f"(b) Anju ingestor (decode, dedupe, PostgreSQL, ack after commit):    {anju:8,.0f} msg/s")
            print(
                f"ratio b/a = {anju / bare:.2f}  (target >= 0.5; per round: "
                + ", ".join(f"{b / a:.2f}" for a, b in zip(bare_rates, anju_rates, strict=True))
                + ")"
            )
            if ref is not None:
                this, that = statistics.median(anju_rates), statistics.median(ref_rates)
                print(f"(c) ingestor of {args.against}, median: {that:8,.0f} msg/s")
                print(
                    f"this tree / {args.against} = {this / that:.2f} (median; per round: "
                    + ", ".join(f"{b / a:.2f}" for a, b in zip(ref_rates, anju_rates, strict=True))
                    + ")"
                )
        finally:
            broker.terminate()
            broker.wait(5)
            for name, _ in databases + ref_databases:
                asyncio.run(drop_database(name))
            if ref is not None:
                subprocess.run(
                    ["git", "-C", str(root), "worktree", "remove", "--force", str(ref)], check=False
                )
    sys.exit(0)


if __name__ == "__main__":
    main()
