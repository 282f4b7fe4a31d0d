"""Desk corrections of stories: split an item out into a story of its own, merge one story into
another. What ingest decides later never undoes them:

* a split item's exact keys, LSH bands, hits and event row move with it (a later copy of it joins
  its new story, never the one it was split from); its ``dedup_kind`` becomes ``desk``;
* a merged story's items, keys, bands, hits and event rows move to the story it was merged into
  (a later copy of any of them joins that one); the emptied story keeps its row, with
  ``merged_into`` set, so old links and alerts still lead somewhere.

Both take the coverage lock and the story keys of the items they move (see
:mod:`monitor.store.locks`), so no batch decides stories beside them, and give the moved event
rows new sequence numbers, so every node's coverage index rebuilds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.errors import InvalidInput, NotFound
from monitor.store import events as event_repo
from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.locks import COVERAGE, lock_keys, story_keys
from monitor.store.models import DedupKeyRow, HitRow, ItemRow, LshBandRow, StoryRow

_ITEMS, _STORIES = ItemRow.__table__, StoryRow.__table__
_MOVED = (DedupKeyRow.__table__, LshBandRow.__table__, HitRow.__table__)


def _lock(s: Session, item_ids: list[int]) -> None:
    keys = s.execute(select(DedupKeyRow.kind, DedupKeyRow.value)
                     .where(DedupKeyRow.item_id.in_(item_ids))).all()
    bands = s.scalars(select(LshBandRow.band_key).where(LshBandRow.item_id.in_(item_ids))).all()
    lock_keys(s, [COVERAGE] + story_keys([(k, v) for k, v in keys], bands))


def _story(s: Session, story_id: int) -> StoryRow:
    story = s.get(StoryRow, story_id)
    if story is None:
        raise NotFound(f"no story with id {story_id}")
    if story.merged_into is not None:
        raise InvalidInput(f"story {story_id} was merged into story {story.merged_into}")
    return story


def recount(s: Session, story_id: int) -> None:
    """A story's first item, source and time, last time, counts and title from its items."""
    when = func.coalesce(_ITEMS.c.published_at, _ITEMS.c.fetched_at)
    first = s.execute(select(_ITEMS.c.id, _ITEMS.c.source_id, when, _ITEMS.c.title, _ITEMS.c.text)
                      .where(_ITEMS.c.story_id == story_id).order_by(when, _ITEMS.c.id)
                      .limit(1)).first()
    if first is None:
        s.execute(update(_STORIES).where(_STORIES.c.id == story_id)
                  .values(item_count=0, source_count=0))
        return
    n, sources, last = s.execute(
        select(func.count(_ITEMS.c.id), func.count(func.distinct(_ITEMS.c.source_id)),
               func.max(when)).where(_ITEMS.c.story_id == story_id)).one()
    s.execute(update(_STORIES).where(_STORIES.c.id == story_id).values(
        first_item_id=first[0], first_source_id=first[1], first_seen_at=first[2],
        last_seen_at=last, item_count=n, source_count=sources, title=_title(first[3], first[4])))


def _title(title: str | None, text: str | None) -> str | None:
    if title:
        return title[:300]
    return (text or "").strip().split("\n", 1)[0][:300] or None


def split_item(s: Session, item_id: int, *, by: str, now: datetime,
               story_id: int | None = None) -> tuple[int, int]:
    """Move item ``item_id`` out of its story (which must be ``story_id`` when given) into a new
    story of its own; returns (the story it left, the new story)."""
    item = s.get(ItemRow, item_id)
    if item is None:
        raise NotFound(f"no item with id {item_id}")
    _lock(s, [item_id])
    s.refresh(item)
    old = item.story_id
    if old is None:
        raise InvalidInput(f"item {item_id} belongs to no story")
    if story_id is not None and old != story_id:
        raise NotFound(f"no item {item_id} in story {story_id}")
    others = s.scalar(select(func.count(ItemRow.id)).where(ItemRow.story_id == old,
                                                            ItemRow.id != item_id))
    if not others:
        raise InvalidInput(f"item {item_id} is alone in story {old}: nothing to split")
    (new,) = allocate_ids(s, _STORIES, 1)
    seen = item.published_at or item.fetched_at
    insert_rows(s, _STORIES, [dict(
        id=new, first_item_id=item_id, first_source_id=item.source_id, first_seen_at=seen,
        last_seen_at=seen, item_count=1, source_count=1, title=_title(item.title, item.text),
        created_at=now)])
    s.execute(update(_ITEMS).where(_ITEMS.c.id == item_id).values(
        story_id=new, dedup_kind="desk", dedup_reason=f"split out of story {old} by {by}"))
    for table in _MOVED:
        s.execute(update(table).where(table.c.item_id == item_id).values(story_id=new))
    event_repo.move_items(s, [item_id], new)
    recount(s, old)
    return old, new


def merge_stories(s: Session, target: int, other: int, *, by: str) -> int:
    """Merge story ``other`` into story ``target``; returns how many items moved."""
    if target == other:
        raise InvalidInput("a story cannot be merged into itself")
    _story(s, target)
    moved = list(s.scalars(select(ItemRow.id).where(ItemRow.story_id == other)))
    _lock(s, moved or [-1])
    story = _story(s, other)
    moved = list(s.scalars(select(ItemRow.id).where(ItemRow.story_id == other)))
    first = story.first_item_id
    s.execute(update(_ITEMS).where(_ITEMS.c.story_id == other).values(story_id=target))
    s.execute(update(_ITEMS).where(_ITEMS.c.id == first).values(
        dedup_kind="desk", dedup_reason=f"story {other} merged in by {by}"))
    for table in _MOVED:
        s.execute(update(table).where(table.c.story_id == other).values(story_id=target))
    event_repo.move_items(s, moved, target)
    s.execute(update(_STORIES).where(_STORIES.c.id == other).values(merged_into=target))
    # stories merged into ``other`` before now lead to ``target``
    s.execute(update(_STORIES).where(_STORIES.c.merged_into == other).values(merged_into=target))
    recount(s, target)
    recount(s, other)
    return len(moved)
