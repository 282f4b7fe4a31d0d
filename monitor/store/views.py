"""Read queries behind the web pages: the hits feed, item and story pages, term statistics, source
health, the alert log and the backtest prefilter.

Lists are keyset-paginated on the primary key (``id < :before``, newest first), never ``OFFSET``,
so a page costs the same at hit 100 000 as at hit 10. Visibility is applied here, not in the
templates: a viewer's queries are restricted to the watchlists of the desks they belong to
(``allowed`` is a list of watchlist ids; ``None`` means no restriction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator, Sequence

from sqlalchemy import Row, and_, case, func, select, union_all
from sqlalchemy.orm import Session, aliased

from monitor.store.items import contains_any_clause
from monitor.store.models import (
    AlertRow,
    DeliveryRow,
    DeliveryAttemptRow,
    DeskRow,
    DeskTargetRow,
    HitRow,
    ItemRow,
    ItemVersionRow,
    ReviewRow,
    SourceRow,
    StoryRow,
    UserRow,
    WatchlistRow,
    WatchTermRow,
    WatchTermVersionRow,
)
from monitor.types import utcnow


@dataclass(frozen=True)
class HitFilter:
    """What the feed, its live updates and the exports show. ``None`` fields do not filter."""

    watchlist_id: int | None = None
    desk_id: int | None = None
    source_id: int | None = None
    language: str | None = None
    review_state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    allowed: tuple[int, ...] | None = None  # visible watchlist ids (viewers); None = all


def visible_watchlist_ids(s: Session, desk_ids: Sequence[int] | None) -> tuple[int, ...] | None:
    """The watchlists a user may see: all (None) for operators, else those of their desks."""
    if desk_ids is None:
        return None
    if not desk_ids:
        return ()
    return tuple(s.scalars(select(WatchlistRow.id).where(WatchlistRow.desk_id.in_(desk_ids))))


def _feed_select():
    return (
        select(
            HitRow.id, HitRow.created_at, HitRow.review_state, HitRow.field, HitRow.snippet_html, HitRow.snippet,
            HitRow.item_id, HitRow.story_id, HitRow.term_id, HitRow.assignee_id, HitRow.spans,
            # the query as it was when it matched (the term may have been edited since)
            func.coalesce(WatchTermVersionRow.query, WatchTermRow.query).label("term_query"),
            WatchTermRow.label.label("term_label"),
            WatchlistRow.name.label("watchlist"), WatchlistRow.id.label("watchlist_id"),
            ItemRow.title, ItemRow.url, ItemRow.published_at, ItemRow.fetched_at, ItemRow.language,
            ItemRow.deleted_at, ItemRow.channel_username, SourceRow.name.label("source"),
            SourceRow.id.label("source_id"), StoryRow.source_count, UserRow.name.label("assignee"),
        )
        .join(ItemRow, ItemRow.id == HitRow.item_id)
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .join(WatchTermRow, WatchTermRow.id == HitRow.term_id)
        .outerjoin(WatchTermVersionRow, and_(WatchTermVersionRow.term_id == HitRow.term_id,
                                          WatchTermVersionRow.version == HitRow.term_version))
        .join(WatchlistRow, WatchlistRow.id == HitRow.watchlist_id)
        .outerjoin(StoryRow, StoryRow.id == HitRow.story_id)
        .outerjoin(UserRow, UserRow.id == HitRow.assignee_id)
    )


def _watchlists(s: Session, f: HitFilter) -> tuple[int, ...] | None:
    """The watchlist ids the filter allows (visibility ∩ watchlist ∩ desk), or None for all."""
    sets = []
    if f.allowed is not None:
        sets.append(set(f.allowed))
    if f.watchlist_id is not None:
        sets.append({f.watchlist_id})
    if f.desk_id is not None:
        sets.append(set(s.scalars(select(WatchlistRow.id).where(WatchlistRow.desk_id == f.desk_id))))
    return tuple(sorted(set.intersection(*sets))) if sets else None


def _apply(q, f: HitFilter, *, before: int | None, after: int | None):
    """Every filter but the watchlist set (``q`` must have ``items`` joined for source/language)."""
    if f.source_id is not None:
        q = q.where(ItemRow.source_id == f.source_id)
    if f.language:
        q = q.where(ItemRow.language == f.language)
    if f.review_state:
        q = q.where(HitRow.review_state == f.review_state)
    if f.since is not None:
        q = q.where(HitRow.created_at >= f.since)
    if f.until is not None:
        q = q.where(HitRow.created_at < f.until)
    if before is not None:
        q = q.where(HitRow.id < before)
    if after is not None:
        q = q.where(HitRow.id > after)
    return q


def feed(s: Session, f: HitFilter, *, before: int | None = None, after: int | None = None,
         limit: int = 50) -> list[Row]:
    """Hits newest first: a page older than ``before``, or the newest ones above ``after``.

    With several watchlists (a desk, a viewer's desks) ``watchlist_id IN (...)`` would make the
    database collect and sort every hit of those watchlists; instead each watchlist's newest ids come
    from the (watchlist_id, id) index with their own LIMIT, and the union is cut to the page.
    """
    wls = _watchlists(s, f)
    if wls is not None and not wls:
        return []
    if wls is not None and len(wls) > 1:
        needs_item = f.source_id is not None or bool(f.language)
        parts = []
        for wl in wls:
            q = select(HitRow.id)
            if needs_item:
                q = q.join(ItemRow, ItemRow.id == HitRow.item_id)
            q = _apply(q.where(HitRow.watchlist_id == wl), f, before=before, after=after)
            parts.append(select(q.order_by(HitRow.id.desc()).limit(limit).subquery().c.id))
        ids = sorted(s.scalars(union_all(*parts)), reverse=True)[:limit]
        if not ids:
            return []
        q = _feed_select().where(HitRow.id.in_(ids))
    else:
        q = _apply(_feed_select(), f, before=before, after=after)
        if wls is not None:
            q = q.where(HitRow.watchlist_id == wls[0])
    return list(s.execute(q.order_by(HitRow.id.desc()).limit(limit)))


def iter_feed(s: Session, f: HitFilter, *, batch: int = 1000, cap: int = 100_000) -> Iterator[Row]:
    """Every hit of a filter, newest first, fetched in keyset batches (for exports)."""
    before, n = None, 0
    while n < cap:
        rows = feed(s, f, before=before, limit=min(batch, cap - n))
        if not rows:
            return
        yield from rows
        n += len(rows)
        before = rows[-1].id


def latest_hit_id(s: Session) -> int:
    return s.scalar(select(func.max(HitRow.id))) or 0


# ---------------------------------------------------------------- item and story pages


def item_page(s: Session, item_id: int) -> dict[str, Any] | None:
    """An item with its source, versions (oldest first), hits (with terms) and story."""
    item = s.get(ItemRow, item_id)
    if item is None:
        return None
    versions = s.scalars(select(ItemVersionRow).where(ItemVersionRow.item_id == item_id)
                         .order_by(ItemVersionRow.version)).all()
    hits = s.execute(
        select(HitRow, WatchTermRow.query, WatchlistRow.name, WatchlistRow.id)
        .join(WatchTermRow, WatchTermRow.id == HitRow.term_id).join(WatchlistRow, WatchlistRow.id == HitRow.watchlist_id)
        .where(HitRow.item_id == item_id).order_by(HitRow.id)).all()
    return {"item": item, "source": s.get(SourceRow, item.source_id), "versions": versions,
            "hits": hits, "story": s.get(StoryRow, item.story_id) if item.story_id else None}


def story_count(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(StoryRow)) or 0


def story_timeline(s: Session, story_id: int, *, limit: int = 500) -> list[Row]:
    """The items of a story in publication order (first seen first), with their sources."""
    when = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
    q = (select(ItemRow.id, ItemRow.title, ItemRow.url, ItemRow.published_at, ItemRow.fetched_at, ItemRow.language,
                ItemRow.deleted_at, ItemRow.dedup_kind, ItemRow.channel_username, SourceRow.name.label("source"),
                SourceRow.type.label("source_type"))
         .join(SourceRow, SourceRow.id == ItemRow.source_id).where(ItemRow.story_id == story_id)
         .order_by(when, ItemRow.id).limit(limit))
    return list(s.execute(q))


def reviews_of(s: Session, hit_ids: Sequence[int]) -> list[Row]:
    """The review trail of some hits, oldest first, with reviewer and assignee names."""
    if not hit_ids:
        return []
    assigned = aliased(UserRow)
    assignee = select(assigned.name).where(assigned.id == ReviewRow.assignee_id).scalar_subquery()
    q = (select(ReviewRow.id, ReviewRow.hit_id, ReviewRow.verdict, ReviewRow.note, ReviewRow.created_at,
                UserRow.name.label("reviewer"), assignee.label("assignee"))
         .outerjoin(UserRow, UserRow.id == ReviewRow.reviewer_id).where(ReviewRow.hit_id.in_(hit_ids))
         .order_by(ReviewRow.id))
    return list(s.execute(q))


# ---------------------------------------------------------------- terms


def term_stats(s: Session, term_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per term: hits, reviewed (relevant + not relevant) and relevant counts."""
    if not term_ids:
        return {}
    q = (select(HitRow.term_id, func.count(),
                func.sum(case((HitRow.review_state == "relevant", 1), else_=0)),
                func.sum(case((HitRow.review_state == "not_relevant", 1), else_=0)))
         .where(HitRow.term_id.in_(term_ids)).group_by(HitRow.term_id))
    out = {}
    for term_id, total, rel, notrel in s.execute(q):
        rel, notrel = int(rel or 0), int(notrel or 0)
        out[term_id] = {"hits": int(total), "relevant": rel, "reviewed": rel + notrel}
    return out


def backtest_candidates(s: Session, substrings: Sequence[str] | None, *, since: datetime | None,
                        limit: int) -> Iterator[Row]:
    """Items that may match, newest first: ``norm_text`` contains any of ``substrings``.

    The substrings come from the matcher's prefilter (already in matching form). A trigram index
    serves the search on both backends (PostgreSQL: pg_trgm GIN; SQLite: FTS5, migration 0004). ``None`` means the query
    cannot be prefiltered and every item in the window is a candidate. One streamed query (not
    keyset batches): the index search runs once however many candidates there are.
    """
    q = (select(ItemRow.id, ItemRow.title, ItemRow.text, ItemRow.language, ItemRow.channel_username,
                ItemRow.published_at, SourceRow.name.label("source"))
         .join(SourceRow, SourceRow.id == ItemRow.source_id))
    if substrings is not None:
        subs = [x for x in substrings if x]
        if not subs:
            return iter(())
        q = q.where(contains_any_clause(s, subs))
    if since is not None:
        q = q.where(ItemRow.fetched_at >= since)
    q = q.order_by(ItemRow.id.desc()).limit(limit)
    return iter(s.execute(q.execution_options(stream_results=True, yield_per=1000)))


# ---------------------------------------------------------------- sources


def source_health(s: Session, *, days: int = 7) -> list[dict[str, Any]]:
    """Every source with its health and items per day over the last ``days`` days (whether it
    is silent is the caller's to judge: :func:`monitor.sources.silent_source`)."""
    now = utcnow()
    since = now - timedelta(days=days)
    counts = dict(s.execute(select(ItemRow.source_id, func.count()).where(ItemRow.published_at >= since)
                            .group_by(ItemRow.source_id)).tuples().all())
    rows = []
    for src in s.scalars(select(SourceRow).order_by(SourceRow.name)):
        rows.append({
            "source": src, "per_day": round(counts.get(src.id, 0) / days, 1),
        })
    return rows


# ---------------------------------------------------------------- desks and alerts


def alert_log(s: Session, *, desk_ids: Sequence[int] | None = None, before: int | None = None,
              limit: int = 50) -> list[dict[str, Any]]:
    """Alerts newest first with their deliveries and each delivery's attempts."""
    q = (select(AlertRow, DeskRow.name).join(DeskRow, DeskRow.id == AlertRow.desk_id))
    if desk_ids is not None:
        q = q.where(AlertRow.desk_id.in_(desk_ids or (-1,)))
    if before is not None:
        q = q.where(AlertRow.id < before)
    alerts = s.execute(q.order_by(AlertRow.id.desc()).limit(limit)).all()
    ids = [a.id for a, _ in alerts]
    deliveries: dict[int, list] = {i: [] for i in ids}
    attempts: dict[int, list] = {}
    if ids:
        drows = s.execute(select(DeliveryRow, DeskTargetRow).join(DeskTargetRow, DeskTargetRow.id == DeliveryRow.target_id)
                          .where(DeliveryRow.alert_id.in_(ids)).order_by(DeliveryRow.id)).all()
        for d, t in drows:
            deliveries[d.alert_id].append((d, t))
        dids = [d.id for d, _ in drows]
        if dids:
            for att in s.scalars(select(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id.in_(dids))
                                 .order_by(DeliveryAttemptRow.id)):
                attempts.setdefault(att.delivery_id, []).append(att)
    return [{"alert": a, "desk": name, "deliveries": deliveries[a.id], "attempts": attempts}
            for a, name in alerts]


def watchlist_by_token(s: Session, token: str) -> WatchlistRow | None:
    if not token:
        return None
    return s.scalar(select(WatchlistRow).where(and_(WatchlistRow.atom_token == token, WatchlistRow.atom_token.is_not(None))))
