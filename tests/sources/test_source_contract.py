"""The Source port's contract, run over every registered source type, offline.

Each type gets its real outside world on loopback or on disk (a feed server, a t.me/s page
server, Telethon TL objects behind a fake client, a Desktop export) and must: be registered under
its own ``type``; declare its capabilities (scheduled, concurrency class and limit, silence rule,
fixed interval); refuse a locator it cannot use with ``InvalidInput``; and yield :class:`Batch`
values of frozen, adapted :class:`Item` s (aware times, a raw payload kept as evidence, unique
external ids) without touching the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from telethon import TelegramClient, types
from telethon.sessions import MemorySession

from monitor.errors import InvalidInput
from monitor.settings import FetchSettings, Settings, TelegramSettings
from monitor.sources import SOURCE_TYPES, Batch, CollectContext, Source, source_class
from monitor.sources.http import Fetcher
from monitor.sources.telegram_accounts import ClientPool
from monitor.sources.telegram_export import TelegramExportSource
from monitor.types import Item, SourceConfig
from tests.sources.feedserver import FeedServer, Route
from tests.sources.tgserver import FIXTURES, FakeTelegram, TgServer, channel

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Лента</title>
<link>http://example.com/</link>{items}</channel></rss>"""
ENTRY = """<item><title>Новость {n}</title><link>http://example.com/{n}</link><guid>urn:x:{n}</guid>
<pubDate>Sat, 29 Jun 2024 10:0{n}:00 +0300</pubDate><description>Текст {n}</description></item>"""


@dataclass
class Harness:
    source: Source
    config: SourceConfig
    ctx: CollectContext
    bad_locator: str


@contextlib.asynccontextmanager
async def rss():
    with FeedServer() as server:
        server.routes["/feed.xml"] = Route(
            body=FEED.format(items="".join(ENTRY.format(n=n) for n in range(3))).encode(),
            headers={"Content-Type": "application/rss+xml"})
        settings = Settings(fetch=FetchSettings(timeout=2.0, connect_timeout=1.0,
                                                allowed_private_networks=["127.0.0.1/32"]))
        async with Fetcher(settings.fetch, trust_env=False) as fetcher:
            cls = source_class("rss")
            yield Harness(cls(), SourceConfig(id=1, name="feed", type="rss",
                                              locator=server.url("/feed.xml")),
                          CollectContext(settings, fetcher=fetcher), "not a url at all")


@contextlib.asynccontextmanager
async def telegram():
    messages = [types.Message(id=i, peer_id=types.PeerChannel(1234567890),
                              date=T0 + timedelta(minutes=i), message=f"Сообщение {i}", post=True)
                for i in range(1, 6)]
    client = FakeTelegram(channel(), messages).install(
        TelegramClient(MemorySession(), api_id=1, api_hash="x"))
    pool = ClientPool()
    pool.put(None, client)
    settings = Settings(telegram=TelegramSettings(api_id=1, api_hash="x"))
    yield Harness(source_class("telegram")(pool, wait_time=0),
                  SourceConfig(id=2, name="@novosti_test", type="telegram", locator="novosti_test"),
                  CollectContext(settings), "https://example.com/not/a/channel")


@contextlib.asynccontextmanager
async def telegram_web():
    server = TgServer().start()
    try:
        web = FIXTURES / "web"
        server.page("/s/vesti_test", (web / "vesti_page3.html").read_bytes())
        server.page("/s/vesti_test?before=120", (web / "vesti_page2.html").read_bytes())
        server.page("/s/vesti_test?before=110", (web / "vesti_page1.html").read_bytes())
        settings = Settings(telegram=TelegramSettings(web_base_url=server.base_url,
                                                      web_request_spacing=0))
        yield Harness(source_class("telegram-web")(),
                      SourceConfig(id=3, name="@vesti_test", type="telegram-web",
                                   locator="vesti_test"),
                      CollectContext(settings), "https://example.com/not/a/channel")
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def telegram_export():
    locator = TelegramExportSource.check_locator(str(FIXTURES / "export"))
    yield Harness(source_class("telegram-export")(),
                  SourceConfig(id=4, name="import", type="telegram-export", locator=locator,
                               options={"chat_id": 1357924680}),
                  CollectContext(Settings()), "/no/such/export/anywhere")


HARNESSES = {"rss": rss, "telegram": telegram, "telegram-web": telegram_web,
             "telegram-export": telegram_export}


def test_every_registered_type_has_a_contract_harness():
    assert set(HARNESSES) == set(SOURCE_TYPES)


@pytest.mark.parametrize("name", sorted(SOURCE_TYPES))
def test_declares_its_capabilities(name):
    cls = source_class(name)
    settings = Settings()
    assert issubclass(cls, Source) and cls.type == name
    assert isinstance(cls.scheduled, bool)
    assert cls.concurrency_class and cls.concurrency_limit(settings) >= 1
    assert cls.silence in ("pace", "fixed", "never")
    assert cls.silence != "never" or not cls.scheduled  # a polled source can fall silent
    interval = cls.fixed_interval(settings)
    assert interval is None or interval > 0
    assert cls.default_name(cls.check_locator(_good_locator(name)))


def _good_locator(name: str) -> str:
    return {"rss": "https://example.com/feed.xml", "telegram": "@novosti_test",
            "telegram-web": "https://t.me/s/vesti_test",
            "telegram-export": str(FIXTURES / "export")}[name]


@pytest.mark.parametrize("name", sorted(SOURCE_TYPES))
async def test_refuses_a_locator_it_cannot_use(name):
    async with HARNESSES[name]() as h:
        with pytest.raises(InvalidInput):
            type(h.source).check_locator(h.bad_locator)


@pytest.mark.parametrize("name", sorted(SOURCE_TYPES))
async def test_yields_batches_of_frozen_adapted_items(name):
    async with HARNESSES[name]() as h:
        async with asyncio.timeout(30):
            batches = [b async for b in h.source.collect(h.config, h.ctx)]
    assert batches and all(isinstance(b, Batch) for b in batches)
    items = [item for b in batches for item in b.items]
    assert items, f"{name} yielded no items from its fixture"
    assert len({i.external_id for i in items}) == len(items)
    for item in items:
        assert isinstance(item, Item) and item.external_id
        assert item.fetched_at.tzinfo is not None
        assert item.published_at is None or item.published_at.tzinfo is not None
        assert item.raw is not None and item.raw_format  # the evidence it came from
        with pytest.raises(dataclasses.FrozenInstanceError):
            item.text = "changed"  # type: ignore[misc]


