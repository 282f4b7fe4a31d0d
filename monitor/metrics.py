"""Prometheus metrics, served by ``monitor run`` at ``/metrics``."""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

ITEMS = Counter("monitor_items_total", "Items stored", ["source_type", "kind"], registry=REGISTRY)
HITS = Counter("monitor_hits_total", "Hits stored", registry=REGISTRY)
DROPPED = Counter("monitor_entries_dropped_total", "Entries left out by collectors (unparsable, over a bound)",
                  ["source_type"], registry=REGISTRY)
TRUNCATED = Counter("monitor_items_truncated_total", "Items whose text was cut to limits.item_chars",
                    ["source_type"], registry=REGISTRY)
FETCHES = Counter("monitor_fetches_total", "Source runs by outcome", ["source_type", "outcome"], registry=REGISTRY)
RUN_SECONDS = Histogram("monitor_run_seconds", "Duration of one source run", ["source_type"], registry=REGISTRY,
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
QUEUE_LAG = Gauge("monitor_queue_lag_seconds", "How far behind its next-check time the most overdue source is",
                  registry=REGISTRY)
RUNNING = Gauge("monitor_runs_in_flight", "Source runs in flight", registry=REGISTRY)
ALERTS = Counter("monitor_alert_deliveries_total", "Alert delivery attempts by outcome", ["outcome"],
                 registry=REGISTRY)
SILENT = Gauge("monitor_sources_silent", "Sources without new items for longer than expected", registry=REGISTRY)
INGEST_SECONDS = Counter("monitor_ingest_seconds_total", "Time spent ingesting batches, by stage", ["stage"],
                         registry=REGISTRY)


class Stopwatch:
    """Adds the time since the last lap to a named stage of ``seconds`` (stage → seconds)."""

    def __init__(self, seconds: dict[str, float]):
        self.seconds, self.last = seconds, time.perf_counter()

    def lap(self, stage: str, *, less: float = 0.0) -> None:
        """Close a stage; ``less``: time already counted in a nested stage (see :meth:`timed`)."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last - less
        self.last = now

    def timed(self, stage: str, fn: Callable) -> Callable:
        """``fn``, adding its own time to ``stage`` (work nested in another stage)."""
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
        return run
