"""The orchestrator on real databases: store once, versions, deletions, stories, hits, atomicity."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from monitor.errors import PermanentSourceError, RateLimited, SourceGone, TransientSourceError
from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.models import HitRow, ItemRow, ItemPayloadRow, ItemVersionRow, SourceRow, StoryRow
from monitor.types import Deletion, Forward
from monitor.types import Item as Value

NOW = datetime.now(timezone.utc).replace(microsecond=0)
CLAIM = ("Срочно: при ударе ВСУ по полигону под Донецком погибли шесть северокорейских офицеров, "
         "ещё трое ранены. Подробности уточняем.")


def value(eid: str, text: str, *, minutes: int = 0, **kw) -> Value:
    return Value(external_id=eid, fetched_at=NOW, published_at=NOW - timedelta(minutes=minutes), text=text, **kw)


@pytest.fixture
def setup(store):
    with store.unit() as s:
        ids = {}
        for name, type_ in (("feed-a", "rss"), ("feed-b", "rss"), ("chan-a", "telegram-web"),
                            ("chan-b", "telegram-web"), ("chan-c", "telegram-web")):
            ids[name] = source_repo.add_source(s, type=type_, locator=f"loc-{name}", name=name).id
        wl = watch_repo.add_watchlist(s, "dprk")
        term = watch_repo.add_term(s, wl, '"северокорейские офицеры"')
        ids["term"] = term.id
    return Pipeline(store, Settings(database_url=store.url), alerts_hook=False), ids


def count(store, model, *where) -> int:
    with store.unit() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_new_items_are_stored_once_matched_and_clustered(store, setup):
    pipeline, ids = setup
    batch = Batch(items=[value("1", CLAIM, raw=b'{"id": 1}', raw_format="json"), value("2", "Погода в Донецке")],
                  cursor="2")
    first = pipeline.ingest(ids["chan-a"], batch)
    assert (first.new, first.hits) == (2, 1)
    # where the time went, by stage (bench/ingest.py and /metrics show it; never asserted on)
    assert {"read", "enrich", "dedup", "stories", "write", "match", "hits", "commit"} <= set(first.seconds)
    again = pipeline.ingest(ids["chan-a"], batch)
    assert (again.new, again.unchanged, again.hits) == (0, 2, 0)
    assert count(store, ItemRow) == 2 and count(store, HitRow) == 1 and count(store, StoryRow) == 2
    with store.unit() as s:
        hit = s.scalar(select(HitRow))
        item = s.get(ItemRow, hit.item_id)
        assert hit.term_version == 1 and hit.item_version == 1 and hit.field == "text"
        start, end = hit.spans[0]
        assert "северокорейских" in item.text[start:end] or "офицеров" in item.text[start:end]
        assert "«" in hit.snippet and s.get(SourceRow, ids["chan-a"]).cursor == "2"
        assert item.language == "ru" and "северокореиских" not in (item.norm_text or "x")
        assert s.scalar(select(ItemPayloadRow.sha256)) is not None


def test_changed_content_is_a_new_version_and_is_matched_again(store, setup):
    pipeline, ids = setup
    pipeline.ingest(ids["chan-a"], Batch(items=[value("7", "Удар по полигону под Донецком.")]))
    assert count(store, HitRow) == 0
    res = pipeline.ingest(ids["chan-a"], Batch(items=[value("7", CLAIM, edited_at=NOW)]))
    assert (res.new, res.versions, res.hits) == (0, 1, 1)
    with store.unit() as s:
        item = s.scalar(select(ItemRow))
        assert item.version == 2 and item.text == CLAIM and item.edited_at == NOW
        versions = s.scalars(select(ItemVersionRow.text).order_by(ItemVersionRow.version)).all()
        assert versions == ["Удар по полигону под Донецком.", CLAIM]
        assert s.scalar(select(HitRow.item_version)) == 2


def test_counters_update_without_a_version_and_repeats_in_a_batch_are_versions(store, setup):
    pipeline, ids = setup
    pipeline.ingest(ids["chan-a"], Batch(items=[value("7", CLAIM, views=10)]))
    res = pipeline.ingest(ids["chan-a"], Batch(items=[value("7", CLAIM, views=25, forwards=3)]))
    assert (res.new, res.versions, res.unchanged, res.hits) == (0, 0, 1, 0)
    # the same post twice in one batch, edited in between: one row, two versions, two payloads
    res = pipeline.ingest(ids["chan-a"], Batch(items=[value("8", "Удар по полигону.", raw=b"1"),
                                                      value("8", CLAIM, raw=b"2", edited_at=NOW)]))
    assert (res.new, res.versions, res.hits) == (1, 1, 1)
    with store.unit() as s:
        first = s.scalar(select(ItemRow).where(ItemRow.external_id == "7"))
        assert (first.views, first.forwards, first.version) == (25, 3, 1)
        item = s.scalar(select(ItemRow).where(ItemRow.external_id == "8"))
        assert (item.version, item.text, item.edited_at) == (2, CLAIM, NOW)
        assert s.execute(select(ItemVersionRow.version, ItemVersionRow.text).where(ItemVersionRow.item_id == item.id)
                         .order_by(ItemVersionRow.version)).all() == [(1, "Удар по полигону."), (2, CLAIM)]
        assert s.scalars(select(ItemPayloadRow.version).where(ItemPayloadRow.item_id == item.id)
                         .order_by(ItemPayloadRow.version)).all() == [1, 2]
        hit = s.scalar(select(HitRow).where(HitRow.item_id == item.id))
        assert (hit.item_version, hit.story_id) == (2, item.story_id) and item.story_id is not None


def test_a_version_keeps_its_story_and_a_flagged_date(store, setup):
    pipeline, ids = setup
    pipeline.ingest(ids["feed-a"], Batch(items=[value("a1", "Удар по полигону под Донецком.", minutes=30)]))
    res = pipeline.ingest(ids["feed-a"], Batch(items=[
        Value(external_id="a1", fetched_at=NOW, published_at=NOW, date_flag="future", text=CLAIM)]))
    assert (res.versions, res.hits) == (1, 1)
    with store.unit() as s:
        item = s.scalar(select(ItemRow))
        assert item.published_at == NOW - timedelta(minutes=30) and item.date_flag is None
        assert s.scalar(select(HitRow.story_id)) == item.story_id is not None


def test_deletions_mark_and_never_erase(store, setup):
    pipeline, ids = setup
    pipeline.ingest(ids["chan-a"], Batch(items=[value("1", CLAIM)]))
    res = pipeline.ingest(ids["chan-a"], Batch(deletions=[Deletion(("1", "404"), NOW)]))
    assert res.deleted == 1
    with store.unit() as s:
        item = s.scalar(select(ItemRow))
        assert item.deleted_at == NOW and item.text == CLAIM
    assert count(store, HitRow) == 1


def test_forwards_by_three_channels_fold_into_the_origin_story(store, setup):
    pipeline, ids = setup
    pipeline.ingest(ids["chan-a"], Batch(items=[value("4512", CLAIM, minutes=90, channel_id=111)]))
    for i, chan in enumerate(("chan-b", "chan-c", "feed-a")):
        fwd = Forward(origin_channel_id=111, origin_post_id=4512)
        text = f"⚡️ {CLAIM}\n\nПідписатися | @{chan}" if i else CLAIM
        pipeline.ingest(ids[chan], Batch(items=[value(f"9{i}", text, minutes=80 - i, channel_id=200 + i,
                                                      forward=fwd)]))
    with store.unit() as s:
        stories = s.scalars(select(StoryRow)).all()
        assert len(stories) == 1
        story = stories[0]
        assert (story.item_count, story.source_count, story.first_source_id) == (4, 4, ids["chan-a"])
        kinds = sorted(s.scalars(select(ItemRow.dedup_kind)).all())
        assert kinds == ["forward", "forward", "forward", "new"]
    assert count(store, HitRow) == 4  # hits stay per item


def test_url_text_and_near_duplicates_join_and_near_misses_stay_apart(store, setup):
    pipeline, ids = setup
    url = "https://news.example/2024/10/officers"
    pipeline.ingest(ids["feed-a"], Batch(items=[value("a1", "Short summary A", url=url, title="Officers killed")]))
    pipeline.ingest(ids["feed-b"], Batch(items=[value("b1", "Different summary B", url=url, title="Officers")]))
    pipeline.ingest(ids["chan-a"], Batch(items=[value("10", CLAIM)]))
    pipeline.ingest(ids["chan-b"], Batch(items=[value("20", "🔥🔥 " + CLAIM + " https://t.me/x @chan_b")]))
    edited = CLAIM.replace("трое ранены", "четверо ранены")  # J ≈ 0.90: an edited repost
    pipeline.ingest(ids["chan-c"], Batch(items=[value("30", edited)]))
    other_day = ("Сводка за 13 октября: силы ПВО сбили 41 беспилотник над Курской, Брянской и Белгородской "
                 "областями, пострадавших нет, повреждены две линии электропередачи.")
    template = ("Сводка за 12 октября: силы ПВО сбили 30 беспилотников над Ростовской и Воронежской "
                "областями, пострадал один человек, повреждён жилой дом.")
    pipeline.ingest(ids["chan-a"], Batch(items=[value("11", template)]))
    pipeline.ingest(ids["chan-b"], Batch(items=[value("21", other_day)]))
    with store.unit() as s:
        by_eid = {it.external_id: it for it in s.scalars(select(ItemRow))}
        assert by_eid["a1"].story_id == by_eid["b1"].story_id and by_eid["b1"].dedup_kind == "url"
        assert by_eid["20"].story_id == by_eid["10"].story_id and by_eid["20"].dedup_kind == "text"
        assert by_eid["30"].story_id == by_eid["10"].story_id and by_eid["30"].dedup_kind == "near"
        assert by_eid["11"].story_id != by_eid["21"].story_id
        assert by_eid["a1"].story_id != by_eid["10"].story_id


def test_a_late_earlier_copy_becomes_the_story_first_seen(store, setup):
    pipeline, ids = setup
    pipeline.ingest(ids["chan-b"], Batch(items=[value("2", CLAIM, minutes=10)]))
    pipeline.ingest(ids["chan-a"], Batch(items=[value("1", CLAIM, minutes=60)]))  # archive import, older
    with store.unit() as s:
        story = s.scalar(select(StoryRow))
        assert story.first_source_id == ids["chan-a"] and story.first_seen_at == NOW - timedelta(minutes=60)


def test_a_crash_inside_a_batch_stores_nothing_and_the_retry_stores_once(store, setup):
    pipeline, ids = setup

    def boom(*args, **kwargs):
        raise RuntimeError("crash while handing hits to alerting")

    crashing = Pipeline(store, pipeline.settings, alerts_hook=boom)
    batch = Batch(items=[value("1", CLAIM), value("2", "другое")], cursor="2", etag='"v2"')
    with pytest.raises(RuntimeError):
        crashing.ingest(ids["chan-a"], batch)
    assert count(store, ItemRow) == 0 and count(store, StoryRow) == 0
    with store.unit() as s:
        assert s.get(SourceRow, ids["chan-a"]).cursor is None
    pipeline.ingest(ids["chan-a"], batch)
    pipeline.ingest(ids["chan-a"], batch)
    assert count(store, ItemRow) == 2 and count(store, HitRow) == 1 and count(store, StoryRow) == 2
    with store.unit() as s:
        assert (s.get(SourceRow, ids["chan-a"]).cursor, s.get(SourceRow, ids["chan-a"]).etag) == ("2", '"v2"')


def test_term_edits_are_picked_up_without_a_restart(store, setup):
    pipeline, ids = setup
    pipeline.ingest(ids["chan-a"], Batch(items=[value("1", "Ким Чен Ын посетил завод")]))
    assert count(store, HitRow) == 0
    with store.unit() as s:
        watch_repo.add_term(s, watch_repo.get_watchlist(s, "dprk"), '"Ким Чен Ын"')
    pipeline.ingest(ids["chan-a"], Batch(items=[value("2", "Ким Чен Ына встретили в Пхеньяне")]))
    assert count(store, HitRow) == 1


def test_outcomes_are_recorded_on_the_source(store, setup):
    pipeline, ids = setup
    sid = ids["feed-a"]
    pipeline.record_outcome(sid, error=TransientSourceError("timeout", status=None), now=NOW)
    with store.unit() as s:
        src = s.get(SourceRow, sid)
        assert src.error_count == 1 and "timeout" in src.last_error and src.next_check_at > NOW
    pipeline.record_outcome(sid, error=RateLimited("slow down", status=429, retry_after=900), now=NOW)
    with store.unit() as s:
        src = s.get(SourceRow, sid)
        assert src.paused_until == NOW + timedelta(seconds=900) and src.next_check_at >= src.paused_until
        assert src.last_status == "rate limited (429)"
    pipeline.record_outcome(sid, error=None, now=NOW)
    with store.unit() as s:
        src = s.get(SourceRow, sid)
        assert (src.error_count, src.last_error, src.paused_until) == (0, None, None)
        assert src.interval == Settings().fetch.max_interval == 7200  # nothing this week: the ceiling
    for _ in range(pipeline.settings.fetch.error_limit):
        pipeline.record_outcome(sid, error=PermanentSourceError("not a feed", status=200), now=NOW)
    with store.unit() as s:
        src = s.get(SourceRow, sid)
        assert src.enabled is False and src.last_status.startswith("stopped after 10 errors")
        assert source_repo.due_sources(s, now=NOW + timedelta(days=30)) == [] or \
            sid not in [x.id for x in source_repo.due_sources(s, now=NOW + timedelta(days=30))]
    pipeline.record_outcome(ids["feed-b"], error=SourceGone("410 Gone", status=410), now=NOW)
    with store.unit() as s:
        assert s.get(SourceRow, ids["feed-b"]).retired is True


def test_the_same_words_after_the_window_start_a_new_story(store, setup):
    pipeline, ids = setup
    notice = "Воздушная тревога в Харьковской области. Все в укрытия! Следите за официальными сообщениями."
    day = 24 * 60
    # the same notice in channel a 30 days ago, in b 29 days ago; then again in a today and b 5 min later
    pipeline.ingest(ids["chan-a"], Batch(items=[value("1", notice, minutes=30 * day)]))
    pipeline.ingest(ids["chan-b"], Batch(items=[value("1", notice, minutes=29 * day)]))
    pipeline.ingest(ids["chan-a"], Batch(items=[value("2", notice, minutes=10)]))
    res = pipeline.ingest(ids["chan-b"], Batch(items=[value("2", notice, minutes=5)]))
    assert res.stories_joined == 1
    with store.unit() as s:
        story = {(i.source_id, i.external_id): i.story_id for i in s.scalars(select(ItemRow))}
        old, new = story[(ids["chan-a"], "1")], story[(ids["chan-a"], "2")]
        assert old != new
        assert story[(ids["chan-b"], "1")] == old and story[(ids["chan-b"], "2")] == new
        assert s.get(StoryRow, new).item_count == 2 and s.get(StoryRow, old).item_count == 2


def test_a_live_channel_learns_its_footer_one_post_at_a_time(store, setup):
    pipeline, ids = setup
    footer = "\n\nПодписаться на канал | @chan_a_news"
    for i in range(6):  # live updates: one post per batch
        pipeline.ingest(ids["chan-a"], Batch(items=[value(str(i), f"Новость номер {i}: в городе прошёл фестиваль "
                                                                  f"и открылась выставка {i}.{footer}")]))
    with store.unit() as s:
        assert s.get(SourceRow, ids["chan-a"]).footer.endswith("@chan_a_news")
    pipeline.ingest(ids["chan-a"], Batch(items=[value("10", CLAIM + footer)]))
    res = pipeline.ingest(ids["chan-b"], Batch(items=[value("10", "⚡️ " + CLAIM)]))  # a copy without it
    assert res.stories_joined == 1
    with store.unit() as s:
        a, b = (s.scalar(select(ItemRow).where(ItemRow.source_id == ids[c], ItemRow.external_id == "10"))
                for c in ("chan-a", "chan-b"))
        assert a.story_id == b.story_id and b.dedup_kind == "text"


def test_nothing_is_ingested_while_retention_holds_the_writer(store, setup):
    import threading

    pipeline, ids = setup
    done = threading.Event()
    worker = threading.Thread(target=lambda: (pipeline.ingest(ids["chan-a"], Batch(items=[value("1", CLAIM)])),
                                              done.set()))
    with pipeline.writing():
        worker.start()
        assert not done.wait(0.5)  # the batch waits for the writer lock
        assert count(store, ItemRow) == 0
    worker.join(timeout=20)
    assert done.is_set() and count(store, ItemRow) == 1
