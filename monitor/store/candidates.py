"""What a backtest reads: the stored items that may match a query, narrowed in SQL by the
matcher's prefilter on their matching form, as frozen values (see :mod:`monitor.actions.backtest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.items import contains_any_clause
from monitor.store.models import ItemRow, SourceRow


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the matcher needs of a stored item, and what a backtest example shows."""

    id: int
    title: str | None
    text: str
    language: str | None
    channel_username: str | None
    published_at: datetime | None
    external_id: str
    url: str | None
    source: str


def _window(q, *, since: datetime | None, source: str | None):
    if since is not None:
        q = q.where(ItemRow.fetched_at >= since)
    if source is not None:
        q = q.where(SourceRow.name == source)
    return q


def count_items(s: Session, *, since: datetime | None = None, source: str | None = None) -> int:
    q = select(func.count(ItemRow.id)).join(SourceRow, SourceRow.id == ItemRow.source_id)
    return s.scalar(_window(q, since=since, source=source)) or 0


def backtest_candidates(
    s: Session,
    substrings: Sequence[str] | None,
    *,
    since: datetime | None = None,
    source: str | None = None,
    limit: int | None = None,
) -> Iterator[Candidate]:
    """Items that may match, newest first: ``norm_text`` contains any of ``substrings``.

    The substrings come from the matcher's prefilter (already in matching form). A trigram index
    serves the search on both backends (PostgreSQL: pg_trgm GIN; SQLite: FTS5, migration 0004).
    ``None`` means the query cannot be prefiltered and every item in the window is a candidate.
    One streamed query (not keyset batches): the index search runs once however many candidates
    there are.
    """
    q = select(
        ItemRow.id,
        ItemRow.title,
        ItemRow.text,
        ItemRow.language,
        ItemRow.channel_username,
        ItemRow.published_at,
        ItemRow.external_id,
        ItemRow.url,
        SourceRow.name.label("source"),
    ).join(SourceRow, SourceRow.id == ItemRow.source_id)
    if substrings is not None:
        subs = [x for x in substrings if x]
        if not subs:
            return iter(())
        q = q.where(contains_any_clause(s, subs))
    q = _window(q, since=since, source=source).order_by(ItemRow.id.desc())
    if limit is not None:
        q = q.limit(limit)
    rows = s.execute(q.execution_options(stream_results=True, yield_per=1000))
    return (Candidate(*r) for r in rows)
