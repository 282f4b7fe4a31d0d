"""Retention, queue lag and source silence on real databases, populated through the pipeline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from monitor.ingest.pipeline import Pipeline
from monitor.schedule import silence_limit
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.schedule import is_silent
from monitor.sources import scheduled_types
from monitor.store.maintenance import prune, queue_lag, tombstoned
from monitor.store.models import HitRow, ItemRow, ItemPayloadRow, ItemTombstoneRow, SourceRow, StoryRow
from monitor.types import Item as Value

NOW = datetime.now(timezone.utc).replace(microsecond=0)
CLAIM = "Погибли шесть северокорейских офицеров при ударе под Донецком, сообщает источник."
WEATHER = "Прогноз погоды на завтра: дожди и сильный ветер по всей области до самого вечера."


def value(eid: str, text: str, *, fetched: datetime = NOW, **kw) -> Value:
    return Value(external_id=eid, fetched_at=fetched, published_at=fetched - timedelta(minutes=5), text=text,
                 raw=f'{{"id": "{eid}"}}'.encode(), raw_format="json", **kw)


def count(s, model, *where) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where))


def test_retention_keeps_what_hits_stand_on_and_prunes_whole_hitless_stories(store):
    with store.unit() as s:
        ids = {n: source_repo.add_source(s, type="rss", locator=f"https://{n}.example/feed", name=n).id
               for n in ("a", "b")}
        watch_repo.add_term(s, watch_repo.add_watchlist(s, "dprk"), '"северокорейские офицеры"')
    pipeline = Pipeline(store, Settings(database_url=store.url), alerts_hook=False)
    pipeline.ingest(ids["a"], Batch(items=[
        value("claim", CLAIM, url="https://news.example/claim"),
        value("weather", WEATHER),
        value("lonely", "Короткая заметка без продолжения о ремонте дороги в посёлке."),
        value("old-of-live", "Объявление о плановом отключении воды в центральном районе города.",
              url="https://news.example/water"),
    ]))
    pipeline.ingest(ids["b"], Batch(items=[
        value("teaser", "Читайте подробности на сайте", url="https://news.example/claim"),
        value("weather-copy", WEATHER),
        # the same article again (same URL), much later: its story is still alive
        value("live", "Отключение воды в центральном районе продлили.", url="https://news.example/water",
              fetched=NOW + timedelta(days=30)),
    ]))
    with store.unit() as s:
        item = {i.external_id: i for i in s.scalars(select(ItemRow))}
        assert item["teaser"].story_id == item["claim"].story_id  # the url key joined them
        assert item["weather-copy"].story_id == item["weather"].story_id
        assert item["live"].story_id == item["old-of-live"].story_id
        assert count(s, HitRow) == 1 and count(s, ItemPayloadRow) == 7
        kept_ids = {item[k].id for k in ("claim", "teaser", "old-of-live", "live")}

    later = NOW + timedelta(days=40)
    with store.unit() as s:
        out = prune(s, now=later, raw_days=30, unmatched_days=30, window_days=7)
    assert out["items"] == 3 and out["stories"] == 2 and out["payloads"] == 5
    with store.unit() as s:
        assert {i.id for i in s.scalars(select(ItemRow))} == kept_ids
        # the hit's evidence stays; every other old payload went (the late copy's is recent)
        payload_items = set(s.scalars(select(ItemPayloadRow.item_id)))
        assert payload_items == {item_id for item_id in kept_ids
                                 if s.get(ItemRow, item_id).external_id in ("claim", "live")}
        # no story is left without items, and none lost the items of its timeline
        assert count(s, StoryRow, ~StoryRow.id.in_(select(ItemRow.story_id))) == 0
        assert count(s, StoryRow) == 2
        assert tombstoned(s, ids["a"], ["weather", "lonely", "claim", "nope"]) == {"weather", "lonely"}
        assert tombstoned(s, ids["b"], ["weather-copy", "weather"]) == {"weather-copy"}
    # the feed still lists the pruned entries: they do not come back as new
    again = pipeline.ingest(ids["a"], Batch(items=[value("weather", WEATHER), value("lonely", "x" * 40),
                                                   value("fresh", "Совсем новая заметка о погоде.", fetched=later)]))
    assert (again.new, again.versions) == (1, 0)
    with store.unit() as s:
        assert {i.external_id for i in s.scalars(select(ItemRow).where(ItemRow.source_id == ids["a"]))} == \
            {"claim", "old-of-live", "fresh"}
    with store.unit() as s:  # nothing more to prune (the fresh item is recent)
        again = prune(s, now=later, raw_days=30, unmatched_days=30, window_days=7)
        assert again["items"] == again["stories"] == again["payloads"] == 0
    with store.unit() as s:  # tombstones go when no feed could list such entries any more
        out = prune(s, now=later + timedelta(days=181), raw_days=None, unmatched_days=30, window_days=7)
        assert out["tombstones"] == 3
        # meanwhile the water notice's story went quiet too; the hit's story stays whole
        assert out["items"] == 3
        assert set(s.scalars(select(ItemTombstoneRow.external_id))) == {"old-of-live", "live", "fresh"}
        assert set(s.scalars(select(ItemRow.external_id))) == {"claim", "teaser"}


def test_queue_lag_waits_for_a_pause_to_end(store):
    with store.unit() as s:
        due = source_repo.add_source(s, type="rss", locator="https://due.example/f", name="due")
        paused = source_repo.add_source(s, type="rss", locator="https://paused.example/f", name="paused")
        due.next_check_at = NOW - timedelta(minutes=5)
        paused.next_check_at = NOW - timedelta(hours=2)
        paused.paused_until = NOW + timedelta(hours=1)  # Retry-After: not late, just told to wait
    with store.unit() as s:
        assert queue_lag(s, NOW, types=scheduled_types()) == 300
        s.get(SourceRow, due.id).enabled = False
    with store.unit() as s:
        assert queue_lag(s, NOW, types=scheduled_types()) == 0
        s.get(SourceRow, paused.id).paused_until = NOW - timedelta(minutes=30)
    with store.unit() as s:
        assert queue_lag(s, NOW, types=scheduled_types()) == 1800  # due since its pause ended


def test_silence_is_measured_against_each_source_s_pace(store):
    assert silence_limit(600, 48 * 3600) == 6 * 3600  # every 10 minutes: 8 gaps is too short a night
    assert silence_limit(3 * 3600, 48 * 3600) == 24 * 3600
    assert silence_limit(86400, 48 * 3600) == 48 * 3600
    assert silence_limit(None, 48 * 3600) == 48 * 3600
    with store.unit() as s:
        rows = {}
        for name, interval, pinned, quiet_h in (("busy", 600, None, 7), ("daily", 86400, None, 30),
                                                ("pinned", 600, 600, 7), ("fresh", 600, None, 1)):
            src = source_repo.add_source(s, type="telegram-web", locator=name, name=name)
            src.interval, src.pinned_interval = interval, pinned
            src.last_new_item_at = NOW - timedelta(hours=quiet_h)
            rows[name] = src
        s.flush()
        health = {h.name: h for h in source_repo.watched_health(s)}
        assert [n for n, h in health.items() if is_silent(h, NOW, 48 * 3600, "pace")] == ["busy"]
        assert is_silent(health["daily"], NOW + timedelta(hours=19), 48 * 3600, "pace")
        assert not is_silent(health["busy"], NOW, None, "pace")  # silence checks switched off
        # a type whose interval says nothing of its pace, and one imported on demand
        assert not is_silent(health["busy"], NOW, 48 * 3600, "fixed")
        assert not is_silent(health["daily"], NOW + timedelta(days=30), 48 * 3600, "never")
