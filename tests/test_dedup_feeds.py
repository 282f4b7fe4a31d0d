"""Dedup across real feeds through the whole pipeline: one article in RSS and in Atom form, the
same entries under different xml:base values, and near-misses that must stay apart."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from sqlalchemy import select

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.store import sources as source_repo
from monitor.store.models import ItemRow, SourceRow
from tests.sources.feedserver import FeedServer, Route

WHEN = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
ARTICLE = ("Шесть северокорейских офицеров погибли при ударе по полигону под Донецком, сообщили "
           "украинские военные источники; ещё трое ранены, Сеул информацию не подтвердил.")
OTHER = ("Сводка за 12 октября: силы ПВО сбили 30 беспилотников над Ростовской и Воронежской "
         "областями, пострадал один человек, повреждён жилой дом.")
OTHER_DAY = ("Сводка за 13 октября: силы ПВО сбили 41 беспилотник над Курской, Брянской и Белгородской "
             "областями, пострадавших нет, повреждены две линии электропередачи.")

RSS = f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>A</title>
<link>https://agency.example/</link>
<item><title>Под Донецком погибли северокорейские офицеры</title>
<link>https://agency.example/news/2024/10/officers?utm_source=rss&amp;utm_campaign=x</link>
<guid isPermaLink="false">rss-1</guid><pubDate>{format_datetime(WHEN)}</pubDate>
<description>&lt;p&gt;{ARTICLE}&lt;/p&gt;</description></item>
<item><title>Сводка</title><link>https://agency.example/news/2024/10/12/summary</link>
<guid isPermaLink="false">rss-2</guid><pubDate>{format_datetime(WHEN)}</pubDate><description>{OTHER}</description></item>
</channel></rss>""".encode()

ATOM = f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>A (Atom)</title><id>tag:agency.example,2024:atom</id><updated>{WHEN.isoformat()}</updated>
<entry><title type="html">Под Донецком погибли &lt;b&gt;северокорейские&lt;/b&gt; офицеры</title>
<id>tag:agency.example,2024:1</id><link rel="alternate" href="https://AGENCY.example/news/2024/10/officers#comments"/>
<updated>{WHEN.isoformat()}</updated><content type="html">&lt;div&gt;{ARTICLE}&lt;/div&gt;</content></entry>
<entry><title>Сводка</title><id>tag:agency.example,2024:2</id>
<link rel="alternate" href="https://agency.example/news/2024/10/13/summary"/>
<updated>{WHEN.isoformat()}</updated><content>{OTHER_DAY}</content></entry>
</feed>""".encode()


def based(base: str, path_prefix: str) -> bytes:
    """The same two entries with relative links resolved against a feed-level xml:base."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}"><title>B</title><id>tag:b,{base}</id>
<updated>{WHEN.isoformat()}</updated>
<entry><title>Первая</title><id>{base}e1</id><link href="{path_prefix}first-story"/><updated>{WHEN.isoformat()}</updated>
<summary>Короткая заметка номер один о переговорах в Стамбуле.</summary></entry>
<entry><title>Вторая</title><id>{base}e2</id><link href="{path_prefix}second-story"/><updated>{WHEN.isoformat()}</updated>
<summary>Короткая заметка номер два об обмене пленными.</summary></entry></feed>""".encode()


def test_same_articles_across_formats_and_bases_fold_and_near_misses_do_not(store):
    with FeedServer() as server:
        feeds = {
            "rss": RSS, "atom": ATOM,
            "base1": based("https://mirror.example/news/2024/", ""),
            "base2": based("https://mirror.example/", "news/2024/"),
        }
        with store.unit() as s:
            for name, body in feeds.items():
                ctype = "application/rss+xml" if name == "rss" else "application/atom+xml"
                server.route(f"/{name}.xml", Route(body=body, headers={"Content-Type": ctype}))
                source_repo.add_source(s, type="rss", locator=server.url(f"/{name}.xml"), name=name)
        summary = asyncio.run(Pipeline(store, Settings(database_url=store.url), alerts_hook=False)
                              .collect(everything=True))
        assert summary.errors == 0, [r.error for r in summary.results]
    with store.unit() as s:
        rows = s.execute(select(SourceRow.name, ItemRow.external_id, ItemRow.url, ItemRow.story_id, ItemRow.dedup_kind)
                         .join(ItemRow, ItemRow.source_id == SourceRow.id)).all()
    by = {(name, eid): (url, story, how) for name, eid, url, story, how in rows}
    rss_article, atom_article = by[("rss", "rss-1")], by[("atom", "tag:agency.example,2024:1")]
    assert rss_article[0] == atom_article[0] == "https://agency.example/news/2024/10/officers"
    assert rss_article[1] == atom_article[1]  # one story, whichever arrived first
    assert {rss_article[2], atom_article[2]} == {"new", "url"}
    # the two daily summaries share a template but are different news
    assert by[("rss", "rss-2")][1] != by[("atom", "tag:agency.example,2024:2")][1]
    # the same entries under two xml:base values resolve to the same links and fold pairwise
    b1 = {url: story for (name, _), (url, story, _) in by.items() if name == "base1"}
    b2 = {url: story for (name, _), (url, story, _) in by.items() if name == "base2"}
    assert set(b1) == set(b2) == {"https://mirror.example/news/2024/first-story",
                                  "https://mirror.example/news/2024/second-story"}
    assert all(b1[url] == b2[url] for url in b1) and len(set(b1.values())) == 2
