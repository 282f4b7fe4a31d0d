"""The long-running service: graceful stop, health and metrics, scheduling, crash safety.

The crash test kills ``monitor run`` with SIGKILL at named points inside a batch (after items are
written, during matching, before the cursor commits, right after the commit) and at random
moments, ≥ 20 times per backend, against local feeds and public Telegram channels (``t.me/s``
pages, with forwards between channels) that keep growing; then restarts ``monitor run`` and
checks the database against the expected set: no item lost, nothing doubled, forwards and shared
articles folded into one story each. (Kills during alert delivery: tests/alerts/test_worker.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.alerts.routes import route_settings
from monitor.ingest.pipeline import Pipeline
from monitor.service.scheduler import LocalDispatcher, Scanner
from monitor.settings import Settings
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.db import Store
from monitor.store.models import HitRow, ItemRow, SourceRow, StoryRow
from tests.sources.feedserver import FeedServer, Route
from tests.sources.tgserver import channel_page

ROOT = Path(__file__).resolve().parents[2]
BASE = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GrowingFeeds:
    """Feeds that gain entries each round; entry k of feed f is stable once published.

    Every third entry carries the watched phrase; entries k % 5 == 0 are the same article in
    every feed (same canonical URL) and must fold into one story across feeds.
    """

    def __init__(self, server: FeedServer, feeds: int = 4, start: int = 6):
        self.server, self.feeds, self.count = server, feeds, start
        for f in range(feeds):
            server.route(f"/feed{f}.xml", lambda headers, f=f: self.route(f))

    def grow(self, n: int = 2) -> None:
        self.count += n

    def entry(self, f: int, k: int) -> str:
        shared = k % 5 == 0
        url = f"https://news.example/story/{k}" if shared else f"https://feed{f}.example/post/{k}"
        words = "погибли шесть северокорейских офицеров" if k % 3 == 0 else "прошли учения связистов"
        # distinct prose per entry: near-duplicate detection must not fold different reports
        rnd = random.Random(k if shared else f * 1000 + k)
        place = rnd.choice(PLACES)
        lead = " ".join(rnd.sample(WORDS, 8))
        text = f"{lead.capitalize()}. Под городом {place} {words}; {' '.join(rnd.sample(WORDS, 6))}."
        when = format_datetime(BASE + timedelta(minutes=k))
        return (f"<item><title>Новость {k}</title><link>{url}</link><guid isPermaLink=\"false\">{f}-{k}</guid>"
                f"<pubDate>{when}</pubDate><description>{text}</description></item>")

    def route(self, f: int) -> Route:
        items = "".join(self.entry(f, k) for k in range(self.count))
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>feed {f}</title>'
                f"<link>https://feed{f}.example/</link>{items}</channel></rss>").encode()
        return Route(body=body, headers={"Content-Type": "application/rss+xml; charset=utf-8"})

    def expected(self) -> dict[str, set[str]]:
        return {f"feed{f}": {f"{f}-{k}" for k in range(self.count)} for f in range(self.feeds)}


class GrowingChannels:
    """Public channels read through their ``t.me/s`` pages: ``tgchan0`` posts the news,
    ``tgchan1`` and ``tgchan2`` have their own posts and forward every fourth post of ``tgchan0``
    (with its permalink, as Telegram shows an open origin)."""

    def __init__(self, server: FeedServer, channels: int = 3, start: int = 5):
        self.server, self.channels, self.count = server, channels, start
        for c in range(channels):
            server.route(f"/s/tgchan{c}", lambda headers, c=c: self.route(c))

    def grow(self, n: int = 2) -> None:
        self.count += n

    def text(self, c: int, k: int) -> str:
        rnd = random.Random(1_000_000 + c * 1000 + k)
        words = "погибли шесть северокорейских офицеров" if k % 3 == 0 else "прошли учения связистов"
        return (f"{' '.join(rnd.sample(WORDS, 7)).capitalize()}: в районе {rnd.choice(PLACES)} {words}, "
                f"{' '.join(rnd.sample(WORDS, 5))}.")

    def post(self, c: int, k: int) -> str:
        forward = c > 0 and k % 4 == 0
        text = self.text(0 if forward else c, k)
        fwd = (f'<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;'
               f'<a class="tgme_widget_message_forwarded_from_name" href="https://t.me/tgchan0/{k}">'
               f'<span dir="auto">Канал 0</span></a></div>') if forward else ""
        when = (BASE + timedelta(minutes=k, seconds=c)).isoformat()
        return (f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message '
                f'js-widget_message" data-post="tgchan{c}/{k}"><div class="tgme_widget_message_bubble">{fwd}'
                f'<div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>'
                f'<div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info '
                f'short js-message_info"><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" '
                f'href="https://t.me/tgchan{c}/{k}"><time datetime="{when}" class="time">00:00</time></a></span>'
                f"</div></div></div></div></div>")

    def route(self, c: int) -> Route:
        return Route(body=channel_page(f"tgchan{c}", [self.post(c, k) for k in range(1, self.count + 1)],
                                       title=f"Канал {c}").encode(),
                     headers={"Content-Type": "text/html; charset=utf-8"})

    def expected(self) -> dict[str, set[str]]:
        return {f"tgchan{c}": {str(k) for k in range(1, self.count + 1)} for c in range(self.channels)}


def prepare(db_url: str, feeds: GrowingFeeds, channels: GrowingChannels | None = None) -> None:
    store = Store(db_url)
    try:
        with store.unit() as s:
            for f in range(feeds.feeds):
                source_repo.add_source(s, type="rss", locator=feeds.server.url(f"/feed{f}.xml"), name=f"feed{f}",
                                       pinned_interval=1)
            for c in range(channels.channels if channels else 0):
                source_repo.add_source(s, type="telegram-web", locator=f"tgchan{c}", name=f"tgchan{c}",
                                       pinned_interval=1)
            wl = watch_repo.add_watchlist(s, "dprk")
            watch_repo.add_term(s, wl, '"северокорейские офицеры"')
    finally:
        store.dispose()


def spawn(db_url: str, *extra: str, env: dict | None = None, server: FeedServer | None = None) -> subprocess.Popen:
    full = {**os.environ, **(env or {})}
    if server is not None:  # t.me/s pages come from the local server, without request spacing
        full |= {"MONITOR_TELEGRAM__WEB_BASE_URL": server.url(""), "MONITOR_TELEGRAM__WEB_REQUEST_SPACING": "0"}
    full.pop("MONITOR_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "monitor", "--db", db_url, "run", "--tick", "0.3",
                             "--no-live", "--grace", "2", *extra],
                            cwd=ROOT, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def leftovers(proc: subprocess.Popen) -> list[int]:
    """Processes of the killed service's group still alive (parse workers must not outlive it:
    they would hold its database connections and their locks)."""
    deadline = time.monotonic() + 10
    while True:
        out = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout
        alive = [int(p) for p in out.split()]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def collect_all(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MONITOR_CONFIG", "MONITOR_CRASHPOINT")}
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "monitor", "--db", db_url, "collect", "--all", "--quiet"],
                       cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)


def stored(db_url: str) -> dict[str, set[str]]:
    store = Store(db_url)
    try:
        with store.unit() as s:
            got: dict[str, set[str]] = {}
            for name, eid in s.execute(select(SourceRow.name, ItemRow.external_id).join(ItemRow, ItemRow.source_id == SourceRow.id)):
                got.setdefault(name, set()).add(eid)
            return got
    finally:
        store.dispose()


def restart_until_whole(db_url: str, expected: dict[str, set[str]], server: FeedServer) -> None:
    """A plain restart of ``monitor run`` (no clean-up) completes the work; then it stops cleanly."""
    proc = spawn(db_url, server=server)
    try:
        deadline = time.monotonic() + 120
        while stored(db_url) != expected:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the restarted service did not complete the work"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def check_whole(db_url: str, feeds: GrowingFeeds, channels: GrowingChannels | None = None) -> None:
    store = Store(db_url)
    try:
        with store.unit() as s:
            got: dict[str, list[str]] = {}
            for name, eid in s.execute(select(SourceRow.name, ItemRow.external_id).join(ItemRow, ItemRow.source_id == SourceRow.id)):
                got.setdefault(name, []).append(eid)
            expected = feeds.expected() | (channels.expected() if channels else {})
            assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}
            # one hit per matching item, never two
            hits = s.execute(select(HitRow.item_id, func.count()).group_by(HitRow.item_id)).all()
            assert all(n == 1 for _, n in hits)
            matching = s.scalar(select(func.count()).select_from(ItemRow).where(ItemRow.text.contains("северокорейских")))
            assert len(hits) == matching
            # every shared article is one story across all feeds; every other item its own story
            shared = s.execute(select(ItemRow.url, func.count(func.distinct(ItemRow.story_id)))
                               .where(ItemRow.url.like("https://news.example/%")).group_by(ItemRow.url)).all()
            assert shared and all(n == 1 for _, n in shared)
            n_items = s.scalar(select(func.count()).select_from(ItemRow))
            n_shared_items = s.scalar(select(func.count()).select_from(ItemRow).where(ItemRow.url.like("https://news.example/%")))
            # every forward is in its origin's story
            forwards = s.execute(select(ItemRow.story_id, ItemRow.fwd_url).where(ItemRow.fwd_url.is_not(None))).all()
            origin = dict(s.execute(select(ItemRow.url, ItemRow.story_id).where(ItemRow.url.like("https://t.me/tgchan0/%"))).all())
            assert all(story == origin[url] for story, url in forwards)
            assert len(forwards) == (2 * (channels.count // 4) if channels else 0)
            # every story holds items, and the stories are exactly the copy-level ones, less
            # the coverage joins (a rewrite of the same event, with its reason recorded)
            n_stories = s.scalar(select(func.count()).select_from(StoryRow))
            assert n_stories == s.scalar(select(func.count(func.distinct(ItemRow.story_id))))
            coverage = s.scalar(select(func.count()).select_from(ItemRow).where(
                ItemRow.dedup_kind.in_(("rewrite", "abridged")), ItemRow.dedup_reason.is_not(None)))
            assert n_stories == n_items - n_shared_items + len(shared) - len(forwards) - coverage
            for story in s.scalars(select(StoryRow)):
                assert story.item_count == s.scalar(select(func.count()).select_from(ItemRow)
                                                    .where(ItemRow.story_id == story.id))
    finally:
        store.dispose()


PLACES = ["Донецк", "Горловка", "Макеевка", "Курахово", "Угледар", "Покровск", "Торецк", "Авдеевка",
          "Бахмут", "Часов Яр", "Селидово", "Марьинка"]
WORDS = ("вечером утром колонна техники прибыла склад боеприпасов аэродром связь мост дорога штаб "
         "батальон рота колонна грузовики пехота артиллерия разведка беспилотник позиции окопы "
         "снабжение топливо ремонт госпиталь эвакуация волонтёры генератор радиостанция").split()

CRASHPOINTS = ["after_items", "during_matching", "before_cursor", "after_commit"]


@pytest.mark.slow
def test_sigkill_at_named_points_and_random_moments_loses_and_doubles_nothing(db_url):
    rng = random.Random(20241029)
    with FeedServer() as server:
        feeds = GrowingFeeds(server)
        channels = GrowingChannels(server)
        prepare(db_url, feeds, channels)
        kills = 0
        for round_ in range(24):
            feeds.grow(2)
            channels.grow(2)
            if round_ % 2 == 0:
                point = CRASHPOINTS[(round_ // 2) % len(CRASHPOINTS)]
                proc = spawn(db_url, server=server, env={"MONITOR_CRASHPOINT": point,
                                                         "MONITOR_CRASHPOINT_SKIP": str(rng.randint(0, 2))})
                try:
                    proc.wait(timeout=60)  # it must reach the point and die there
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        pytest.fail(f"round {round_} ({point}): neither crashed nor stopped on SIGTERM: "
                                    + proc.stderr.read().decode()[-5000:])
                assert proc.returncode == -signal.SIGKILL, (round_, point, proc.stderr.read().decode()[-3000:])
                assert leftovers(proc) == []
            else:
                proc = spawn(db_url, server=server)
                time.sleep(rng.uniform(0.3, 2.5))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                assert leftovers(proc) == []
            kills += 1
        assert kills >= 20
        restart_until_whole(db_url, feeds.expected() | channels.expected(), server)
        check_whole(db_url, feeds, channels)


def test_sigterm_stops_gracefully_with_health_and_metrics(db_url):
    with FeedServer() as server:
        feeds = GrowingFeeds(server, feeds=2)
        prepare(db_url, feeds)
        port = free_port()
        proc = spawn(db_url, "--port", str(port), env={"MONITOR_WEB__METRICS_TOKEN": "scrape"})
        scrape = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                        headers={"Authorization": "Bearer scrape"})
        try:
            deadline = time.monotonic() + 60
            health = metrics = None
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        health = json.loads(r.read())
                    with urllib.request.urlopen(scrape, timeout=2) as r:
                        metrics = r.read().decode()
                    if 'monitor_items_total{kind="new",source_type="rss"} 12.0' in metrics:
                        break
                except OSError:
                    pass
                time.sleep(0.3)
            assert health and health["status"] == "ok"
            assert 'monitor_items_total{kind="new",source_type="rss"} 12.0' in metrics
            assert "monitor_fetches_total" in metrics and "monitor_queue_lag_seconds" in metrics
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        check_whole(db_url, feeds)


def test_sigterm_abandons_an_in_flight_run_and_commits_nothing_half_done(db_url):
    with FeedServer() as server:
        feeds = GrowingFeeds(server, feeds=2)
        prepare(db_url, feeds)
        stalled = feeds.route(1)  # feed1's server sends its body one byte at a time (minutes)
        server.route("/feed1.xml", Route(body=stalled.body, headers=stalled.headers, drip=0.05))
        proc = spawn(db_url, server=server)
        try:
            deadline = time.monotonic() + 60
            while not (stored(db_url).get("feed0") == feeds.expected()["feed0"]
                       and any(path == "/feed1.xml" for path, _ in server.requests)):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)  # feed1's run is in flight
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        assert "feed1" not in stored(db_url)  # abandoned whole: nothing of it committed
        server.route("/feed1.xml", lambda headers: feeds.route(1))
        restart_until_whole(db_url, feeds.expected(), server)
        check_whole(db_url, feeds)


def test_run_refuses_an_unmigrated_database(fresh_db_url):
    proc = subprocess.run([sys.executable, "-m", "monitor", "--db", fresh_db_url, "run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "monitor db upgrade" in proc.stderr


def test_misfired_sources_run_once_each_in_due_order(store):
    """After a pause every source is overdue: one scan dispatches each exactly once, earliest
    due first, and a second scan while they run dispatches nothing."""
    now = datetime.now(timezone.utc)
    with store.unit() as s:
        for i, minutes in enumerate((5, 50, 500)):
            src = source_repo.add_source(s, type="rss", locator=f"https://x{i}.example/f", name=f"s{i}")
            src.next_check_at = now - timedelta(minutes=minutes)
    started: list[int] = []
    gate = asyncio.Event()

    async def run(source_id: int) -> None:
        started.append(source_id)
        await gate.wait()

    async def scenario():
        dispatcher = LocalDispatcher(run)
        scanner = Scanner(Pipeline(store, Settings(database_url=store.url), alerts_hook=False), dispatcher,
                          max_jitter=0)
        first = await scanner.scan()
        await asyncio.sleep(0.05)
        second = await scanner.scan()
        gate.set()
        await dispatcher.stop(grace=5)
        return first, second

    first, second = asyncio.run(scenario())
    with store.unit() as s:
        order = [s.scalar(select(SourceRow.name).where(SourceRow.id == i)) for i in started]
    assert (first, second) == (3, 0)
    assert order == ["s2", "s1", "s0"]


@pytest.mark.slow
def test_sigkill_during_delivery_repeats_at_most_the_message_in_flight(db_url):
    """Killed between a webhook's answer and the record of it, the service sends that one alert
    again after its lease (same alert id, so the receiver can drop it); nothing is lost and no
    story alerts a desk twice."""
    from monitor.store import desks as desk_repo
    from monitor.store.models import AlertRow
    from tests.alerts.sinks import WebhookSink

    rng = random.Random(7)
    with FeedServer() as server, WebhookSink() as sink:
        feeds = GrowingFeeds(server, feeds=2)
        prepare(db_url, feeds)
        store = Store(db_url)
        with store.unit() as s:
            desk = desk_repo.add_desk(s, "desk", targets=[sink.url("json")])
            desk_repo.add_route(s, watch_repo.get_watchlist(s, "dprk"), desk,
                                route_settings(max_age=None))
        store.dispose()
        crashes = 0
        for round_ in range(6):
            feeds.grow(6)  # four new matching entries a round: four alerts to be in flight
            # a short lease: the message in flight at the last crash goes again within the round
            proc = spawn(db_url, env={"MONITOR_CRASHPOINT": "during_delivery", "MONITOR_ALERTS__DELIVERY_LEASE": "2",
                                      "MONITOR_CRASHPOINT_SKIP": str(rng.randint(0, 1))})
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)
            crashes += proc.returncode == -signal.SIGKILL
            assert leftovers(proc) == []
        assert crashes >= 5
        collect_all(db_url)
        env = {k: v for k, v in os.environ.items() if k not in ("MONITOR_CONFIG", "MONITOR_CRASHPOINT")}
        later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()  # past every lease
        for _ in range(3):
            subprocess.run([sys.executable, "-m", "monitor", "--db", db_url, "alerts", "send", "--now", later],
                           cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
        store = Store(db_url)
        try:
            with store.unit() as s:
                alerts = s.scalars(select(AlertRow).where(AlertRow.kind == "story")).all()
                assert alerts and all(a.status == "sent" for a in alerts)
                keys = [a.key for a in alerts]
                assert len(keys) == len(set(keys))
                stories_with_hits = s.scalar(select(func.count(func.distinct(HitRow.story_id))))
                assert len(alerts) == stories_with_hits  # one alert per (desk, story)
        finally:
            store.dispose()
        received = [r.json()["alert_id"] for r in sink.requests]
        counts = {a: received.count(a) for a in set(received)}
        assert set(counts) == {a.id for a in alerts}  # every alert arrived
        repeats = sum(n - 1 for n in counts.values())
        assert repeats <= crashes  # at most the one message in flight per crash
        assert all(r.headers.get("Idempotency-Key") == f"monitor-alert-{r.json()['alert_id']}"
                   for r in sink.requests)


def test_run_refuses_a_port_it_cannot_serve(cli):
    """A taken port stops ``monitor run`` with a message before anything starts (uvicorn binding
    late would only log it and leave the service running without /healthz); a port out of range is
    bad input."""
    import socket as _socket

    taken = _socket.create_server(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        code, out, err = cli("run", "--host", "127.0.0.1", "--port", str(port), "--no-live")
        assert code == 1 and f"cannot serve HTTP on 127.0.0.1:{port}" in err, err
        assert "Traceback" not in err + out
    finally:
        taken.close()
    code, _, err = cli("run", "--port", "99999")
    assert code == 2 and "--port" in err and "65535" in err
