"""Hits: one per (item, term), recording the term version and item version that matched."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.models import AliasSetRow, HitRow, WatchlistRow, WatchTermRow


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
