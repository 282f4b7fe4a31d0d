"""The story-first reads: the desk's feed (one card per story), the stories list and a story's
timeline.

A desk reads stories, not hits: a forwarded post that matched two terms in two channels is one
card. A card shows the story's first-seen source and time, how many sources carry it and in which
languages, the terms that matched (each once), the best snippet, the review state of its hits,
and the items with their own snippets and provenance. Cards are ordered by the story's latest
activity (``stories.last_seen_at``: the newest copy's published time, else fetch time), newest
first, keyset-paginated on (last_seen_at, id). Visibility and filters are the hit feed's
(:class:`monitor.store.views.HitFilter`): a story shows when one of its hits passes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from monitor.store.models import HitRow, ItemRow, SourceRow, StoryRow, WatchlistRow
from monitor.store.records import HitEntry, StoryRecord, TimelineEntry, joined_words
from monitor.store.views import HitFilter, _entry, _hit_select, filter_watchlists, hit_conditions

TIMELINE_CAP = 200  # items listed per story (a story of thousands of copies lists its first ones)


@dataclass(frozen=True)
class StoryCard:
    """One story in the feed, as the desk sees it."""

    story: StoryRecord
    hits: tuple[HitEntry, ...]  # the visible hits, oldest item first
    timeline: tuple[TimelineEntry, ...]
    languages: tuple[str, ...]
    sources: tuple[str, ...]  # names, in the order they carried the story

    @property
    def terms(self) -> tuple[str, ...]:
        """The terms that matched, each once (label, else the query as it matched)."""
        return tuple(dict.fromkeys(h.term_label or h.term_query for h in self.hits))

    @property
    def watchlists(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h.watchlist for h in self.hits))

    @property
    def best(self) -> HitEntry:
        """The hit whose snippet shows most: most matched spans, a title hit first, then the
        earliest item."""
        return max(
            self.hits, key=lambda h: (len(h.spans), h.field == "title", -h.seen_at.timestamp())
        )

    @property
    def review(self) -> dict[str, int]:
        """How many of the visible hits are in each review state."""
        out: dict[str, int] = {}
        for h in self.hits:
            out[h.review_state] = out.get(h.review_state, 0) + 1
        return out

    @property
    def review_state(self) -> str:
        """``new``, ``relevant`` or ``not_relevant`` when all hits agree, else ``mixed``."""
        states = self.review
        return next(iter(states)) if len(states) == 1 else "mixed"

    @property
    def last_hit_id(self) -> int:
        return max(h.id for h in self.hits)

    def snippets_of(self, item_id: int) -> tuple[HitEntry, ...]:
        return tuple(h for h in self.hits if h.item_id == item_id)


def _story_select():
    return select(
        StoryRow.id,
        StoryRow.title,
        StoryRow.first_seen_at,
        StoryRow.last_seen_at,
        StoryRow.first_item_id,
        StoryRow.first_source_id,
        SourceRow.name.label("first_source"),
        StoryRow.item_count,
        StoryRow.source_count,
        StoryRow.merged_into,
    ).outerjoin(SourceRow, SourceRow.id == StoryRow.first_source_id)


def _visible(s: Session, f: HitFilter, *, after: int | None = None):
    """``EXISTS`` a hit of the story that passes the filter (None: nothing can pass)."""
    wls = filter_watchlists(s, f)
    if wls is not None and not wls:
        return None
    conds = [HitRow.story_id == StoryRow.id, *hit_conditions(f)]
    if wls is not None:
        conds.append(HitRow.watchlist_id.in_(wls))
    if after is not None:
        conds.append(HitRow.id > after)
    return exists(select(HitRow.id).join(ItemRow, ItemRow.id == HitRow.item_id).where(*conds))


def story_feed(
    s: Session,
    f: HitFilter,
    *,
    before: tuple[datetime, int] | None = None,
    after: int | None = None,
    limit: int = 30,
) -> list[StoryCard]:
    """Story cards newest activity first: a page older than ``before`` (last_seen_at, id), or the
    stories that got a visible hit with an id above ``after`` (the live feed)."""
    visible = _visible(s, f, after=after)
    if visible is None:
        return []
    q = _story_select().where(visible)
    if before is not None:
        at, story_id = before
        q = q.where(
            or_(
                StoryRow.last_seen_at < at,
                and_(StoryRow.last_seen_at == at, StoryRow.id < story_id),
            )
        )
    q = q.order_by(StoryRow.last_seen_at.desc(), StoryRow.id.desc()).limit(limit)
    stories = [StoryRecord(**r._asdict()) for r in s.execute(q)]
    return cards(s, stories, f)


def cards(s: Session, stories: Sequence[StoryRecord], f: HitFilter) -> list[StoryCard]:
    """The cards of ``stories``: their visible hits and timelines, in two queries."""
    if not stories:
        return []
    ids = [st.id for st in stories]
    wls = filter_watchlists(s, f)
    q = _hit_select().where(HitRow.story_id.in_(ids), *hit_conditions(f))
    if wls is not None:
        q = q.where(HitRow.watchlist_id.in_(wls or (-1,)))
    hits: dict[int, list[HitEntry]] = {i: [] for i in ids}
    for row in s.execute(q.order_by(HitRow.id)):
        hit = _entry(row)
        hits[hit.story_id].append(hit)
    lines = timelines(s, ids)
    out = []
    for st in stories:
        line = lines.get(st.id, [])
        story_hits = sorted(hits[st.id], key=lambda h: (h.seen_at, h.id))
        if not story_hits:
            continue
        out.append(
            StoryCard(
                story=st,
                hits=tuple(story_hits),
                timeline=tuple(line),
                languages=tuple(sorted({e.language for e in line if e.language})),
                sources=tuple(dict.fromkeys(e.source for e in line)),
            )
        )
    return out


def _timeline_select():
    return select(
        ItemRow.id.label("item_id"),
        SourceRow.name.label("source"),
        SourceRow.type.label("source_type"),
        ItemRow.external_id,
        ItemRow.title,
        ItemRow.url,
        ItemRow.language,
        ItemRow.published_at,
        ItemRow.fetched_at,
        ItemRow.deleted_at,
        ItemRow.dedup_kind.label("how"),
        ItemRow.dedup_reason.label("reason"),
        ItemRow.channel_username,
        ItemRow.fwd_from_name,
        or_(
            ItemRow.fwd_channel_id.is_not(None),
            ItemRow.fwd_from_name.is_not(None),
            ItemRow.fwd_url.is_not(None),
        ).label("forwarded"),
        ItemRow.story_id,
    ).join(SourceRow, SourceRow.id == ItemRow.source_id)


def timelines(
    s: Session, story_ids: Sequence[int], *, cap: int = TIMELINE_CAP
) -> dict[int, list[TimelineEntry]]:
    """Each story's items in the order it spread (published time, else fetch time; then id)."""
    if not story_ids:
        return {}
    when = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
    q = (
        _timeline_select()
        .where(ItemRow.story_id.in_(list(story_ids)))
        .order_by(ItemRow.story_id, when, ItemRow.id)
    )
    out: dict[int, list[TimelineEntry]] = {}
    for row in s.execute(q):
        data = row._asdict()
        line = out.setdefault(data.pop("story_id"), [])
        if len(line) < cap:
            data["forwarded"] = bool(data["forwarded"])
            data["joined"] = joined_words(data["how"], first=not line, forwarded=data["forwarded"])
            line.append(TimelineEntry(**data))
    return out


def timeline(s: Session, story_id: int, *, cap: int = TIMELINE_CAP) -> list[TimelineEntry]:
    """One story's timeline: first seen where and when, then each outlet or channel and how it
    joined (the same URL, a forward, the same text, a near-duplicate)."""
    return timelines(s, [story_id], cap=cap).get(story_id, [])


def get_story(s: Session, story_id: int) -> StoryRecord | None:
    row = s.execute(_story_select().where(StoryRow.id == story_id)).first()
    return StoryRecord(**row._asdict()) if row else None


def story_visible(s: Session, story_id: int, allowed: tuple[int, ...] | None) -> bool:
    """Whether a reader restricted to ``allowed`` watchlists may open the story (through a hit)."""
    if allowed is None:
        return True
    return (
        s.scalar(
            select(func.count(HitRow.id)).where(
                HitRow.story_id == story_id, HitRow.watchlist_id.in_(allowed or (-1,))
            )
        )
        > 0
    )


def list_stories(
    s: Session,
    *,
    since: datetime | None = None,
    watchlist_id: int | None = None,
    allowed: tuple[int, ...] | None = None,
    with_hits: bool = False,
    limit: int | None = None,
    before: tuple[datetime, int] | None = None,
    oldest_first: bool = False,
) -> list[StoryRecord]:
    """Stories newest activity first (``last_seen_at``; ``oldest_first`` reverses it).

    ``since`` keeps stories active since then; ``watchlist_id``, ``allowed`` or ``with_hits``
    keep stories with hits (of that watchlist, of those watchlists, of any)."""
    q = _story_select().where(StoryRow.merged_into.is_(None))
    if since is not None:
        q = q.where(StoryRow.last_seen_at >= since)
    if watchlist_id is not None or allowed is not None or with_hits:
        conds = [HitRow.story_id == StoryRow.id]
        if watchlist_id is not None:
            conds.append(HitRow.watchlist_id == watchlist_id)
        if allowed is not None:
            conds.append(HitRow.watchlist_id.in_(allowed or (-1,)))
        q = q.where(exists(select(HitRow.id).where(*conds)))
    if before is not None:
        at, story_id = before
        q = q.where(
            or_(
                StoryRow.last_seen_at < at,
                and_(StoryRow.last_seen_at == at, StoryRow.id < story_id),
            )
        )
    if oldest_first:
        q = q.order_by(StoryRow.last_seen_at.asc(), StoryRow.id.asc())
    else:
        q = q.order_by(StoryRow.last_seen_at.desc(), StoryRow.id.desc())
    if limit:
        q = q.limit(limit)
    return [StoryRecord(**r._asdict()) for r in s.execute(q)]


def story_count(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(StoryRow)) or 0


def story_hit_ids(s: Session, story_id: int, allowed: tuple[int, ...] | None) -> list[int]:
    """The ids of a story's hits a reader may review."""
    q = select(HitRow.id).where(HitRow.story_id == story_id)
    if allowed is not None:
        q = q.where(HitRow.watchlist_id.in_(allowed or (-1,)))
    return list(s.scalars(q.order_by(HitRow.id)))


def watchlist_desk(s: Session, watchlist_id: int) -> int | None:
    """The desk a watchlist belongs to (a page filtered to it shows that desk's time zone)."""
    return s.scalar(select(WatchlistRow.desk_id).where(WatchlistRow.id == watchlist_id))
