"""Cluster benchmark: sources refreshed per second by 1, 2 and 3 ``monitor worker`` nodes on one
PostgreSQL, and what the coordination costs per job.

    python bench/nodes.py [--feeds 300] [--nodes 1,2,3] [--concurrency 10] [--samples 20]

N realistic feeds (bench/refresh.py's bodies, 20-50 entries each) are served from a loopback
server in its own process. Each measured round serves the next generation of every feed (two new
entries on top), makes every source due at once and times, on the database clock, from that
moment until the last source has recorded its run: feeds / seconds = sources refreshed per second.
The job rows (kept for the benchmark: ``cluster.keep_jobs``) split each run's life into
due → deferred (waiting for the tick), deferred → started (waiting in the queue, i.e. for a free
slot) and started → finished (the run itself).

Coordination overhead, two ways:

* idle hand-off: one source made due at a time on an idle node, ``--samples`` times: due → started,
  which is at most one tick (1 s here) plus the hand-off proper (deferred → started);
* the queue's own cost: defer + fetch + finish of a no-op job through procrastinate, in a loop
  on one connection (milliseconds of round trips and PostgreSQL work per job).

Each node is one process (``fetch.parse_workers = 1``: on 2 cores a parse pool per node would
only fight the other nodes). PostgreSQL, the feed server and the nodes share this machine, so
the 3-node figure shows contention, not scaling. The projection divides the CPU each run costs
the nodes and the PostgreSQL backends serving them (their own /proc counters) into one core each.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text, update  # noqa: E402

from monitor.store.db import Store, normalize_url  # noqa: E402

ADMIN = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NODE_ENV = {
    "MONITOR_CLUSTER__TICK": "1",
    "MONITOR_CLUSTER__KEEP_JOBS": "true",
    "MONITOR_FETCH__PARSE_WORKERS": "1",
    "MONITOR_FETCH__PER_HOST_CONCURRENCY": "50",
    "MONITOR_LOG__LEVEL": "WARNING",
}


def serve(conn, feeds: int) -> None:
    """Server process: feed i at the generation last sent on ``conn`` (bodies built on demand)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from refresh import feed_body

    from tests.sources.feedserver import FeedServer, Route

    state = {"gen": 0}
    cache: dict[tuple[int, int], bytes] = {}

    def route(i: int):
        def handle(headers) -> Route:
            key = (i, state["gen"])
            if key not in cache:
                cache[key] = feed_body(i, state["gen"])
            return Route(
                body=cache[key], headers={"Content-Type": "application/rss+xml; charset=utf-8"}
            )

        return handle

    server = FeedServer()
    for i in range(feeds):
        server.route(f"/feed/{i}", route(i))
    server.start()
    conn.send(server.url(""))
    while (msg := conn.recv()) != "stop":
        state["gen"] = msg
        conn.send("ok")
    server.stop()


def fresh_database() -> tuple[str, callable]:
    from sqlalchemy.engine import make_url

    admin_url = make_url(normalize_url(ADMIN))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"bench_nodes_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def start_nodes(url: str, n: int, concurrency: int, tag: str) -> list[subprocess.Popen]:
    env = {**os.environ, **NODE_ENV}
    env.pop("MONITOR_CONFIG", None)
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "--db",
                url,
                "worker",
                "--name",
                f"{tag}{i}",
                "--queues",
                "tick,feeds,singletons",
                "--concurrency",
                str(concurrency),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(n)
    ]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def backend_cpu(store: Store) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the benchmark's database (same host)."""
    with store.unit() as s:
        pids = s.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    return {pid: cpu_seconds([pid]) for pid in pids}


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores; /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def stop_nodes(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def wait_registered(store: Store, n: int) -> None:
    from monitor.store.models import ClusterNodeRow

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with store.unit() as s:
            ids = s.scalars(select(ClusterNodeRow.worker_ids)).all()
        if len([w for w in ids if len(w or []) >= 2]) >= n:
            return
        time.sleep(0.2)
    raise SystemExit("nodes did not come up")


def make_due(store: Store, names: list[str] | None = None) -> float:
    from monitor.store.models import SourceRow

    with store.unit() as s:
        now = s.scalar(select(func.now()))
        q = update(SourceRow).values(next_check_at=now)
        s.execute(q.where(SourceRow.name.in_(names)) if names else q)
    return now.timestamp()


def wait_checked(
    store: Store, since: float, names: list[str] | None = None, timeout: float = 900
) -> float:
    """Until every (named) source has run since ``since`` and no run is left in the queue; the
    last run's time (database clock)."""
    from monitor.store import cluster as cluster_repo
    from monitor.store.models import SourceRow

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.unit() as s:
            q = select(SourceRow.last_checked_at)
            checked = s.scalars(q.where(SourceRow.name.in_(names)) if names else q).all()
            pending = cluster_repo.pending_runs(s)
        if not pending and all(c is not None and c.timestamp() >= since for c in checked):
            return max(c.timestamp() for c in checked)
        time.sleep(0.1)
    raise SystemExit("the round did not finish")


def job_phases(store: Store, since: float) -> dict[str, list[float]]:
    """Per run job deferred after ``since``: due→deferred, deferred→started, started→finished."""
    with store.unit() as s:
        rows = s.execute(
            text("""
            SELECT extract(epoch FROM min(e.at) FILTER (WHERE e.type = 'deferred')),
                   extract(epoch FROM min(e.at) FILTER (WHERE e.type = 'started')),
                   extract(epoch FROM max(e.at) FILTER (WHERE e.type IN ('succeeded', 'failed')))
              FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
             WHERE j.task_name = 'monitor.run_source'
             GROUP BY j.id HAVING min(e.at) >= to_timestamp(:since)"""),
            {"since": since},
        ).all()
    out = {"due→deferred": [], "deferred→started": [], "started→finished": [], "due→started": []}
    for deferred, started, finished in rows:
        if None in (deferred, started, finished):
            continue
        out["due→deferred"].append(float(deferred) - since)
        out["deferred→started"].append(float(started) - float(deferred))
        out["started→finished"].append(float(finished) - float(started))
        out["due→started"].append(float(started) - since)
    return out


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    q = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
    return f"median {statistics.median(values) * 1000:7.0f} ms  p95 {q[18] * 1000:7.0f} ms"


def queue_cost(url: str, jobs: int = 300) -> float:
    """Milliseconds per job of procrastinate's own work: defer, fetch, finish (one connection)."""
    import asyncio
    import logging

    import procrastinate
    from procrastinate import jobs as jobs_module

    logging.getLogger("procrastinate").setLevel(logging.ERROR)  # its note on apps in __main__

    from monitor.service.cluster.app import conninfo

    async def run() -> float:
        app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=1)
        )

        @app.task(name="bench.noop", queue="bench")
        async def noop() -> None:
            return None

        async with app.open_async():
            manager = app.job_manager
            worker_id = await manager.register_worker()
            started = time.perf_counter()
            for i in range(jobs):
                await noop.configure(queueing_lock=f"b{i}", lock=f"b{i}").defer_async()
                job = await manager.fetch_job(queues=["bench"], worker_id=worker_id)
                await manager.finish_job(job, status=jobs_module.Status.SUCCEEDED, delete_job=True)
            elapsed = time.perf_counter() - started
            await manager.unregister_worker(worker_id)
            return elapsed / jobs * 1000

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    counts = [int(x) for x in args.nodes.split(",")]

    from monitor.store import sources as source_repo
    from monitor.store.migrate import upgrade

    url, drop = fresh_database()
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=serve, args=(child, args.feeds), daemon=True)
    server.start()
    base = parent.recv()
    store = Store(url)
    results = []
    try:
        upgrade(store)
        with store.unit() as s:
            for i in range(args.feeds):
                src = source_repo.add_source(
                    s,
                    type="rss",
                    locator=f"{base}/feed/{i}",
                    name=f"feed{i}",
                    pinned_interval=86400,
                )
                src.next_check_at = src.created_at + timedelta(days=1)  # due only when a round says
        generation = 0
        print(
            f"{args.feeds} feeds, {args.concurrency} runs at once per node, "
            f"{os.cpu_count()} cores; "
            "every round: two new entries in every feed"
        )
        for n in counts:
            procs = start_nodes(url, n, args.concurrency, f"n{n}-")
            try:
                wait_registered(store, n)
                if generation == 0:  # warm-up: the first pass stores every feed's backlog
                    wait_checked(store, make_due(store))
                generation += 1
                parent.send(generation)
                parent.recv()
                pids = [p.pid for p in procs]
                before = cpu_seconds(pids), cpu_seconds([server.pid]), machine_busy()
                pg_before = backend_cpu(store)
                since = make_due(store)
                last = wait_checked(store, since)
                pg_after = backend_cpu(store)
                after = cpu_seconds(pids), cpu_seconds([server.pid]), machine_busy()
                pg_ms = sum(v - pg_before.get(pid, 0.0) for pid, v in pg_after.items())
                phases = job_phases(store, since)
            finally:
                stop_nodes(procs)
            rate = args.feeds / (last - since)
            nodes_ms = (after[0] - before[0]) / args.feeds * 1000
            server_ms = (after[1] - before[1]) / args.feeds * 1000
            pg_ms = pg_ms / args.feeds * 1000
            rest_ms = (after[2] - before[2]) / args.feeds * 1000 - nodes_ms - server_ms - pg_ms
            results.append((n, rate, nodes_ms, pg_ms))
            print(
                f"\n{n} node(s): {args.feeds} sources in {last - since:6.2f} s "
                f"= {rate:6.1f} sources/s"
            )
            for phase, values in phases.items():
                print(f"   {phase:17s} {fmt(values)}")
            print(
                f"   CPU per run: nodes {nodes_ms:5.1f} ms, PostgreSQL {pg_ms:5.1f} ms, "
                f"feed server {server_ms:4.1f} ms (anything else on the machine: {rest_ms:5.1f} ms)"
            )

        procs = start_nodes(url, 1, args.concurrency, "idle-")
        try:
            wait_registered(store, 1)
            samples = {"due→started": [], "deferred→started": []}
            for k in range(args.samples):
                name = f"feed{k % args.feeds}"
                since = make_due(store, [name])
                wait_checked(store, since, [name])
                phases = job_phases(store, since)
                samples["due→started"] += phases["due→started"]
                samples["deferred→started"] += phases["deferred→started"]
        finally:
            stop_nodes(procs)
        print(f"\ncoordination per job on an idle node ({args.samples} samples, tick 1 s):")
        for phase, values in samples.items():
            print(f"   {phase:17s} {fmt(values)}")
        cost = queue_cost(url)
        print(
            f"   queue round trips (defer + fetch + finish, one connection): {cost:.2f} ms per job"
        )

        one = {n: rate for n, rate, _, _ in results}.get(1)
        if one:
            print("\nscaling on this machine (1 node = 1.00):")
            for n, rate, _, _ in results:
                print(f"   {n} node(s): {rate / one:4.2f}x  ({rate / n:6.1f} sources/s per node)")
            node_ms = statistics.median(r[2] for r in results)
            pg_ms = statistics.median(r[3] for r in results)
            print(
                f"projected: a node needs ~{node_ms:.0f} ms of CPU per run (~{1000 / node_ms:.0f} "
                f"runs/s per core of the nodes' hosts), PostgreSQL ~{pg_ms:.0f} ms (~"
                f"{1000 / pg_ms:.0f} runs/s per database core): N nodes on their own hosts scale "
                "linearly until the database's cores are busy. Here all share 2 cores."
            )
    finally:
        parent.send("stop")
        server.join(5)
        store.dispose()
        drop()


if __name__ == "__main__":
    main()
