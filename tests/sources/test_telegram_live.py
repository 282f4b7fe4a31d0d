"""TelegramListener: events built offline and dispatched through the client's own update handling
(``TelegramClient._dispatch_update``), and the gap-fill that recovers missed posts."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from telethon import TelegramClient
from telethon.sessions import MemorySession
from telethon.tl import types

from monitor.settings import Settings, TelegramSettings
from monitor.sources.base import Batch, SourceConfig
from monitor.sources.telegram_live import TelegramListener
from tests.sources.tgserver import FakeTelegram, channel

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CH, OTHER = 1234567890, 42424242
STATE = {"channel_id": CH, "access_hash": 987654321, "username": "novosti_test", "title": "Новости"}


def msg(i: int, text: str = "", *, chat: int = CH, **kw) -> types.Message:
    return types.Message(id=i, peer_id=types.PeerChannel(chat), date=T0 + timedelta(minutes=i),
                         message=text or f"Пост {i}", post=True, **kw)


async def dispatch(client: TelegramClient, update) -> None:
    update._entities = {}  # set by Telethon's update loop for every update it dispatches
    await client._dispatch_update(update)


@pytest.fixture
async def live():  # async: Telethon 1.39 builds its client only inside an event loop
    fake = FakeTelegram(channel(), [msg(i) for i in range(1, 6)])
    client = fake.install(TelegramClient(MemorySession(), api_id=1, api_hash="x"))
    got: list[tuple[SourceConfig, Batch]] = []
    arrived = asyncio.Event()

    async def on_batch(source, batch):
        got.append((source, batch))
        arrived.set()

    source = SourceConfig(id=7, name="@novosti_test", type="telegram", locator="novosti_test",
                          cursor="5", state=STATE)
    unresolved = SourceConfig(id=8, name="@later", type="telegram", locator="later_one")
    settings = Settings(telegram=TelegramSettings(api_id=1, api_hash="x"))
    listener = TelegramListener(client, [source, unresolved], on_batch, settings=settings)
    listener.start()
    listener.start()  # idempotent: handlers are registered once
    return fake, client, listener, source, got, arrived


async def test_new_post_is_routed_to_its_source(live):
    fake, client, listener, source, got, _ = live
    assert [s.name for s in listener.unresolved] == ["@later"]
    await dispatch(client, types.UpdateNewChannelMessage(message=msg(6, "Срочно: новость"),
                                                         pts=1, pts_count=1))
    await dispatch(client, types.UpdateNewChannelMessage(message=msg(3, chat=OTHER),
                                                         pts=2, pts_count=1))
    assert len(got) == 1
    routed, batch = got[0]
    assert routed is source and batch.cursor is None  # only the ascending poll moves the cursor
    (item,) = batch.items
    assert (item.external_id, item.text, item.url, item.channel_id) == \
        ("6", "Срочно: новость", "https://t.me/novosti_test/6", CH)


async def test_edit_yields_item_again_with_edited_at(live):
    fake, client, listener, source, got, _ = live
    edited = msg(4, "Исправленный текст", edit_date=T0 + timedelta(hours=2))
    await dispatch(client, types.UpdateEditChannelMessage(message=edited, pts=3, pts_count=1))
    (item,) = got[0][1].items
    assert item.external_id == "4" and item.text == "Исправленный текст"
    assert item.edited_at == T0 + timedelta(hours=2)


async def test_delete_yields_deletion(live):
    fake, client, listener, source, got, _ = live
    await dispatch(client, types.UpdateDeleteChannelMessages(channel_id=CH, messages=[4, 5],
                                                             pts=4, pts_count=2))
    await dispatch(client, types.UpdateDeleteChannelMessages(channel_id=OTHER, messages=[1],
                                                             pts=5, pts_count=1))
    await dispatch(client, types.UpdateDeleteMessages(messages=[9], pts=6, pts_count=1))
    assert len(got) == 1
    routed, batch = got[0]
    (deletion,) = batch.deletions
    assert routed is source and deletion.external_ids == ("4", "5") and not batch.items
    assert deletion.deleted_at.tzinfo is not None


async def test_album_items_arrive_together(live):
    fake, client, listener, source, got, arrived = live
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    album = [msg(i, "Подпись альбома" if i == 10 else " ", grouped_id=777, media=photo)
             for i in (10, 11, 12)]
    for n, m in enumerate(album):
        await dispatch(client, types.UpdateNewChannelMessage(message=m, pts=10 + n, pts_count=1))
    await asyncio.wait_for(arrived.wait(), timeout=10)  # Telethon delivers albums after a pause
    assert len(got) == 1  # not also once per message through NewMessage
    items = got[0][1].items
    assert [i.external_id for i in items] == ["10", "11", "12"]
    assert {i.grouped_id for i in items} == {777} and items[0].text == "Подпись альбома"
    assert all(i.media_type == "photo" for i in items)


async def test_gap_fill_recovers_a_missed_post(live):
    fake, client, listener, source, got, _ = live
    fake.messages += [msg(6, "Пропущенный пост"), msg(7, "Пост, пришедший вживую")]
    # Only 7 arrives live: the update for 6 was lost.
    await dispatch(client, types.UpdateNewChannelMessage(message=fake.messages[-1], pts=7,
                                                         pts_count=1))
    assert [i.external_id for _, b in got for i in b.items] == ["7"]
    got.clear()
    count = await listener.gap_fill(source)  # source.cursor == "5": what was committed
    assert count == 2
    (routed, batch), = got
    assert routed is source
    assert [i.external_id for i in batch.items] == ["6", "7"] and batch.cursor == "7"
    assert fake.resolves() == 0  # the stored access_hash was used


async def test_stop_unregisters_handlers(live):
    fake, client, listener, source, got, _ = live
    listener.stop()
    await dispatch(client, types.UpdateNewChannelMessage(message=msg(8), pts=8, pts_count=1))
    assert got == []
