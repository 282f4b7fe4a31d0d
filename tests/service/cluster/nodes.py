"""Driving real ``monitor worker`` processes against one PostgreSQL, for the cluster tests.

Short cluster timings (tick 1 s, heartbeat 0.5 s, dead after 2 s, leases of 4 s renewed every
second) keep the tests quick; the simulated Telegram client (:mod:`.simclient`) stands in for
Telethon. Each node's log goes to a file in the test's tmp dir and is quoted when a wait fails.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select, update

from monitor.alerts.routes import route_settings
from monitor.store import cluster as cluster_repo
from monitor.store import desks as desk_repo
from monitor.store import leases as lease_repo
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.db import Store
from monitor.store.models import AlertRow, HitRow, ItemRow, SourceRow, StoryRow
from tests.service.test_service import BASE, PLACES, WORDS, GrowingFeeds
from tests.sources.feedserver import Route

ROOT = Path(__file__).resolve().parents[3]

TIMINGS = {
    "MONITOR_CLUSTER__TICK": "1",
    "MONITOR_CLUSTER__HEARTBEAT": "0.5",
    "MONITOR_CLUSTER__STALLED_AFTER": "2",
    "MONITOR_CLUSTER__RECOVER_EVERY": "1",
    "MONITOR_CLUSTER__DELIVER_EVERY": "1",
    "MONITOR_CLUSTER__GRACE": "5",
    "MONITOR_CLUSTER__LEASE_TTL": "4",
    "MONITOR_CLUSTER__LEASE_RENEW": "1",
    "MONITOR_CLUSTER__KEEP_JOBS": "true",
    "MONITOR_FETCH__PARSE_WORKERS": "1",
    "MONITOR_FETCH__TIMEOUT": "120",
    "MONITOR_CLUSTER__ACCOUNT_RUNTIME": "tests.service.cluster.simclient:from_env",
}


class DistinctFeeds(GrowingFeeds):
    """:class:`GrowingFeeds` without articles shared between feeds: every entry is its own story.

    (Folding copies that two nodes ingest at the same moment needs the advisory locks wired into
    story assignment — :mod:`monitor.store.locks`; until then two nodes may split such a story.)
    """

    def entry(self, f: int, k: int) -> str:
        words = (
            "погибли шесть северокорейских офицеров" if k % 3 == 0 else "прошли учения связистов"
        )
        rnd = random.Random(f * 1000 + k)
        text = (
            f"{' '.join(rnd.sample(WORDS, 8)).capitalize()}. "
            f"Под городом {rnd.choice(PLACES)} {words}; "
            f"{' '.join(rnd.sample(WORDS, 6))}."
        )
        return (
            f"<item><title>Новость {f}-{k}</title><link>https://feed{f}.example/post/{k}</link>"
            f'<guid isPermaLink="false">{f}-{k}</guid>'
            f"<pubDate>{format_datetime(BASE + timedelta(minutes=k))}"
            f"</pubDate><description>{text}</description></item>"
        )

    def slow(self, f: int) -> None:
        """Feed ``f`` sends its body one byte at a time: its run stays in flight for minutes."""
        route = self.route(f)
        self.server.route(f"/feed{f}.xml", Route(body=route.body, headers=route.headers, drip=0.05))

    def fast(self, f: int) -> None:
        self.server.route(f"/feed{f}.xml", lambda headers, f=f: self.route(f))

    def fetches(self) -> dict[str, int]:
        counts = {f"feed{f}": 0 for f in range(self.feeds)}
        for path, _ in self.server.requests:
            if path.startswith("/feed"):
                counts[path[1:].removesuffix(".xml")] += 1
        return counts


class Cluster:
    """Nodes of one test: start, kill, stop; read the shared database."""

    def __init__(self, url: str, tmp: Path, **env: str):
        self.url, self.tmp, self.env = url, tmp, env
        self.store = Store(url)
        self.procs: dict[str, subprocess.Popen] = {}
        self.killed: dict[int, float] = {}  # pid -> time of kill -9

    def start(self, name: str, *args: str) -> subprocess.Popen:
        env = {**os.environ, **TIMINGS, "MONITOR_TEST_SIM_DIR": str(self.tmp), **self.env}
        env.pop("MONITOR_CONFIG", None)
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "--db",
                self.url,
                "worker",
                "--name",
                name,
                "--concurrency",
                "2",
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        self.killed[proc.pid] = time.time()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM every node at once; their exit codes (a node still running after ``timeout``
        is killed and reported as None)."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        codes = {}
        deadline = time.monotonic() + timeout
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                codes[name] = None
        self.procs.clear()
        return codes

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.store.dispose()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.tmp.glob("*.log"))
            if p.name != "events.log"
        )

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 60) -> float:
        """Poll until ``predicate``; the seconds it took. Fails with the nodes' logs when a node
        died on its own or the time ran out."""
        started = time.monotonic()
        while not predicate():
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            assert not dead, f"node(s) exited while waiting for {what}: {dead}\n{self.logs()}"
            assert time.monotonic() - started < timeout, (
                f"timed out waiting for {what}\n{self.logs()}"
            )
            time.sleep(0.2)
        print(f"waited {time.monotonic() - started:.1f}s for {what}")
        return time.monotonic() - started

    # ------------------------------------------------------------------ database

    def unit(self):
        return self.store.unit()

    def nodes(self) -> dict[str, cluster_repo.NodeInfo]:
        with self.unit() as s:
            return {n.name: n for n in cluster_repo.nodes(s)}

    def ready(self, *names: str) -> bool:
        """Every named node registered with its job workers."""
        nodes = self.nodes()
        with self.unit() as s:
            from monitor.store.models import ClusterNodeRow

            workers = dict(s.execute(select(ClusterNodeRow.name, ClusterNodeRow.worker_ids)).all())
        return all(n in nodes and len(workers.get(n) or []) >= 2 for n in names)

    def make_due(self) -> float:
        """Every source due now; returns the moment (database clock) from which runs count."""
        with self.unit() as s:
            now = s.scalar(select(func.now()))
            s.execute(update(SourceRow).values(next_check_at=now))
        return now.timestamp()

    def checked_since(self, moment: float) -> bool:
        with self.unit() as s:
            checked = s.scalars(
                select(SourceRow.last_checked_at).where(SourceRow.type == "rss")
            ).all()
        return all(c is not None and c.timestamp() >= moment for c in checked)

    def running(self, source: str) -> list[dict]:
        with self.unit() as s:
            sid = s.scalar(select(SourceRow.id).where(SourceRow.name == source))
            return [
                j
                for j in cluster_repo.running_jobs(s)
                if j["task"] == "monitor.run_source" and j["args"].get("source_id") == sid
            ]

    def owner(self, account: str) -> str | None:
        with self.unit() as s:
            for lease in lease_repo.leases(s):
                if lease.account == account and lease.node_id is not None and lease.expires_in > 0:
                    return lease.node
        return None

    def status(self) -> list[dict]:
        env = {**os.environ, **TIMINGS}
        env.pop("MONITOR_CONFIG", None)
        proc = subprocess.run(
            [sys.executable, "-m", "monitor", "--db", self.url, "status", "--format", "jsonl"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return [json.loads(line) for line in proc.stdout.splitlines()]


def prepare(
    store: Store, feeds: GrowingFeeds, *, sink_url: str | None = None, interval: int = 3600
) -> None:
    """The feeds as sources (pinned: due once, then not for an hour), a watchlist, and a desk with a
    webhook target when ``sink_url`` is given."""
    with store.unit() as s:
        wl = watch_repo.add_watchlist(s, "dprk")
        watch_repo.add_term(s, wl, '"северокорейские офицеры"')
        if sink_url:
            desk = desk_repo.add_desk(s, "desk", targets=[sink_url])
            desk_repo.add_route(s, wl, desk, route_settings(max_age=None))
        for f in range(feeds.feeds):
            source_repo.add_source(
                s,
                type="rss",
                locator=feeds.server.url(f"/feed{f}.xml"),
                name=f"feed{f}",
                pinned_interval=interval,
            )


def stored(store: Store) -> dict[str, set[str]]:
    with store.unit() as s:
        got: dict[str, set[str]] = {}
        for name, eid in s.execute(
            select(SourceRow.name, ItemRow.external_id)
            .join(ItemRow, ItemRow.source_id == SourceRow.id)
            .where(SourceRow.type == "rss")
        ):
            got.setdefault(name, set()).add(eid)
        return got


def check_nothing_doubled(store: Store, feeds: GrowingFeeds) -> dict[str, int]:
    """Every entry stored once, one story per item bar coverage joins, one hit per
    matching item, one story alert per (desk, story) with a hit; returns the counts."""
    with store.unit() as s:
        rows = s.execute(
            select(SourceRow.name, ItemRow.external_id)
            .join(ItemRow, ItemRow.source_id == SourceRow.id)
            .where(SourceRow.type == "rss")
        ).all()
        assert sorted(rows) == sorted(
            (name, eid) for name, ids in feeds.expected().items() for eid in ids
        )
        items = s.scalar(select(func.count()).select_from(ItemRow))
        # no copies across feeds here: one story per item, less the coverage joins (a report of
        # the same event in other words, each with its reason); never an empty story
        coverage = s.scalar(
            select(func.count())
            .select_from(ItemRow)
            .where(
                ItemRow.dedup_kind.in_(("rewrite", "abridged")),
                ItemRow.dedup_reason.is_not(None),
            )
        )
        stories = s.scalar(select(func.count()).select_from(StoryRow))
        assert stories == items - coverage
        assert s.scalar(select(func.count(func.distinct(ItemRow.story_id)))) == stories
        hits = s.execute(select(HitRow.item_id, func.count()).group_by(HitRow.item_id)).all()
        matching = s.scalar(
            select(func.count())
            .select_from(ItemRow)
            .where(ItemRow.text.contains("северокорейских"))
        )
        assert len(hits) == matching and all(n == 1 for _, n in hits)
        alerts = s.execute(
            select(AlertRow.key, AlertRow.story_id).where(AlertRow.kind == "story")
        ).all()
        assert len({k for k, _ in alerts}) == len(alerts) and len(
            {sid for _, sid in alerts}
        ) == len(alerts)
        return {"items": items, "hits": len(hits), "alerts": len(alerts)}
