"""Stories: fold the same news from many sources into one, enforced in SQL.

Exact keys live in ``dedup_keys`` (unique per kind and value: the first item holding a key owns
it); near-duplicate candidates come from ``lsh_bands`` within a window on the items' published
times and are confirmed on their stored MinHash signatures. A text key (the same words) joins
only within that window too: the same notice a month later is a new story, which then owns the
key; URLs and Telegram posts are the same story however late a copy comes. Every item belongs to
a story (a story of one when it has no copies); the story knows its first-seen item, time and
source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import BigInteger, String, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.items import StoredItem
from monitor.store.models import DedupKeyRow, ItemRow, LshBandRow, StoryRow
from monitor.types import utcnow


@dataclass(frozen=True, slots=True)
class Cluster:
    """What the dedup stage computed for one item (pure values; see monitor.dedup)."""

    keys: Sequence[tuple[str, str]]  # (kind, value), strongest first
    signature: bytes | None  # MinHash signature bytes
    bands: Sequence[str]  # LSH band keys


_ITEMS, _STORIES = ItemRow.__table__, StoryRow.__table__
_KEYS, _BANDS = DedupKeyRow.__table__, LshBandRow.__table__


def _insert_ignore(s: Session, table, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on both backends (the first owner of a key wins)."""
    if not rows:
        return
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    s.execute(dialect_insert(table).on_conflict_do_nothing(), rows)


@dataclass(slots=True)
class StoryLinks:
    """What :func:`assign_stories` leaves for :func:`link_stories`, once the items are stored."""

    keys: list[dict]
    bands: list[dict]
    joined: dict[int, list[tuple[StoredItem, datetime]]]  # story id -> items that joined it
    renewed: list[dict] = field(default_factory=list)  # text keys whose story ended: new owners


def _chunks_in(s: Session, column, values: list, type_) -> list:
    """``column IN (values)`` conditions covering ``values``: on PostgreSQL one ``= ANY(array)``
    (one parameter, nothing for the driver to parse), elsewhere IN lists of 500."""
    if not values:
        return []
    if s.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam(None, values, type_=ARRAY(type_)))]
    return [column.in_(values[i:i + 500]) for i in range(0, len(values), 500)]


def _candidates(s: Session, bands: list[str], lo: datetime, hi: datetime) -> dict[str, list[tuple]]:
    """Stored band rows within [lo, hi] by band key: (item id, story id, seen at, signature)."""
    rows = []
    for among in _chunks_in(s, _BANDS.c.band_key, bands, String):
        rows += s.execute(select(_BANDS.c.band_key, _BANDS.c.item_id, _BANDS.c.story_id, _BANDS.c.seen_at)
                          .where(among, _BANDS.c.seen_at >= lo, _BANDS.c.seen_at <= hi)).all()
    sigs: dict[int, bytes | None] = {}
    for among in _chunks_in(s, _ITEMS.c.id, list({r[1] for r in rows}), BigInteger):
        sigs.update(s.execute(select(_ITEMS.c.id, _ITEMS.c.minhash).where(among)).all())
    by_band: dict[str, list[tuple]] = {}
    for band, item_id, story_id, when in rows:
        by_band.setdefault(band, []).append((item_id, story_id, when, sigs.get(item_id)))
    return by_band


def assign_stories(
    s: Session, entries: Sequence[tuple[StoredItem, Cluster]], *, window: timedelta, similarity: float,
    similarity_fn,
) -> tuple[list[str], StoryLinks]:
    """Put each new item into a story: how each joined (a key kind, ``near`` or ``new``), and the
    rows for :func:`link_stories`.

    One query finds the stored owners of all the batch's exact keys, one the stored LSH band
    rows within the window (for the items no stored key claims); items are then decided in
    order, so a copy later in the same batch joins an earlier one. New stories are inserted in
    bulk, naming their first item by the id :func:`~monitor.store.items.prepare_items` gave it;
    each item's row gets its story, dedup kind and signature before the items are written.
    """
    links = StoryLinks([], [], {})
    if not entries:
        return [], links
    values = list({v for _, c in entries for _, v in c.keys})
    owners: dict[str, int | dict] = {}  # key value -> story id, or the row of a story of this batch
    text_since: dict[str, datetime] = {}  # text key -> when its story was first seen with it
    for i in range(0, len(values), 500):
        for value, kind, story_id, seen_at in s.execute(
                select(_KEYS.c.value, _KEYS.c.kind, _KEYS.c.story_id, _KEYS.c.seen_at)
                .where(_KEYS.c.value.in_(values[i:i + 500]))).all():
            owners.setdefault(value, story_id)
            if kind == "text":
                text_since[value] = seen_at
    seen = [st.seen_at for st, _ in entries]
    # an item with a stored exact key joins that key's story: its bands need no candidates
    bands = list({b for _, c in entries if not any(v in owners for _, v in c.keys) for b in c.bands})
    by_band = _candidates(s, bands, min(seen) - window, max(seen) + window) if bands else {}
    hows: list[str] = []
    stories: list[int | dict] = []
    created: list[dict] = []
    renew: list[list[str]] = []  # per item: its text keys whose story is over
    for (item, cluster), when in zip(entries, seen):
        story, how, stale = None, "new", []
        for kind, value in cluster.keys:  # strongest key first
            if value in owners:
                if kind == "text" and value in text_since and abs(when - text_since[value]) > window:
                    # the same words again after the window (a daily notice): a new story
                    stale.append(value)
                    continue
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
            story = dict(first_item_id=item.id, first_source_id=item.source_id, first_seen_at=when,
                         last_seen_at=when, item_count=1, source_count=1, title=_title(item.value),
                         created_at=utcnow())
            created.append(story)
        hows.append(how)
        stories.append(story)
        renew.append(stale)
        for value in stale:  # later copies join the new story
            owners[value] = story
            text_since[value] = when
        for _, value in cluster.keys:
            owners.setdefault(value, story)
        for band in cluster.bands:
            by_band.setdefault(band, []).append((None, story, when, cluster.signature))
    for story, story_id in zip(created, allocate_ids(s, _STORIES, len(created))):
        story["id"] = story_id
    insert_rows(s, _STORIES, created)
    for (item, cluster), when, story, how, stale in zip(entries, seen, stories, hows, renew):
        story_id = story if isinstance(story, int) else story["id"]
        links.renewed += [{"_value": v, "item_id": item.id, "story_id": story_id, "seen_at": when}
                          for v in stale]
        item.row.update(story_id=story_id, dedup_kind=how, minhash=cluster.signature)
        if how != "new":
            links.joined.setdefault(story_id, []).append((item, when))
        links.keys += [{"kind": k, "value": v, "item_id": item.id, "story_id": story_id, "seen_at": when}
                       for k, v in cluster.keys]
        links.bands += [{"band_key": b, "item_id": item.id, "story_id": story_id, "seen_at": when}
                        for b in cluster.bands]
    return hows, links


def link_stories(s: Session, links: StoryLinks) -> None:
    """After the items are stored: their exact keys and bands, and the joined stories' counters."""
    _insert_ignore(s, _KEYS, links.keys)
    if links.renewed:
        s.execute(update(_KEYS).where(_KEYS.c.kind == "text", _KEYS.c.value == bindparam("_value")),
                  links.renewed)
    insert_rows(s, _BANDS, links.bands)
    _update_joined(s, links.joined)


_JOINED = ("id", "first_item_id", "first_source_id", "first_seen_at", "last_seen_at", "item_count",
           "source_count", "title")


def _update_joined(s: Session, joined: dict[int, list[tuple[StoredItem, datetime]]]) -> None:
    """Counters, first- and last-seen of the stories that gained items (one aggregate query)."""
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
        for item, when in members:
            if when < story["first_seen_at"]:  # an earlier copy arrived late (backfill, import)
                story.update(first_seen_at=when, first_item_id=item.id, first_source_id=item.source_id,
                             title=_title(item.value) or story["title"])
            if when > story["last_seen_at"]:
                story["last_seen_at"] = when
    s.execute(update(_STORIES).where(_STORIES.c.id == bindparam("_id")),
              [{"_id": story.pop("id"), **story} for story in stories.values()])


def _title(item) -> str | None:
    """A story's title: the item's title, else its text's first line (both as stored)."""
    if item.title:
        return item.title[:300]
    text = (item.text or "").strip()
    return text.split("\n", 1)[0][:300] or None
