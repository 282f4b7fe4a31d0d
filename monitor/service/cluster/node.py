"""One ``monitor worker`` process: procrastinate workers, a heartbeat, Telegram leases.

A node runs up to three kinds of procrastinate worker over one app and one pipeline:

* a **control** worker for the short jobs (``tick``, ``alerts``, ``singletons``), apart from the
  source runs so a crowd of slow feeds can never delay the scan or the recovery of dead jobs;
* a **sources** worker (``feeds``, ``web``) running ``--concurrency`` source runs at once;
* one worker per **Telegram account** this node owns (``tg.<account>``), started and stopped by
  :class:`~monitor.service.cluster.accounts.AccountLeases`.

Liveness: every ``cluster.heartbeat`` seconds the node renews its row in ``cluster_nodes`` and
the heartbeats of its procrastinate workers, also while they finish their jobs at shutdown (so a
graceful stop is never mistaken for a death). A node silent for ``cluster.stalled_after`` seconds
is dead: the next ``recover`` sweep (every ``cluster.recover_every`` s) puts its running jobs back
in their queues, so they run again elsewhere within ``stalled_after + recover_every`` (+ a tick)
of the death. A re-run is harmless: a batch is one transaction, and a source already run since
is skipped (:func:`monitor.store.cluster.still_due`). A node that finds itself declared dead (its
rows pruned after a long stall) stops with exit code 1 rather than run jobs now owned elsewhere.

SIGTERM/SIGINT: no new jobs; running ones get ``cluster.grace`` seconds, then are aborted (they
are released: the source is still due, the next tick defers it again); leases are released;
exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence

from procrastinate import exceptions, jobs
from procrastinate.periodic import PeriodicDeferrer
from procrastinate.worker import Worker

from monitor.durations import parse_duration
from monitor.errors import ConfigError
from monitor.ingest.runtime import pipeline_for
from monitor.service.cluster.accounts import AccountLeases, AccountRuntime
from monitor.service.cluster.app import (
    CONTROL_QUEUES,
    SOURCE_QUEUES,
    TELEGRAM,
    account_queue,
    make_app,
    schedules,
)
from monitor.service.cluster.dispatcher import ProcrastinateDispatcher
from monitor.service.scheduler import Scanner
from monitor.settings import Settings
from monitor.store import cluster as cluster_repo
from monitor.store.db import Store
from monitor.store.locks import RETENTION, lock_keys
from monitor.types import utcnow

log = logging.getLogger("monitor.cluster")

CONTROL_CONCURRENCY = 4
FORGET_NODES_AFTER = timedelta(days=1)
KEEP_FAILED_JOBS_HOURS = 72


@dataclass
class NodeOptions:
    queues: Sequence[str]
    concurrency: int
    name: str | None = None


class Node:
    def __init__(self, store: Store, settings: Settings, options: NodeOptions):
        self.store, self.settings, self.options = store, settings, options
        self.cfg = settings.cluster
        self.name = options.name or f"{socket.gethostname()}:{os.getpid()}"
        self.stop_event = asyncio.Event()
        self.exit_code = 0
        self.node_id: int | None = None
        self.workers: dict[str, tuple[Worker, asyncio.Task]] = {}
        self.pipeline = self.app = self.dispatcher = self.scanner = None

    def request_stop(self, code: int = 0) -> None:
        self.exit_code = self.exit_code or code
        self.stop_event.set()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        queues = list(self.options.queues)
        self.app = make_app(self.settings, pool_size=self.options.concurrency + 12)
        async with self.app.open_async(), pipeline_for(self.store, self.settings) as pipeline:
            self.pipeline = pipeline
            self.dispatcher = ProcrastinateDispatcher(self.app, self.store)
            self.scanner = Scanner(pipeline, self.dispatcher, max_jitter=0)
            runtime = self._account_runtime() if TELEGRAM in queues else None
            loop = asyncio.get_running_loop()
            pipeline.on_commit = lambda result: (
                loop.call_soon_threadsafe(self._wake_delivery) if result.alerts else None
            )
            self.node_id = await self._unit(
                cluster_repo.register_node,
                name=self.name,
                host=socket.gethostname(),
                pid=os.getpid(),
                queues=queues,
            )
            control = [q for q in CONTROL_QUEUES if q in queues]
            sources = [q for q in SOURCE_QUEUES if q in queues]
            if control:
                self._start_worker("control", control, CONTROL_CONCURRENCY)
            if sources:
                self._start_worker("sources", sources, self.options.concurrency)
            side = [
                asyncio.create_task(self._keepalive(), name="keepalive"),
                asyncio.create_task(self._defer_periodic(), name="periodic"),
            ]
            if runtime is not None:
                leases = AccountLeases(
                    self.store,
                    self.node_id,
                    runtime,
                    ttl=self.cfg.lease_ttl,
                    renew_every=self.cfg.lease_renew,
                    consume=self._consume_account,
                    stop_consuming=self._stop_account,
                )
                side.append(asyncio.create_task(leases.run(self.stop_event), name="leases"))
            log.info("node %s (id %d) serving %s", self.name, self.node_id, ", ".join(queues))
            try:
                await self._until_stopped()
            finally:
                await self._shutdown(side)
        return self.exit_code

    async def _until_stopped(self) -> None:
        """Wait for a stop request, or for a worker that ended on its own (a failure)."""
        while not self.stop_event.is_set():
            tasks = [task for _, task in self.workers.values()]
            stop = asyncio.ensure_future(self.stop_event.wait())
            done, _ = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for key, (_, task) in list(self.workers.items()):
                if task in done:
                    log.error(
                        "job worker %s ended unexpectedly (%r); stopping the node",
                        key,
                        task.exception() if not task.cancelled() else "cancelled",
                    )
                    self.request_stop(1)

    async def _shutdown(self, side: list[asyncio.Task]) -> None:
        """Everything stops at once: the lease loop lets go of the accounts (their workers get a
        fraction of the lease margin), the other workers get ``grace`` seconds for their jobs and
        then abort them (released: their sources are still due). Within ``grace`` + 3 s."""
        log.info("stopping: no new jobs; running ones get %.0fs", self.cfg.grace)
        self.stop_event.set()
        for key, (worker, _) in self.workers.items():
            if not self._is_account(key):  # the lease loop stops those, before it disconnects
                worker.stop()
        pending = [task for _, task in self.workers.values()]
        pending += [t for t in side if t.get_name() == "leases"]
        if pending:
            await asyncio.wait(pending, timeout=self.cfg.grace + 3)
        for task in side:
            task.cancel()
        await asyncio.gather(*side, return_exceptions=True)
        if self.node_id is not None:
            with contextlib.suppress(Exception):
                await self._unit(cluster_repo.deregister_node, self.node_id)
        log.info("node %s stopped", self.name)

    def _start_worker(
        self, key: str, queues: list[str], concurrency: int, *, grace: float | None = None
    ) -> Worker:
        poll = max(0.5, min(self.cfg.tick, 5.0))  # LISTEN/NOTIFY wakes workers; polling backs it up
        worker = Worker(
            self.app,
            queues=queues,
            name=f"{self.name}/{key}",
            concurrency=concurrency,
            wait=True,
            fetch_job_polling_interval=poll,
            abort_job_polling_interval=poll,
            shutdown_graceful_timeout=self.cfg.grace if grace is None else grace,
            listen_notify=True,
            delete_jobs="never" if self.cfg.keep_jobs else "successful",
            additional_context={"node": self},
            install_signal_handlers=False,
            update_heartbeat_interval=self.cfg.heartbeat,
            stalled_worker_timeout=self.cfg.stalled_after,
        )
        self.workers[key] = (worker, asyncio.create_task(worker.run(), name=f"worker-{key}"))
        return worker

    async def _keepalive(self) -> None:
        """The node's heartbeat, and its workers' (procrastinate stops beating while a worker
        finishes its jobs at shutdown; this keeps beating until the worker is gone)."""
        while True:
            ids = [w.worker_id for w, _ in self.workers.values() if w.worker_id is not None]
            try:
                found, missing = await self._unit(cluster_repo.beat, self.node_id, ids)
            except Exception:
                log.exception("heartbeat failed")
            else:
                current = {w.worker_id for w, _ in self.workers.values()}
                if not found or missing & current:  # not just a worker that stopped meanwhile
                    log.error(
                        "this node was declared dead by the cluster (silent for more than %.0fs); "
                        "its jobs run elsewhere now: stopping",
                        self.cfg.stalled_after,
                    )
                    self.request_stop(1)
                    return
            await asyncio.sleep(self.cfg.heartbeat)

    async def _defer_periodic(self) -> None:
        """The node's one periodic deferrer (its workers run none: see
        :mod:`~monitor.service.cluster.app`). A failure (the database away) is logged and the
        deferrer carries on after a pause, remembering what it deferred; other nodes defer
        meanwhile."""
        deferrer = PeriodicDeferrer(registry=schedules(self.app, self.settings))
        while True:
            try:
                await deferrer.worker()
            except Exception:
                log.exception("deferring the periodic jobs failed; trying again")
                await asyncio.sleep(max(self.cfg.heartbeat, 1.0))

    async def _unit(self, fn, *args, **kwargs) -> Any:
        def work():
            with self.store.unit() as s:
                return fn(s, *args, **kwargs)

        return await asyncio.to_thread(work)

    # ------------------------------------------------------------------ Telegram accounts

    @staticmethod
    def _is_account(key: str) -> bool:
        return key == account_queue(None) or key.startswith(account_queue(None) + ".")

    def _account_runtime(self) -> AccountRuntime:
        module, _, attr = self.cfg.account_runtime.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(
                f"cluster.account_runtime: cannot load {self.cfg.account_runtime!r} ({exc})"
            ) from None
        return factory(self.settings, self.pipeline)

    async def _consume_account(self, account: str) -> None:
        self._start_worker(account_queue(account), [account_queue(account)],
                           self.settings.telegram.account_runs)

    async def _stop_account(self, account: str, grace: float) -> None:
        entry = self.workers.pop(account_queue(account), None)
        if entry is None:
            return
        worker, task = entry
        worker.shutdown_graceful_timeout = grace  # the lease is running out: jobs get what is left
        worker.stop()
        await asyncio.wait([task], timeout=grace + 1)

    # ------------------------------------------------------------------ jobs (see app.py)

    async def tick(self) -> int:
        await self.dispatcher.refresh()
        return await self.scanner.scan()

    async def run_source(self, source_id: int) -> str:
        if not await self._unit(cluster_repo.still_due, source_id):
            return "not due"  # run since this job was deferred, or disabled
        return (await self.pipeline.run_source(source_id)).status

    def _wake_delivery(self) -> None:
        async def defer() -> None:
            with contextlib.suppress(exceptions.AlreadyEnqueued):
                await self.app.tasks["monitor.deliver"].defer_async(timestamp=0)

        if not self.stop_event.is_set():
            asyncio.ensure_future(defer())

    async def deliver(self) -> int:
        from monitor.alerts.worker import deliver_due

        return (await deliver_due(self.store, self.settings, digests=False)).sent

    async def digests(self) -> int:
        from monitor.alerts.worker import prepare_due

        made = await self._unit(prepare_due, utcnow())
        if made:
            self._wake_delivery()
        return made

    async def health(self) -> int:
        from monitor.alerts.health import check_health

        return await check_health(self.store, self.settings, utcnow())

    async def recover(self) -> int:
        """Put the running jobs of dead nodes back in their queues (or drop them when a newer job
        for the same thing waits already)."""
        manager = self.app.job_manager
        recovered = 0
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=self.cfg.stalled_after):
            try:
                await manager.retry_job(job)
                recovered += 1
                log.warning("job %s (%s) of a dead node is queued again", job.id, job.call_string)
            except exceptions.UniqueViolation:  # its queueing lock: a newer job waits already
                with contextlib.suppress(exceptions.ConnectorException):
                    await manager.finish_job(job, status=jobs.Status.FAILED, delete_job=False)
            except exceptions.ConnectorException:
                pass  # no longer running: another sweep, or the job itself, got there first
        return recovered

    async def housekeeping(self) -> dict:
        from monitor import metrics
        from monitor.store.maintenance import prune, silent_sources

        r, now = self.settings.retention, utcnow()

        def work():
            with self.pipeline.writing(), self.store.unit() as s:
                # cluster-wide: waits for every ingest holding RETENTION shared (see store.locks)
                lock_keys(s, [RETENTION])
                pruned = prune(
                    s,
                    now=now,
                    raw_days=r.raw_days,
                    unmatched_days=r.unmatched_days,
                    window_days=self.settings.dedup.window_days,
                )
            with self.store.unit() as s:
                silent_after = parse_duration(self.settings.alerts.silent_after) or 172800
                silent = [x.name for x in silent_sources(s, now=now, silent_after=silent_after)]
                cluster_repo.prune_nodes(s, silent_for=FORGET_NODES_AFTER)
            return pruned, silent

        pruned, silent = await asyncio.to_thread(work)
        await self.app.job_manager.delete_old_jobs(
            nb_hours=KEEP_FAILED_JOBS_HOURS,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )
        metrics.SILENT.set(len(silent))
        if any(pruned.values()):
            log.info("retention pruned %s", pruned)
        if silent:
            log.warning(
                "silent sources (no new items for longer than expected): %s", ", ".join(silent[:20])
            )
        return {"pruned": pruned, "silent": len(silent)}


def run_node(store: Store, settings: Settings, options: NodeOptions) -> int:
    """Run a node until SIGTERM/SIGINT; returns the exit code (0 on a graceful stop)."""

    if settings.log.level != "DEBUG":  # procrastinate logs every job and every periodic deferral
        logging.getLogger("procrastinate").setLevel(logging.WARNING)

    async def main() -> int:
        node = Node(store, settings, options)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, node.request_stop)
        return await node.run()

    return asyncio.run(main())
