"""Telegram account leases: one owner at a time, on the database clock; the owner's queue is
consumed only by it; an owner cut off from the database lets go before its lease can expire, and
another node takes the account over after it expires.

Two "nodes" run in this process, each with its own lease loop, simulated client
(:mod:`tests.service.cluster.simclient`) and procrastinate worker for the account's queue; node A
reaches PostgreSQL through a proxy the test cuts (a real network outage, not a fake store).
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.engine import make_url

from monitor.service.cluster.accounts import AccountLeases
from monitor.service.cluster.app import account_queue, make_app
from monitor.settings import ClusterSettings, Settings
from monitor.store import cluster as cluster_repo
from monitor.store import leases as lease_repo
from monitor.store.db import Store
from monitor.store.models import TelegramLeaseRow
from tests.service.cluster.netcut import NetCut
from tests.service.cluster.simclient import SimulatedAccounts, events, holdings


def node(store: Store, name: str) -> int:
    with store.unit() as s:
        return cluster_repo.register_node(s, name=name, host="test", pid=0, queues=["telegram"])


def test_a_lease_has_one_holder_expires_on_the_database_clock_and_epochs_fence_old_owners(pg_store):
    a, b = node(pg_store, "a"), node(pg_store, "b")
    with pg_store.unit() as s:
        mine = lease_repo.acquire(s, "acct", a, ttl=0.6)
        assert mine is not None and mine.epoch == 1
        assert lease_repo.acquire(s, "acct", b, ttl=0.6) is None  # held
        assert lease_repo.acquire(s, "", b, ttl=30) is not None  # another account is free
    with pg_store.unit() as s:
        mine = lease_repo.renew(s, mine, a, ttl=0.6)
        assert mine is not None
    time.sleep(0.8)  # past the expiry
    with pg_store.unit() as s:
        assert lease_repo.renew(s, mine, a, ttl=30) is None  # expired: lost, even unclaimed
        theirs = lease_repo.acquire(s, "acct", b, ttl=30)
        assert theirs is not None and theirs.epoch == 2
        assert lease_repo.renew(s, mine, a, ttl=30) is None  # the old owner is fenced off
        assert lease_repo.release(s, mine, a) is False
        assert lease_repo.release(s, theirs, b) is True
        assert lease_repo.acquire(s, "acct", a, ttl=30).epoch == 3  # free at once after a release
        rows = {r.account: r for r in lease_repo.leases(s)}
        assert rows["acct"].node == "a" and rows["acct"].expires_in > 20 and rows[""].node == "b"


def test_two_nodes_racing_for_free_accounts_never_both_win(pg_store, pg_url):
    ids = [node(pg_store, f"n{i}") for i in range(4)]
    stores = [Store(pg_url) for _ in ids]

    def grab(i: int) -> list[str]:
        won = []
        for k in range(15):
            with stores[i].unit() as s:
                if lease_repo.acquire(s, f"acct{k}", ids[i], ttl=30) is not None:
                    won.append(f"acct{k}")
        return won

    async def race():
        return await asyncio.gather(*(asyncio.to_thread(grab, i) for i in range(4)))

    try:
        won = asyncio.run(race())
    finally:
        for st in stores:
            st.dispose()
    flat = [a for w in won for a in w]
    assert sorted(flat) == sorted(f"acct{k}" for k in range(15))  # each account exactly once


class Consumer:
    """A node's worker on an account's queue (what the node does on taking an account)."""

    def __init__(self, app, label: str, ran: list):
        self.app, self.label, self.ran = app, label, ran
        self.workers: dict[str, tuple] = {}

    async def consume(self, account: str) -> None:
        from procrastinate.worker import Worker

        worker = Worker(
            self.app,
            queues=[account_queue(account)],
            name=self.label,
            concurrency=2,
            fetch_job_polling_interval=0.2,
            install_signal_handlers=False,
            additional_context={"label": self.label, "ran": self.ran},
        )
        self.workers[account] = (worker, asyncio.create_task(worker.run()))

    async def stop(self, account: str, grace: float) -> None:
        worker, task = self.workers.pop(account)
        worker.shutdown_graceful_timeout = grace
        worker.stop()
        await asyncio.wait([task], timeout=grace + 1)


async def until(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def test_owner_cut_off_lets_go_before_expiry_and_the_other_node_takes_over(pg_url, tmp_path):
    ttl, renew = 3.0, 0.5
    settings = Settings(
        database_url=pg_url, cluster=ClusterSettings(lease_ttl=ttl, lease_renew=renew)
    )
    port = make_url(pg_url).port or 5432

    async def scenario():
        ran: list[tuple[str, int]] = []
        app = make_app(settings, pool_size=8)

        @app.task(name="test.account_job", queue=account_queue("sim"), pass_context=True)
        async def account_job(context, n: int) -> None:
            context.additional_context["ran"].append((context.additional_context["label"], n))

        with NetCut(port) as net:
            store_a = Store(
                make_url(pg_url).set(port=net.port).render_as_string(hide_password=False)
            )
            store_b = Store(pg_url)
            sim_a = SimulatedAccounts(tmp_path, {"sim"}, label="A")
            sim_b = SimulatedAccounts(tmp_path, {"sim"}, label="B")
            async with app.open_async():
                con_a, con_b = Consumer(app, "A", ran), Consumer(app, "B", ran)
                a = AccountLeases(
                    store_a,
                    node(store_b, "A"),
                    sim_a,
                    ttl=ttl,
                    renew_every=renew,
                    consume=con_a.consume,
                    stop_consuming=con_a.stop,
                )
                b = AccountLeases(
                    store_b,
                    node(store_b, "B"),
                    sim_b,
                    ttl=ttl,
                    renew_every=renew,
                    consume=con_b.consume,
                    stop_consuming=con_b.stop,
                )
                stop_a, stop_b = asyncio.Event(), asyncio.Event()
                run_a = asyncio.create_task(a.run(stop_a))
                assert await until(lambda: sim_a.holds("sim") and "sim" in con_a.workers)
                run_b = asyncio.create_task(b.run(stop_b))
                for n in range(3):
                    await account_job.defer_async(n=n)
                assert await until(lambda: len(ran) == 3)
                assert not sim_b.holds("sim")

                cut_at = time.time()
                net.cut()
                await asyncio.sleep(renew)
                with store_b.unit() as s:  # A's lease as A last renewed it: final once A is cut off
                    expiry = s.scalar(
                        select(TelegramLeaseRow.expires_at).where(TelegramLeaseRow.account == "sim")
                    )
                assert await until(lambda: sim_b.holds("sim") and "sim" in con_b.workers)
                for n in range(3, 6):
                    await account_job.defer_async(n=n)
                assert await until(lambda: len(ran) == 6)
                stop_a.set(), stop_b.set()
                await asyncio.gather(run_a, run_b)
            store_a.dispose(), store_b.dispose()
        return ran, cut_at, expiry

    ran, cut_at, expiry = asyncio.run(scenario())
    assert [label for label, n in sorted(ran, key=lambda r: r[1])] == ["A"] * 3 + ["B"] * 3
    log = events(tmp_path)
    assert not [e for e in log if e.kind == "duplicated"]
    a_off = [e.at for e in log if e.label == "A" and e.kind == "disconnect"]
    b_on = [e.at for e in log if e.label == "B" and e.kind == "connect"]
    assert len(a_off) == 1 and a_off[0] > cut_at
    assert a_off[0] < expiry.timestamp()  # let go while the lease still held: no overlap possible
    assert b_on and b_on[0] > expiry.timestamp() - 0.05  # taken only once it had expired
    spans = holdings(tmp_path, "sim")
    assert all(
        earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])
    )  # never two at once
