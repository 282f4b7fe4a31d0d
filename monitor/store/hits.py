"""Hits: one per (item, term), recording the term version and item version that matched."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.models import AliasSetRow, HitRow, ItemRow, ItemVersionRow, SourceRow, WatchlistRow, WatchTermRow, WatchTermVersionRow


@dataclass(frozen=True, slots=True)
class TermMeta:
    term_id: int
    watchlist_id: int
    version: int
    query: str


def active_terms(s: Session) -> list[TermMeta]:
    """Enabled terms of enabled watchlists: what the matcher compiles."""
    q = (select(WatchTermRow.id, WatchTermRow.watchlist_id, WatchTermRow.version, WatchTermRow.query)
         .join(WatchlistRow, WatchTermRow.watchlist_id == WatchlistRow.id)
         .where(WatchTermRow.enabled.is_(True), WatchlistRow.enabled.is_(True)).order_by(WatchTermRow.id))
    return [TermMeta(*row) for row in s.execute(q).all()]


def terms_fingerprint(s: Session) -> tuple:
    """Changes whenever a term, a watchlist or an alias set changes: the matcher is recompiled."""
    terms = s.execute(select(func.count(WatchTermRow.id), func.max(WatchTermRow.updated_at),
                             func.sum(WatchTermRow.version))).one()
    lists = tuple(s.execute(select(WatchlistRow.id, WatchlistRow.enabled).order_by(WatchlistRow.id)))
    aliases = s.execute(select(func.count(AliasSetRow.id), func.max(AliasSetRow.updated_at))).one()
    return tuple(terms) + (lists,) + tuple(aliases)


def existing_pairs(s: Session, item_ids: Sequence[int]) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    ids = list(item_ids)
    for i in range(0, len(ids), 500):
        pairs.update(s.execute(select(HitRow.item_id, HitRow.term_id).where(HitRow.item_id.in_(ids[i:i + 500]))))
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
    table = HitRow.__table__
    ids = allocate_ids(s, table, len(rows))
    insert_rows(s, table, [dict(row, id=hit_id) for row, hit_id in zip(rows, ids)])
    return ids


@dataclass(frozen=True)
class HitRecord:
    """A hit with its provenance as it was when it matched: the term version's query and the
    item version's url and times (the item row holds only the latest)."""

    hit: HitRow
    item: ItemRow
    source: SourceRow
    watchlist: WatchlistRow
    query: str
    url: str | None
    fetched_at: datetime
    edited_at: datetime | None


def list_hits(
    s: Session, *, watchlist: str | None = None, since: datetime | None = None, limit: int | None = None,
) -> Iterable[HitRecord]:
    q = (select(HitRow, ItemRow, SourceRow, WatchlistRow, WatchTermVersionRow.query, ItemVersionRow.url, ItemVersionRow.fetched_at,
                ItemVersionRow.edited_at)
         .join(ItemRow, HitRow.item_id == ItemRow.id)
         .join(SourceRow, ItemRow.source_id == SourceRow.id)
         .join(WatchlistRow, HitRow.watchlist_id == WatchlistRow.id)
         .outerjoin(WatchTermVersionRow, and_(WatchTermVersionRow.term_id == HitRow.term_id,
                                           WatchTermVersionRow.version == HitRow.term_version))
         .outerjoin(ItemVersionRow, and_(ItemVersionRow.item_id == HitRow.item_id, ItemVersionRow.version == HitRow.item_version)))
    if watchlist:
        q = q.where(WatchlistRow.name == watchlist)
    if since:
        q = q.where(HitRow.created_at >= since)
    q = q.order_by(HitRow.id)
    if limit:
        q = q.limit(limit)
    for hit, item, source, wl, query, url, fetched_at, edited_at in s.execute(q.execution_options(yield_per=500)):
        version_known = fetched_at is not None  # every version is stored; the item row is a fallback
        yield HitRecord(hit, item, source, wl, query if query is not None else "",
                        url if version_known else item.url, fetched_at if version_known else item.fetched_at,
                        edited_at if version_known else item.edited_at)
