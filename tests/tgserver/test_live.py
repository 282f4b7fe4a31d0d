"""The live listener of ``monitor run`` (``service.telegram.run_live`` + ``TelegramListener``) on a
real MTProto server, for a channel the account joined: posts, a burst, edits and deletions arrive
live and are stored through the pipeline; after the service was down, what was posted meanwhile is
stored by the gap-fill poll, or without any poll by catch-up from the update state the session
file saved, and live updates flow again from the same session file."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select

from monitor.ingest.pipeline import Pipeline
from monitor.sources.telegram_accounts import CLIENTS
from monitor.store import sources as source_repo
from monitor.store.models import ItemRow, SourceRow
from monitor.service.telegram import run_live

pytestmark = pytest.mark.tgserver


async def until(predicate, what: str, timeout: float = 60.0):
    """Poll ``predicate`` (run in a thread: it reads the database) until it returns truthy."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not (value := await asyncio.to_thread(predicate)):
        assert loop.time() < end, f"not reached within {timeout:.0f} s: {what}"
        await asyncio.sleep(0.1)
    return value


def stored(store, channel: str) -> dict[str, ItemRow]:
    with store.unit() as s:
        rows = s.scalars(select(ItemRow).join(SourceRow, ItemRow.source_id == SourceRow.id)
                         .where(SourceRow.name == f"@{channel}")).all()
        s.expunge_all()
        return {row.external_id: row for row in rows}


@pytest.fixture
def desk(tg_server, publisher, reader, store, backend, tmp_path):
    """``desk(name)``: a joined channel with one post, its source in ``store`` (not collected)."""

    def make(name: str) -> tuple[str, list[int], Pipeline]:
        channel = f"{name}_{backend}"
        tg_server.channel(publisher, channel, channel)
        first = tg_server.post(publisher, channel, 1, prefix="before")
        tg_server.join(reader.session_string(), channel)  # nothing joins by itself yet
        reader.copy_to(tmp_path / "data")
        settings = reader.settings(tmp_path / "data", database_url=store.url)
        with store.unit() as s:
            source_repo.add_source(s, type="telegram", locator=channel, name=f"@{channel}")
        return channel, first, Pipeline(store, settings, alerts_hook=False)

    return make


@asynccontextmanager
async def service(pipeline: Pipeline):
    """``run_live`` as ``monitor run`` runs it, until the block ends (then its clients close)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_live(pipeline, pipeline.settings, stop))

    def listening() -> bool:
        client = CLIENTS._clients.get("")
        return client is not None and bool(client.list_event_handlers())

    try:
        await until(listening, "the listener registered its handlers", timeout=30)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def collect(pipeline: Pipeline, *, close: bool = True) -> None:
    """One run of the telegram sources, as the scheduler starts it (the gap-fill poll). A run on
    its own closes its clients after; beside the live listener they stay (they are shared)."""
    try:
        summary = await pipeline.collect(everything=True)
        assert summary.errors == 0, [r.error for r in summary.results]
    finally:
        if close:
            await CLIENTS.close()


async def test_live_posts_edits_and_deletions_are_stored(tg_server, publisher, store, desk):
    channel, first, pipeline = desk("live")
    await collect(pipeline)
    assert set(stored(store, channel)) == {str(first[0])}
    async with service(pipeline):
        posted = tg_server.post(publisher, channel, 2, prefix="Срочно")
        rows = await until(lambda: (r := stored(store, channel)).keys() >= {str(i) for i in posted}
                           and r, "two live posts stored")
        assert [rows[str(i)].text for i in posted] == ["Срочно 1", "Срочно 2"]
        assert {rows[str(i)].collector for i in posted} == {"telegram-live"}
        assert rows[str(posted[0])].url == f"https://t.me/{channel}/{posted[0]}"

        burst = tg_server.post(publisher, channel, 20, prefix="burst")
        await until(lambda: stored(store, channel).keys() >= {str(i) for i in burst},
                    "a burst of 20 posts stored")

        tg_server.edit(publisher, channel, posted[0], "Срочно 1 (уточнение: семь)")
        edited = await until(lambda: (r := stored(store, channel)[str(posted[0])]).version == 2
                             and r, "the edit stored as version 2")
        assert edited.text == "Срочно 1 (уточнение: семь)" and edited.edited_at is not None

        assert tg_server.delete(publisher, channel, posted[1], burst[0]) == 2
        await until(lambda: all(stored(store, channel)[str(i)].deleted_at
                                for i in (posted[1], burst[0])), "both deletions marked")
        assert stored(store, channel)[str(posted[0])].deleted_at is None
    with store.unit() as s:  # live updates never move the cursor; only the poll does
        cursor = s.scalar(select(SourceRow.cursor).where(SourceRow.name == f"@{channel}"))
    assert cursor == str(first[0])


async def test_after_the_service_was_down_missed_posts_are_stored_and_live_resumes(
        tg_server, publisher, store, desk):
    """The gap-fill poll alone (catch-up off): what was posted meanwhile is stored by it."""
    channel, first, pipeline = desk("restart")
    pipeline.settings.telegram.catch_up = False
    await collect(pipeline)
    async with service(pipeline):
        live = tg_server.post(publisher, channel, 1, prefix="live")
        await until(lambda: str(live[0]) in stored(store, channel), "a live post before the stop")
    # the service is down: its client disconnected, the session file kept its state
    missed = tg_server.post(publisher, channel, 3, prefix="missed")
    assert not stored(store, channel).keys() & {str(i) for i in missed}
    async with service(pipeline):
        await collect(pipeline, close=False)  # the scheduled gap-fill poll of `monitor run`
        rows = stored(store, channel)
        assert [rows[str(i)].text for i in missed] == ["missed 1", "missed 2", "missed 3"]
        assert {rows[str(i)].collector for i in missed} == {"telegram"}
        after = tg_server.post(publisher, channel, 1, prefix="after restart")
        await until(lambda: str(after[0]) in stored(store, channel), "a live post after restart")
    with store.unit() as s:
        cursor = s.scalar(select(SourceRow.cursor).where(SourceRow.name == f"@{channel}"))
    assert cursor == str(missed[-1])


async def test_on_restart_catch_up_alone_delivers_the_posts_missed_while_down(
        tg_server, publisher, store, desk):
    """No poll after the restart: the listener resumes the update state the session file saved
    when the service stopped (``telegram_live.catch_up``) and the missed posts arrive as live
    updates. Observed on this server (piltover): catch-up brings back the missed *posts*, but
    no edit or deletion made meanwhile reached the client — those are found by the recheck
    window (tests/tgserver/test_scale.py), whichever way Telegram answers."""
    channel, first, pipeline = desk("catchup")
    await collect(pipeline)
    async with service(pipeline):
        live = tg_server.post(publisher, channel, 1, prefix="live")
        await until(lambda: str(live[0]) in stored(store, channel), "a live post before the stop")
    missed = tg_server.post(publisher, channel, 3, prefix="missed")
    async with service(pipeline):
        rows = await until(lambda: (r := stored(store, channel)).keys() >= {str(i) for i in missed}
                           and r, "the missed posts, through catch-up")
    assert [rows[str(i)].text for i in missed] == ["missed 1", "missed 2", "missed 3"]
    assert {rows[str(i)].collector for i in missed} == {"telegram-live"}
    with store.unit() as s:  # nothing polled: the cursor is where the first collect left it
        cursor = s.scalar(select(SourceRow.cursor).where(SourceRow.name == f"@{channel}"))
    assert int(cursor) < missed[0]

