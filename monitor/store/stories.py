"""Stories: fold the same news from many sources into one, enforced in SQL.

Exact keys live in ``dedup_keys`` (unique per kind and value: the first item holding a key owns
it); near-duplicate candidates come from ``lsh_bands`` within a window on the items' published
times and are confirmed on their stored MinHash signatures. Every item belongs to a story (a story
of one when it has no copies); the story knows its first-seen item, time and source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from monitor.store.models import DedupKey, Item, LshBand, Source, Story


@dataclass(frozen=True, slots=True)
class Cluster:
    """What the dedup stage computed for one item (pure values; see monitor.dedup)."""

    keys: Sequence[tuple[str, str]]  # (kind, value), strongest first
    signature: bytes | None  # MinHash signature bytes
    bands: Sequence[str]  # LSH band keys


def _insert_ignore(s: Session, model, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on both backends (the first owner of a key wins)."""
    if not rows:
        return
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    s.execute(dialect_insert(model).on_conflict_do_nothing(), rows)


def assign_story(
    s: Session, item: Item, cluster: Cluster, *, window: timedelta, similarity: float,
    similarity_fn,
) -> tuple[int, str]:
    """Put ``item`` into a story; returns (story id, how: a key kind, ``near`` or ``new``)."""
    seen_at = item.published_at or item.fetched_at
    story_id, how = None, "new"
    values = [v for _, v in cluster.keys]
    if values:
        rows = s.execute(select(DedupKey.value, DedupKey.story_id, DedupKey.kind)
                         .where(DedupKey.value.in_(values))).all()
        found = {value: (story, kind) for value, story, kind in rows}
        for kind, value in cluster.keys:  # strongest key first
            if value in found:
                story_id, how = found[value][0], kind
                break
    if story_id is None and cluster.signature and cluster.bands:
        lo, hi = seen_at - window, seen_at + window
        candidates = s.execute(
            select(LshBand.item_id, LshBand.story_id).where(
                LshBand.band_key.in_(list(cluster.bands)), LshBand.seen_at >= lo, LshBand.seen_at <= hi,
                LshBand.item_id != item.id).distinct()).all()
        best = 0.0
        if candidates:
            sigs = dict(s.execute(select(Item.id, Item.minhash).where(
                Item.id.in_([c[0] for c in candidates]))).all())
            for cand_item, cand_story in candidates:
                other = sigs.get(cand_item)
                if other is None:
                    continue
                score = similarity_fn(cluster.signature, other)
                if score >= similarity and score > best:
                    best, story_id, how = score, cand_story, "near"
    if story_id is None:
        story = Story(first_item_id=item.id, first_source_id=item.source_id, first_seen_at=seen_at,
                      last_seen_at=seen_at, item_count=1, source_count=1, title=_title(item))
        s.add(story)
        s.flush()
        story_id = story.id
    else:
        _join(s, story_id, item, seen_at)
    item.story_id, item.dedup_kind = story_id, how
    item.minhash = cluster.signature
    _insert_ignore(s, DedupKey, [{"kind": k, "value": v, "item_id": item.id, "story_id": story_id,
                                  "seen_at": seen_at} for k, v in cluster.keys])
    if cluster.bands:
        s.execute(insert(LshBand), [{"band_key": b, "item_id": item.id, "story_id": story_id,
                                     "seen_at": seen_at} for b in cluster.bands])
    return story_id, how


def _title(item: Item) -> str | None:
    if item.title:
        return item.title[:300]
    text = (item.text or "").strip()
    return text.split("\n", 1)[0][:300] or None


def _join(s: Session, story_id: int, item: Item, seen_at: datetime) -> None:
    pg = s.get_bind().dialect.name == "postgresql"
    story = s.get(Story, story_id, with_for_update=pg)  # PostgreSQL: serialize joins per story
    item.story_id = story_id
    s.flush()
    story.item_count, story.source_count = s.execute(
        select(func.count(Item.id), func.count(func.distinct(Item.source_id))).where(Item.story_id == story_id)
    ).one()
    if seen_at < story.first_seen_at:  # an earlier copy arrived late (backfill, import)
        story.first_seen_at, story.first_item_id, story.first_source_id = seen_at, item.id, item.source_id
        story.title = _title(item) or story.title
    if seen_at > story.last_seen_at:
        story.last_seen_at = seen_at


def prune_bands(s: Session, *, older_than: datetime) -> int:
    """Drop LSH band keys that fell out of the near-duplicate window."""
    from sqlalchemy import delete

    return s.execute(delete(LshBand).where(LshBand.seen_at < older_than)).rowcount or 0


def story_timeline(s: Session, story_id: int) -> list[tuple[Item, Source]]:
    """Every item of a story with its source, in the order the story spread."""
    q = (select(Item, Source).join(Source, Item.source_id == Source.id).where(Item.story_id == story_id)
         .order_by(func.coalesce(Item.published_at, Item.fetched_at), Item.id))
    return list(s.execute(q))


def list_stories(
    s: Session, *, since: datetime | None = None, watchlist_id: int | None = None, limit: int | None = None,
) -> Sequence[Story]:
    from monitor.store.models import Hit

    q = select(Story)
    if since:
        q = q.where(Story.last_seen_at >= since)
    if watchlist_id is not None:
        q = q.where(Story.id.in_(select(Hit.story_id).where(Hit.watchlist_id == watchlist_id)))
    q = q.order_by(Story.first_seen_at.desc(), Story.id.desc())
    if limit:
        q = q.limit(limit)
    return s.scalars(q).all()
