"""``monitor worker`` and ``monitor status`` at the boundary, and the queue schema per backend."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

from sqlalchemy import inspect

from monitor.cli import app
from monitor.cli.common import run_app
from monitor.service.cluster.app import make_app
from monitor.service.cluster.dispatcher import ProcrastinateDispatcher
from monitor.settings import Settings
from monitor.store import cluster as cluster_repo
from monitor.store import leases as lease_repo
from monitor.store import sources as source_repo
from monitor.store.db import Store

ROOT = Path(__file__).resolve().parents[3]


def test_worker_on_sqlite_is_a_clear_configuration_error(tmp_path, capsys):
    code = run_app(app, ["--db", f"sqlite:///{tmp_path / 'm.db'}", "worker"])
    err = capsys.readouterr().err
    assert (
        code == 2 and "needs PostgreSQL" in err and "monitor run" in err and "Traceback" not in err
    )


def test_worker_rejects_an_unknown_queue(tmp_path, capsys):
    code = run_app(
        app, ["--db", f"sqlite:///{tmp_path / 'm.db'}", "worker", "--queues", "feeds,nonsense"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "nonsense" in err and "singletons" in err


def test_the_queue_schema_exists_on_postgresql_only(store, backend):
    tables = set(inspect(store.engine).get_table_names())
    queue = {
        "procrastinate_jobs",
        "procrastinate_workers",
        "procrastinate_events",
        "procrastinate_periodic_defers",
    }
    assert (queue <= tables) == (backend == "postgresql")
    assert {"cluster_nodes", "telegram_leases"} <= tables


def test_the_pinned_procrastinate_brings_no_migration_newer_than_the_applied_schema():
    """A procrastinate upgrade with schema migrations needs an Alembic revision that applies them
    (see migrations/versions/2026_12_04_0060_procrastinate_schema.py)."""
    from procrastinate.schema import SchemaManager

    path = next((ROOT / "migrations" / "versions").glob("*_0060_*.py"))
    spec = importlib.util.spec_from_file_location("rev0060", path)
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    shipped = sorted(p.name for p in Path(SchemaManager.get_migrations_path()).glob("*.sql"))
    assert shipped[-1] == revision.BASELINE


def test_status_shows_nodes_queues_and_account_owners(cli, db_url, backend):
    store = Store(db_url)
    try:
        with store.unit() as s:
            src = source_repo.add_source(
                s, type="rss", locator="http://127.0.0.1:9/f.xml", name="f"
            )
            if backend == "postgresql":
                node = cluster_repo.register_node(
                    s, name="node-1", host="h", pid=42, queues=["feeds", "telegram"]
                )
                lease_repo.acquire(s, "acct", node, ttl=60)
        if backend == "postgresql":
            asyncio.run(_defer_run(store, src.id))
    finally:
        store.dispose()
    code, out, _ = cli("status")
    assert code == 0 and "SOURCES" in out
    if backend == "sqlite":
        assert "single node (SQLite)" in out and "NODES" not in out
        return
    assert "node-1" in out and "alive" in out
    code, out, _ = cli("status", "--format", "jsonl")
    import json

    rows = [json.loads(line) for line in out.splitlines()]
    queues = {r["queue"]: r for r in rows if r["section"] == "queues"}
    assert queues["feeds"]["waiting"] == 1 and queues["feeds"]["running"] == 0
    accounts = {r["account"]: r for r in rows if r["section"] == "telegram accounts"}
    assert accounts["acct"]["owner"] == "node-1" and 0 < accounts["acct"]["expires_in_s"] <= 60


async def _defer_run(store: Store, source_id: int) -> None:
    settings = Settings(database_url=store.url)
    procrastinate_app = make_app(settings, pool_size=2)
    async with procrastinate_app.open_async():
        dispatcher = ProcrastinateDispatcher(procrastinate_app, store)
        assert await dispatcher.dispatch(source_id, "rss") is True
        assert await dispatcher.dispatch(source_id, "rss") is False  # its queueing lock: no pile-up
        await dispatcher.refresh()
        assert dispatcher.in_flight() == {source_id}


def test_dispatch_many_defers_in_one_batch_and_never_piles_up(pg_store):
    from monitor.service.scheduler import DueRun

    async def scenario():
        procrastinate_app = make_app(Settings(database_url=pg_store.url), pool_size=2)
        async with procrastinate_app.open_async():
            dispatcher = ProcrastinateDispatcher(procrastinate_app, pg_store)
            runs = [DueRun(1, "rss"), DueRun(2, "telegram-web"), DueRun(3, "telegram", "acct")]
            first = await dispatcher.dispatch_many(runs)
            # one of them waits already: the batch falls back to one by one, skipping it
            again = await dispatcher.dispatch_many(
                [DueRun(2, "telegram-web"), DueRun(4, "telegram")]
            )
            await dispatcher.refresh()
            return first, again, dispatcher.in_flight()

    first, again, busy = asyncio.run(scenario())
    assert (first, again, busy) == (3, 1, {1, 2, 3, 4})
    with pg_store.unit() as s:
        queues = {q.queue: q.waiting for q in cluster_repo.queues(s)}
    assert queues == {"feeds": 1, "web": 1, "tg.acct": 1, "tg": 1}
