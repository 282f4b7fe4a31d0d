"""The live listener inside ``monitor run``: events from a real (offline) Telethon client are routed
to their source and ingested through the pipeline — new post, edit → version, deletion → mark —
and an account without credentials is skipped without touching the client."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select
from telethon import TelegramClient
from telethon.sessions import MemorySession
from telethon.tl import types

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings, TelegramSettings
from monitor.sources.telegram_accounts import CLIENTS
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.models import HitRow, ItemRow, SourceRow
from monitor.service.telegram import run_live
from tests.sources.tgserver import FakeTelegram, channel

CH = 1234567890
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
CLAIM = "Срочно: под Донецком погибли шесть северокорейских офицеров."


def msg(i: int, text: str, **kw) -> types.Message:
    return types.Message(id=i, peer_id=types.PeerChannel(CH), date=T0 + timedelta(minutes=i),
                         message=text, post=True, **kw)


def new(message: types.Message, pts: int) -> types.UpdateNewChannelMessage:
    return types.UpdateNewChannelMessage(message=message, pts=pts, pts_count=1)


async def dispatch(client: TelegramClient, update) -> None:
    update._entities = {}
    await client._dispatch_update(update)


async def until(predicate, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await asyncio.to_thread(predicate):
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.05)


def live_world(store, history: list) -> tuple[Pipeline, Settings, Callable[[], TelegramClient]]:
    """A resolved channel source, a pipeline and a maker of an offline client whose channel has
    ``history`` (call it inside the event loop: Telethon 1.39 builds clients only there)."""
    with store.unit() as s:
        src = source_repo.add_source(s, type="telegram", locator="novosti_test",
                                     name="@novosti_test")
        src.state = {"channel_id": CH, "access_hash": 987654321, "username": "novosti_test"}
    settings = Settings(database_url=store.url, telegram=TelegramSettings(api_id=1, api_hash="x"))
    fake = FakeTelegram(channel(), history)

    def client() -> TelegramClient:
        return fake.install(TelegramClient(MemorySession(), api_id=1, api_hash="x"))

    return Pipeline(store, settings, alerts_hook=False), settings, client


def test_live_events_are_ingested_through_the_pipeline(store):
    pipeline, settings, make = live_world(store, [msg(i, f"Пост {i}") for i in range(1, 6)])
    with store.unit() as s:
        s.scalar(select(SourceRow)).cursor = "5"
        watch_repo.add_term(s, watch_repo.add_watchlist(s, "dprk"), '"северокорейские офицеры"')

    def item(eid: str):
        with store.unit() as s:
            return s.scalar(select(ItemRow).where(ItemRow.external_id == eid))

    async def scenario():
        client = make()
        CLIENTS.put(None, client)
        stop = asyncio.Event()
        task = asyncio.create_task(run_live(pipeline, settings, stop))
        try:
            await until(lambda: bool(client.list_event_handlers()))
            await dispatch(client, new(msg(6, CLAIM), 1))
            await until(lambda: item("6") is not None)
            edited = msg(6, CLAIM + " Обновлено: погибли семь.",
                         edit_date=T0 + timedelta(minutes=20))
            await dispatch(client, types.UpdateEditChannelMessage(message=edited, pts=2,
                                                                  pts_count=1))
            await until(lambda: item("6").version == 2)
            await dispatch(client, types.UpdateDeleteChannelMessages(channel_id=CH, messages=[6],
                                                                      pts=3, pts_count=1))
            await until(lambda: item("6").deleted_at is not None)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)
        assert client.list_event_handlers() == []  # the listener unregistered on stop

    try:
        asyncio.run(scenario())
    finally:
        CLIENTS._clients.pop("", None)
    with store.unit() as s:
        row = s.scalar(select(ItemRow).where(ItemRow.external_id == "6"))
        assert row.url == "https://t.me/novosti_test/6" and row.collector == "telegram-live"
        assert "семь" in row.text and row.deleted_at is not None
        hit = s.scalar(select(HitRow))
        assert hit.item_id == row.id and hit.item_version == 1
        assert s.scalar(select(SourceRow.cursor)) == "5"  # live events never move the cursor


def test_an_account_without_credentials_is_skipped(store, caplog):
    with store.unit() as s:
        src = source_repo.add_source(s, type="telegram", locator="chan", name="@chan",
                                     account="second")
        src.state = {"channel_id": CH, "access_hash": 1}
    pipeline = Pipeline(store, Settings(database_url=store.url), alerts_hook=False)

    async def scenario():
        stop = asyncio.Event()
        task = asyncio.create_task(run_live(pipeline, pipeline.settings, stop))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert "no api_id/api_hash" in caplog.text and "second" not in CLIENTS._clients


def test_a_disabled_channel_stops_being_ingested_live(store, monkeypatch):
    import monitor.service.telegram as service

    monkeypatch.setattr(service, "RELOAD_SECONDS", 0.2)
    pipeline, settings, make = live_world(store, [])

    def stored() -> set[str]:
        with store.unit() as s:
            return set(s.scalars(select(ItemRow.external_id)))

    async def scenario():
        client = make()
        CLIENTS.put(None, client)
        stop = asyncio.Event()
        task = asyncio.create_task(run_live(pipeline, settings, stop))
        try:
            await until(lambda: bool(client.list_event_handlers()))
            await dispatch(client, new(msg(1, "Первый пост"), 1))
            await until(lambda: stored() == {"1"})

            def routed() -> bool:  # the listener's handlers route the channel to its source
                return any(getattr(cb, "__self__", None) is not None
                           and cb.__self__.source_for(CH) is not None
                           for cb, _ in client.list_event_handlers())

            assert routed()
            with store.unit() as s:  # the operator disables the account's only channel
                source_repo.set_enabled(s, "@novosti_test", False)
            await until(lambda: not routed())  # a reload saw it (waited for, not slept on)
            await dispatch(client, new(msg(2, "Второй пост"), 2))
            await asyncio.sleep(0.5)
            assert stored() == {"1"}
            with store.unit() as s:  # and enables it again
                source_repo.set_enabled(s, "@novosti_test", True)
            await until(routed)
            await dispatch(client, new(msg(3, "Третий пост"), 3))
            await until(lambda: stored() == {"1", "3"})
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)

    try:
        asyncio.run(scenario())
    finally:
        CLIENTS._clients.pop("", None)
