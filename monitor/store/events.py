"""The coverage level's stored index: each item's weighted event representation and its story
(``event_items``), read to build or catch up the in-memory index
(:class:`monitor.dedup.coverage.CoverageIndex`) and written by ingest and by desk corrections.

Sequence numbers are given only under the :data:`~monitor.store.locks.COVERAGE` lock (on SQLite
the database's single writer), so they grow in commit order: a reader that has seen every row up
to ``seq`` misses nothing by asking for the rows above it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Iterable, Sequence

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from monitor.store.bulk import insert_rows
from monitor.store.models import EventItemRow
from monitor.store.values import EventRow

_EVENTS = EventItemRow.__table__
_COLS = (_EVENTS.c.item_id, _EVENTS.c.story_id, _EVENTS.c.seq, _EVENTS.c.rep)


def window_rows(s: Session, since: datetime) -> list[EventRow]:
    """Every stored item seen at or after ``since``."""
    q = select(*_COLS).where(_EVENTS.c.seen_at >= since)
    return [EventRow(*row) for row in s.execute(q)]


def rows_after(s: Session, seq: int) -> list[EventRow]:
    """Rows given a sequence number above ``seq`` (written or re-placed since)."""
    q = select(*_COLS).where(_EVENTS.c.seq > seq).order_by(_EVENTS.c.seq)
    return [EventRow(*row) for row in s.execute(q)]


def last_seq(s: Session) -> int:
    return s.execute(select(func.max(_EVENTS.c.seq))).scalar_one() or 0


def write_rows(s: Session, rows: Sequence[tuple[int, int, float, int, bytes]]) -> None:
    """Insert (item id, story id, published UTC seconds, seq, bytes) rows."""
    insert_rows(s, _EVENTS, [
        dict(item_id=item_id, story_id=story_id, seen_at=datetime.fromtimestamp(at, UTC), seq=seq,
             rep=rep)
        for item_id, story_id, at, seq, rep in rows])


def move_items(s: Session, item_ids: Iterable[int], story_id: int) -> int:
    """Re-place stored items in ``story_id`` with new sequence numbers (a desk correction: every
    index sees the move and rebuilds). Call under the coverage lock. Returns rows moved."""
    ids = sorted(set(item_ids))
    if not ids:
        return 0
    present = [r[0] for r in s.execute(select(_EVENTS.c.item_id).where(_EVENTS.c.item_id.in_(ids)))]
    start = last_seq(s) + 1
    s.execute(update(_EVENTS).where(_EVENTS.c.item_id == bindparam("_item")),
              [{"_item": item_id, "story_id": story_id, "seq": start + i}
               for i, item_id in enumerate(sorted(present))])
    return len(present)
