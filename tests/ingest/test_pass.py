"""A collection pass (``Pipeline.collect``) over real feeds on loopback: the outcomes of many
sources are written together, and a pass of 304s leaves every source checked, its validators
kept, and nothing stored twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from monitor.ingest.pipeline import Pipeline
from monitor.settings import FetchSettings, Settings
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.models import HitRow, ItemRow, SourceRow
from monitor.types import utcnow
from tests.sources.feedserver import LOOPBACK, FeedServer, Route, conditional

ITEM = ("<item><title>Item {i} of {n}</title><link>http://example.com/{n}/{i}</link>"
        "<guid>urn:{n}:{i}</guid><description>Новости: северокорейские офицеры {n} {i}"
        "</description></item>")


def rss(n: int, entries: int = 3) -> bytes:
    items = "".join(ITEM.format(i=i, n=n) for i in range(entries))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {n}</title><link>http://example.com/</link>{items}</channel>"
            f"</rss>").encode()


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def counts(store):
    with store.unit() as s:
        return (s.scalar(select(func.count()).select_from(ItemRow)),
                s.scalar(select(func.count()).select_from(HitRow)))


async def test_a_pass_records_every_outcome_and_a_304_pass_changes_nothing_else(store, server):
    good = 30
    for n in range(good):
        server.route(f"/feed/{n}", conditional(rss(n), etag=f'"e{n}"'))
    server.route("/gone", Route(status=410))
    server.route("/broken", Route(status=500))
    with store.unit() as s:
        ids = [source_repo.add_source(s, type="rss", locator=server.url(f"/feed/{n}"),
                                      name=f"f{n}").id for n in range(good)]
        gone = source_repo.add_source(s, type="rss", locator=server.url("/gone"), name="gone").id
        broken = source_repo.add_source(s, type="rss", locator=server.url("/broken"),
                                        name="broken").id
        wl = watch_repo.add_watchlist(s, "dprk")
        watch_repo.add_term(s, wl, '"северокорейские офицеры"')
    settings = Settings(database_url=store.url, fetch=FetchSettings(
        allowed_private_networks=LOOPBACK, per_host_concurrency=8, timeout=10))
    pipeline = Pipeline(store, settings, alerts_hook=False)
    started = utcnow()

    first = await pipeline.collect(everything=True)
    assert (first.new_items, first.hits, first.errors) == (3 * good, 3 * good, 2)
    assert counts(store) == (3 * good, 3 * good)
    with store.unit() as s:
        rows = {r.id: r for r in s.scalars(select(SourceRow))}
    for i in ids:
        assert rows[i].etag == f'"e{ids.index(i)}"' and rows[i].error_count == 0
        assert rows[i].last_checked_at >= started and rows[i].next_check_at > started
        assert rows[i].last_new_item_at is not None
    assert rows[gone].retired is True
    assert rows[broken].error_count == 1 and "500" in (rows[broken].last_error or "")

    # the second pass: every feed answers 304; the outcomes still land, nothing else changes
    second_started = utcnow()
    second = await pipeline.collect(everything=True)
    assert (second.not_modified, second.new_items, second.errors) == (good, 0, 1)
    assert counts(store) == (3 * good, 3 * good)
    with store.unit() as s:
        rows = {r.id: r for r in s.scalars(select(SourceRow))}
        due = {c.id for c in source_repo.due_sources(s, now=utcnow())}
    for i in ids:
        assert rows[i].etag == f'"e{ids.index(i)}"' and rows[i].error_count == 0
        assert rows[i].last_checked_at >= second_started
        assert rows[i].last_status == "not modified"
        assert i not in due
    assert rows[broken].error_count == 2
    assert "/gone" not in [path for path, _ in server.requests[-good - 1:]]  # retired: not asked


async def test_a_quiet_batch_brings_new_validators_with_the_outcome(store, server):
    """A 304 carrying a new ETag (or a 200 with the same bytes): the new validators are stored."""
    body = rss(1)
    server.route("/feed", Route(body=body, headers={"Content-Type": "application/rss+xml",
                                                     "ETag": '"one"'}))
    with store.unit() as s:
        sid = source_repo.add_source(s, type="rss", locator=server.url("/feed"), name="f").id
    settings = Settings(database_url=store.url, fetch=FetchSettings(
        allowed_private_networks=LOOPBACK, timeout=10))
    pipeline = Pipeline(store, settings, alerts_hook=False)
    await pipeline.collect(everything=True)
    server.route("/feed", Route(body=body, headers={"Content-Type": "application/rss+xml",
                                                     "ETag": '"two"'}))
    summary = await pipeline.collect(everything=True)
    assert summary.not_modified == 1  # the same bytes: caught by the body hash
    with store.unit() as s:
        row = s.get(SourceRow, sid)
        assert row.etag == '"two"' and row.body_hash is not None
        assert row.next_check_at > utcnow() - timedelta(seconds=5)
    assert counts(store)[0] == 3
