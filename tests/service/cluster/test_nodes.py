"""Two and three ``monitor worker`` processes on one PostgreSQL, with local feeds: every due run
happens once; a node killed with SIGKILL mid-run has its run done again by another node, with
nothing lost and nothing doubled; a killed Telegram account owner hands the account over within a
minute, never to two nodes at once; a restart of every node at once resumes from the database.

The tick runs inside the workers (a procrastinate periodic task). Waits poll the database; their
deadlines are the bounds the issue sets (a minute for a takeover), not measurements.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from monitor.store import sources as source_repo
from monitor.store.models import AlertRow, HitRow, SourceRow
from tests.alerts.sinks import WebhookSink
from tests.service.cluster.nodes import (
    Cluster,
    DistinctFeeds,
    check_nothing_doubled,
    prepare,
    stored,
)
from tests.service.cluster.simclient import events, holdings
from tests.sources.feedserver import FeedServer


@pytest.fixture
def cluster(pg_url, tmp_path):
    c = Cluster(pg_url, tmp_path, MONITOR_TEST_SIM_ACCOUNTS="sim")
    yield c
    c.close()


def nodes_that_ran_sources(cluster: Cluster) -> set[str]:
    """Which nodes ran source jobs (finished jobs are kept in these tests: keep_jobs)."""
    owners = {
        int(w): name for name, n in cluster.nodes().items() for w in _worker_ids(cluster, name)
    }
    with cluster.unit() as s:
        ids = (
            s.execute(
                text(
                    "SELECT DISTINCT worker_id FROM procrastinate_jobs "
                    "WHERE task_name = 'monitor.run_source' "
                    "AND worker_id IS NOT NULL"
                )
            )
            .scalars()
            .all()
        )
    return {owners[i] for i in ids if i in owners}


def _worker_ids(cluster: Cluster, name: str) -> list[int]:
    from monitor.store.models import ClusterNodeRow

    with cluster.unit() as s:
        return s.scalar(select(ClusterNodeRow.worker_ids).where(ClusterNodeRow.name == name)) or []


def test_two_workers_run_every_due_source_once_and_alert_each_story_once(cluster):
    with FeedServer() as server, WebhookSink() as sink:
        feeds = DistinctFeeds(server, feeds=6)
        cluster.start("a"), cluster.start("b")
        cluster.wait("both nodes up", lambda: cluster.ready("a", "b"))
        prepare(cluster.store, feeds, sink_url=sink.url())  # due now: the next tick defers them
        ran_on: set[str] = set()
        for round_ in range(1, 4):
            if round_ > 1:
                feeds.grow(3)
                since = cluster.make_due()
            else:
                since = 0.0
            cluster.wait(
                f"round {round_}",
                lambda: cluster.checked_since(since) and stored(cluster.store) == feeds.expected(),
            )
            assert feeds.fetches() == {f"feed{f}": round_ for f in range(6)}  # each due run once
            ran_on |= nodes_that_ran_sources(cluster)
        counts = check_nothing_doubled(cluster.store, feeds)
        with cluster.unit() as s:
            with_hits = s.scalar(select(func.count(func.distinct(HitRow.story_id))))
        assert counts["alerts"] == with_hits > 0  # one alert per (desk, story)
        cluster.wait("deliveries", lambda: len(sink.requests) >= counts["alerts"])
        with cluster.unit() as s:
            alert_ids = set(s.scalars(select(AlertRow.id).where(AlertRow.kind == "story")))
        received = [r.json()["alert_id"] for r in sink.requests]
        assert sorted(received) == sorted(alert_ids)  # every alert exactly once, across both nodes
        assert ran_on == {"a", "b"}
        # periodic jobs (tick, recovery sweep, delivery pass, digests...): once per period for
        # the whole cluster, although both nodes defer them
        with cluster.unit() as s:
            periods = s.execute(
                text(
                    "SELECT task_name, count(*), count(DISTINCT args->>'timestamp') "
                    "FROM procrastinate_jobs WHERE (args->>'timestamp')::bigint > 0 GROUP BY 1"
                )
            ).all()
        assert {"monitor.tick", "monitor.recover", "monitor.deliver"} <= {t for t, _, _ in periods}
        assert all(jobs == distinct for _, jobs, distinct in periods), periods
        assert cluster.stop_all() == {"a": 0, "b": 0}  # SIGTERM: graceful, exit 0


def test_sigkill_mid_run_runs_it_again_on_another_node_losing_and_doubling_nothing(cluster):
    with FeedServer() as server:
        feeds = DistinctFeeds(server, feeds=5)
        feeds.slow(4)
        for name in ("a", "b", "c"):
            cluster.start(name)
        cluster.wait("three nodes up", lambda: cluster.ready("a", "b", "c"))
        prepare(cluster.store, feeds)
        cluster.wait("the slow run in flight", lambda: bool(cluster.running("feed4")))
        cluster.wait(
            "the other feeds",
            lambda: all(
                stored(cluster.store).get(f"feed{f}") == ids
                for f, ids in enumerate(feeds.expected().values())
                if f < 4
            ),
        )
        victim = cluster.running("feed4")[0]["node"]
        assert victim in {"a", "b", "c"}
        cluster.kill(victim)
        feeds.fast(4)  # the server recovers; the run must be done again elsewhere
        took = cluster.wait(
            "feed4 stored by another node",
            lambda: stored(cluster.store).get("feed4") == feeds.expected()["feed4"],
            timeout=60,
        )
        rerun = cluster.running("feed4")
        assert not rerun or rerun[0]["node"] != victim
        state = {row["node"]: row["state"] for row in cluster.status() if row["section"] == "nodes"}
        cluster.wait(
            "the dead node shown as lost",
            lambda: (
                {r["node"]: r["state"] for r in cluster.status() if r["section"] == "nodes"}.get(
                    victim
                )
                == "lost"
            ),
        )
        assert set(state) == {"a", "b", "c"}
        # the survivors carry on with the next round
        feeds.grow(3)
        since = cluster.make_due()
        cluster.wait(
            "a round after the death",
            lambda: cluster.checked_since(since) and stored(cluster.store) == feeds.expected(),
        )
        check_nothing_doubled(cluster.store, feeds)
        survivors = cluster.stop_all()
        assert set(survivors.values()) == {0}, (took, survivors)


def test_sigkill_of_the_telegram_account_owner_moves_the_account_within_a_minute(cluster, tmp_path):
    with FeedServer() as server:
        feeds = DistinctFeeds(server, feeds=2)
        cluster.start("a"), cluster.start("b")
        cluster.wait("both nodes up", lambda: cluster.ready("a", "b"))
        prepare(cluster.store, feeds)
        cluster.wait("an owner for the account", lambda: cluster.owner("sim") is not None)
        first = cluster.owner("sim")
        # a Telegram source of the account: its runs go to the account's queue, only the owner's
        with cluster.unit() as s:
            tg = source_repo.add_source(
                s, type="telegram", locator="@simchannel", name="tg-sim", account="sim"
            ).id
        cluster.wait("the account's run on its owner", lambda: _ran_on(cluster, tg) == {first})
        cluster.kill(first)
        took = cluster.wait(
            "the account taken over", lambda: cluster.owner("sim") not in (None, first), timeout=60
        )
        second = cluster.owner("sim")
        with cluster.unit() as s:
            s.execute(
                text("UPDATE sources SET next_check_at = now(), error_count = 0 WHERE id = :id"),
                {"id": tg},
            )
        cluster.wait(
            "the account's next run on the new owner", lambda: second in _ran_on(cluster, tg)
        )
        assert second != first
        assert not [e for e in events(tmp_path) if e.kind == "duplicated"]
        spans = holdings(tmp_path, "sim", died=cluster.killed)
        assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans  # never two holders at once
        assert spans[1][0] - next(iter(cluster.killed.values())) < 60, took
        assert set(cluster.stop_all().values()) == {0}
        assert cluster.owner("sim") is None  # released on the clean stop


def _ran_on(cluster: Cluster, source_id: int) -> set[str]:
    """Nodes whose account worker ran this source's jobs (the job row keeps its worker id)."""
    names = {}
    from monitor.store.models import ClusterNodeRow

    with cluster.unit() as s:
        for name, ids in s.execute(select(ClusterNodeRow.name, ClusterNodeRow.worker_ids)):
            names.update({int(w): name for w in ids or []})
        rows = s.execute(
            text(
                "SELECT worker_id, queue_name FROM procrastinate_jobs "
                "WHERE task_name = 'monitor.run_source' "
                "AND (args->>'source_id')::bigint = :id AND status NOT IN ('todo', 'doing')"
            ),
            {"id": source_id},
        ).all()
    assert all(q == "tg.sim" for _, q in rows)
    return {names.get(int(w), f"worker {w}") for w, _ in rows if w is not None}


def test_a_restart_of_every_node_at_once_resumes_from_the_database_alone(cluster, tmp_path):
    with FeedServer() as server:
        feeds = DistinctFeeds(server, feeds=4)
        feeds.slow(3)
        cluster.start("a"), cluster.start("b")
        cluster.wait("both nodes up", lambda: cluster.ready("a", "b"))
        prepare(cluster.store, feeds)
        cluster.wait(
            "mid-work, account owned",
            lambda: bool(cluster.running("feed3")) and cluster.owner("sim"),
        )
        cluster.kill("a"), cluster.kill("b")
        feeds.fast(3)
        feeds.grow(2)
        cluster.start("c"), cluster.start("d")  # nothing cleaned up in between
        with cluster.unit() as s:
            s.execute(text("UPDATE sources SET next_check_at = now() WHERE name <> 'feed3'"))
        cluster.wait(
            "all work done after the restart", lambda: stored(cluster.store) == feeds.expected()
        )
        cluster.wait("the account owned again", lambda: cluster.owner("sim") in ("c", "d"))
        check_nothing_doubled(cluster.store, feeds)
        assert not [e for e in events(tmp_path) if e.kind == "duplicated"]
        spans = holdings(tmp_path, "sim", died=cluster.killed)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans
        with cluster.unit() as s:
            assert (
                s.scalar(
                    select(func.count()).select_from(SourceRow).where(SourceRow.error_count > 0)
                )
                == 0
            )
        assert set(cluster.stop_all().values()) == {0}


def test_sigterm_releases_a_run_still_in_flight_after_the_grace_and_exits_0(cluster):
    with FeedServer() as server:
        feeds = DistinctFeeds(server, feeds=2)
        feeds.slow(1)
        cluster.start("a")
        cluster.wait("the node up", lambda: cluster.ready("a"))
        prepare(cluster.store, feeds)
        cluster.wait("feed1's run in flight", lambda: bool(cluster.running("feed1")))
        assert cluster.stop_all(timeout=30) == {"a": 0}  # grace (5 s here), then released
        with cluster.unit() as s:
            states = (
                s.execute(
                    text(
                        "SELECT status FROM procrastinate_jobs "
                        "WHERE task_name = 'monitor.run_source' "
                        "AND (args->>'source_id')::bigint = "
                        "(SELECT id FROM sources WHERE name = 'feed1')"
                    )
                )
                .scalars()
                .all()
            )
        assert states == ["aborted"]  # released, not left running
        assert "feed1" not in stored(cluster.store)  # nothing half-done committed
        feeds.fast(1)
        cluster.start("b")  # still due: the next node's tick runs it
        cluster.wait("feed1 stored", lambda: stored(cluster.store) == feeds.expected())
        check_nothing_doubled(cluster.store, feeds)
        assert cluster.stop_all() == {"b": 0}
