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


async def test_work_done_in_the_parse_workers_is_what_the_writer_would_do(store, server):
    """Feeds parsed (and prepared) in the process pool, then their twins ingested without the
    pool: the same matching forms and languages, the same LSH bands, and every twin joins its
    original's story."""
    from monitor.ingest.runtime import pipeline_for
    from monitor.store.models import LshBandRow

    feeds = 4
    for n in range(feeds):
        body = rss(n, entries=5).replace(b"</description>",
                                         b" Long text for a signature, words enough to shingle "
                                         b"and band, about the ministry and the parliament."
                                         b"</description>")
        server.route(f"/pooled/{n}", Route(body=body, headers={"Content-Type": "text/xml"}))
        server.route(f"/inline/{n}", Route(body=body, headers={"Content-Type": "text/xml"}))
    with store.unit() as s:
        for n in range(feeds):
            source_repo.add_source(s, type="rss", locator=server.url(f"/pooled/{n}"),
                                   name=f"pooled{n}")
    settings = Settings(database_url=store.url, fetch=FetchSettings(
        allowed_private_networks=LOOPBACK, timeout=20, parse_workers=2))
    async with pipeline_for(store, settings) as pipeline:
        assert pipeline.executor is not None
        first = await pipeline.collect(everything=True)
    assert first.new_items == 5 * feeds
    with store.unit() as s:
        for n in range(feeds):
            source_repo.add_source(s, type="rss", locator=server.url(f"/inline/{n}"),
                                   name=f"inline{n}")
    inline = Pipeline(store, settings, alerts_hook=False)
    assert inline.executor is None
    second = await inline.collect(names=[f"inline{n}" for n in range(feeds)])
    assert second.new_items == 5 * feeds
    with store.unit() as s:
        names = {r.id: r.name for r in s.scalars(select(SourceRow))}
        rows = list(s.scalars(select(ItemRow)))
        bands = {}
        for b in s.scalars(select(LshBandRow)):
            bands.setdefault(b.item_id, set()).add(b.band_key)
    twins: dict[tuple[str, str], dict[str, ItemRow]] = {}
    for r in rows:
        kind = "pooled" if names[r.source_id].startswith("pooled") else "inline"
        twins.setdefault((names[r.source_id].removeprefix(kind), r.external_id), {})[kind] = r
    assert len(twins) == 5 * feeds
    for pair in twins.values():
        a, b = pair["pooled"], pair["inline"]
        assert (a.norm_text, a.language) == (b.norm_text, b.language)
        assert a.norm_text and bands.get(a.id) and bands.get(a.id) == bands.get(b.id)
        assert a.story_id == b.story_id


def test_work_done_ahead_is_used_only_for_what_it_was_done_with(store):
    """A result worked out for another language or footer is worked out again."""
    from monitor.ingest import prepare
    from monitor.sources.base import Batch
    from monitor.types import Item

    with store.unit() as s:
        sid = source_repo.add_source(s, type="rss", locator="http://x.example/f", name="x",
                                     language="en").id
    settings = Settings(database_url=store.url)
    pipeline = Pipeline(store, settings, alerts_hook=False)
    item = Item(external_id="1", fetched_at=utcnow(), published_at=utcnow(),
                text="Северокорейские офицеры погибли при ударе по полигону под Донецком.")
    done = prepare.ahead([item], source_language="ru", footer=None, dedup=settings.dedup,
                         limits=settings.limits)
    stale = {k: prepare.Ready("STALE FORM", "xx", v.cluster, "ru", None)
             for k, v in done.items()}
    pipeline.ingest(sid, Batch(items=[item], prepared=stale))
    with store.unit() as s:
        row = s.scalar(select(ItemRow))
    assert row.norm_text != "STALE FORM" and row.language == "en"
