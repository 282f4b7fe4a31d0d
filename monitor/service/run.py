"""``monitor run``: the long-running service.

APScheduler 3.11 (AsyncIOScheduler) runs the periodic jobs — the collection tick and
housekeeping — while the alert delivery worker, the Telegram live listener and the
operations HTTP server (health, metrics, optionally the web UI) run beside them. SIGTERM/SIGINT
set a stop event: the scheduler stops taking new work, in-flight runs get a few seconds to finish
and are then abandoned (each batch is one transaction, so nothing half-done is committed), and
the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import metrics
from monitor.alerts import worker
from monitor.durations import parse_duration
from monitor.errors import MonitorError
from monitor.ingest.runtime import pipeline_for
from monitor.service.scheduler import LocalDispatcher, Scanner, type_limits
from monitor.settings import Settings
from monitor.sources import silent_source
from monitor.store import sources as source_repo
from monitor.store.db import Store
from monitor.store.locks import RETENTION, lock_keys
from monitor.store.maintenance import prune
from monitor.types import utcnow

log = logging.getLogger("monitor.service.run")


@dataclass
class ServiceOptions:
    tick: float = 5.0
    grace: float = 5.0
    host: str | None = None
    port: int | None = None  # operations HTTP server (health, metrics; the web UI with web=True)
    web: bool = False
    alerts: bool = True
    telegram_live: bool = True


class Service:
    def __init__(self, store: Store, settings: Settings, options: ServiceOptions | None = None):
        self.store = store
        self.settings = settings
        self.options = options or ServiceOptions()
        self.stop_event = asyncio.Event()
        self.scanner: Scanner | None = None
        self.started_at = utcnow()
        self._http_socket: socket.socket | None = None

    def request_stop(self) -> None:
        self.stop_event.set()

    async def run(self) -> None:
        if self.options.port is not None:  # before anything starts: a taken port is a clear error
            self._http_socket = bind_http(self.options.host or self.settings.web.host,
                                          self.options.port)
        async with pipeline_for(self.store, self.settings) as pipeline:
            dispatcher = LocalDispatcher(pipeline.run_source, type_limits(self.settings))
            self.scanner = Scanner(pipeline, dispatcher)
            scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={
                "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
            scheduler.add_job(self.scanner.scan, IntervalTrigger(seconds=self.options.tick), id="scan",
                              next_run_time=utcnow())
            scheduler.add_job(self._housekeeping, IntervalTrigger(hours=1, jitter=60), id="housekeeping",
                              next_run_time=utcnow(), args=[pipeline])
            background: list[asyncio.Task] = []
            if self.options.alerts:
                self._add_alert_worker(background, pipeline)
            if self.options.telegram_live:
                background.append(asyncio.create_task(self._telegram_live(pipeline), name="telegram-live"))
            if self.options.port is not None:
                background.append(asyncio.create_task(self._serve_http(), name="http"))
            scheduler.start()
            log.info("monitor service started (tick %.1fs)", self.options.tick)
            try:
                await self.stop_event.wait()
            finally:
                log.info("stopping: no new runs; in-flight runs get %.0fs", self.options.grace)
                scheduler.shutdown(wait=False)
                await dispatcher.stop(self.options.grace)
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                log.info("monitor service stopped")

    # ------------------------------------------------------------------ jobs

    def _add_alert_worker(self, background: list, pipeline) -> None:
        # New alerts wake the worker at once instead of waiting for its poll.
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        pipeline.on_commit = lambda result: loop.call_soon_threadsafe(wake.set) if result.alerts else None
        background.append(asyncio.create_task(
            worker.run_forever(self.store, self.settings, self.stop_event, wake=wake), name="alert-worker"))
        # run_forever also runs the spike and operator health checks every minute.

    async def _housekeeping(self, pipeline) -> None:
        r = self.settings.retention
        now = utcnow()

        def work():
            # no batch is ingested while retention runs: a copy joining an old story that retention
            # is removing would lose its story (nor, on PostgreSQL, in another process: RETENTION)
            with pipeline.writing(), self.store.unit() as s:
                lock_keys(s, [RETENTION])
                pruned = prune(s, now=now, raw_days=r.raw_days, unmatched_days=r.unmatched_days,
                               window_days=self.settings.dedup.window_days)
                watched = source_repo.watched_health(s)
            silent_after = parse_duration(self.settings.alerts.silent_after) or 172800
            silent = [h.name for h in watched if silent_source(h, now, silent_after)]
            return pruned, silent

        pruned, silent = await asyncio.to_thread(work)
        metrics.SILENT.set(len(silent))
        if any(pruned.values()):
            log.info("retention pruned %s", pruned)
        if silent:
            log.warning("silent sources (no new items for longer than expected): %s", ", ".join(silent[:20]))

    async def _telegram_live(self, pipeline) -> None:
        """Keep the live listener up for joined channels; the scheduled runs are the gap-fill poll."""
        # imported here: Telethon costs ~0.4 s at start-up and only the live listener needs it
        from monitor.service.telegram import run_live

        while not self.stop_event.is_set():
            try:
                await run_live(pipeline, self.settings, self.stop_event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("telegram live listener failed; restarting in 60s")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), timeout=60)

    async def _serve_http(self) -> None:
        # imported here: only a service with an HTTP port needs uvicorn and FastAPI
        import uvicorn

        from monitor.service.http import ops_app, uvicorn_options

        app = ops_app(self)
        config = uvicorn.Config(app, host=self.options.host or self.settings.web.host,
                                port=self.options.port, log_level="warning", lifespan="off",
                                **uvicorn_options(self.settings))

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # the service owns the signals
                yield

        server = _Server(config)
        try:
            await server.serve(sockets=[self._http_socket] if self._http_socket else None)
        except asyncio.CancelledError:
            server.should_exit = True
            raise


def bind_http(host: str, port: int) -> socket.socket:
    """The listening socket of the operations HTTP server, bound before the service starts, so a
    port that is taken or not allowed stops ``monitor run`` with a message instead of leaving it
    running without /healthz (uvicorn binding late only logs the failure)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MonitorError(f"cannot serve HTTP on {host}:{port}: {reason}") from exc


def run_service(store: Store, settings: Settings, options: ServiceOptions) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0 on a graceful stop)."""

    async def main() -> None:
        service = Service(store, settings, options)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, service.request_stop)
        await service.run()

    asyncio.run(main())
    return 0
