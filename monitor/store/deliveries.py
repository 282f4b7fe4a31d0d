"""The worker's half of alerting in SQL: claim a due delivery under a lease, record every attempt
and its outcome, settle the alert, build due digests, and read what an alert renders.

Writing the outbox is :mod:`monitor.store.alerts`; deciding what goes in it (routing, digest
folding) is :mod:`monitor.alerts`, sending :mod:`monitor.alerts.worker`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.errors import NotFound
from monitor.store.alerts import desk_targets, desk_value, insert_alert, is_postgres
from monitor.store.models import (
    AlertRow,
    DeliveryAttemptRow,
    DeliveryRow,
    DeskRow,
    DeskTargetRow,
    HitRow,
    ItemRow,
    SourceRow,
    StoryRow,
    WatchlistRow,
    WatchTermRow,
)
from monitor.store.users import audit
from monitor.store.values import (
    AlertDraft,
    AlertMessage,
    DigestMessage,
    HeldGroup,
    NoticeMessage,
    StoryEntry,
    StoryMessage,
    Target,
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker holds a lease on, with the attempt row written before sending."""

    delivery_id: int
    alert_id: int
    target_id: int
    attempt_id: int
    attempts: int  # including this one
    kind: str


def alert_targets(s: Session, alert_id: int) -> list[int]:
    """Targets an alert still has to reach."""
    return list(s.scalars(select(DeliveryRow.target_id).where(DeliveryRow.alert_id == alert_id,
                                                           DeliveryRow.status == "pending")).all())


def fail_disabled_targets(s: Session, now: datetime) -> int:
    """Pending deliveries to a disabled target fail: they would otherwise hold their alert open."""
    ids = s.scalars(select(DeliveryRow.id).join(DeskTargetRow, DeliveryRow.target_id == DeskTargetRow.id)
                    .where(DeliveryRow.status == "pending", DeskTargetRow.enabled.is_(False))).all()
    for delivery_id in ids:
        s.add(DeliveryAttemptRow(delivery_id=delivery_id, at=now, outcome="permanent", error="target disabled"))
        d = s.get(DeliveryRow, delivery_id)
        d.status, d.last_error = "failed", "target disabled"
        _settle(s, d.alert_id, now)
    return len(ids)


def targets_with_work(s: Session, now: datetime) -> list[int]:
    """Enabled targets with at least one delivery that is due now."""
    return list(s.scalars(
        select(DeliveryRow.target_id).join(AlertRow, DeliveryRow.alert_id == AlertRow.id)
        .join(DeskTargetRow, DeliveryRow.target_id == DeskTargetRow.id)
        .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now, AlertRow.status == "pending",
               AlertRow.due_at <= now, DeskTargetRow.enabled.is_(True))
        .distinct().order_by(DeliveryRow.target_id)).all())


def claim_next(s: Session, target_id: int, now: datetime, *, lease: timedelta,
               alert_id: int | None = None, wait: bool = False) -> Claim | None:
    """Lease the oldest due delivery of a target, or None when there is none or it must wait.

    Order: a target receives its alerts oldest first; while the oldest due one waits for a retry,
    the ones after it wait too (None). Exclusivity: on PostgreSQL the target row is locked with
    ``FOR UPDATE SKIP LOCKED`` while claiming (another worker skips the target), SQLite has a single
    writer; the claim itself pushes ``next_attempt_at`` forward by ``lease``, so no other worker
    takes the delivery until this one records the outcome or dies (then it is re-sent after the
    lease). The attempt row is written here, before sending (outcome ``claimed``): an attempt cut
    short by a crash stays visible and is marked ``interrupted`` when the delivery is claimed again.
    ``alert_id`` claims that alert's delivery out of order (``desk test``). ``wait``: the worker
    that just recorded the target's previous delivery waits for the target row instead of skipping
    it (another worker may be looking at it for a moment, will find the head leased and let go;
    skipping would leave the rest of the queue to the next pass).
    """
    if is_postgres(s) and s.scalar(select(DeskTargetRow.id).where(DeskTargetRow.id == target_id)
                                   .with_for_update(skip_locked=not wait)) is None:
        return None
    q = (select(DeliveryRow, AlertRow.kind).join(AlertRow, DeliveryRow.alert_id == AlertRow.id)
         .where(DeliveryRow.target_id == target_id, DeliveryRow.status == "pending", AlertRow.status == "pending",
                AlertRow.due_at <= now))
    if alert_id is not None:
        q = q.where(DeliveryRow.alert_id == alert_id)
    head = s.execute(q.order_by(DeliveryRow.alert_id).limit(1)).first()
    if head is None or head[0].next_attempt_at > now:
        return None
    delivery, kind = head
    s.execute(update(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id == delivery.id,
                                            DeliveryAttemptRow.outcome == "claimed")
              .values(outcome="interrupted", error="worker stopped before recording the outcome; "
                                                    "the target may have received it"))
    delivery.attempts += 1
    delivery.next_attempt_at = now + lease
    attempt = DeliveryAttemptRow(delivery_id=delivery.id, at=now, outcome="claimed")
    s.add(attempt)
    s.flush()
    return Claim(delivery.id, delivery.alert_id, target_id, attempt.id, delivery.attempts, kind)


def record_outcome(s: Session, claim: Claim, *, outcome: str, error: str | None, now: datetime,
                   retry_at: datetime | None = None) -> str:
    """Record what the target said; returns the delivery's new status.

    ``sent`` only ever follows the target's acceptance. A transient failure with ``retry_at`` stays
    pending until then; without one (out of attempts) it fails, as a permanent failure does. The
    alert then settles: ``sent`` when every delivery is sent, ``failed`` when one failed and none
    is pending; a digest passes its status on to the alerts it carries.
    """
    if is_postgres(s):
        # Serialise the outcomes of one alert's deliveries: two workers recording its last two
        # targets at once would each see the other still pending, and the alert never settle.
        s.execute(select(AlertRow.id).where(AlertRow.id == claim.alert_id).with_for_update())
    attempt = s.get(DeliveryAttemptRow, claim.attempt_id)
    attempt.outcome, attempt.error = outcome, error
    d = s.get(DeliveryRow, claim.delivery_id)
    if outcome == "sent":
        d.status, d.sent_at, d.last_error = "sent", now, None
    elif outcome == "permanent" or retry_at is None:
        d.status, d.last_error = "failed", error
    else:
        d.next_attempt_at, d.last_error = retry_at, error
    _settle(s, d.alert_id, now)
    return d.status


def _settle(s: Session, alert_id: int, now: datetime) -> None:
    counts = dict(s.execute(select(DeliveryRow.status, func.count(DeliveryRow.id)).where(DeliveryRow.alert_id == alert_id)
                            .group_by(DeliveryRow.status)).all())
    if counts.get("pending"):
        return
    status = "failed" if counts.get("failed") else "sent"
    s.execute(update(AlertRow).where(AlertRow.id == alert_id, AlertRow.status == "pending")
              .values(status=status, sent_at=now if status == "sent" else None))
    s.execute(update(AlertRow).where(AlertRow.digest_id == alert_id, AlertRow.status == "held")
              .values(status=status, sent_at=now if status == "sent" else None))


def held_groups(s: Session, now: datetime) -> list[HeldGroup]:
    """Held alerts whose digest time has come, one group per route, desk and slot (members
    locked on PostgreSQL; a group another worker is folding is left out)."""
    out = []
    groups = s.execute(select(AlertRow.route_id, AlertRow.desk_id, AlertRow.due_at)
                       .where(AlertRow.status == "held", AlertRow.digest_id.is_(None),
                              AlertRow.due_at <= now)
                       .distinct().order_by(AlertRow.due_at)).all()
    for route_id, desk_id, slot in groups:
        q = (select(AlertRow.id).where(AlertRow.status == "held", AlertRow.digest_id.is_(None),
                                       AlertRow.due_at == slot, AlertRow.desk_id == desk_id,
                                       AlertRow.route_id == route_id).order_by(AlertRow.id))
        if is_postgres(s):
            q = q.with_for_update(skip_locked=True)  # another worker is folding these
        members = tuple(s.scalars(q).all())
        if members:
            out.append(HeldGroup(route_id, desk_value(s.get(DeskRow, desk_id)), slot, members,
                                 desk_targets(s, [desk_id]).get(desk_id, ())))
    return out


def fold_digest(s: Session, digest: AlertDraft, members: Sequence[int], *, now: datetime) -> int | None:
    """Write a digest alert and fold its members into it (they share its fate when it is not
    sent at all, e.g. skipped); the digest's id, or None when its key existed."""
    digest_id = insert_alert(s, digest, now=now)
    if digest_id is None:
        return None
    s.execute(update(AlertRow).where(AlertRow.id.in_(members)).values(digest_id=digest_id))
    if digest.status != "pending":
        s.execute(update(AlertRow).where(AlertRow.id.in_(members)).values(status=digest.status))
    return digest_id


def _entries(s: Session, where) -> list[StoryEntry]:
    first = SourceRow.__table__.alias("first_source")
    q = (select(AlertRow.id, HitRow.snippet, ItemRow.title, ItemRow.text, ItemRow.url,
                ItemRow.published_at, ItemRow.fetched_at, SourceRow.name, WatchTermRow.query,
                WatchTermRow.label, WatchlistRow.name, StoryRow.title, StoryRow.source_count,
                StoryRow.item_count, first.c.name, StoryRow.first_seen_at, ItemRow.id)
         .join(HitRow, AlertRow.hit_id == HitRow.id).join(ItemRow, HitRow.item_id == ItemRow.id)
         .join(SourceRow, ItemRow.source_id == SourceRow.id)
         .join(WatchTermRow, HitRow.term_id == WatchTermRow.id)
         .join(WatchlistRow, HitRow.watchlist_id == WatchlistRow.id)
         .outerjoin(StoryRow, AlertRow.story_id == StoryRow.id)
         .outerjoin(first, StoryRow.first_source_id == first.c.id).where(where).order_by(AlertRow.id))
    out = []
    for (aid, snippet, title, text, url, published, fetched, source, query, label, watchlist,
         story_title, source_count, item_count, first_source, first_seen, item_id) in s.execute(q):
        out.append(StoryEntry(
            alert_id=aid, title=title or story_title or (text or "")[:120], snippet=snippet or None,
            text=None if snippet else text, source=source, permalink=url,
            posted_at=published or fetched, watchlist=watchlist, term=label or query,
            first_source=first_source or source, first_seen_at=first_seen,
            source_count=source_count or 1, item_count=item_count or 1, item_id=item_id))
    return out


def alert_content(s: Session, alert_id: int) -> AlertMessage:
    """Everything a message about an alert says, read at send time (source counts are current).

    Story and update alerts carry their first hit's story; a digest its members, oldest first;
    test, spike and operator alerts (and a story alert whose hit is gone) the title and text
    stored with them.
    """
    alert = s.get(AlertRow, alert_id)
    desk = s.get(DeskRow, alert.desk_id)
    if alert.kind in ("story", "update") and alert.hit_id:
        rows = _entries(s, AlertRow.id == alert.id)
        if rows:
            return StoryMessage(alert.id, alert.kind, desk.name, desk.timezone, rows[0])
    if alert.kind == "digest":
        return DigestMessage(alert.id, desk.name, desk.timezone,
                             tuple(_entries(s, AlertRow.digest_id == alert.id)))
    payload = alert.payload or {}
    return NoticeMessage(alert.id, alert.kind, desk.name, desk.timezone,
                         title=payload.get("title") or f"alert {alert.id}", text=payload.get("text"),
                         watchlist=payload.get("watchlist"))


def target(s: Session, target_id: int) -> Target | None:
    row = s.get(DeskTargetRow, target_id)
    if row is None:
        return None
    return Target(row.id, row.desk_id, row.url, row.url_env, row.enabled)


def retry_delivery(s: Session, delivery_id: int, *, user_id: int | None, now: datetime) -> DeliveryRow:
    """Set a delivery back to pending, due now (the alert worker picks it up), and audit it."""
    delivery = s.get(DeliveryRow, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery with id {delivery_id}")
    delivery.status = "pending"
    delivery.next_attempt_at = now
    alert = s.get(AlertRow, delivery.alert_id)
    if alert is not None and alert.status == "failed":
        alert.status = "pending"  # the worker only looks at pending alerts
    audit(s, user_id, "delivery.retry", f"delivery:{delivery_id}", alert_id=delivery.alert_id)
    s.flush()
    return delivery
