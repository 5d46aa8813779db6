"""The live service: ingest, engine, dispatch, notify, API and console in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from anju.context import Context
from anju.engine.core import Engine
from anju.engine.pack import load_pack
from anju.errors import AnjuError, ConfigError
from anju.runtime.pipeline import Pipeline
from anju.runtime.snapshots import SNAPSHOT_S

if TYPE_CHECKING:
    from anju.notify.provider import ResidentLine

log = logging.getLogger("anju.runtime")

#: How often the engine's timers are advanced to the clock (seconds of real time).
TICK_S = 1.0
#: How often household and device registrations are re-read into the engine.
RECONFIGURE_S = 30.0


async def _every(
    interval_s: float, stop: asyncio.Event, fn: Callable[[], Awaitable[object]], name: str
) -> None:
    """Run ``fn`` every ``interval_s`` until ``stop``; an error is logged, never fatal."""
    while not stop.is_set():
        try:
            await fn()
        except Exception:
            log.exception("%s failed; retrying", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


@dataclass
class MqttTarget:
    url: str
    protocol: Literal["v5", "v311"] = "v5"
    username: str | None = None
    password: str | None = None
    client_id: str | None = None


class Service:
    """The whole live service in one asyncio loop."""

    def __init__(
        self,
        ctx: Context,
        mqtt: MqttTarget,
        *,
        serve_http: bool = True,
        rules_path: str | None = None,
        residents: ResidentLine | None = None,
    ) -> None:
        self.ctx = ctx
        #: Simulated residents behind their phones (``anju demo`` only), else None.
        self.residents = residents
        self.mqtt = mqtt
        self.serve_http = serve_http
        pack = load_pack(rules_path or ctx.settings.rules_dir / "default.toml")
        self.pipeline = Pipeline(ctx, Engine(pack, default_timezone=ctx.settings.timezone))
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Why a task ended on its own; the service then stops and exits with an error.
        self.died: str | None = None
        self.ingestor: Any = None
        self.health: Any = None
        self.http: Any = None

    async def start(self) -> None:
        from anju.health import HealthMonitor
        from anju.ingest.ingestor import Ingestor

        if self.serve_http:
            ensure_port_free(self.ctx.settings.http_host, self.ctx.settings.http_port, "ANJU_HTTP_PORT")

        homes = await self.pipeline.configure_from_db()
        restored, replayed = await self.pipeline.restore()
        log.info("monitoring %d households (%d restored, %d events replayed)", homes, restored, replayed)
        await self.pipeline.tick()
        self.ingestor = Ingestor(
            self.ctx,
            on_stored=self.pipeline.on_stored,
            mqtt_url=self.mqtt.url,
            protocol=self.mqtt.protocol,
            client_id=self.mqtt.client_id,
            username=self.mqtt.username,
            password=self.mqtt.password,
        )
        await self.ingestor.start()
        if self.serve_http:
            # Built before any periodic task starts: importing and building the app holds the loop for
            # seconds, which the health monitor's first round would take for a database timeout.
            self._build_http()
        # The alarm path's own health: /readyz probes (mqtt, ingest, canary), metrics, one incident
        # per degradation (anju.health).
        self.health = HealthMonitor(self.ctx, self.ingestor)
        self.health.register()
        stop = self.stop_event
        self._spawn(_every(self.ctx.settings.health_interval_s, stop, self.health.evaluate, "health monitor"))
        self._spawn(_every(TICK_S, stop, self.pipeline.tick, "engine tick"))
        self._spawn(_every(SNAPSHOT_S, stop, self.pipeline.save_snapshots, "engine snapshot"))
        self._spawn(_every(RECONFIGURE_S, stop, self.pipeline.configure_from_db, "engine reconfigure"))
        self._start_workers()
        if self.http is not None:
            self._spawn(self._serve_http())

    def _start_workers(self) -> None:
        from anju.dispatch.escalation import escalation_loop
        from anju.notify.outbox import build_provider, outbox_loop, use_notifier

        # Built here, not inside the worker, so a bad provider setting stops the start with its reason.
        notifier = build_provider(self.ctx.settings, clock=self.ctx.clock, residents=self.residents)
        use_notifier(self.ctx, notifier)

        self._spawn(escalation_loop(self.ctx, self.stop_event))
        self._spawn(outbox_loop(self.ctx, self.stop_event))

    def _build_http(self) -> None:
        import uvicorn

        from anju.web.app import create_app

        config = uvicorn.Config(
            create_app(self.ctx),
            host=self.ctx.settings.http_host,
            port=self.ctx.settings.http_port,
            log_level="warning",
            lifespan="on",
            # Open console streams (SSE) would otherwise hold a shutdown for as long as a browser stays.
            timeout_graceful_shutdown=5,
        )
        self.http = uvicorn.Server(config)
        self.http.install_signal_handlers = lambda: None

    async def _serve_http(self) -> None:
        assert self.http is not None
        await self.http.serve()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A task that ends on its own stops the whole service, so the supervisor restarts it.

        A half-running service (say, no console, or no escalation) that still looks alive is worse
        than a restart.
        """
        if task.cancelled() or self.stop_event.is_set():
            if not task.cancelled() and task.exception() is not None:
                log.error("service task failed while stopping", exc_info=task.exception())
            return
        err = task.exception()
        self.died = f"{task.get_coro()}: {err!r}" if err is not None else f"{task.get_coro()} ended"
        if err is not None:
            log.critical("service task %s died; stopping the service", task.get_coro(), exc_info=err)
        else:
            log.critical("service task %s ended unexpectedly; stopping the service", task.get_coro())
        self.stop_event.set()

    async def stop(self) -> None:
        self.stop_event.set()
        if self.http is not None:
            self.http.should_exit = True
        if self.ingestor is not None:
            await self.ingestor.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        await self.pipeline.save_snapshots(everything=True)

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_event.set)
        await self.start()
        try:
            await self.stop_event.wait()
        finally:
            await self.stop()
        if self.died is not None:
            # A non-zero exit, so a supervisor (systemd Restart=on-failure) starts it again.
            raise AnjuError(f"the service stopped because a task died: {self.died}")


def ensure_port_free(host: str, port: int, setting: str) -> None:
    """Fail before starting anything when ``port`` is taken, with a reason an operator can act on."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({err.strerror}): is another Anju running? "
                f"Stop it or choose another port ({setting})."
            ) from err
