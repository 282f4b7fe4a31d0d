"""Retention and housekeeping: prune raw payloads, unmatched items and stale LSH bands."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from monitor.store.models import Hit, Item, ItemPayload, LshBand, Source


def prune(s: Session, *, now: datetime, raw_days: int | None, unmatched_days: int | None,
          window_days: int) -> dict[str, int]:
    """Apply the retention settings; items with hits are always kept."""
    out = {"payloads": 0, "items": 0, "bands": 0}
    if raw_days:
        out["payloads"] = s.execute(delete(ItemPayload).where(
            ItemPayload.created_at < now - timedelta(days=raw_days))).rowcount or 0
    if unmatched_days:
        old = select(Item.id).where(Item.fetched_at < now - timedelta(days=unmatched_days),
                                    ~exists().where(Hit.item_id == Item.id))
        out["items"] = s.execute(delete(Item).where(Item.id.in_(old))).rowcount or 0
    # Bands older than twice the window can no longer be candidates for anything new.
    out["bands"] = s.execute(delete(LshBand).where(LshBand.seen_at < now - timedelta(days=2 * window_days))
                             ).rowcount or 0
    return out


def queue_lag(s: Session, now: datetime) -> float:
    """Seconds the most overdue enabled source is behind its next-check time (0 when none)."""
    oldest = s.scalar(select(func.min(Source.next_check_at)).where(
        Source.enabled.is_(True), Source.retired.is_(False), Source.type.in_(("rss", "telegram", "telegram-web"))))
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def silent_sources(s: Session, *, now: datetime, after: timedelta) -> list[Source]:
    """Enabled sources with no new item for longer than ``after`` (never-productive ones count
    from when they were added)."""
    q = select(Source).where(Source.enabled.is_(True), Source.retired.is_(False),
                             Source.type.in_(("rss", "telegram", "telegram-web")),
                             func.coalesce(Source.last_new_item_at, Source.created_at) < now - after)
    return list(s.scalars(q.order_by(Source.name)))
