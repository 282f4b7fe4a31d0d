"""Build the long-lived parts a run needs (fetcher, parse pool, pipeline) in one place."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import AsyncIterator

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.http import Fetcher
from monitor.store.db import Store


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this worker when the process that started it dies (however it dies)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    if os.getppid() != parent:  # the parent died while this worker was starting
        os._exit(1)


@contextlib.asynccontextmanager
async def pipeline_for(store: Store, settings: Settings, *,
                       pool: bool = True) -> AsyncIterator[Pipeline]:
    """A pipeline with a shared HTTP fetcher and, when ``pool``, a process pool for feed parsing."""
    # auto: the cores but one, which the writer (this process) keeps for itself
    workers = settings.fetch.parse_workers or max(1, (os.cpu_count() or 1) - 1)
    # spawn, not fork: forked workers would inherit the parent's open database sockets, and after
    # a SIGKILL of the parent they would keep its transaction (and its locks) alive. Spawned
    # workers are direct children, so they can also be told to die with their parent.
    spawn = multiprocessing.get_context("spawn")
    executor = (ProcessPoolExecutor(max_workers=workers, mp_context=spawn,
                                    initializer=_die_with_parent, initargs=(os.getpid(),))
                if pool and (os.cpu_count() or 1) > 1 else None)
    try:
        async with Fetcher(settings.fetch) as fetcher:
            yield Pipeline(store, settings, executor=executor, fetcher=fetcher)
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        # Telegram clients the run connected: disconnecting saves a session file's entity cache
        # and update state, and frees the clients' tasks before this event loop ends. A run that
        # never imported the module has none (and a feed pass need not load Telethon for this).
        accounts = sys.modules.get("monitor.sources.telegram_accounts")
        if accounts is not None:
            await accounts.CLIENTS.close()
