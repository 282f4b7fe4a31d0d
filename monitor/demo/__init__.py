"""The offline demo: bundled news feeds and Telegram channels, served on loopback, run through the
whole pipeline (collect → match → dedup into stories → alerts) into a fresh SQLite database."""

from __future__ import annotations

import asyncio
import tempfile
from ipaddress import ip_network
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from monitor.demo.server import DemoServer
from monitor.settings import Settings, load_settings
from monitor.store.db import Store

FEEDS = [
    ("Kyiv Wire", "kyiv-wire.xml", "en"),
    ("Ukr-Novyny", "ukr-news.atom", None),
    ("Hanbando News", "hanbando.json", None),
    ("Russian Digest", "rus-digest.rdf", None),
]
CHANNELS = ["frontline_ru", "svodka_ua"]
TERMS = [
    '"северокорейские офицеры"',
    "(КНДР OR северокорейский) NEAR/3 (солдат OR офицер OR военный)",
    '"північнокорейські офіцери"',
    '"North Korean officers"',
    "북한군 AND 장교",
    "@kim_jong_un",
]
ALIASES = {"kim_jong_un": ["Ким Чен Ын", "Кім Чен Ин", "Kim Jong Un", "Kim Jong-un", "김정은"]}


@dataclass
class DemoResult:
    db_url: str
    passes: list = field(default_factory=list)
    webhook: list = field(default_factory=list)


def build(store: Store, server_url: str, *, hook_url: str | None) -> None:
    """Sources, a desk with a local webhook, a watchlist with terms and aliases."""
    from monitor.match import validate
    from monitor.store import desks, sources, watch

    with store.unit() as s:
        for name, file, lang in FEEDS:
            sources.add_source(s, type="rss", locator=f"{server_url}/feeds/{file}", name=name, language=lang)
        for channel in CHANNELS:
            sources.add_source(s, type="telegram-web", locator=channel, name=f"t.me/{channel}")
        for name, members in ALIASES.items():
            watch.set_alias_set(s, name, members)
        desk = desks.add_desk(s, "demo-desk", targets=[hook_url] if hook_url else [], timezone="Europe/Kyiv")
        wl = watch.add_watchlist(s, "dprk-in-ukraine", desk=desk)
        aliases = watch.alias_map(s)
        for query in TERMS:
            watch.add_term(s, wl, query, validate=lambda q: validate(q, aliases))


def run_demo(db_url: str | None = None, *, echo: Callable[[str], None] = print, keep: Path | None = None,
             settings: Settings | None = None) -> DemoResult:
    """Serve the bundled sources, collect twice (the second pass finds nothing new), show the result."""
    from monitor.ingest.runtime import pipeline_for
    from monitor.store.migrate import upgrade

    if db_url is None:
        folder = keep or Path(tempfile.mkdtemp(prefix="monitor-demo-"))
        folder.mkdir(parents=True, exist_ok=True)
        db_url = f"sqlite:///{folder / 'demo.db'}"
    settings = settings or load_settings(database_url=db_url)
    settings = settings.model_copy(update={"database_url": db_url}, deep=True)  # its telegram section is changed below
    result = DemoResult(db_url=db_url)
    with DemoServer() as server:
        settings.telegram.web_base_url = server.url
        # The demo's feeds and pages are on loopback: open exactly its own server's address.
        settings.fetch.allowed_private_networks = [ip_network(server.httpd.server_address[0])]
        settings.telegram.web_request_spacing = 0.0
        store = Store(db_url)
        try:
            upgrade(store)
            build(store, server.url, hook_url=f"json://{server.url.removeprefix('http://')}/hook")
            echo(f"demo database: {db_url}")
            echo(f"serving {len(FEEDS)} feeds and {len(CHANNELS)} Telegram channels at {server.url}\n")

            async def collect_twice():
                async with pipeline_for(store, settings, pool=False) as pipeline:
                    first = await pipeline.collect(everything=True)
                    second = await pipeline.collect(everything=True)
                return first, second

            first, second = asyncio.run(collect_twice())
            result.passes = [first, second]
            for label, summary in (("first pass", first), ("second pass", second)):
                echo(f"{label}: fetched {summary.fetched}, not modified {summary.not_modified}, "
                     f"new items {summary.new_items}, hits {summary.hits}, errors {summary.errors}")
                for res in summary.results:
                    if res.error:
                        echo(f"  ! {res.source}: {res.error}")
            _show(store, echo)
            result.webhook = _deliver(store, settings, server, echo)
        finally:
            store.dispose()
    return result


def _show(store: Store, echo) -> None:
    from monitor.store.hits import list_hits
    from monitor.store.models import SourceRow, StoryRow
    from monitor.store.stories import story_timeline
    from monitor.store.views import story_count

    with store.unit() as s:
        echo("\nhits (matched words in « »):")
        story_ids = []
        for r in list_hits(s):
            echo(f"  [{r.source.name}] {r.query}\n      {r.hit.snippet}")
            if r.hit.story_id not in story_ids:
                story_ids.append(r.hit.story_id)
        echo("\nstories with hits, as they spread:")
        for story_id in story_ids:
            story = s.get(StoryRow, story_id)
            first = s.get(SourceRow, story.first_source_id)
            echo(f"  story {story.id}: first seen {story.first_seen_at:%H:%M}Z at {first.name}, "
                 f"{story.source_count} source(s)")
            for item, src in story_timeline(s, story.id):
                when = item.published_at or item.fetched_at
                echo(f"      {when:%H:%M}Z  {src.name:<18} {item.url}  [{item.dedup_kind}]")
        total = story_count(s)
        echo(f"\n{total} stories in all")


def _deliver(store: Store, settings: Settings, server: DemoServer, echo) -> list:
    try:
        from monitor.alerts.worker import deliver_due
    except ImportError:
        return []
    asyncio.run(deliver_due(store, settings))
    echo(f"\nalerts delivered to the local webhook: {len(server.received)}")
    for payload in server.received:
        echo(f"  alert #{payload.get('alert_id')}: {payload.get('title')}")
    return list(server.received)
