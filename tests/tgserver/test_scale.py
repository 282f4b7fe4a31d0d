"""Desk-scale Telegram against a real MTProto server: the account keeper joins an assigned
channel by itself and its posts arrive live; what happened while the service was down is recorded
on restart — the posts through catch-up or the gap-fill poll, the edits and deletions through the
recheck window (on this server catch-up brought back no edits or deletions, only posts:
tests/tgserver/test_live.py shows catch-up alone for posts); the recheck window finds edits and
deletions of a channel that is polled, not joined (the server omits deleted ids)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from monitor.ingest.pipeline import Pipeline
from monitor.sources.telegram_accounts import CLIENTS
from monitor.store import sources as source_repo
from monitor.store.models import SourceRow, TelegramMemberRow
from tests.tgserver.test_live import collect, service, stored, until

pytestmark = pytest.mark.tgserver


def _desk(tg_server, publisher, reader, store, tmp_path, name, **telegram):
    tg_server.channel(publisher, name, name)
    first = tg_server.post(publisher, name, 1, prefix="before")
    reader.copy_to(tmp_path / "data")
    settings = reader.settings(tmp_path / "data", database_url=store.url, **telegram)
    with store.unit() as s:
        source_repo.add_source(s, type="telegram", locator=name, name=f"@{name}")
    return first, Pipeline(store, settings, alerts_hook=False)


async def test_the_keeper_joins_and_what_happened_while_down_is_recorded_on_restart(
        tg_server, publisher, reader, store, backend, tmp_path, monkeypatch):
    import monitor.service.telegram as svc

    monkeypatch.setattr(svc, "RELOAD_SECONDS", 0.5)
    channel = f"scale_join_{backend}"
    first, pipeline = _desk(tg_server, publisher, reader, store, tmp_path, channel,
                            recheck=[(86400, 1)])
    await collect(pipeline)  # resolves it (the scheduler's first run)

    def joined() -> bool:
        with store.unit() as s:
            return s.scalar(select(TelegramMemberRow.status)) == "joined"

    async with service(pipeline):
        await until(joined, "the keeper joined the channel")
        live = tg_server.post(publisher, channel, 2, prefix="live")
        await until(lambda: stored(store, channel).keys() >= {str(i) for i in live},
                    "live posts after the join")
    await CLIENTS.close()
    missed = tg_server.post(publisher, channel, 2, prefix="missed")
    tg_server.edit(publisher, channel, live[0], "live 1 (edited while down)")
    assert tg_server.delete(publisher, channel, live[1]) == 1
    async with service(pipeline):  # catch-up on start, then the scheduled poll and recheck
        await collect(pipeline, close=False)
        await asyncio.sleep(1.1)
        await collect(pipeline, close=False)
        await until(lambda: stored(store, channel).keys() >= {str(i) for i in missed},
                    "posts made while down")
        await until(lambda: stored(store, channel)[str(live[0])].version == 2, "the edit")
        await until(lambda: stored(store, channel)[str(live[1])].deleted_at, "the deletion")
        after = tg_server.post(publisher, channel, 1, prefix="after restart")
        await until(lambda: str(after[0]) in stored(store, channel), "live again after restart")


async def test_the_recheck_window_records_edits_and_deletions_of_a_polled_channel(
        tg_server, publisher, reader, store, backend, tmp_path):
    channel = f"scale_recheck_{backend}"
    first, pipeline = _desk(tg_server, publisher, reader, store, tmp_path, channel,
                            max_channels=0, recheck=[(86400, 1)])
    posts = tg_server.post(publisher, channel, 3, prefix="post")
    await collect(pipeline)
    await collect(pipeline)  # the first recheck plans the tier
    tg_server.edit(publisher, channel, posts[0], "post 1, corrected")
    assert tg_server.delete(publisher, channel, posts[1]) == 1
    time.sleep(1.1)
    await collect(pipeline)
    rows = stored(store, channel)
    assert rows[str(posts[0])].version == 2 and rows[str(posts[0])].text == "post 1, corrected"
    assert rows[str(posts[1])].deleted_at is not None and rows[str(posts[2])].deleted_at is None
    with store.unit() as s:
        assert s.scalar(select(SourceRow.last_status).where(SourceRow.name == f"@{channel}")) \
            == "ok"
    await asyncio.sleep(0)
