"""SQLite's FTS5 trigram index of ``items.norm_text``, kept up behind ingest.

An insert queues the new item's id in ``items_fts_pending`` (a trigger, migration 0070);
:func:`catch_up` indexes the queue in bulk, oldest first, in its own short transaction: one
``INSERT ... SELECT`` tokenizes a few thousand rows for about a third of what a row-at-a-time
trigger cost inside the ingest transaction. Readers never depend on it being caught up:
:func:`monitor.store.items.contains_any_clause` reads queued items' text directly.

PostgreSQL's pg_trgm GIN index is maintained by the database itself: nothing to do there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

CHUNK = 5000  # items indexed per transaction: short enough not to hold the writers up long


def _sqlite(s: Session) -> bool:
    return s.get_bind().dialect.name == "sqlite"


def pending(s: Session) -> int:
    """How many items wait for the index (0 on PostgreSQL)."""
    if not _sqlite(s):
        return 0
    return s.execute(text("SELECT count(*) FROM items_fts_pending")).scalar_one()


def catch_up(s: Session, *, limit: int = CHUNK) -> int:
    """Index up to ``limit`` queued items (oldest first); returns how many."""
    if not _sqlite(s):
        return 0
    top = s.execute(text("SELECT max(id), count(*) FROM (SELECT id FROM items_fts_pending "
                         "ORDER BY id LIMIT :n)"), {"n": limit}).one()
    if not top[1]:
        return 0
    s.execute(text("INSERT INTO items_fts(rowid, norm_text) SELECT i.id, i.norm_text "
                   "FROM items_fts_pending p JOIN items i ON i.id = p.id WHERE p.id <= :top "
                   "ORDER BY p.id"), {"top": top[0]})
    s.execute(text("DELETE FROM items_fts_pending WHERE id <= :top"), {"top": top[0]})
    return top[1]
