"""Drives pipeline runs; does no collection work itself.

The sources table is the truth: every ``tick`` seconds an APScheduler job (coalesced, never two at
once) reads the sources whose stored next-check time has come and hands them to a
:class:`Dispatcher`, which runs at most one run per source at a time within per-source-type
concurrency limits. A restart therefore resumes exactly where the database says, and a SIGKILL
needs no clean-up: there is no lease or lock to release, and an interrupted batch was never
committed.

Dispatch sits behind an interface: ``monitor run`` uses :class:`LocalDispatcher`; ``monitor
worker`` nodes use :class:`monitor.service.cluster.dispatcher.ProcrastinateDispatcher`, which
defers a job per due source to a PostgreSQL queue. The pipeline is the same in both.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import random
from typing import Awaitable, Callable, NamedTuple, Sequence

from monitor import metrics
from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources import scheduled_types, source_class, source_classes
from monitor.store import sources as source_repo
from monitor.store.maintenance import queue_lag
from monitor.types import utcnow

log = logging.getLogger("monitor.service.scheduler")


class DueRun(NamedTuple):
    """A source the scan found due, as handed to a :class:`Dispatcher`."""

    source_id: int
    source_type: str
    account: str | None = None
    delay: float = 0.0  # jitter before the run starts


class Dispatcher(abc.ABC):
    """Where source runs execute."""

    @abc.abstractmethod
    async def dispatch(self, source_id: int, source_type: str, *, delay: float = 0.0,
                       account: str | None = None) -> bool:
        """Start a run unless one for this source is in flight; True when started. ``account``:
        the Telegram account the source is read with (a node that owns it must run it)."""

    async def dispatch_many(self, runs: Sequence[DueRun]) -> int:
        """Start runs for several sources at once; how many started. By default one
        :meth:`dispatch` each; a queue can defer them all in one round trip."""
        started = 0
        for run in runs:
            started += await self.dispatch(run.source_id, run.source_type, delay=run.delay,
                                           account=run.account)
        return started

    @abc.abstractmethod
    def in_flight(self) -> set[int]:
        """Ids of the sources being run now."""

    @abc.abstractmethod
    async def stop(self, grace: float) -> None:
        """Let in-flight runs finish for ``grace`` seconds, then abandon them (nothing half-done is
        committed: each batch is one transaction)."""


class LocalDispatcher(Dispatcher):
    """Runs in this process as asyncio tasks."""

    def __init__(self, run: Callable[[int], Awaitable[object]], limits: dict[str, int] | None = None):
        """``limits``: runs at once per concurrency class (see :func:`type_limits`); a class not
        named gets its types' declared :attr:`~monitor.sources.base.Source.concurrency`."""
        self._run = run
        self._sizes = dict(limits or {})
        self._limits = {k: asyncio.Semaphore(v) for k, v in self._sizes.items()}
        self._tasks: dict[int, asyncio.Task] = {}

    async def dispatch(self, source_id: int, source_type: str, *, delay: float = 0.0,
                       account: str | None = None) -> bool:
        if source_id in self._tasks:
            return False
        kind = source_class(source_type)
        key = kind.concurrency_class
        if getattr(kind, "per_account", False):
            # Telegram: each account is its own capacity (its gate paces the calls inside)
            limit = self._sizes.get(key, kind.concurrency)
            key = f"{key}:{account or ''}"
            sem = self._limits.setdefault(key, asyncio.Semaphore(limit))
        else:
            sem = self._limits.setdefault(key, asyncio.Semaphore(kind.concurrency))

        async def go():
            try:
                if delay:
                    await asyncio.sleep(delay)  # jitter: spread a crowd of due sources
                async with sem:
                    metrics.RUNNING.inc()
                    try:
                        await self._run(source_id)
                    finally:
                        metrics.RUNNING.dec()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("run of source %s failed", source_id)
            finally:
                self._tasks.pop(source_id, None)

        self._tasks[source_id] = asyncio.create_task(go(), name=f"source-{source_id}")
        return True

    def in_flight(self) -> set[int]:
        return set(self._tasks)

    async def stop(self, grace: float) -> None:
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
            log.info("abandoned %d in-flight run(s); they resume from the database on restart", len(pending))


class Scanner:
    """The tick: find due sources in SQL and dispatch them."""

    def __init__(self, pipeline: Pipeline, dispatcher: Dispatcher, *, max_jitter: float = 2.0):
        self.pipeline = pipeline
        self.dispatcher = dispatcher
        self.max_jitter = max_jitter
        self.last_scan = None

    async def scan(self) -> int:
        now = utcnow()

        types = scheduled_types()

        def due():
            with self.pipeline.store.unit() as s:
                rows = source_repo.due_sources(s, now=now, types=types)
                metrics.QUEUE_LAG.set(queue_lag(s, now, types=types))
                return [(r.id, r.type, r.account) for r in rows]

        busy = self.dispatcher.in_flight()
        runs = [DueRun(source_id, source_type, account,
                       random.uniform(0, self.max_jitter) if self.max_jitter else 0.0)
                for source_id, source_type, account in await asyncio.to_thread(due)
                if source_id not in busy]
        started = await self.dispatcher.dispatch_many(runs)
        self.last_scan = now
        return started


def type_limits(settings: Settings) -> dict[str, int]:
    """Runs at once per concurrency class, as the source types declare them (the smallest limit
    of the types sharing a class)."""
    limits: dict[str, int] = {}
    for kind in source_classes():
        limit = kind.concurrency_limit(settings)
        limits[kind.concurrency_class] = min(limits.get(kind.concurrency_class, limit), limit)
    return limits
