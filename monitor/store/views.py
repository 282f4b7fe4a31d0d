"""Read queries behind the hit lists, the item page, term statistics and the backtest.

The web feed's single-hit view is keyset-paginated on the primary key (``id < :before``, newest
first), never ``OFFSET``, so a page costs the same at hit 100 000 as at hit 10. Visibility is
applied here, not in the templates: a viewer's queries are restricted to the watchlists of the
desks they belong to (``allowed`` is a tuple of watchlist ids; ``None`` means no restriction).
Everything returned is a frozen value of :mod:`monitor.store.records`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Sequence

from sqlalchemy import and_, case, func, select, union_all
from sqlalchemy.orm import Session, aliased

from monitor.store.models import (
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
from monitor.store.records import HitEntry, ItemRecord, ItemVersionRecord, freeze


@dataclass(frozen=True)
class HitFilter:
    """What the feed, its live updates and the exports show. ``None`` fields do not filter."""

    watchlist_id: int | None = None
    desk_id: int | None = None
    source_id: int | None = None
    term_id: int | None = None
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


def filter_watchlists(s: Session, f: HitFilter) -> tuple[int, ...] | None:
    """The watchlist ids the filter allows (visibility ∩ watchlist ∩ desk), or None for all."""
    sets = []
    if f.allowed is not None:
        sets.append(set(f.allowed))
    if f.watchlist_id is not None:
        sets.append({f.watchlist_id})
    if f.desk_id is not None:
        sets.append(
            set(s.scalars(select(WatchlistRow.id).where(WatchlistRow.desk_id == f.desk_id)))
        )
    return tuple(sorted(set.intersection(*sets))) if sets else None


def hit_conditions(f: HitFilter) -> list:
    """Every filter but the watchlist set, on ``hits`` joined with ``items``."""
    conds = []
    if f.source_id is not None:
        conds.append(ItemRow.source_id == f.source_id)
    if f.term_id is not None:
        conds.append(HitRow.term_id == f.term_id)
    if f.language:
        conds.append(ItemRow.language == f.language)
    if f.review_state:
        conds.append(HitRow.review_state == f.review_state)
    if f.since is not None:
        conds.append(HitRow.created_at >= f.since)
    if f.until is not None:
        conds.append(HitRow.created_at < f.until)
    return conds


_ITEM_VERSION = aliased(ItemVersionRow)


def _hit_select():
    return (
        select(
            HitRow.id,
            HitRow.created_at,
            HitRow.review_state,
            HitRow.field,
            HitRow.snippet,
            HitRow.snippet_html,
            HitRow.spans,
            HitRow.item_id,
            HitRow.item_version,
            HitRow.story_id,
            HitRow.term_id,
            HitRow.term_version,
            HitRow.matched_hash,
            # the query as it was when it matched (the term may have been edited since)
            func.coalesce(WatchTermVersionRow.query, WatchTermRow.query).label("term_query"),
            WatchTermRow.label.label("term_label"),
            WatchlistRow.id.label("watchlist_id"),
            WatchlistRow.name.label("watchlist"),
            UserRow.name.label("assignee"),
            SourceRow.id.label("source_id"),
            SourceRow.name.label("source"),
            ItemRow.external_id,
            ItemRow.title,
            func.coalesce(_ITEM_VERSION.url, ItemRow.url).label("url"),
            ItemRow.language,
            ItemRow.author,
            ItemRow.collector,
            ItemRow.published_at,
            func.coalesce(_ITEM_VERSION.fetched_at, ItemRow.fetched_at).label("fetched_at"),
            # the item version's edit time when it is stored (every version is), else the item's
            case(
                (_ITEM_VERSION.id.is_not(None), _ITEM_VERSION.edited_at), else_=ItemRow.edited_at
            ).label("edited_at"),
            ItemRow.deleted_at,
            StoryRow.source_count,
        )
        .join(ItemRow, ItemRow.id == HitRow.item_id)
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .join(WatchTermRow, WatchTermRow.id == HitRow.term_id)
        .outerjoin(
            WatchTermVersionRow,
            and_(
                WatchTermVersionRow.term_id == HitRow.term_id,
                WatchTermVersionRow.version == HitRow.term_version,
            ),
        )
        .outerjoin(
            _ITEM_VERSION,
            and_(
                _ITEM_VERSION.item_id == HitRow.item_id,
                _ITEM_VERSION.version == HitRow.item_version,
            ),
        )
        .join(WatchlistRow, WatchlistRow.id == HitRow.watchlist_id)
        .outerjoin(StoryRow, StoryRow.id == HitRow.story_id)
        .outerjoin(UserRow, UserRow.id == HitRow.assignee_id)
    )


def _entry(row) -> HitEntry:
    data = row._asdict()
    data["spans"] = tuple(
        tuple(sp) for sp in (data["spans"] or ()) if isinstance(sp, (list, tuple))
    )
    return HitEntry(**data)


def feed(
    s: Session,
    f: HitFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[HitEntry]:
    """Hits newest first: a page older than ``before``, or the newest ones above ``after``.

    With several watchlists (a desk, a viewer's desks) ``watchlist_id IN (...)`` would make the
    database collect and sort every hit of those watchlists; instead each watchlist's newest ids
    come from the (watchlist_id, id) index with their own LIMIT, and the union is cut to the page.
    """
    wls = filter_watchlists(s, f)
    if wls is not None and not wls:
        return []
    conds = hit_conditions(f)
    if before is not None:
        conds.append(HitRow.id < before)
    if after is not None:
        conds.append(HitRow.id > after)
    if wls is not None and len(wls) > 1:
        parts = []
        for wl in wls:
            q = select(HitRow.id).join(ItemRow, ItemRow.id == HitRow.item_id)
            q = q.where(HitRow.watchlist_id == wl, *conds)
            parts.append(select(q.order_by(HitRow.id.desc()).limit(limit).subquery().c.id))
        ids = sorted(s.scalars(union_all(*parts)), reverse=True)[:limit]
        if not ids:
            return []
        q = _hit_select().where(HitRow.id.in_(ids))
    else:
        q = _hit_select().where(*conds)
        if wls is not None:
            q = q.where(HitRow.watchlist_id == wls[0])
    return [_entry(r) for r in s.execute(q.order_by(HitRow.id.desc()).limit(limit))]


def iter_feed(
    s: Session, f: HitFilter, *, batch: int = 1000, cap: int = 100_000
) -> Iterator[HitEntry]:
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


def list_hits(
    s: Session,
    *,
    watchlist_id: int | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    oldest_first: bool = False,
) -> list[HitEntry]:
    """Hits for ``monitor hits``: newest first by the item's published time, else its fetch time
    (``oldest_first`` reverses it); every hit when ``limit`` is None."""
    when = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
    q = _hit_select()
    if watchlist_id is not None:
        q = q.where(HitRow.watchlist_id == watchlist_id)
    if since is not None:
        q = q.where(HitRow.created_at >= since)
    order = (when.asc(), HitRow.id.asc()) if oldest_first else (when.desc(), HitRow.id.desc())
    q = q.order_by(*order)
    if limit:
        q = q.limit(limit)
    return [_entry(r) for r in s.execute(q)]


# ---------------------------------------------------------------- items


def _item_select():
    return select(ItemRow, SourceRow.name, SourceRow.type).join(
        SourceRow, SourceRow.id == ItemRow.source_id
    )


def _item(row: ItemRow, source: str, source_type: str) -> ItemRecord:
    return freeze(ItemRecord, row, source=source, source_type=source_type)


def list_items(
    s: Session,
    *,
    source_id: int | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    oldest_first: bool = False,
) -> list[ItemRecord]:
    """Items for ``monitor items``: newest first by published time, else fetch time; ``since``
    on fetch time; every item when ``limit`` is None."""
    when = func.coalesce(ItemRow.published_at, ItemRow.fetched_at)
    q = _item_select()
    if source_id is not None:
        q = q.where(ItemRow.source_id == source_id)
    if since is not None:
        q = q.where(ItemRow.fetched_at >= since)
    q = q.order_by(
        *((when.asc(), ItemRow.id.asc()) if oldest_first else (when.desc(), ItemRow.id.desc()))
    )
    if limit:
        q = q.limit(limit)
    return [_item(*r) for r in s.execute(q.execution_options(yield_per=500))]


@dataclass(frozen=True)
class ItemPage:
    item: ItemRecord
    versions: tuple[ItemVersionRecord, ...]
    hits: tuple[HitEntry, ...]


def item_page(
    s: Session, item_id: int, *, allowed: tuple[int, ...] | None = None
) -> ItemPage | None:
    """An item with its versions (oldest first) and the hits ``allowed`` may see; None when the
    item does not exist or a restricted reader sees none of its hits."""
    row = s.execute(_item_select().where(ItemRow.id == item_id)).first()
    if row is None:
        return None
    q = _hit_select().where(HitRow.item_id == item_id)
    if allowed is not None:
        q = q.where(HitRow.watchlist_id.in_(allowed or (-1,)))
    hits = tuple(_entry(r) for r in s.execute(q.order_by(HitRow.id)))
    if allowed is not None and not hits:  # viewers reach items only through their desks' hits
        return None
    versions = tuple(
        freeze(ItemVersionRecord, v)
        for v in s.scalars(
            select(ItemVersionRow)
            .where(ItemVersionRow.item_id == item_id)
            .order_by(ItemVersionRow.version)
        )
    )
    return ItemPage(item=_item(*row), versions=versions, hits=hits)


def hit_watchlist(s: Session, hit_id: int) -> int | None:
    """The watchlist of a hit (for visibility checks), or None when there is no such hit."""
    return s.scalar(select(HitRow.watchlist_id).where(HitRow.id == hit_id))


@dataclass(frozen=True)
class ReviewEntry:
    id: int
    hit_id: int
    verdict: str | None
    note: str | None
    created_at: datetime
    reviewer: str | None
    assignee: str | None


def reviews_of(s: Session, hit_ids: Sequence[int]) -> list[ReviewEntry]:
    """The review trail of some hits, oldest first, with reviewer and assignee names."""
    if not hit_ids:
        return []
    assigned = aliased(UserRow)
    assignee = select(assigned.name).where(assigned.id == ReviewRow.assignee_id).scalar_subquery()
    q = (
        select(
            ReviewRow.id,
            ReviewRow.hit_id,
            ReviewRow.verdict,
            ReviewRow.note,
            ReviewRow.created_at,
            UserRow.name.label("reviewer"),
            assignee.label("assignee"),
        )
        .outerjoin(UserRow, UserRow.id == ReviewRow.reviewer_id)
        .where(ReviewRow.hit_id.in_(hit_ids))
        .order_by(ReviewRow.id)
    )
    return [ReviewEntry(**r._asdict()) for r in s.execute(q)]


# ---------------------------------------------------------------- terms


def term_stats(s: Session, term_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per term: hits, reviewed (relevant + not relevant) and relevant counts."""
    if not term_ids:
        return {}
    q = (
        select(
            HitRow.term_id,
            func.count(),
            func.sum(case((HitRow.review_state == "relevant", 1), else_=0)),
            func.sum(case((HitRow.review_state == "not_relevant", 1), else_=0)),
        )
        .where(HitRow.term_id.in_(term_ids))
        .group_by(HitRow.term_id)
    )
    out = {}
    for term_id, total, rel, notrel in s.execute(q):
        rel, notrel = int(rel or 0), int(notrel or 0)
        out[term_id] = {"hits": int(total), "relevant": rel, "reviewed": rel + notrel}
    return out


def watchlist_by_token(s: Session, token: str) -> tuple[int, str] | None:
    """The (id, name) of the enabled watchlist whose Atom token this is (a disabled watchlist's
    feed is not served)."""
    if not token or len(token) > 64 or "\x00" in token:
        return None
    row = s.execute(
        select(WatchlistRow.id, WatchlistRow.name).where(
            and_(WatchlistRow.atom_token == token, WatchlistRow.atom_token.is_not(None),
                 WatchlistRow.enabled.is_(True))
        )
    ).first()
    return (row[0], row[1]) if row else None


def names(s: Session, what: str, ids: Sequence[int] | None = None) -> list[tuple[int, str]]:
    """(id, name) pairs for filter menus: ``sources``, ``watchlists``, ``desks`` or ``users``
    (enabled users only), by name; ``ids`` narrows them."""
    from monitor.store.models import DeskRow

    model: Any = {
        "sources": SourceRow,
        "watchlists": WatchlistRow,
        "desks": DeskRow,
        "users": UserRow,
    }[what]
    q = select(model.id, model.name).order_by(model.name)
    if what == "users":
        q = q.where(UserRow.disabled.is_(False))
    if ids is not None:
        q = q.where(model.id.in_(ids or (-1,)))
    return [(i, n) for i, n in s.execute(q)]
