"""Retention and housekeeping: prune raw payloads, unmatched stories and stale LSH bands.

Retention keeps everything a hit stands on: the raw payloads of items with hits (the evidence),
and every item of a story that has a hit (the story's timeline). What goes: raw payloads older
than ``raw_days`` of items without hits, and whole stories without hits whose every item was
fetched more than ``unmatched_days`` ago. A pruned item leaves a tombstone (source, external id),
so a feed that still lists the entry does not bring it back as new; tombstones go after
``TOMBSTONE_DAYS`` (or four retention periods, if longer), when no feed lists such entries any more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import and_, delete, exists, insert, or_, select
from sqlalchemy.orm import Session, aliased

from monitor.store.models import HitRow, ItemRow, ItemPayloadRow, ItemTombstoneRow, LshBandRow, SourceRow, StoryRow

TOMBSTONE_DAYS = 180
_CHUNK = 2000


def prune(s: Session, *, now: datetime, raw_days: int | None, unmatched_days: int | None,
          window_days: int) -> dict[str, int]:
    """Apply the retention settings (see the module docstring); returns what was removed."""
    out = {"payloads": 0, "items": 0, "stories": 0, "bands": 0, "tombstones": 0}
    if raw_days:
        out["payloads"] = s.execute(delete(ItemPayloadRow).where(
            ItemPayloadRow.created_at < now - timedelta(days=raw_days),
            ~exists().where(HitRow.item_id == ItemPayloadRow.item_id))).rowcount or 0
    if unmatched_days:
        cutoff = now - timedelta(days=unmatched_days)
        other = aliased(ItemRow)
        story_hit = (select(HitRow.id).join(other, other.id == HitRow.item_id)
                     .where(other.story_id == ItemRow.story_id).exists())
        story_recent = select(other.id).where(other.story_id == ItemRow.story_id,
                                              other.fetched_at >= cutoff).exists()
        doomed = (select(ItemRow.id, ItemRow.source_id, ItemRow.external_id)
                  .where(ItemRow.fetched_at < cutoff, ~exists().where(HitRow.item_id == ItemRow.id),
                         or_(ItemRow.story_id.is_(None), and_(~story_hit, ~story_recent)))
                  .order_by(ItemRow.id).limit(_CHUNK))
        while rows := s.execute(doomed).all():
            s.execute(insert(ItemTombstoneRow), [{"source_id": r.source_id, "external_id": r.external_id,
                                               "pruned_at": now} for r in rows])
            out["items"] += s.execute(delete(ItemRow).where(ItemRow.id.in_([r.id for r in rows]))).rowcount or 0
        out["stories"] = s.execute(delete(StoryRow).where(~exists().where(ItemRow.story_id == StoryRow.id))
                                   ).rowcount or 0
        keep = max(TOMBSTONE_DAYS, 4 * unmatched_days)
        out["tombstones"] = s.execute(delete(ItemTombstoneRow).where(
            ItemTombstoneRow.pruned_at < now - timedelta(days=keep))).rowcount or 0
    # Bands older than twice the window can no longer be candidates for anything new.
    out["bands"] = s.execute(delete(LshBandRow).where(LshBandRow.seen_at < now - timedelta(days=2 * window_days))
                             ).rowcount or 0
    return out


def tombstoned(s: Session, source_id: int, external_ids: list[str]) -> set[str]:
    """Which of ``external_ids`` retention removed from this source."""
    found: set[str] = set()
    for i in range(0, len(external_ids), 500):
        found.update(s.scalars(select(ItemTombstoneRow.external_id).where(
            ItemTombstoneRow.source_id == source_id,
            ItemTombstoneRow.external_id.in_(external_ids[i:i + 500]))))
    return found


def queue_lag(s: Session, now: datetime, *, types: Sequence[str]) -> float:
    """Seconds the most overdue enabled source of ``types`` is behind its next-check time (0 when
    none). A source paused by the server (Retry-After, FloodWait) is due when its pause ends."""
    rows = s.execute(select(SourceRow.next_check_at, SourceRow.paused_until).where(
        SourceRow.enabled.is_(True), SourceRow.retired.is_(False), SourceRow.next_check_at.is_not(None),
        SourceRow.type.in_(list(types)))).all()
    oldest = min((max(due, paused) if paused else due for due, paused in rows), default=None)
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
