"""Read queries behind the operator's pages and lists: sources with their health, the alert log.

Everything returned is frozen (:mod:`monitor.store.records` and the values below).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import NotFound
from monitor.store.models import (
    AlertRow,
    DeliveryAttemptRow,
    DeliveryRow,
    DeskRow,
    DeskTargetRow,
    ItemRow,
    SourceRow,
)
from monitor.store.records import SourceRecord, TargetRecord, freeze
from monitor.types import utcnow


def source_record(s: Session, ref: Any) -> SourceRecord:
    """A source by name or id; NotFound otherwise."""
    if isinstance(ref, str):
        row = s.scalar(select(SourceRow).where(SourceRow.name == ref))
    else:
        row = s.get(SourceRow, ref)
    if row is None:
        raise NotFound(f"no source named {ref!r}" if isinstance(ref, str) else f"no source {ref}")
    return freeze(SourceRecord, row)


def source_records(
    s: Session, *, type: str | None = None, since: datetime | None = None, limit: int | None = None
) -> list[SourceRecord]:
    q = select(SourceRow).order_by(SourceRow.name)
    if type:
        q = q.where(SourceRow.type == type)
    if since:
        q = q.where(SourceRow.created_at >= since)
    if limit:
        q = q.limit(limit)
    return [freeze(SourceRecord, row) for row in s.scalars(q)]


def source_exists(s: Session, name: str) -> bool:
    return s.scalar(select(SourceRow.id).where(SourceRow.name == name)) is not None


def source_by_locator(s: Session, type: str, locator: str) -> SourceRecord | None:
    row = s.scalar(select(SourceRow).where(SourceRow.type == type, SourceRow.locator == locator))
    return freeze(SourceRecord, row) if row else None


@dataclass(frozen=True)
class SourceActivity:
    source: SourceRecord
    per_day: float  # items published per day over the window


def source_activity(s: Session, *, days: int = 7) -> list[SourceActivity]:
    """Every source with the items per day it published over the last ``days`` days (whether it
    counts as silent is the schedule's rule: :func:`monitor.sources.silent_source`)."""
    since = utcnow() - timedelta(days=days)
    counts = {
        source_id: n
        for source_id, n in s.execute(
            select(ItemRow.source_id, func.count())
            .where(ItemRow.published_at >= since)
            .group_by(ItemRow.source_id)
        )
    }
    return [
        SourceActivity(source=freeze(SourceRecord, src), per_day=round(counts.get(src.id, 0) / days, 1))
        for src in s.scalars(select(SourceRow).order_by(SourceRow.name))
    ]


# ---------------------------------------------------------------- the alert log


@dataclass(frozen=True)
class AttemptEntry:
    at: datetime
    outcome: str
    error: str | None


@dataclass(frozen=True)
class DeliveryEntry:
    id: int
    target: TargetRecord
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    tries: tuple[AttemptEntry, ...]


@dataclass(frozen=True)
class AlertEntry:
    id: int
    desk: str
    kind: str
    status: str
    story_id: int | None
    hit_id: int | None
    created_at: datetime
    due_at: datetime | None
    sent_at: datetime | None
    deliveries: tuple[DeliveryEntry, ...]


def alert_log(
    s: Session, *, desk_ids: Sequence[int] | None = None, before: int | None = None, limit: int = 50
) -> list[AlertEntry]:
    """Alerts newest first with their deliveries and each delivery's attempts."""
    q = select(AlertRow, DeskRow.name).join(DeskRow, DeskRow.id == AlertRow.desk_id)
    if desk_ids is not None:
        q = q.where(AlertRow.desk_id.in_(desk_ids or (-1,)))
    if before is not None:
        q = q.where(AlertRow.id < before)
    alerts = s.execute(q.order_by(AlertRow.id.desc()).limit(limit)).all()
    ids = [a.id for a, _ in alerts]
    deliveries: dict[int, list] = {i: [] for i in ids}
    attempts: dict[int, list[AttemptEntry]] = {}
    if ids:
        drows = s.execute(
            select(DeliveryRow, DeskTargetRow)
            .join(DeskTargetRow, DeskTargetRow.id == DeliveryRow.target_id)
            .where(DeliveryRow.alert_id.in_(ids))
            .order_by(DeliveryRow.id)
        ).all()
        dids = [d.id for d, _ in drows]
        if dids:
            for att in s.scalars(
                select(DeliveryAttemptRow)
                .where(DeliveryAttemptRow.delivery_id.in_(dids))
                .order_by(DeliveryAttemptRow.id)
            ):
                attempts.setdefault(att.delivery_id, []).append(
                    AttemptEntry(att.at, att.outcome, att.error)
                )
        for d, t in drows:
            deliveries[d.alert_id].append(
                DeliveryEntry(
                    id=d.id,
                    target=freeze(TargetRecord, t),
                    status=d.status,
                    attempts=d.attempts,
                    next_attempt_at=d.next_attempt_at,
                    last_error=d.last_error,
                    sent_at=d.sent_at,
                    tries=tuple(attempts.get(d.id, ())),
                )
            )
    return [
        AlertEntry(
            id=a.id,
            desk=name,
            kind=a.kind,
            status=a.status,
            story_id=a.story_id,
            hit_id=a.hit_id,
            created_at=a.created_at,
            due_at=a.due_at,
            sent_at=a.sent_at,
            deliveries=tuple(deliveries[a.id]),
        )
        for a, name in alerts
    ]


