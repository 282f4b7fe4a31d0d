"""All the SQL of alerting: the outbox (``alerts``), ``deliveries`` and their attempts, mutes.

The outbox is written in the SAME transaction that stores the hits (:func:`on_new_hits`), so an
alert exists if and only if its hit does. Every alert has a unique ``key`` and is written with
``INSERT … ON CONFLICT DO NOTHING``, so concurrent pipelines and re-runs never double it:

=============================  ========================================================
``story:<desk>:<story>``       the one alert of a story for a desk (``item:<desk>:<item>``
                               while a hit has no story)
``update:<desk>:<story>``      the one update when the story reaches the spread threshold
``muted:<desk>:<ref>``         record of a hit suppressed by a mute (pages nobody)
``old:<desk>:<ref>``           record of a hit older than the route's max age (a backfill)
``digest:<route>:<slot>:<n>``  a digest of held alerts (n = its first member, for uniqueness)
``spike:<watchlist>:<hour>:<desk>`` and ``op:…``   see :mod:`monitor.alerts.health`
=============================  ========================================================

Muted and too-old hits do not take the story key, so the story can still alert once the mute ends
or when fresh coverage arrives. The worker's half (claim a delivery, record its outcome, build
digests, read what to render) is in the second part of this module; spike and health queries in
the third.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from monitor.alerts.digest import next_digest_at, quiet_release
from monitor.store.models import (
    Alert, Delivery, DeliveryAttempt, Desk, DeskTarget, Hit, Item, Mute, Route, Source, Story, Watchlist, WatchTerm,
)

# Alerts that page a desk immediately ignore its quiet hours: operators must hear about a broken
# pipeline at night, and a test is asked for by a person who is awake.
QUIET_EXEMPT = ("operator", "test")


def _dialect_insert(s: Session):
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def is_postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


# ---------------------------------------------------------------------------- the outbox


def insert_alert(s: Session, *, key: str, kind: str, desk_id: int, now: datetime, status: str = "pending",
                 due_at: datetime | None = None, route_id: int | None = None, story_id: int | None = None,
                 hit_id: int | None = None, payload: dict[str, Any] | None = None,
                 digest_id: int | None = None) -> int | None:
    """Insert an alert unless its key exists; the new id, or None when it already existed.

    Pending alerts get one delivery per enabled target of the desk (due with the alert); a desk
    with no enabled target gets its alert recorded as ``skipped`` — nothing could page anyone.
    """
    insert = _dialect_insert(s)
    due = due_at or now
    stmt = (insert(Alert).values(key=key, kind=kind, desk_id=desk_id, route_id=route_id, story_id=story_id,
                                 hit_id=hit_id, digest_id=digest_id, status=status, due_at=due,
                                 payload=payload or {}, created_at=now)
            .on_conflict_do_nothing(index_elements=["key"]).returning(Alert.id))
    alert_id = s.execute(stmt).scalar()
    if alert_id is None or status != "pending":
        return alert_id
    targets = s.scalars(select(DeskTarget.id).where(DeskTarget.desk_id == desk_id,
                                                    DeskTarget.enabled.is_(True))).all()
    if not targets:
        s.execute(update(Alert).where(Alert.id == alert_id).values(status="skipped"))
        return alert_id
    s.execute(insert(Delivery).on_conflict_do_nothing(index_elements=["alert_id", "target_id"]),
              [{"alert_id": alert_id, "target_id": t, "status": "pending", "attempts": 0,
                "next_attempt_at": due} for t in targets])
    return alert_id


def due_time(desk: Desk, kind: str, now: datetime) -> datetime:
    """When a real-time alert of ``kind`` may page ``desk``: now, or the end of its quiet hours."""
    if kind in QUIET_EXEMPT:
        return now
    return quiet_release(now, desk.quiet_start, desk.quiet_end, desk.timezone)


def on_new_hits(s: Session, hit_ids: Sequence[int], *, settings: Any = None, now: datetime) -> int:
    """Route new hits to desks, inside the transaction that stored them; returns alerts created.

    For each hit, each enabled route of its watchlist: the route's source and language filters
    drop the hit silently (the route does not want it); a hit on an item older than the route's
    ``max_age`` (published time, else fetch time) is recorded as ``skipped`` and a muted story or
    term as ``muted``; otherwise the desk's story alert is written once — ``pending`` (due now or
    when quiet hours end), or ``held`` for the next digest (digest routes, and real-time routes
    over their throttle). A hit on a story that already alerted this desk creates nothing, except
    the single ``update`` alert when the story reaches the route's spread threshold.

    ``settings`` is accepted for the pipeline's hook signature; routing needs only the rows.
    """
    if not hit_ids:
        return 0
    rows = s.execute(select(Hit, Item, Source).join(Item, Hit.item_id == Item.id)
                     .join(Source, Item.source_id == Source.id)
                     .where(Hit.id.in_(list(hit_ids))).order_by(Hit.id)).all()
    if not rows:
        return 0
    routes: dict[int, list[tuple[Route, Desk]]] = defaultdict(list)
    for route, desk in s.execute(select(Route, Desk).join(Desk, Route.desk_id == Desk.id).join(
            Watchlist, Route.watchlist_id == Watchlist.id)
            .where(Route.watchlist_id.in_({h.watchlist_id for h, _, _ in rows}), Route.enabled.is_(True),
                   Watchlist.enabled.is_(True)).order_by(Route.id)):
        routes[route.watchlist_id].append((route, desk))
    muted = _active_mutes(s, {h.story_id for h, _, _ in rows if h.story_id}, {h.term_id for h, _, _ in rows}, now)
    created = 0
    for hit, item, source in rows:
        for route, desk in routes.get(hit.watchlist_id, ()):
            created += _route_hit(s, hit, item, source, route, desk, muted, now)
    return created


def _active_mutes(s: Session, story_ids: set[int], term_ids: set[int], now: datetime) -> set[tuple[str, int]]:
    if not story_ids and not term_ids:
        return set()
    q = select(Mute.kind, Mute.ref_id).where(Mute.until > now, (
        (Mute.kind == "story") & Mute.ref_id.in_(story_ids or {-1}))
        | ((Mute.kind == "term") & Mute.ref_id.in_(term_ids or {-1})))
    return set(s.execute(q))


def _route_hit(s: Session, hit: Hit, item: Item, source: Source, route: Route, desk: Desk,
               muted: set[tuple[str, int]], now: datetime) -> int:
    if route.source_filter and source.name not in route.source_filter:
        return 0
    if route.language_filter and (item.language or source.language or "").lower() not in route.language_filter:
        return 0
    ref = f"{desk.id}:{hit.story_id}" if hit.story_id else f"{desk.id}:i{item.id}"
    base = dict(desk_id=desk.id, route_id=route.id, story_id=hit.story_id, hit_id=hit.id, now=now,
                payload={"term_id": hit.term_id, "watchlist_id": hit.watchlist_id, "item_id": item.id})
    key = f"story:{ref}" if hit.story_id else f"item:{ref}"
    seen = item.published_at or item.fetched_at
    too_old = route.max_age is not None and seen is not None and now - seen > timedelta(seconds=route.max_age)
    is_muted = ("story", hit.story_id) in muted or ("term", hit.term_id) in muted
    if too_old or is_muted:
        # Recorded for the desk's audit, unless the story already alerted (nothing was held back).
        if s.scalar(select(Alert.id).where(Alert.key == key)) is None:
            insert_alert(s, key=f"{'old' if too_old else 'muted'}:{ref}", kind="story",
                         status="skipped" if too_old else "muted", **base)
        return 0
    if route.mode == "digest" or _over_throttle(s, route, now):
        due = next_digest_at(now, every=route.digest_every, at=route.digest_at, tz_name=desk.timezone)
        return int(insert_alert(s, key=key, kind="story", status="held", due_at=due, **base) is not None)
    if insert_alert(s, key=key, kind="story", due_at=due_time(desk, "story", now), **base) is not None:
        return 1
    return _maybe_update(s, route, desk, hit, key, base, now)


def _over_throttle(s: Session, route: Route, now: datetime) -> bool:
    """Whether the route already paged its N real-time alerts within the throttle window."""
    if not route.throttle_count or not route.throttle_period:
        return False
    if is_postgres(s):
        # Serialise concurrent pipelines on this route so two of them cannot both take the last slot.
        s.execute(select(Route.id).where(Route.id == route.id).with_for_update())
    recent = s.scalar(select(func.count(Alert.id)).where(
        Alert.route_id == route.id, Alert.kind == "story", Alert.digest_id.is_(None),
        Alert.status.in_(("pending", "sent", "failed")),
        Alert.created_at > now - timedelta(seconds=route.throttle_period)))
    return (recent or 0) >= route.throttle_count


def _maybe_update(s: Session, route: Route, desk: Desk, hit: Hit, key: str, base: dict, now: datetime) -> int:
    """One ``update`` alert when a story that already paged the desk reaches the spread threshold."""
    if not route.spread_threshold or not hit.story_id:
        return 0
    story = s.get(Story, hit.story_id)
    if story is None or story.source_count < route.spread_threshold:
        return 0
    first = s.scalar(select(Alert.status).where(Alert.key == key))
    if first not in ("pending", "sent"):  # a held story is summarised by its digest anyway
        return 0
    payload = {**base.pop("payload"), "source_count": story.source_count}
    alert_id = insert_alert(s, key=f"update:{desk.id}:{hit.story_id}", kind="update",
                            due_at=due_time(desk, "update", now), payload=payload, **base)
    return int(alert_id is not None)


# ---------------------------------------------------------------------------- operators' requests


def add_mute(s: Session, kind: str, ref_id: int, until: datetime, *, user_id: int | None = None) -> Mute:
    """Mute a story or a watch term until ``until`` (new hits on it are recorded as ``muted``)."""
    mute = Mute(kind=kind, ref_id=ref_id, until=until, created_by=user_id)
    s.add(mute)
    s.flush()
    return mute


def exists(s: Session, model, ref_id: int) -> bool:
    return s.get(model, ref_id) is not None


def create_test_alert(s: Session, desk: Desk, now: datetime) -> int:
    """A ``test`` alert to every enabled target of ``desk``, due now."""
    seq = s.scalar(select(func.count(Alert.id)).where(Alert.desk_id == desk.id, Alert.kind == "test")) or 0
    key = f"test:{desk.id}:{now.strftime('%Y%m%dT%H%M%S.%f')}:{seq}"
    alert_id = insert_alert(s, key=key, kind="test", desk_id=desk.id, now=now,
                            payload={"title": f"Test alert for desk {desk.name}",
                                     "text": "If you can read this, the desk's target works."})
    assert alert_id is not None
    return alert_id


def retry_alert(s: Session, alert_id: int, now: datetime) -> int:
    """Put an alert's failed deliveries back in the queue, due now; returns how many."""
    alert = s.get(Alert, alert_id)
    if alert is None:
        from monitor.errors import NotFound

        raise NotFound(f"no alert with id {alert_id}")
    n = s.execute(update(Delivery).where(Delivery.alert_id == alert_id, Delivery.status == "failed")
                  .values(status="pending", attempts=0, next_attempt_at=now)).rowcount
    if n:
        alert.status, alert.due_at = "pending", min(alert.due_at, now)
    return n


def list_alerts(s: Session, *, desk: str | None = None, status: str | None = None,
                since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Alerts newest first with their desk and delivery counts, as plain rows for the CLI."""
    sent = func.sum(case((Delivery.status == "sent", 1), else_=0))
    q = (select(Alert, Desk.name, func.count(Delivery.id), sent, func.sum(Delivery.attempts))
         .join(Desk, Alert.desk_id == Desk.id).outerjoin(Delivery, Delivery.alert_id == Alert.id)
         .group_by(Alert.id, Desk.name).order_by(Alert.id.desc()))
    if desk:
        q = q.where(Desk.name == desk)
    if status:
        q = q.where(Alert.status == status)
    if since:
        q = q.where(Alert.created_at >= since)
    if limit:
        q = q.limit(limit)
    return [{"id": a.id, "desk": name, "kind": a.kind, "status": a.status, "key": a.key, "created": a.created_at,
             "due": a.due_at, "sent": a.sent_at, "targets": f"{int(ok or 0)}/{n}", "attempts": int(tries or 0)}
            for a, name, n, ok, tries in s.execute(q)]


# ---------------------------------------------------------------------------- the worker's half


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
    return list(s.scalars(select(Delivery.target_id).where(Delivery.alert_id == alert_id,
                                                           Delivery.status == "pending")).all())


def fail_disabled_targets(s: Session, now: datetime) -> int:
    """Pending deliveries to a disabled target fail: they would otherwise hold their alert open."""
    ids = s.scalars(select(Delivery.id).join(DeskTarget, Delivery.target_id == DeskTarget.id)
                    .where(Delivery.status == "pending", DeskTarget.enabled.is_(False))).all()
    for delivery_id in ids:
        s.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome="permanent", error="target disabled"))
        d = s.get(Delivery, delivery_id)
        d.status, d.last_error = "failed", "target disabled"
        _settle(s, d.alert_id, now)
    return len(ids)


def targets_with_work(s: Session, now: datetime) -> list[int]:
    """Enabled targets with at least one delivery that is due now."""
    return list(s.scalars(
        select(Delivery.target_id).join(Alert, Delivery.alert_id == Alert.id)
        .join(DeskTarget, Delivery.target_id == DeskTarget.id)
        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now, Alert.status == "pending",
               Alert.due_at <= now, DeskTarget.enabled.is_(True))
        .distinct().order_by(Delivery.target_id)).all())


def claim_next(s: Session, target_id: int, now: datetime, *, lease: timedelta,
               alert_id: int | None = None) -> Claim | None:
    """Lease the oldest due delivery of a target, or None when there is none or it must wait.

    Order: a target receives its alerts oldest first; while the oldest due one waits for a retry,
    the ones after it wait too (None). Exclusivity: on PostgreSQL the target row is locked with
    ``FOR UPDATE SKIP LOCKED`` while claiming (another worker skips the target), SQLite has a single
    writer; the claim itself pushes ``next_attempt_at`` forward by ``lease``, so no other worker
    takes the delivery until this one records the outcome or dies (then it is re-sent after the
    lease). The attempt row is written here, before sending (outcome ``claimed``): an attempt cut
    short by a crash stays visible and is marked ``interrupted`` when the delivery is claimed again.
    ``alert_id`` claims that alert's delivery out of order (``desk test``).
    """
    if is_postgres(s) and s.scalar(select(DeskTarget.id).where(DeskTarget.id == target_id)
                                   .with_for_update(skip_locked=True)) is None:
        return None
    q = (select(Delivery, Alert.kind).join(Alert, Delivery.alert_id == Alert.id)
         .where(Delivery.target_id == target_id, Delivery.status == "pending", Alert.status == "pending",
                Alert.due_at <= now))
    if alert_id is not None:
        q = q.where(Delivery.alert_id == alert_id)
    head = s.execute(q.order_by(Delivery.alert_id).limit(1)).first()
    if head is None or head[0].next_attempt_at > now:
        return None
    delivery, kind = head
    s.execute(update(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id,
                                            DeliveryAttempt.outcome == "claimed")
              .values(outcome="interrupted", error="worker stopped before recording the outcome; "
                                                    "the target may have received it"))
    delivery.attempts += 1
    delivery.next_attempt_at = now + lease
    attempt = DeliveryAttempt(delivery_id=delivery.id, at=now, outcome="claimed")
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
        s.execute(select(Alert.id).where(Alert.id == claim.alert_id).with_for_update())
    attempt = s.get(DeliveryAttempt, claim.attempt_id)
    attempt.outcome, attempt.error = outcome, error
    d = s.get(Delivery, claim.delivery_id)
    if outcome == "sent":
        d.status, d.sent_at, d.last_error = "sent", now, None
    elif outcome == "permanent" or retry_at is None:
        d.status, d.last_error = "failed", error
    else:
        d.next_attempt_at, d.last_error = retry_at, error
    _settle(s, d.alert_id, now)
    return d.status


def _settle(s: Session, alert_id: int, now: datetime) -> None:
    counts = dict(s.execute(select(Delivery.status, func.count(Delivery.id)).where(Delivery.alert_id == alert_id)
                            .group_by(Delivery.status)).all())
    if counts.get("pending"):
        return
    status = "failed" if counts.get("failed") else "sent"
    s.execute(update(Alert).where(Alert.id == alert_id, Alert.status == "pending")
              .values(status=status, sent_at=now if status == "sent" else None))
    s.execute(update(Alert).where(Alert.digest_id == alert_id, Alert.status == "held")
              .values(status=status, sent_at=now if status == "sent" else None))


def build_due_digests(s: Session, now: datetime) -> list[int]:
    """Fold held alerts whose digest time has come into one digest alert per route and slot."""
    made = []
    groups = s.execute(select(Alert.route_id, Alert.desk_id, Alert.due_at)
                       .where(Alert.status == "held", Alert.digest_id.is_(None), Alert.due_at <= now)
                       .distinct().order_by(Alert.due_at)).all()
    for route_id, desk_id, slot in groups:
        q = select(Alert.id).where(Alert.status == "held", Alert.digest_id.is_(None), Alert.due_at == slot,
                                   Alert.desk_id == desk_id, Alert.route_id == route_id).order_by(Alert.id)
        if is_postgres(s):
            q = q.with_for_update(skip_locked=True)  # another worker is folding these
        members = s.scalars(q).all()
        if not members:
            continue
        desk = s.get(Desk, desk_id)
        digest_id = insert_alert(
            s, key=f"digest:{route_id}:{slot:%Y%m%dT%H%M}:{members[0]}", kind="digest", desk_id=desk_id,
            route_id=route_id, due_at=due_time(desk, "digest", now), now=now,
            payload={"slot": slot.isoformat(), "count": len(members)})
        if digest_id is None:
            continue
        s.execute(update(Alert).where(Alert.id.in_(members)).values(digest_id=digest_id))
        status = s.scalar(select(Alert.status).where(Alert.id == digest_id))
        if status != "pending":  # e.g. skipped: the desk has no target
            s.execute(update(Alert).where(Alert.id.in_(members)).values(status=status))
        made.append(digest_id)
    return made


def _story_rows(s: Session, where) -> list[dict[str, Any]]:
    first = Source.__table__.alias("first_source")
    q = (select(Alert.id, Alert.kind, Hit.snippet, Hit.snippet_html, Hit.spans, Item.title, Item.text, Item.url,
                Item.published_at, Item.fetched_at, Source.name, WatchTerm.query, WatchTerm.label, Watchlist.name,
                Story.title, Story.source_count, Story.item_count, first.c.name, Story.first_seen_at, Item.id)
         .join(Hit, Alert.hit_id == Hit.id).join(Item, Hit.item_id == Item.id)
         .join(Source, Item.source_id == Source.id).join(WatchTerm, Hit.term_id == WatchTerm.id)
         .join(Watchlist, Hit.watchlist_id == Watchlist.id).outerjoin(Story, Alert.story_id == Story.id)
         .outerjoin(first, Story.first_source_id == first.c.id).where(where).order_by(Alert.id))
    out = []
    for (aid, kind, snippet, snippet_html, spans, title, text, url, published, fetched, source, query, label,
         watchlist, story_title, source_count, item_count, first_source, first_seen, item_id) in s.execute(q):
        out.append({"alert_id": aid, "kind": kind, "title": title or story_title or (text or "")[:120],
                    "snippet": snippet, "snippet_html": snippet_html, "spans": spans, "source": source,
                    "permalink": url, "posted_at": published or fetched, "watchlist": watchlist,
                    "term": label or query, "first_source": first_source or source,
                    "source_count": source_count or 1, "item_count": item_count or 1,
                    "first_seen_at": first_seen, "item_id": item_id})
    return out


def alert_content(s: Session, alert_id: int) -> dict[str, Any]:
    """Everything a message about an alert says, read at send time (source counts are current).

    Story and update alerts carry their first hit's item; a digest carries ``items`` (its
    members, oldest first); test, spike and operator alerts carry the ``title``/``text`` stored
    in their payload.
    """
    alert = s.get(Alert, alert_id)
    desk = s.get(Desk, alert.desk_id)
    base = {"alert_id": alert.id, "kind": alert.kind, "desk": desk.name, "tz": desk.timezone,
            "created_at": alert.created_at, "key": alert.key,
            **{k: v for k, v in (alert.payload or {}).items() if k in ("title", "text", "watchlist")}}
    if alert.kind in ("story", "update") and alert.hit_id:
        rows = _story_rows(s, Alert.id == alert.id)
        if rows:
            base.update(rows[0], alert_id=alert.id, kind=alert.kind)
    elif alert.kind == "digest":
        base["items"] = _story_rows(s, Alert.digest_id == alert.id)
        base["title"] = f"Digest: {len(base['items'])} stories for desk {desk.name}"
    return base


# ---------------------------------------------------------------------------- spikes and health


def operators_desk(s: Session, name: str | None) -> Desk | None:
    """The desk that hears about the pipeline itself: by name from settings, else the flagged one."""
    if name:
        return s.scalar(select(Desk).where(Desk.name == name))
    return s.scalar(select(Desk).where(Desk.is_operators.is_(True)).order_by(Desk.id).limit(1))


def routed_watchlists(s: Session) -> list[tuple[Watchlist, list[Desk]]]:
    """Enabled watchlists with the desks their enabled routes reach."""
    out: dict[int, tuple[Watchlist, list[Desk]]] = {}
    for wl, desk in s.execute(select(Watchlist, Desk).join(Route, Route.watchlist_id == Watchlist.id)
                              .join(Desk, Route.desk_id == Desk.id)
                              .where(Watchlist.enabled.is_(True), Route.enabled.is_(True))
                              .order_by(Watchlist.id, Desk.id)):
        out.setdefault(wl.id, (wl, []))[1].append(desk)
    return list(out.values())


def hit_counts(s: Session, watchlist_ids: Sequence[int], start: datetime, end: datetime) -> dict[int, int]:
    """Hits per watchlist created in [start, end)."""
    if not watchlist_ids:
        return {}
    return dict(s.execute(select(Hit.watchlist_id, func.count(Hit.id))
                          .where(Hit.watchlist_id.in_(list(watchlist_ids)), Hit.created_at >= start,
                                 Hit.created_at < end).group_by(Hit.watchlist_id)).all())


def watched_sources(s: Session) -> Sequence[Source]:
    """Sources an operator expects to be collected (enabled, not retired)."""
    return s.scalars(select(Source).where(Source.enabled.is_(True), Source.retired.is_(False))
                     .order_by(Source.id)).all()


def desk_failures(s: Session) -> list[tuple[Desk, datetime | None, int]]:
    """Per desk with targets: its last accepted delivery and the failed attempts since then."""
    out = []
    for desk in s.scalars(select(Desk).order_by(Desk.id)):
        last_ok = s.scalar(select(func.max(Delivery.sent_at)).join(DeskTarget, Delivery.target_id == DeskTarget.id)
                           .where(DeskTarget.desk_id == desk.id))
        q = (select(func.count(DeliveryAttempt.id)).join(Delivery, DeliveryAttempt.delivery_id == Delivery.id)
             .join(DeskTarget, Delivery.target_id == DeskTarget.id)
             .where(DeskTarget.desk_id == desk.id, DeliveryAttempt.outcome.in_(("transient", "permanent"))))
        if last_ok is not None:
            q = q.where(DeliveryAttempt.at > last_ok)
        out.append((desk, last_ok, s.scalar(q) or 0))
    return out
