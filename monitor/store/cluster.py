"""The cluster in SQL: nodes and their heartbeats, and what procrastinate's queue holds.

Nodes (``cluster_nodes``) are ours; the job tables (``procrastinate_jobs``, ``_workers``,
``_events``) are procrastinate's, read here with plain SQL and written only through
procrastinate's own API (:mod:`monitor.service.cluster`). Every time that decides liveness is the
database's clock (``now()``), so nodes with skewed clocks agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from monitor.store.models import ClusterNodeRow, SourceRow, TelegramLeaseRow

RUN_TASK = "monitor.run_source"  # procrastinate task name of a source run


@dataclass(frozen=True, slots=True)
class NodeInfo:
    id: int
    name: str
    host: str
    pid: int
    queues: list[str]
    started_at: datetime
    heartbeat_at: datetime
    silent_for: float  # seconds since the last heartbeat (database clock)


@dataclass(frozen=True, slots=True)
class QueueInfo:
    queue: str
    waiting: int  # todo and due
    scheduled: int  # todo, not before a later time
    running: int  # doing
    lag: float  # seconds the oldest waiting job has waited (0 when none)


# ---------------------------------------------------------------------- nodes


def register_node(s: Session, *, name: str, host: str, pid: int, queues: Sequence[str]) -> int:
    node = ClusterNodeRow(name=name, host=host, pid=pid, queues=list(queues), worker_ids=[])
    s.add(node)
    s.flush()
    node.started_at = node.heartbeat_at = s.scalar(select(func.now()))
    return node.id


def beat(s: Session, node_id: int, worker_ids: Sequence[int]) -> tuple[bool, set[int]]:
    """Renew a node's heartbeat and its procrastinate workers' ones in one go.

    Returns (node row found, worker ids whose rows are gone). A node whose row is gone, or whose
    running worker lost its row, has been given up for dead by the cluster (another node pruned
    it and retried its jobs); such a node must stop, since its jobs now run elsewhere. (A worker
    that just stopped cleanly also has no row any more: the caller tells the two apart.)
    """
    found = s.execute(
        update(ClusterNodeRow)
        .where(ClusterNodeRow.id == node_id)
        .values(heartbeat_at=func.now(), worker_ids=list(worker_ids))
    ).rowcount
    if not worker_ids:
        return bool(found), set()
    alive = (
        s.execute(
            text(
                "UPDATE procrastinate_workers SET last_heartbeat = now() "
                "WHERE id = ANY(:ids) RETURNING id"
            ),
            {"ids": list(worker_ids)},
        )
        .scalars()
        .all()
    )
    return bool(found), set(worker_ids) - set(alive)


def deregister_node(s: Session, node_id: int) -> None:
    """A clean stop: the node's leases are released by the foreign key (``SET NULL``)."""
    s.execute(
        update(TelegramLeaseRow)
        .where(TelegramLeaseRow.node_id == node_id)
        .values(node_id=None, expires_at=func.now())
    )
    s.execute(delete(ClusterNodeRow).where(ClusterNodeRow.id == node_id))


def nodes(s: Session) -> list[NodeInfo]:
    silent = func.extract("epoch", func.now() - ClusterNodeRow.heartbeat_at)
    rows = s.execute(
        select(ClusterNodeRow, silent).order_by(ClusterNodeRow.name, ClusterNodeRow.id)
    ).all()
    return [
        NodeInfo(
            n.id, n.name, n.host, n.pid, list(n.queues), n.started_at, n.heartbeat_at, float(age)
        )
        for n, age in rows
    ]


def prune_nodes(s: Session, *, silent_for: timedelta) -> int:
    """Forget nodes silent for longer than ``silent_for`` (until then ``monitor status`` shows
    them as lost)."""
    return (
        s.execute(
            delete(ClusterNodeRow).where(ClusterNodeRow.heartbeat_at < func.now() - silent_for)
        ).rowcount
        or 0
    )


# ---------------------------------------------------------------------- the queue


def still_due(s: Session, source_id: int) -> bool:
    """Whether a source should run now (a run job deferred for it may find it already run, or
    disabled, by the time a worker picks the job up)."""
    now = func.now()
    return (
        s.scalar(
            select(SourceRow.id).where(
                SourceRow.id == source_id,
                SourceRow.enabled.is_(True),
                SourceRow.retired.is_(False),
                or_(SourceRow.next_check_at.is_(None), SourceRow.next_check_at <= now),
                or_(SourceRow.paused_until.is_(None), SourceRow.paused_until <= now),
            )
        )
        is not None
    )


def pending_runs(s: Session) -> set[int]:
    """Sources with a run job waiting or running."""
    rows = s.execute(
        text(
            "SELECT (args->>'source_id')::bigint FROM procrastinate_jobs "
            "WHERE task_name = :task AND status IN ('todo', 'doing')"
        ),
        {"task": RUN_TASK},
    )
    return {int(r[0]) for r in rows if r[0] is not None}


def queues(s: Session) -> list[QueueInfo]:
    """Depth and lag of every queue with work (lag: how long the oldest due job has waited)."""
    rows = s.execute(
        text("""
        SELECT j.queue_name,
               count(*) FILTER (WHERE j.status = 'todo'
                                  AND coalesce(j.scheduled_at, now()) <= now()),
               count(*) FILTER (WHERE j.status = 'todo' AND j.scheduled_at > now()),
               count(*) FILTER (WHERE j.status = 'doing'),
               coalesce(extract(epoch FROM max(now() - greatest(j.scheduled_at, ev.at))
                        FILTER (WHERE j.status = 'todo'
                                  AND coalesce(j.scheduled_at, now()) <= now())), 0)
          FROM procrastinate_jobs j
          LEFT JOIN LATERAL (SELECT max(e.at) AS at FROM procrastinate_events e
                              WHERE e.job_id = j.id
                                AND e.type IN ('deferred', 'deferred_for_retry')) ev ON true
         WHERE j.status IN ('todo', 'doing')
         GROUP BY j.queue_name ORDER BY j.queue_name""")
    )
    return [QueueInfo(q, int(w), int(sc), int(r), float(lag)) for q, w, sc, r, lag in rows]


def running_jobs(s: Session) -> list[dict[str, Any]]:
    """Jobs in progress with the node running them (by procrastinate worker id)."""
    owners: dict[int, tuple[int, str, int]] = {}
    for node in s.scalars(select(ClusterNodeRow)):
        for wid in node.worker_ids or []:
            owners[int(wid)] = (node.id, node.name, node.pid)
    rows = s.execute(
        text(
            "SELECT id, queue_name, task_name, args, worker_id FROM procrastinate_jobs "
            "WHERE status = 'doing' ORDER BY id"
        )
    ).all()
    out = []
    for job_id, queue, task, args, worker_id in rows:
        node = owners.get(int(worker_id)) if worker_id is not None else None
        out.append(
            {
                "job": job_id,
                "queue": queue,
                "task": task,
                "args": args,
                "worker_id": worker_id,
                "node_id": node[0] if node else None,
                "node": node[1] if node else None,
                "pid": node[2] if node else None,
            }
        )
    return out
