"""Our Telegram collector through real Telethon against a real MTProto server: resolve a channel by
username once, backfill oldest → newest, resume from the cursor while the server's message ids
skip (one counter for every chat), bound the first backfill, and ``monitor collect`` storing posts
into SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from telethon import utils

from monitor.errors import PermanentSourceError
from monitor.sources.base import CollectContext, SourceConfig
from monitor.sources.telegram import TelegramSource
from monitor.sources.telegram_accounts import ClientPool
from monitor.store.models import ItemRow, SourceRow

pytestmark = pytest.mark.tgserver


def bare(marked: int) -> int:
    return utils.resolve_id(marked)[0]


def source(locator: str, **kw) -> SourceConfig:
    return SourceConfig(id=1, name=f"@{locator}", type="telegram", locator=locator, **kw)


async def collect(reader, config: SourceConfig, **telegram):
    """One run of our collector, with its own client (connected on first use, then closed)."""
    pool = ClientPool()
    try:
        ctx = CollectContext(reader.settings(**telegram))
        return [b async for b in TelegramSource(pool, wait_time=0).collect(config, ctx)]
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def channels(tg_server, publisher):
    """Two channels; posts to the second fall between the first's, so its ids skip."""
    watch = tg_server.channel(publisher, "nk_watch", "NK watch")
    other = tg_server.channel(publisher, "other_news", "Other news")
    return {"nk_watch": watch, "other_news": other}


async def test_resolve_then_backfill_ascending_and_resume_across_skipping_ids(
        tg_server, publisher, reader, channels):
    first = tg_server.post(publisher, "nk_watch", texts=["Пхеньян: запуск ракеты", "second {n}"],
                           n=3)
    batches = await collect(reader, source("nk_watch"))
    assert batches[0].items == () and batches[0].state == {
        "channel_id": bare(channels["nk_watch"]), "access_hash": batches[0].state["access_hash"],
        "username": "nk_watch", "title": "NK watch"}
    assert isinstance(batches[0].state["access_hash"], int)
    items = [i for b in batches for i in b.items]
    # the "channel created" service message is not a post, but the cursor passed it
    assert [int(i.external_id) for i in items] == first
    assert [i.text for i in items] == ["Пхеньян: запуск ракеты", "second 2",
                                       "Пхеньян: запуск ракеты"]
    assert items[0].url == f"https://t.me/nk_watch/{first[0]}"
    assert items[0].channel_id == bare(channels["nk_watch"]) and items[0].raw_format == "tl"
    assert batches[-1].cursor == str(first[-1])

    # posts elsewhere in between: the channel's next ids are not consecutive
    newer: list[int] = []
    for _ in range(2):
        tg_server.post(publisher, "other_news", 2)
        newer += tg_server.post(publisher, "nk_watch", 2, prefix="Срочно")
    assert newer[1] + 1 < newer[2]  # a gap the other channel's posts used
    resumed = await collect(reader, source("nk_watch", cursor=batches[-1].cursor,
                                           state=batches[0].state))
    assert all(b.state is None for b in resumed)  # resolved once, never again
    assert [int(i.external_id) for b in resumed for i in b.items] == newer
    assert resumed[-1].cursor == str(newer[-1])
    again = await collect(reader, source("nk_watch", cursor=resumed[-1].cursor,
                                         state=batches[0].state))
    assert [i for b in again for i in b.items] == []


async def test_first_backfill_is_bounded_by_backfill_limit(tg_server, publisher, reader, channels):
    ids = tg_server.post(publisher, "other_news", 5, prefix="limited")
    batches = await collect(reader, source("other_news"), backfill_limit=2)
    assert [int(i.external_id) for b in batches for i in b.items] == ids[-2:]
    assert batches[-1].cursor == str(ids[-1])


async def test_unknown_channels_are_permanent_errors_and_known_ids_resolve(reader, channels):
    with pytest.raises(PermanentSourceError, match="no Telegram channel has this username"):
        await collect(reader, source("nobody_here_at_all"))
    # by id: only what the session's entity cache learned (here: from resolving the username)
    with pytest.raises(PermanentSourceError, match="the account does not know this channel"):
        await collect(reader, source(str(bare(channels["other_news"]) + 1000)))
    await collect(reader, source("nk_watch"), backfill_limit=0)
    by_id = await collect(reader, source(str(channels["nk_watch"])), backfill_limit=0)
    assert by_id[0].state["username"] == "nk_watch"
    assert by_id[0].state["channel_id"] == bare(channels["nk_watch"])


def test_monitor_collect_stores_posts_in_the_database(tg_server, publisher, reader, cli, store,
                                                      backend, tmp_path, monkeypatch):
    """On SQLite and PostgreSQL: add the channel, collect, more posts, collect again."""
    channel = f"desk_{backend}"  # one channel per backend
    tg_server.channel(publisher, channel, f"Desk {channel}")
    first = tg_server.post(publisher, channel, 3, prefix="КНДР")
    reader.copy_to(tmp_path / "data")  # the cli fixture's data dir
    for key, value in tg_server.env().items():
        monkeypatch.setenv(key, value)
    assert cli("source", "add", "telegram", f"@{channel}")[0] == 0
    code, out, err = cli("collect", "--quiet")
    assert code == 0 and "new items: 3" in out and "errors: 0" in out, out + err
    newer = tg_server.post(publisher, channel, 2, prefix="Новое")
    code, out, err = cli("collect", "--all", "--quiet")
    assert code == 0 and "new items: 2" in out and "errors: 0" in out, out + err
    code, out, _ = cli("items", "--source", f"@{channel}", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(int(r["external_id"]) for r in rows) == first + newer
    with store.unit() as s:
        src = s.scalar(select(SourceRow).where(SourceRow.name == f"@{channel}"))
        assert src.cursor == str(newer[-1]) and src.state["username"] == channel
        texts = dict(s.execute(select(ItemRow.external_id, ItemRow.text)).all())
    assert texts[str(first[0])] == "КНДР 1" and texts[str(newer[-1])] == "Новое 2"
