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


def assign_stories(
    s: Session, entries: Sequence[tuple[Item, Cluster]], *, window: timedelta, similarity: float,
    similarity_fn,
) -> list[str]:
    """Put each new item into a story; returns how each joined (a key kind, ``near`` or ``new``).

    One query finds the stored owners of all the batch's exact keys, one the stored LSH band
    rows within the window; items are then decided in order, so a copy later in the same batch
    joins an earlier one. Keys and bands are inserted in bulk (``ON CONFLICT DO NOTHING`` for keys:
    the first owner wins, also against a concurrent writer).
    """
    if not entries:
        return []
    values = list({v for _, c in entries for _, v in c.keys})
    owners: dict[str, object] = {}  # key value -> story id (int) or Story (created in this batch)
    for i in range(0, len(values), 500):
        for value, story_id in s.execute(select(DedupKey.value, DedupKey.story_id)
                                         .where(DedupKey.value.in_(values[i:i + 500]))).all():
            owners.setdefault(value, story_id)
    seen = [it.published_at or it.fetched_at for it, _ in entries]
    bands = list({b for _, c in entries for b in c.bands})
    by_band: dict[str, list[tuple[int | None, object, datetime, bytes | None]]] = {}
    if bands:
        lo, hi = min(seen) - window, max(seen) + window
        rows = []
        for i in range(0, len(bands), 500):
            rows += s.execute(select(LshBand.band_key, LshBand.item_id, LshBand.story_id, LshBand.seen_at)
                              .where(LshBand.band_key.in_(bands[i:i + 500]), LshBand.seen_at >= lo,
                                     LshBand.seen_at <= hi)).all()
        cand_ids = list({r[1] for r in rows})
        sigs: dict[int, bytes | None] = {}
        for i in range(0, len(cand_ids), 500):
            sigs.update(s.execute(select(Item.id, Item.minhash).where(Item.id.in_(cand_ids[i:i + 500]))).all())
        for band, item_id, story_id, when in rows:
            by_band.setdefault(band, []).append((item_id, story_id, when, sigs.get(item_id)))
    hows: list[str] = []
    created: list[tuple[Item, Story]] = []
    joined: dict[object, list[tuple[Item, datetime]]] = {}
    key_rows, band_rows = [], []
    for (item, cluster), when in zip(entries, seen):
        story, how = None, "new"
        for kind, value in cluster.keys:  # strongest key first
            if value in owners:
                story, how = owners[value], kind
                break
        if story is None and cluster.signature and cluster.bands:
            best, scored = 0.0, set()
            for band in cluster.bands:
                for cand_item, cand_story, cand_when, cand_sig in by_band.get(band, ()):
                    if cand_sig is None or abs(cand_when - when) > window or id(cand_sig) in scored:
                        continue
                    scored.add(id(cand_sig))
                    score = similarity_fn(cluster.signature, cand_sig)
                    if score >= similarity and score > best:
                        best, story, how = score, cand_story, "near"
        if story is None:
            story = Story(first_item_id=None, first_source_id=item.source_id, first_seen_at=when,
                          last_seen_at=when, item_count=1, source_count=1, title=_title(item))
            s.add(story)
            created.append((item, story))
        else:
            joined.setdefault(story, []).append((item, when))
        hows.append(how)
        item.dedup_kind, item.minhash = how, cluster.signature
        item._pending_story = story  # resolved to an id below
        for _, value in cluster.keys:
            owners.setdefault(value, story)
        for band in cluster.bands:
            by_band.setdefault(band, []).append((None, story, when, cluster.signature))
    s.flush()  # ids for the stories created above
    for item, story in created:
        story.first_item_id = item.id
    for (item, cluster), when in zip(entries, seen):
        story = item.__dict__.pop("_pending_story")
        item.story_id = story if isinstance(story, int) else story.id
        key_rows += [{"kind": k, "value": v, "item_id": item.id, "story_id": item.story_id, "seen_at": when}
                     for k, v in cluster.keys]
        band_rows += [{"band_key": b, "item_id": item.id, "story_id": item.story_id, "seen_at": when}
                      for b in cluster.bands]
    s.flush()
    _insert_ignore(s, DedupKey, key_rows)
    if band_rows:
        s.execute(insert(LshBand), band_rows)
    _update_joined(s, joined)
    return hows


def _update_joined(s: Session, joined: dict[object, list[tuple[Item, datetime]]]) -> None:
    """Counters and first-seen of the stories that gained items (one aggregate query)."""
    if not joined:
        return
    ids = sorted({st if isinstance(st, int) else st.id for st in joined})
    pg = s.get_bind().dialect.name == "postgresql"
    stories = {st.id: st for st in s.scalars(select(Story).where(Story.id.in_(ids)).order_by(Story.id)
                                             .with_for_update() if pg else
                                             select(Story).where(Story.id.in_(ids)))}
    counts = {sid: (n, sources) for sid, n, sources in s.execute(
        select(Item.story_id, func.count(Item.id), func.count(func.distinct(Item.source_id)))
        .where(Item.story_id.in_(ids)).group_by(Item.story_id)).all()}
    for key, members in joined.items():
        story = stories[key if isinstance(key, int) else key.id]
        story.item_count, story.source_count = counts.get(story.id, (story.item_count, story.source_count))
        for item, when in members:
            if when < story.first_seen_at:  # an earlier copy arrived late (backfill, import)
                story.first_seen_at, story.first_item_id, story.first_source_id = when, item.id, item.source_id
                story.title = _title(item) or story.title
            if when > story.last_seen_at:
                story.last_seen_at = when


def _title(item: Item) -> str | None:
    if item.title:
        return item.title[:300]
    text = (item.text or "").strip()
    return text.split("\n", 1)[0][:300] or None


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
