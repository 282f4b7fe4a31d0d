"""Hits: one per (item, term), recording the term version and item version that matched."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.models import Hit, Item, ItemVersion, Source, Watchlist, WatchTerm, WatchTermVersion


@dataclass(frozen=True, slots=True)
class TermMeta:
    term_id: int
    watchlist_id: int
    version: int
    query: str


def active_terms(s: Session) -> list[TermMeta]:
    """Enabled terms of enabled watchlists: what the matcher compiles."""
    q = (select(WatchTerm.id, WatchTerm.watchlist_id, WatchTerm.version, WatchTerm.query)
         .join(Watchlist, WatchTerm.watchlist_id == Watchlist.id)
         .where(WatchTerm.enabled.is_(True), Watchlist.enabled.is_(True)).order_by(WatchTerm.id))
    return [TermMeta(*row) for row in s.execute(q).all()]


def terms_fingerprint(s: Session) -> tuple:
    """Changes whenever a term, a watchlist or an alias set changes: the matcher is recompiled."""
    from monitor.store.models import AliasSet

    terms = s.execute(select(func.count(WatchTerm.id), func.max(WatchTerm.updated_at),
                             func.sum(WatchTerm.version))).one()
    lists = tuple(s.execute(select(Watchlist.id, Watchlist.enabled).order_by(Watchlist.id)))
    aliases = s.execute(select(func.count(AliasSet.id), func.max(AliasSet.updated_at))).one()
    return tuple(terms) + (lists,) + tuple(aliases)


def existing_pairs(s: Session, item_ids: Sequence[int]) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    ids = list(item_ids)
    for i in range(0, len(ids), 500):
        pairs.update(s.execute(select(Hit.item_id, Hit.term_id).where(Hit.item_id.in_(ids[i:i + 500]))))
    return pairs


def matched_hash(text: str | None) -> str:
    """SHA-256 of the exact field text a hit matched: provenance a desk can check."""
    return hashlib.sha256((text or "").encode("utf-8", "surrogatepass")).hexdigest()


def hit_row(*, item_id: int, item_version: int, story_id: int | None, meta: TermMeta, field: str, spans,
            snippet: str, snippet_html: str, field_text: str | None, now: datetime) -> dict:
    """The columns of one new hit, for :func:`add_hits`."""
    return dict(item_id=item_id, term_id=meta.term_id, watchlist_id=meta.watchlist_id, term_version=meta.version,
                item_version=item_version, story_id=story_id, field=field,
                spans=[[sp.start, sp.end] for sp in spans], snippet=snippet, snippet_html=snippet_html,
                matched_hash=matched_hash(field_text), review_state="new", created_at=now)


def add_hits(s: Session, rows: Sequence[dict]) -> list[int]:
    """Insert hits (rows from :func:`hit_row`) in bulk; their ids, in order."""
    table = Hit.__table__
    ids = allocate_ids(s, table, len(rows))
    insert_rows(s, table, [dict(row, id=hit_id) for row, hit_id in zip(rows, ids)])
    return ids


@dataclass(frozen=True)
class HitRecord:
    """A hit with its provenance as it was when it matched: the term version's query and the
    item version's url and times (the item row holds only the latest)."""

    hit: Hit
    item: Item
    source: Source
    watchlist: Watchlist
    query: str
    url: str | None
    fetched_at: datetime
    edited_at: datetime | None


def list_hits(
    s: Session, *, watchlist: str | None = None, since: datetime | None = None, limit: int | None = None,
) -> Iterable[HitRecord]:
    q = (select(Hit, Item, Source, Watchlist, WatchTermVersion.query, ItemVersion.url, ItemVersion.fetched_at,
                ItemVersion.edited_at)
         .join(Item, Hit.item_id == Item.id)
         .join(Source, Item.source_id == Source.id)
         .join(Watchlist, Hit.watchlist_id == Watchlist.id)
         .outerjoin(WatchTermVersion, and_(WatchTermVersion.term_id == Hit.term_id,
                                           WatchTermVersion.version == Hit.term_version))
         .outerjoin(ItemVersion, and_(ItemVersion.item_id == Hit.item_id, ItemVersion.version == Hit.item_version)))
    if watchlist:
        q = q.where(Watchlist.name == watchlist)
    if since:
        q = q.where(Hit.created_at >= since)
    q = q.order_by(Hit.id)
    if limit:
        q = q.limit(limit)
    for hit, item, source, wl, query, url, fetched_at, edited_at in s.execute(q.execution_options(yield_per=500)):
        version_known = fetched_at is not None  # every version is stored; the item row is a fallback
        yield HitRecord(hit, item, source, wl, query if query is not None else "",
                        url if version_known else item.url, fetched_at if version_known else item.fetched_at,
                        edited_at if version_known else item.edited_at)
