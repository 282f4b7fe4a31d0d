"""Prometheus metrics, served by ``monitor run`` at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

ITEMS = Counter("monitor_items_total", "Items stored", ["source_type", "kind"], registry=REGISTRY)
HITS = Counter("monitor_hits_total", "Hits stored", registry=REGISTRY)
FETCHES = Counter("monitor_fetches_total", "Source runs by outcome", ["source_type", "outcome"], registry=REGISTRY)
RUN_SECONDS = Histogram("monitor_run_seconds", "Duration of one source run", ["source_type"], registry=REGISTRY,
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
QUEUE_LAG = Gauge("monitor_queue_lag_seconds", "How far behind its next-check time the most overdue source is",
                  registry=REGISTRY)
RUNNING = Gauge("monitor_runs_in_flight", "Source runs in flight", registry=REGISTRY)
ALERTS = Counter("monitor_alert_deliveries_total", "Alert delivery attempts by outcome", ["outcome"],
                 registry=REGISTRY)
SILENT = Gauge("monitor_sources_silent", "Sources without new items for longer than expected", registry=REGISTRY)
