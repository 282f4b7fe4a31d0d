"""Stories: fold the same news from many sources into one, enforced in SQL.

Exact keys live in ``dedup_keys`` (unique per kind and value: the first item holding a key owns
it); near-duplicate candidates come from ``lsh_bands`` within a window on the items' published
times and are confirmed on their stored MinHash signatures. A text key (the same words) joins
only within that window too: the same notice a month later is a new story, which then owns the
key; URLs and Telegram posts are the same story however late a copy comes. Every item belongs to
a story (a story of one when it has no copies); the story knows its first-seen item, time and
source.

This module reads the candidates (:func:`key_owners`, :func:`band_candidates`) and writes the
outcome (:func:`write_new_stories`, :func:`link_stories`); the decision itself is
:func:`monitor.dedup.stories.decide`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import BigInteger, String, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.models import DedupKeyRow, ItemRow, LshBandRow, StoryRow
from monitor.store.values import BandCandidate, KeyOwner, Placement, StoryDecision

_ITEMS, _STORIES = ItemRow.__table__, StoryRow.__table__
_KEYS, _BANDS = DedupKeyRow.__table__, LshBandRow.__table__


def _insert_ignore(s: Session, table, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on both backends (the first owner of a key wins)."""
    if not rows:
        return
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(insert(table).on_conflict_do_nothing(), rows)


def _chunks_in(s: Session, column, values: list, type_) -> list:
    """``column IN (values)`` conditions covering ``values``: on PostgreSQL one ``= ANY(array)``
    (one parameter, nothing for the driver to parse), elsewhere IN lists of 500."""
    if not values:
        return []
    if s.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam(None, values, type_=ARRAY(type_)))]
    return [column.in_(values[i:i + 500]) for i in range(0, len(values), 500)]


def key_owners(s: Session, values: Sequence[str]) -> list[KeyOwner]:
    """The stored owners of exact keys (any kind) among ``values``."""
    out: list[KeyOwner] = []
    values = list(dict.fromkeys(values))
    for i in range(0, len(values), 500):
        q = (select(_KEYS.c.value, _KEYS.c.kind, _KEYS.c.story_id, _KEYS.c.seen_at)
             .where(_KEYS.c.value.in_(values[i:i + 500])))
        out += [KeyOwner(*row) for row in s.execute(q)]
    return out


def band_candidates(s: Session, bands: Sequence[str], lo: datetime, hi: datetime) -> list[BandCandidate]:
    """Stored items in any of ``bands`` seen within [lo, hi], with their MinHash signatures."""
    rows = []
    for among in _chunks_in(s, _BANDS.c.band_key, list(dict.fromkeys(bands)), String):
        rows += s.execute(select(_BANDS.c.band_key, _BANDS.c.item_id, _BANDS.c.story_id,
                                 _BANDS.c.seen_at)
                          .where(among, _BANDS.c.seen_at >= lo, _BANDS.c.seen_at <= hi)).all()
    sigs: dict[int, bytes | None] = {}
    for among in _chunks_in(s, _ITEMS.c.id, list({r[1] for r in rows}), BigInteger):
        sigs.update(s.execute(select(_ITEMS.c.id, _ITEMS.c.minhash).where(among)).all())
    return [BandCandidate(band, item_id, story_id, when, sigs.get(item_id))
            for band, item_id, story_id, when in rows]


def missing_stories(s: Session, ids: set[int]) -> set[int]:
    """Those of ``ids`` that are no story (pruned) or no longer take items (merged away)."""
    if not ids:
        return set()
    live = s.scalars(select(_STORIES.c.id).where(_STORIES.c.id.in_(sorted(ids)),
                                                 _STORIES.c.merged_into.is_(None)))
    return ids - set(live)


def take_story_ids(s: Session, n: int) -> list[int]:
    """``n`` story ids taken up front (for :func:`write_new_stories`)."""
    return allocate_ids(s, _STORIES, n)


def write_new_stories(s: Session, decision: StoryDecision, *, now: datetime,
                      ids: Sequence[int] | None = None) -> dict[int, int]:
    """Insert the stories a batch starts (before their items); the story id of every placed
    item, by item id. ``ids``: taken up front (by ``ref``; unused ones stay unused)."""
    if ids is None:
        ids = allocate_ids(s, _STORIES, len(decision.new_stories))
    insert_rows(s, _STORIES, [
        dict(id=story_id, first_item_id=new.first_item_id, first_source_id=new.first_source_id,
             first_seen_at=new.first_seen_at, last_seen_at=new.first_seen_at, item_count=1,
             source_count=1, title=new.title, created_at=now)
        for new, story_id in zip(decision.new_stories, ids)])
    return {p.item_id: p.story_id if p.story_id is not None else ids[p.new_ref]
            for p in decision.placements}


def link_stories(s: Session, decision: StoryDecision, story_of: dict[int, int]) -> None:
    """After the items are stored: their exact keys and bands, the text keys whose story ended
    (now owned by the item's new story), and the counters of the stories that gained items."""
    keys, bands, renewed = [], [], []
    joined: dict[int, list[Placement]] = {}
    for p in decision.placements:
        story_id = story_of[p.item_id]
        keys += [{"kind": k, "value": v, "item_id": p.item_id, "story_id": story_id,
                  "seen_at": p.seen_at} for k, v in p.keys]
        bands += [{"band_key": b, "item_id": p.item_id, "story_id": story_id, "seen_at": p.seen_at}
                  for b in p.bands]
        renewed += [{"_value": v, "item_id": p.item_id, "story_id": story_id, "seen_at": p.seen_at}
                    for v in p.renewed]
        if p.how != "new":
            joined.setdefault(story_id, []).append(p)
    _insert_ignore(s, _KEYS, keys)
    if renewed:
        s.execute(update(_KEYS).where(_KEYS.c.kind == "text", _KEYS.c.value == bindparam("_value")),
                  renewed)
    insert_rows(s, _BANDS, bands)
    _update_joined(s, joined)


_JOINED = ("id", "first_item_id", "first_source_id", "first_seen_at", "last_seen_at", "item_count",
           "source_count", "title")


def _update_joined(s: Session, joined: dict[int, list[Placement]]) -> None:
    """Counters, first- and last-seen of the stories that gained items (one aggregate query); an
    earlier copy arriving late (backfill, import) becomes the story's first item."""
    if not joined:
        return
    ids = sorted(joined)
    q = select(*(_STORIES.c[c] for c in _JOINED)).where(_STORIES.c.id.in_(ids)).order_by(_STORIES.c.id)
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()  # concurrent writers joining the same story count in turn
    stories = {row["id"]: dict(row) for row in s.execute(q).mappings()}
    counts = {sid: (n, sources) for sid, n, sources in s.execute(
        select(_ITEMS.c.story_id, func.count(_ITEMS.c.id), func.count(func.distinct(_ITEMS.c.source_id)))
        .where(_ITEMS.c.story_id.in_(ids)).group_by(_ITEMS.c.story_id)).all()}
    for story_id, members in joined.items():
        story = stories[story_id]
        story["item_count"], story["source_count"] = counts.get(
            story_id, (story["item_count"], story["source_count"]))
        for p in members:
            if p.seen_at < story["first_seen_at"]:
                story.update(first_seen_at=p.seen_at, first_item_id=p.item_id,
                             first_source_id=p.source_id, title=p.title or story["title"])
            if p.seen_at > story["last_seen_at"]:
                story["last_seen_at"] = p.seen_at
    s.execute(update(_STORIES).where(_STORIES.c.id == bindparam("_id")),
              [{"_id": story.pop("id"), **story} for story in stories.values()])


