"""The multi-node :class:`~monitor.service.scheduler.Dispatcher`: a due source becomes a job.

The tick (:class:`~monitor.service.scheduler.Scanner`, the same scan ``monitor run`` does) hands the
due sources to :meth:`ProcrastinateDispatcher.dispatch_many`, which defers a ``monitor.run_source``
job per source to the source's queue with ``queueing_lock`` and ``lock`` both ``source:<id>``: at
most one run job waits and at most one runs per source, whichever node defers or takes it. The
workers of every node run the jobs; the run itself is
:meth:`monitor.ingest.pipeline.Pipeline.run_source`, as in ``monitor run``.
"""

from __future__ import annotations

import asyncio
from typing import Sequence

import procrastinate
from procrastinate import exceptions
from procrastinate.jobs import Job

from monitor.service.cluster.app import source_queue
from monitor.service.scheduler import Dispatcher, DueRun
from monitor.store import cluster as cluster_repo
from monitor.store.cluster import RUN_TASK
from monitor.store.db import Store

BATCH = 500  # jobs per INSERT


def source_lock(source_id: int) -> str:
    return f"source:{source_id}"


class ProcrastinateDispatcher(Dispatcher):
    """Defers source runs to procrastinate; the queue's workers (on any node) run them."""

    def __init__(self, app: procrastinate.App, store: Store):
        self._task = app.tasks[RUN_TASK]
        self._manager = app.job_manager
        self._store = store
        self._busy: set[int] = set()

    async def refresh(self) -> None:
        """Read which sources have a run job waiting or running (call before a scan): the scan
        skips them instead of trying to defer each again."""

        def read() -> set[int]:
            with self._store.unit() as s:
                return cluster_repo.pending_runs(s)

        self._busy = await asyncio.to_thread(read)

    def _job(self, run: DueRun) -> Job:
        lock = source_lock(run.source_id)
        options: dict = {
            "queue": source_queue(run.source_type, run.account),
            "queueing_lock": lock,
            "lock": lock,
        }
        if run.delay:
            options["schedule_in"] = {"seconds": run.delay}
        return self._task.configure(**options).make_new_job(source_id=run.source_id)

    async def dispatch_many(self, runs: Sequence[DueRun]) -> int:
        """All due sources in one INSERT per chunk (a big cluster's tick defers hundreds); a
        chunk that meets a waiting job's queueing lock is deferred one by one instead."""
        started = 0
        for i in range(0, len(runs), BATCH):
            chunk = list(runs[i : i + BATCH])
            try:
                await self._manager.batch_defer_jobs_async([self._job(run) for run in chunk])
            except exceptions.AlreadyEnqueued:
                for run in chunk:
                    started += await self.dispatch(
                        run.source_id, run.source_type, delay=run.delay, account=run.account
                    )
                continue
            self._busy.update(run.source_id for run in chunk)
            started += len(chunk)
        return started

    async def dispatch(
        self, source_id: int, source_type: str, *, delay: float = 0.0, account: str | None = None
    ) -> bool:
        job = self._job(DueRun(source_id, source_type, account, delay))
        try:
            await self._manager.defer_job_async(job)
        except exceptions.AlreadyEnqueued:
            return False  # one waits already (deferred since refresh(), by this node or another)
        self._busy.add(source_id)
        return True

    def in_flight(self) -> set[int]:
        return set(self._busy)

    async def stop(self, grace: float) -> None:
        """Nothing runs here: the runs belong to the workers, which stop on their own."""
