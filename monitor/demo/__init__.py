"""The offline demo: bundled news feeds and Telegram channels, served on loopback, run through the
whole pipeline (collect → match → dedup into stories → alerts) into an SQLite database.

A kept demo (``monitor demo --dir PATH``) can be run again: the sources and the desk's webhook are
pointed at this run's loopback server, and the collection finds nothing new."""

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
DESK, WATCHLIST = "demo-desk", "dprk-in-ukraine"


@dataclass
class DemoResult:
    db_url: str
    passes: list = field(default_factory=list)
    webhook: list = field(default_factory=list)


def build(
    store: Store, server_url: str, *, hook_url: str | None, settings: Settings | None = None
) -> bool:
    """Sources, a desk with a local webhook, a watchlist with terms and aliases; True when they
    were created, False when the demo was there and was re-pointed at ``server_url``."""
    from monitor.actions.sources import add_source, update_source
    from monitor.actions.terms import validator
    from monitor.errors import NotFound
    from monitor.store import desks, overview, watch

    settings = settings or Settings()
    specs = [(name, "rss", f"{server_url}/feeds/{file}", lang) for name, file, lang in FEEDS]
    specs += [(f"t.me/{channel}", "telegram-web", channel, None) for channel in CHANNELS]
    with store.unit() as s:
        try:
            desk = desks.get_desk(s, DESK)
        except NotFound:
            desk = None
        if desk is not None:  # a kept demo, run again: this run's server has another port
            for name, type_, locator, _lang in specs:
                if overview.source_record(s, name).locator != locator:
                    update_source(s, settings, name, locator=locator)
            for target in desk.targets:
                desks.remove_target(s, desk.id, str(target.id))
            if hook_url:
                desks.add_target(s, desk.id, hook_url)
            return False
        for name, type_, locator, lang in specs:
            add_source(s, settings, type=type_, locator=locator, name=name, language=lang)
        for name, members in ALIASES.items():
            watch.set_alias_set(s, name, members)
        desk = desks.add_desk(
            s, DESK, targets=[hook_url] if hook_url else [], timezone="Europe/Kyiv"
        )
        wl = watch.add_watchlist(s, WATCHLIST, desk=desk.id)
        check = validator(s, settings)
        for query in TERMS:
            watch.add_term(s, wl.id, query, validate=check)
    return True


def demo_db_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'demo.db'}"


def run_demo(
    db_url: str | None = None,
    *,
    echo: Callable[[str], None] = print,
    keep: Path | None = None,
    settings: Settings | None = None,
) -> DemoResult:
    """Serve the bundled sources, collect twice (the second pass finds nothing new), show it all."""
    from monitor.ingest.runtime import pipeline_for
    from monitor.store.migrate import upgrade

    if db_url is None:
        folder = keep or Path(tempfile.mkdtemp(prefix="monitor-demo-"))
        folder.mkdir(parents=True, exist_ok=True)
        db_url = demo_db_url(folder)
    settings = settings or load_settings(database_url=db_url)
    settings = settings.model_copy(
        update={"database_url": db_url}, deep=True
    )  # its telegram section is changed below
    result = DemoResult(db_url=db_url)
    with DemoServer() as server:
        settings.telegram.web_base_url = server.url
        # The demo's feeds and pages are on loopback: open exactly its own server's address.
        settings.fetch.allowed_private_networks = [ip_network(server.httpd.server_address[0])]
        settings.telegram.web_request_spacing = 0.0
        store = Store(db_url)
        try:
            upgrade(store)
            fresh = build(
                store,
                server.url,
                hook_url=f"json://{server.url.removeprefix('http://')}/hook",
                settings=settings,
            )
            echo(
                f"demo database: {db_url}"
                + ("" if fresh else " (kept from an earlier run: collecting again)")
            )
            echo(
                f"serving {len(FEEDS)} feeds and {len(CHANNELS)} Telegram channels "
                f"at {server.url}\n"
            )

            async def collect_twice():
                async with pipeline_for(store, settings, pool=False) as pipeline:
                    first = await pipeline.collect(everything=True)
                    second = await pipeline.collect(everything=True)
                return first, second

            first, second = asyncio.run(collect_twice())
            result.passes = [first, second]
            for label, summary in (("first pass", first), ("second pass", second)):
                echo(
                    f"{label}: fetched {summary.fetched}, not modified {summary.not_modified}, "
                    f"new items {summary.new_items}, hits {summary.hits}, errors {summary.errors}"
                )
                for res in summary.results:
                    if res.error:
                        echo(f"  ! {res.source}: {res.error}")
            _show(store, echo)
            result.webhook = _deliver(store, settings, server, echo)
        finally:
            store.dispose()
    return result


def _show(store: Store, echo) -> None:
    from monitor.store import feed, views

    with store.unit() as s:
        hits = views.list_hits(s, oldest_first=True)
        story_ids = list(dict.fromkeys(h.story_id for h in hits if h.story_id))
        stories = [feed.get_story(s, i) for i in story_ids]
        lines = feed.timelines(s, story_ids)
        total = feed.story_count(s)
    echo("\nhits (matched words in « »):")
    for h in hits:
        echo(f"  [{h.source}] {h.term_query}\n      {h.snippet}")
    echo("\nstories with hits, as they spread:")
    for story in stories:
        echo(
            f"  story {story.id}: first seen {story.first_seen_at:%H:%M}Z at {story.first_source}, "
            f"{story.source_count} source(s)"
        )
        for e in lines.get(story.id, []):
            echo(f"      {e.seen_at:%H:%M}Z  {e.source:<18} {e.url}  [{e.joined}]")
    echo(f"\n{total} stories in all")


def _deliver(store: Store, settings: Settings, server: DemoServer, echo) -> list:
    from monitor.alerts.worker import deliver_due

    asyncio.run(deliver_due(store, settings))
    echo(f"\nalerts delivered to the local webhook: {len(server.received)}")
    for payload in server.received:
        echo(f"  alert #{payload.get('alert_id')}: {payload.get('title')}")
    return list(server.received)
