"""The multi-node :class:`~monitor.service.scheduler.Dispatcher`: a due source becomes a job.

The tick (:class:`~monitor.service.scheduler.Scanner`, the same scan ``monitor run`` does) hands
each due source to :meth:`ProcrastinateDispatcher.dispatch`, which defers a ``monitor.run_source``
job to the source's queue with ``queueing_lock`` and ``lock`` both ``source:<id>``: at most one run
job waits and at most one runs per source, whichever node defers or takes it. The workers of every
node run the jobs; the run itself is :meth:`monitor.ingest.pipeline.Pipeline.run_source`, as in
``monitor run``.
"""

from __future__ import annotations

import asyncio

import procrastinate
from procrastinate import exceptions

from monitor.service.cluster.app import source_queue
from monitor.service.scheduler import Dispatcher
from monitor.store import cluster as cluster_repo
from monitor.store.cluster import RUN_TASK
from monitor.store.db import Store


def source_lock(source_id: int) -> str:
    return f"source:{source_id}"


class ProcrastinateDispatcher(Dispatcher):
    """Defers source runs to procrastinate; the queue's workers (on any node) run them."""

    def __init__(self, app: procrastinate.App, store: Store):
        self._task = app.tasks[RUN_TASK]
        self._store = store
        self._busy: set[int] = set()

    async def refresh(self) -> None:
        """Read which sources have a run job waiting or running (call before a scan): the scan
        skips them instead of trying to defer each again."""
        def read() -> set[int]:
            with self._store.unit() as s:
                return cluster_repo.pending_runs(s)

        self._busy = await asyncio.to_thread(read)

    async def dispatch(self, source_id: int, source_type: str, *, delay: float = 0.0,
                       account: str | None = None) -> bool:
        lock = source_lock(source_id)
        options: dict = {"queue": source_queue(source_type, account), "queueing_lock": lock, "lock": lock}
        if delay:
            options["schedule_in"] = {"seconds": delay}
        try:
            await self._task.configure(**options).defer_async(source_id=source_id)
        except exceptions.AlreadyEnqueued:
            return False  # one waits already (deferred since refresh(), by this node or another)
        self._busy.add(source_id)
        return True

    def in_flight(self) -> set[int]:
        return set(self._busy)

    async def stop(self, grace: float) -> None:
        """Nothing runs here: the runs belong to the workers, which stop on their own."""
