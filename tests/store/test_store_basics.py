"""Unit of work, UTC timestamps and uniqueness on both backends."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.errors import AlreadyExists, NotFound
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.models import ItemRow, SourceRow


def test_timestamps_come_back_aware_utc(store):
    kyiv = timezone(timedelta(hours=2))
    with store.unit() as s:
        src = source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="a")
        s.add(ItemRow(source_id=src.id, external_id="1", fetched_at=datetime(2024, 10, 1, 12, 0, tzinfo=kyiv),
                   content_hash="h"))
    with store.unit() as s:
        item = s.scalar(select(ItemRow))
        assert item.fetched_at.tzinfo is not None
        assert item.fetched_at == datetime(2024, 10, 1, 10, 0, tzinfo=timezone.utc)


def test_naive_timestamps_are_refused(store):
    with pytest.raises(Exception, match="naive datetime"):
        with store.unit() as s:
            src = source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="a")
            s.add(ItemRow(source_id=src.id, external_id="1", fetched_at=datetime(2024, 1, 1), content_hash="h"))
            s.flush()


def test_unit_of_work_rolls_back_everything_on_error(store):
    with pytest.raises(RuntimeError):
        with store.unit() as s:
            source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="a")
            raise RuntimeError("crash mid-unit")
    with store.unit() as s:
        assert s.scalars(select(SourceRow)).all() == []


def test_item_unique_per_source_and_external_id(store):
    now = datetime.now(timezone.utc)
    with store.unit() as s:
        src = source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="a")
        s.add(ItemRow(source_id=src.id, external_id="x", fetched_at=now, content_hash="h"))
    with pytest.raises(IntegrityError):
        with store.unit() as s:
            src = source_repo.get_source(s, "a")
            s.add(ItemRow(source_id=src.id, external_id="x", fetched_at=now, content_hash="h2"))


def test_duplicate_names_are_domain_errors(store):
    with store.unit() as s:
        source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="a")
        watch_repo.add_watchlist(s, "w")
    with store.unit() as s:
        with pytest.raises(AlreadyExists):
            source_repo.add_source(s, type="rss", locator="https://b.example/feed", name="a")
        with pytest.raises(AlreadyExists):
            source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="b")
        with pytest.raises(AlreadyExists):
            watch_repo.add_watchlist(s, "w")
        with pytest.raises(NotFound):
            source_repo.get_source(s, "nope")


def test_term_edits_keep_history(store):
    with store.unit() as s:
        wl = watch_repo.add_watchlist(s, "w")
        term = watch_repo.add_term(s, wl, "офицер*")
        watch_repo.edit_term(s, term, query='"северокорейские офицеры"')
        watch_repo.edit_term(s, term, enabled=False)
        watch_repo.edit_term(s, term, enabled=False)  # no change, no version
        versions = watch_repo.term_versions(s, term)
    assert [(v.version, v.query, v.enabled) for v in versions] == [
        (1, "офицер*", True), (2, '"северокорейские офицеры"', True), (3, '"северокорейские офицеры"', False)]


def test_due_sources_order_and_pause(store):
    now = datetime.now(timezone.utc)
    with store.unit() as s:
        a = source_repo.add_source(s, type="rss", locator="https://a.example/f", name="a")
        b = source_repo.add_source(s, type="rss", locator="https://b.example/f", name="b")
        c = source_repo.add_source(s, type="rss", locator="https://c.example/f", name="c")
        a.next_check_at = now - timedelta(minutes=1)
        b.next_check_at = now - timedelta(minutes=10)
        c.next_check_at = now + timedelta(hours=1)
    with store.unit() as s:
        assert [x.name for x in source_repo.due_sources(s, now=now)] == ["b", "a"]
        source_repo.get_source(s, "b").paused_until = now + timedelta(minutes=5)
    with store.unit() as s:
        assert [x.name for x in source_repo.due_sources(s, now=now)] == ["a"]
        assert [x.name for x in source_repo.due_sources(s, now=now, everything=True)] == ["b", "a", "c"]
        source_repo.set_enabled(s, "a", False)
    with store.unit() as s:
        assert source_repo.due_sources(s, now=now) == []
