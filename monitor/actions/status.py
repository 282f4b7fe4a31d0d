"""What ``monitor status`` (and the web's sources page) shows about the cluster.

Plain rows, ready to render: the nodes and how long since each one's heartbeat (``lost`` once
silent for ``cluster.stalled_after``: its jobs are retried elsewhere), the queues with their depth
and lag, the owner of each Telegram account, and how far behind the most overdue source is. On
SQLite there is no cluster: only the sources' lag is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.settings import Settings
from monitor.sources import scheduled_types
from monitor.store import cluster as cluster_repo
from monitor.store import leases as lease_repo
from monitor.store.db import Store
from monitor.store.maintenance import queue_lag
from monitor.types import utcnow

Row = dict[str, Any]


@dataclass
class ClusterStatus:
    nodes: list[Row] = field(default_factory=list)
    queues: list[Row] = field(default_factory=list)
    accounts: list[Row] = field(default_factory=list)
    sources: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sections(self) -> list[tuple[str, list[Row]]]:
        out = [("sources", self.sources)]
        if self.notes and not self.nodes and not self.queues:
            return out
        return [
            ("nodes", self.nodes),
            ("queues", self.queues),
            ("telegram accounts", self.accounts),
            *out,
        ]


def cluster_status(store: Store, settings: Settings) -> ClusterStatus:
    report = ClusterStatus()
    with store.unit() as s:
        lag = queue_lag(s, utcnow(), types=scheduled_types())
        report.sources = [{"most_overdue_s": round(lag, 1)}]
        if store.dialect != "postgresql":
            report.notes.append(
                "single node (SQLite): `monitor run`; a cluster of `monitor worker` "
                "nodes needs PostgreSQL"
            )
            return report
        stalled = settings.cluster.stalled_after
        for n in cluster_repo.nodes(s):
            report.nodes.append(
                {
                    "node": n.name,
                    "host": n.host,
                    "pid": n.pid,
                    "queues": ",".join(n.queues),
                    "started_at": n.started_at,
                    "last_heartbeat": n.heartbeat_at,
                    "silent_s": round(n.silent_for, 1),
                    "state": "alive" if n.silent_for < stalled else "lost",
                }
            )
        for q in cluster_repo.queues(s):
            report.queues.append(
                {
                    "queue": q.queue,
                    "waiting": q.waiting,
                    "running": q.running,
                    "scheduled": q.scheduled,
                    "lag_s": round(q.lag, 1),
                }
            )
        for lease in lease_repo.leases(s):
            held = lease.node_id is not None and lease.expires_in > 0
            report.accounts.append(
                {
                    "account": lease.account or "(default)",
                    "owner": lease.node if held else None,
                    "expires_in_s": round(lease.expires_in, 1) if held else None,
                    "epoch": lease.epoch,
                    "since": lease.acquired_at if held else None,
                }
            )
    if not report.nodes:
        report.notes.append(
            "no `monitor worker` node has registered (a single `monitor run` does not)"
        )
    return report
