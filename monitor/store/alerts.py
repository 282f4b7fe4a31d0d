"""The SQL of the alert outbox (``alerts``), mutes, and the spike and health queries.

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
digests, read what to render) is :mod:`monitor.store.deliveries`; spike and health queries are at
the end of this module.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from monitor.alerts.digest import next_digest_at, quiet_release
from monitor.store.models import (
    AlertRow,
    DeliveryRow,
    DeliveryAttemptRow,
    DeskRow,
    DeskTargetRow,
    HitRow,
    ItemRow,
    MuteRow,
    RouteRow,
    SourceRow,
    StoryRow,
    WatchlistRow,
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
    stmt = (insert(AlertRow).values(key=key, kind=kind, desk_id=desk_id, route_id=route_id, story_id=story_id,
                                 hit_id=hit_id, digest_id=digest_id, status=status, due_at=due,
                                 payload=payload or {}, created_at=now)
            .on_conflict_do_nothing(index_elements=["key"]).returning(AlertRow.id))
    alert_id = s.execute(stmt).scalar()
    if alert_id is None or status != "pending":
        return alert_id
    targets = s.scalars(select(DeskTargetRow.id).where(DeskTargetRow.desk_id == desk_id,
                                                    DeskTargetRow.enabled.is_(True))).all()
    if not targets:
        s.execute(update(AlertRow).where(AlertRow.id == alert_id).values(status="skipped"))
        return alert_id
    s.execute(insert(DeliveryRow).on_conflict_do_nothing(index_elements=["alert_id", "target_id"]),
              [{"alert_id": alert_id, "target_id": t, "status": "pending", "attempts": 0,
                "next_attempt_at": due} for t in targets])
    return alert_id


def due_time(desk: DeskRow, kind: str, now: datetime) -> datetime:
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
    ids = list(hit_ids)
    watchlists = set(s.scalars(select(HitRow.watchlist_id).where(HitRow.id.in_(ids)).distinct()))
    routes: dict[int, list[tuple[RouteRow, DeskRow]]] = defaultdict(list)
    for route, desk in s.execute(select(RouteRow, DeskRow).join(DeskRow, RouteRow.desk_id == DeskRow.id).join(
            WatchlistRow, RouteRow.watchlist_id == WatchlistRow.id)
            .where(RouteRow.watchlist_id.in_(watchlists), RouteRow.enabled.is_(True),
                   WatchlistRow.enabled.is_(True)).order_by(RouteRow.id)):
        routes[route.watchlist_id].append((route, desk))
    if not routes:  # no desk wants these watchlists: nothing to load
        return 0
    rows = s.execute(select(HitRow, ItemRow, SourceRow).join(ItemRow, HitRow.item_id == ItemRow.id)
                     .join(SourceRow, ItemRow.source_id == SourceRow.id)
                     .where(HitRow.id.in_(ids), HitRow.watchlist_id.in_(routes)).order_by(HitRow.id)).all()
    muted = _active_mutes(s, {h.story_id for h, _, _ in rows if h.story_id}, {h.term_id for h, _, _ in rows}, now)
    created = 0
    for hit, item, source in rows:
        for route, desk in routes.get(hit.watchlist_id, ()):
            created += _route_hit(s, hit, item, source, route, desk, muted, now)
    return created


def _active_mutes(s: Session, story_ids: set[int], term_ids: set[int], now: datetime) -> set[tuple[str, int]]:
    if not story_ids and not term_ids:
        return set()
    q = select(MuteRow.kind, MuteRow.ref_id).where(MuteRow.until > now, (
        (MuteRow.kind == "story") & MuteRow.ref_id.in_(story_ids or {-1}))
        | ((MuteRow.kind == "term") & MuteRow.ref_id.in_(term_ids or {-1})))
    return set(s.execute(q))


def _route_hit(s: Session, hit: HitRow, item: ItemRow, source: SourceRow, route: RouteRow, desk: DeskRow,
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
        if s.scalar(select(AlertRow.id).where(AlertRow.key == key)) is None:
            insert_alert(s, key=f"{'old' if too_old else 'muted'}:{ref}", kind="story",
                         status="skipped" if too_old else "muted", **base)
        return 0
    if route.mode == "digest" or _over_throttle(s, route, now):
        due = next_digest_at(now, every=route.digest_every, at=route.digest_at, tz_name=desk.timezone)
        return int(insert_alert(s, key=key, kind="story", status="held", due_at=due, **base) is not None)
    if insert_alert(s, key=key, kind="story", due_at=due_time(desk, "story", now), **base) is not None:
        return 1
    return _maybe_update(s, route, desk, hit, key, base, now)


def _over_throttle(s: Session, route: RouteRow, now: datetime) -> bool:
    """Whether the route already paged its N real-time alerts within the throttle window."""
    if not route.throttle_count or not route.throttle_period:
        return False
    if is_postgres(s):
        # Serialise concurrent pipelines on this route so two of them cannot both take the last slot.
        s.execute(select(RouteRow.id).where(RouteRow.id == route.id).with_for_update())
    recent = s.scalar(select(func.count(AlertRow.id)).where(
        AlertRow.route_id == route.id, AlertRow.kind == "story", AlertRow.digest_id.is_(None),
        AlertRow.status.in_(("pending", "sent", "failed")),
        AlertRow.created_at > now - timedelta(seconds=route.throttle_period)))
    return (recent or 0) >= route.throttle_count


def _maybe_update(s: Session, route: RouteRow, desk: DeskRow, hit: HitRow, key: str, base: dict, now: datetime) -> int:
    """One ``update`` alert when a story that already paged the desk reaches the spread threshold."""
    if not route.spread_threshold or not hit.story_id:
        return 0
    story = s.get(StoryRow, hit.story_id)
    if story is None or story.source_count < route.spread_threshold:
        return 0
    first = s.scalar(select(AlertRow.status).where(AlertRow.key == key))
    if first not in ("pending", "sent"):  # a held story is summarised by its digest anyway
        return 0
    payload = {**base.pop("payload"), "source_count": story.source_count}
    alert_id = insert_alert(s, key=f"update:{desk.id}:{hit.story_id}", kind="update",
                            due_at=due_time(desk, "update", now), payload=payload, **base)
    return int(alert_id is not None)


# ---------------------------------------------------------------------------- operators' requests


def add_mute(s: Session, kind: str, ref_id: int, until: datetime, *, user_id: int | None = None) -> MuteRow:
    """Mute a story or a watch term until ``until`` (new hits on it are recorded as ``muted``)."""
    mute = MuteRow(kind=kind, ref_id=ref_id, until=until, created_by=user_id)
    s.add(mute)
    s.flush()
    return mute


def exists(s: Session, model, ref_id: int) -> bool:
    return s.get(model, ref_id) is not None


def create_test_alert(s: Session, desk: DeskRow, now: datetime) -> int:
    """A ``test`` alert to every enabled target of ``desk``, due now."""
    seq = s.scalar(select(func.count(AlertRow.id)).where(AlertRow.desk_id == desk.id, AlertRow.kind == "test")) or 0
    key = f"test:{desk.id}:{now.strftime('%Y%m%dT%H%M%S.%f')}:{seq}"
    alert_id = insert_alert(s, key=key, kind="test", desk_id=desk.id, now=now,
                            payload={"title": f"Test alert for desk {desk.name}",
                                     "text": "If you can read this, the desk's target works."})
    assert alert_id is not None
    return alert_id


def retry_alert(s: Session, alert_id: int, now: datetime) -> int:
    """Put an alert's failed deliveries back in the queue, due now; returns how many."""
    alert = s.get(AlertRow, alert_id)
    if alert is None:
        from monitor.errors import NotFound

        raise NotFound(f"no alert with id {alert_id}")
    n = s.execute(update(DeliveryRow).where(DeliveryRow.alert_id == alert_id, DeliveryRow.status == "failed")
                  .values(status="pending", attempts=0, next_attempt_at=now)).rowcount
    if n:
        alert.status, alert.due_at = "pending", min(alert.due_at, now)
    return n


def list_alerts(s: Session, *, desk: str | None = None, status: str | None = None,
                since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Alerts newest first with their desk and delivery counts, as plain rows for the CLI."""
    sent = func.sum(case((DeliveryRow.status == "sent", 1), else_=0))
    q = (select(AlertRow, DeskRow.name, func.count(DeliveryRow.id), sent, func.sum(DeliveryRow.attempts))
         .join(DeskRow, AlertRow.desk_id == DeskRow.id).outerjoin(DeliveryRow, DeliveryRow.alert_id == AlertRow.id)
         .group_by(AlertRow.id, DeskRow.name).order_by(AlertRow.id.desc()))
    if desk:
        q = q.where(DeskRow.name == desk)
    if status:
        q = q.where(AlertRow.status == status)
    if since:
        q = q.where(AlertRow.created_at >= since)
    if limit:
        q = q.limit(limit)
    return [{"id": a.id, "desk": name, "kind": a.kind, "status": a.status, "key": a.key, "created": a.created_at,
             "due": a.due_at, "sent": a.sent_at, "targets": f"{int(ok or 0)}/{n}", "attempts": int(tries or 0)}
            for a, name, n, ok, tries in s.execute(q)]


# ---------------------------------------------------------------------------- spikes and health


def operators_desk(s: Session, name: str | None) -> DeskRow | None:
    """The desk that hears about the pipeline itself: by name from settings, else the flagged one."""
    if name:
        return s.scalar(select(DeskRow).where(DeskRow.name == name))
    return s.scalar(select(DeskRow).where(DeskRow.is_operators.is_(True)).order_by(DeskRow.id).limit(1))


def routed_watchlists(s: Session) -> list[tuple[WatchlistRow, list[DeskRow]]]:
    """Enabled watchlists with the desks their enabled routes reach."""
    out: dict[int, tuple[WatchlistRow, list[DeskRow]]] = {}
    for wl, desk in s.execute(select(WatchlistRow, DeskRow).join(RouteRow, RouteRow.watchlist_id == WatchlistRow.id)
                              .join(DeskRow, RouteRow.desk_id == DeskRow.id)
                              .where(WatchlistRow.enabled.is_(True), RouteRow.enabled.is_(True))
                              .order_by(WatchlistRow.id, DeskRow.id)):
        out.setdefault(wl.id, (wl, []))[1].append(desk)
    return list(out.values())


def hit_counts(s: Session, watchlist_ids: Sequence[int], start: datetime, end: datetime) -> dict[int, int]:
    """Hits per watchlist created in [start, end)."""
    if not watchlist_ids:
        return {}
    return dict(s.execute(select(HitRow.watchlist_id, func.count(HitRow.id))
                          .where(HitRow.watchlist_id.in_(list(watchlist_ids)), HitRow.created_at >= start,
                                 HitRow.created_at < end).group_by(HitRow.watchlist_id)).all())


def watched_sources(s: Session) -> Sequence[SourceRow]:
    """Sources an operator expects to be collected (enabled, not retired)."""
    return s.scalars(select(SourceRow).where(SourceRow.enabled.is_(True), SourceRow.retired.is_(False))
                     .order_by(SourceRow.id)).all()


def desk_failures(s: Session) -> list[tuple[DeskRow, datetime | None, int]]:
    """Per desk with targets: its last accepted delivery and the failed attempts since then."""
    out = []
    for desk in s.scalars(select(DeskRow).order_by(DeskRow.id)):
        last_ok = s.scalar(select(func.max(DeliveryRow.sent_at)).join(DeskTargetRow, DeliveryRow.target_id == DeskTargetRow.id)
                           .where(DeskTargetRow.desk_id == desk.id))
        q = (select(func.count(DeliveryAttemptRow.id)).join(DeliveryRow, DeliveryAttemptRow.delivery_id == DeliveryRow.id)
             .join(DeskTargetRow, DeliveryRow.target_id == DeskTargetRow.id)
             .where(DeskTargetRow.desk_id == desk.id, DeliveryAttemptRow.outcome.in_(("transient", "permanent"))))
        if last_ok is not None:
            q = q.where(DeliveryAttemptRow.at > last_ok)
        out.append((desk, last_ok, s.scalar(q) or 0))
    return out
