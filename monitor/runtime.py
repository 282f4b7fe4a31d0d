"""Build the long-lived parts a run needs (fetcher, parse pool, pipeline) in one place."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ProcessPoolExecutor
from typing import AsyncIterator

from monitor.pipeline import Pipeline
from monitor.settings import Settings
from monitor.store.db import Store


@contextlib.asynccontextmanager
async def pipeline_for(store: Store, settings: Settings, *, pool: bool = True) -> AsyncIterator[Pipeline]:
    """A pipeline with a shared HTTP fetcher and, when ``pool``, a process pool for feed parsing."""
    from monitor.sources.http import Fetcher

    workers = settings.fetch.parse_workers or os.cpu_count() or 1
    executor = ProcessPoolExecutor(max_workers=workers) if pool and workers > 1 else None
    try:
        async with Fetcher(settings.fetch) as fetcher:
            yield Pipeline(store, settings, executor=executor, fetcher=fetcher)
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
