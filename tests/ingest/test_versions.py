"""The item versioning rules (monitor.ingest.versions.decide), value in, value out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.ingest.versions import decide
from monitor.store.values import StoredItem
from monitor.types import Item

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def item(ext="1", text="Текст", **kw) -> Item:
    return Item(external_id=ext, fetched_at=kw.pop("fetched_at", T0), text=text, **kw)


def stored(value: Item, **kw) -> StoredItem:
    base = dict(id=7, external_id=value.external_id, content_hash=value.content_hash, version=1,
                language="ru", published_at=value.published_at, edited_at=value.edited_at,
                story_id=3, views=value.views, forwards=value.forwards)
    return StoredItem(**(base | kw))


def test_unknown_is_new_and_a_pruned_one_stays_gone():
    changes = decide([item("1"), item("2")], {}, pruned={"2"})
    assert [(c.value.external_id, c.status, c.stored) for c in changes] == [("1", "new", None)]


def test_changed_content_is_the_next_version_and_keeps_a_first_seen_date_without_a_good_one():
    first = item(published_at=T0)
    row = stored(first, version=2)
    dated = decide([item(text="Правка", published_at=T0 + timedelta(hours=1))], {"1": row})[0]
    assert (dated.status, dated.version, dated.keep_date) == ("version", 3, False)
    assert dated.stored == row
    undated = decide([item(text="Правка", date_flag="missing", published_at=T0)], {"1": row})[0]
    assert undated.keep_date and undated.version == 3


def test_same_content_is_unchanged_but_moved_counters_are_written():
    value = item(views=10)
    assert decide([value], {"1": stored(value)})[0].status == "unchanged"
    assert decide([item(views=25)], {"1": stored(value)})[0].status == "counters"
    assert decide([item(views=None)], {"1": stored(value)})[0].status == "unchanged"


def test_an_older_copy_never_replaces_a_newer_one():
    newer = item(text="Вторая правка", edited_at=T0 + timedelta(hours=2))
    row = stored(newer, version=3)
    old = decide([item(text="Первая правка", edited_at=T0 + timedelta(hours=1))], {"1": row})[0]
    assert (old.status, old.version) == ("stale", 3)
    later = decide([item(text="Третья", edited_at=T0 + timedelta(hours=3))], {"1": row})[0]
    assert (later.status, later.version) == ("version", 4)
    # without an edit time on both sides there is no telling: the copy is a new version
    assert decide([item(text="Без даты")], {"1": row})[0].status == "version"


def test_a_value_repeated_in_a_batch_is_compared_with_its_earlier_copy():
    changes = decide([item(text="a"), item(text="a"), item(text="b"), item(text="b", views=5)], {})
    assert [(c.status, c.version) for c in changes] == [
        ("new", 1), ("unchanged", 1), ("version", 2), ("counters", 2)]
    assert changes[2].stored.id == 0  # the new item's id is the caller's to give
