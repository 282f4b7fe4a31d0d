"""Periodic jobs once per period for the whole cluster: one deferrer per node, and no period
deferred again once a later one is (migration 0062); real PostgreSQL, procrastinate's own code."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import text

from monitor.service.cluster.app import make_app, schedules
from monitor.settings import Settings
from monitor.store.db import Store, libpq_conninfo

T = 1_800_000_000  # a period's timestamp (a whole second, as procrastinate's are)

DEFER = (
    "SELECT procrastinate_defer_periodic_job_v2('tick', NULL, NULL, 'monitor.tick', 0, 'tick', "
    "%(ts)s, jsonb_build_object('timestamp', %(ts)s))"
)


def _jobs(store: Store) -> list[int]:
    with store.unit() as s:
        return list(
            s.scalars(
                text(
                    "SELECT (args->>'timestamp')::bigint FROM procrastinate_jobs "
                    "WHERE task_name = 'monitor.tick' ORDER BY id"
                )
            )
        )


def _finish_jobs(store: Store) -> None:
    """Mark the waiting jobs done, so the next deferral meets no queueing lock."""
    with store.unit() as s:
        s.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'todo'"))


def test_the_schedules_are_the_node_s_own_never_the_workers():
    """procrastinate runs a deferrer in every worker of the app; the node runs one itself."""
    settings = Settings(database_url="postgresql://nowhere/x")
    app = make_app(settings, pool_size=1)
    assert app.periodic_registry.periodic_tasks == {}
    registry = schedules(app, settings)
    assert set(registry.periodic_tasks) == {
        (f"monitor.{name}", name)
        for name in ("tick", "recover", "deliver", "digests", "health", "housekeeping")
    }
    assert all(pt.task is app.tasks[pt.task.name] for pt in registry.periodic_tasks.values())


def test_a_late_deferrer_never_defers_a_period_again_after_a_later_one(pg_store):
    settings = Settings(database_url=pg_store.url)

    async def scenario():
        app = make_app(settings, pool_size=2)
        async with app.open_async():
            registry = schedules(app, settings)
            tick = registry.periodic_tasks[("monitor.tick", "tick")]
            on_time, late = PeriodicDeferrer(registry), PeriodicDeferrer(registry)
            await on_time.defer_jobs([(tick, T)])
            _finish_jobs(pg_store)
            await on_time.defer_jobs([(tick, T + 1)])  # procrastinate drops its row of T here
            _finish_jobs(pg_store)
            await late.defer_jobs([(tick, T), (tick, T + 1)])  # a node a period behind
            _finish_jobs(pg_store)
            await late.defer_jobs([(tick, T + 2)])

    asyncio.run(scenario())
    assert _jobs(pg_store) == [T, T + 1, T + 2]


def test_a_late_deferral_racing_a_later_one_still_defers_nothing(pg_store):
    """A late deferral of T while another node's deferral of T + 1, which deletes the row of T,
    is not committed yet: it must not defer T again, before or after that commit."""
    conninfo = libpq_conninfo(pg_store.url)
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute(DEFER, {"ts": T})
    newer = psycopg.connect(conninfo)
    older = psycopg.connect(conninfo)
    try:
        newer.execute(DEFER, {"ts": T + 1})  # its transaction stays open
        result: dict[str, object] = {}

        def late() -> None:
            result["id"] = older.execute(DEFER, {"ts": T}).fetchone()[0]
            older.commit()

        thread = threading.Thread(target=late)
        thread.start()
        _wait_done_or_blocked(thread, conninfo, older.info.backend_pid)
        newer.commit()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        newer.close()
        older.close()
    assert result["id"] is None
    assert _jobs(pg_store) == [T, T + 1]


def _wait_done_or_blocked(
    thread: threading.Thread, conninfo: str, pid: int, timeout: float = 30
) -> None:
    """Until the late deferral has returned, or waits on the open transaction's row lock (a bound
    on the wait, not a measured figure)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(conninfo, autocommit=True) as c:
        while time.monotonic() < deadline:
            if not thread.is_alive():
                return
            row = c.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.05)
    pytest.fail(f"backend {pid} neither finished nor waited on a lock")
