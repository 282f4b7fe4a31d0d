"""The SQL of the alert outbox (``alerts``), mutes, and the spike and health queries.

Reads what routing decides on (:func:`hit_facts`, :func:`routes_for`, :func:`routing_facts`) and
writes what it decided (:func:`write_alerts`); the decisions are :mod:`monitor.alerts.routing`.
The outbox is written in the SAME transaction that stores the hits
(:func:`monitor.alerts.outbox.route_new_hits`), so an alert exists if and only if its hit does.
Every alert has a unique ``key`` and is written with ``INSERT … ON CONFLICT DO NOTHING``, so
concurrent pipelines and re-runs never double it:

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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.errors import NotFound
from monitor.store.models import (
    AlertRow,
    DeliveryAttemptRow,
    DeliveryRow,
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
from monitor.store.values import (
    AlertBody,
    AlertDraft,
    Desk,
    DigestAlert,
    HitFacts,
    NoticeAlert,
    Route,
    RoutingFacts,
    StoryAlert,
)


def _dialect_insert(s: Session):
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


def is_postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def desk_value(desk: DeskRow) -> Desk:
    return Desk(desk.id, desk.name, desk.timezone, desk.quiet_start, desk.quiet_end)


# ---------------------------------------------------------------------------- alert bodies


def payload_of(body: AlertBody) -> dict[str, Any]:
    """An alert's typed body as the JSON stored in ``alerts.payload``."""
    if isinstance(body, StoryAlert):
        out = {"term_id": body.term_id, "watchlist_id": body.watchlist_id, "item_id": body.item_id}
        return out | ({"source_count": body.source_count} if body.source_count is not None else {})
    if isinstance(body, DigestAlert):
        return {"slot": body.slot.isoformat(), "count": body.count}
    return {k: v for k, v in (("title", body.title), ("text", body.text),
                              ("watchlist", body.watchlist), ("count", body.count),
                              ("baseline", body.baseline)) if v is not None}


def body_of(kind: str, payload: dict[str, Any] | None) -> AlertBody:
    """The typed body of a stored alert."""
    p = payload or {}
    if kind in ("story", "update") and "item_id" in p:
        return StoryAlert(p["term_id"], p["watchlist_id"], p["item_id"], p.get("source_count"))
    if kind == "digest":
        return DigestAlert(datetime.fromisoformat(p["slot"]), int(p.get("count", 0)))
    return NoticeAlert(title=p.get("title") or "", text=p.get("text") or "",
                       watchlist=p.get("watchlist"), count=p.get("count"), baseline=p.get("baseline"))


# ---------------------------------------------------------------------------- the outbox


def insert_alert(s: Session, d: AlertDraft, *, now: datetime) -> int | None:
    """Insert an alert unless its key exists; the new id, or None when it already existed.

    A ``pending`` alert gets one delivery per target the draft names, due with the alert."""
    insert = _dialect_insert(s)
    stmt = (insert(AlertRow).values(
        key=d.key, kind=d.kind, desk_id=d.desk_id, route_id=d.route_id, story_id=d.story_id,
        hit_id=d.hit_id, digest_id=d.digest_id, status=d.status, due_at=d.due_at,
        payload=payload_of(d.body), created_at=now)
        .on_conflict_do_nothing(index_elements=["key"]).returning(AlertRow.id))
    alert_id = s.execute(stmt).scalar()
    if alert_id is not None and d.status == "pending" and d.targets:
        s.execute(insert(DeliveryRow).on_conflict_do_nothing(index_elements=["alert_id", "target_id"]),
                  [{"alert_id": alert_id, "target_id": t, "status": "pending", "attempts": 0,
                    "next_attempt_at": d.due_at} for t in d.targets])
    return alert_id


def write_alerts(s: Session, drafts: Sequence[AlertDraft], *, now: datetime) -> list[AlertDraft]:
    """Insert the drafts in order; those that were new (the others' keys existed)."""
    return [d for d in drafts if insert_alert(s, d, now=now) is not None]


def desk_targets(s: Session, desk_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """Enabled targets by desk."""
    out: dict[int, list[int]] = defaultdict(list)
    if desk_ids:
        for target_id, desk_id in s.execute(
                select(DeskTargetRow.id, DeskTargetRow.desk_id)
                .where(DeskTargetRow.desk_id.in_(list(desk_ids)), DeskTargetRow.enabled.is_(True))
                .order_by(DeskTargetRow.id)):
            out[desk_id].append(target_id)
    return {k: tuple(v) for k, v in out.items()}


def hit_facts(s: Session, hit_ids: Sequence[int]) -> list[HitFacts]:
    """What routing needs of new hits, by hit id."""
    if not hit_ids:
        return []
    q = (select(HitRow.id, HitRow.term_id, HitRow.watchlist_id, HitRow.story_id, ItemRow.id,
                func.coalesce(ItemRow.language, SourceRow.language), SourceRow.name,
                func.coalesce(ItemRow.published_at, ItemRow.fetched_at))
         .join(ItemRow, HitRow.item_id == ItemRow.id).join(SourceRow, ItemRow.source_id == SourceRow.id)
         .where(HitRow.id.in_(list(hit_ids))).order_by(HitRow.id))
    return [HitFacts(*row) for row in s.execute(q)]


def routes_for(s: Session, watchlist_ids: Sequence[int]) -> dict[int, tuple[Route, ...]]:
    """Enabled routes of enabled watchlists, with their desks, by watchlist (route id order)."""
    out: dict[int, list[Route]] = defaultdict(list)
    if not watchlist_ids:
        return {}
    q = (select(RouteRow, DeskRow).join(DeskRow, RouteRow.desk_id == DeskRow.id)
         .join(WatchlistRow, RouteRow.watchlist_id == WatchlistRow.id)
         .where(RouteRow.watchlist_id.in_(list(watchlist_ids)), RouteRow.enabled.is_(True),
                WatchlistRow.enabled.is_(True)).order_by(RouteRow.id))
    for r, desk in s.execute(q):
        out[r.watchlist_id].append(Route(
            id=r.id, watchlist_id=r.watchlist_id, desk=desk_value(desk), mode=r.mode,
            throttle_count=r.throttle_count, throttle_period=r.throttle_period,
            digest_every=r.digest_every, digest_at=r.digest_at, max_age=r.max_age,
            source_filter=tuple(r.source_filter or ()), language_filter=tuple(r.language_filter or ()),
            spread_threshold=r.spread_threshold))
    return {k: tuple(v) for k, v in out.items()}


def routing_facts(s: Session, hits: Sequence[HitFacts], routes: dict[int, tuple[Route, ...]],
                  keys: Sequence[str], *, now: datetime) -> RoutingFacts:
    """Everything routing looks at besides the hits (see :mod:`monitor.alerts.routing`).

    On PostgreSQL the throttled routes' rows are locked first (in id order): concurrent writers
    on one route count its recent alerts in turn, so two of them cannot both take the last slot.
    """
    wanted = {r.id: r for rs in routes.values() for r in rs}
    throttled = sorted(r.id for r in wanted.values() if r.throttle_count and r.throttle_period)
    if throttled and is_postgres(s):
        s.execute(select(RouteRow.id).where(RouteRow.id.in_(throttled)).order_by(RouteRow.id)
                  .with_for_update())
    recent = {}
    for route_id in throttled:
        period = timedelta(seconds=wanted[route_id].throttle_period)
        recent[route_id] = s.scalar(select(func.count(AlertRow.id)).where(
            AlertRow.route_id == route_id, AlertRow.kind == "story", AlertRow.digest_id.is_(None),
            AlertRow.status.in_(("pending", "sent", "failed")), AlertRow.created_at > now - period)) or 0
    stories = {h.story_id for h in hits if h.story_id}
    terms = {h.term_id for h in hits}
    mutes: set[tuple[str, int]] = set()
    if stories or terms:
        mutes = set(s.execute(select(MuteRow.kind, MuteRow.ref_id).where(MuteRow.until > now, (
            (MuteRow.kind == "story") & MuteRow.ref_id.in_(stories or {-1}))
            | ((MuteRow.kind == "term") & MuteRow.ref_id.in_(terms or {-1})))))
    existing: dict[str, str] = {}
    keys = list(keys)
    for i in range(0, len(keys), 500):
        existing.update(s.execute(select(AlertRow.key, AlertRow.status)
                                  .where(AlertRow.key.in_(keys[i:i + 500]))).all())
    counts = {}
    if stories and any(r.spread_threshold for r in wanted.values()):
        counts = dict(s.execute(select(StoryRow.id, StoryRow.source_count)
                                .where(StoryRow.id.in_(stories))).all())
    return RoutingFacts(routes=routes, mutes=frozenset(mutes), recent=recent, existing=existing,
                        source_counts=counts,
                        targets=desk_targets(s, sorted({r.desk.id for r in wanted.values()})))


# ---------------------------------------------------------------------------- operators' requests


def add_mute(s: Session, kind: str, ref_id: int, until: datetime, *, user_id: int | None = None) -> MuteRow:
    """Mute a story or a watch term until ``until`` (new hits on it are recorded as ``muted``)."""
    mute = MuteRow(kind=kind, ref_id=ref_id, until=until, created_by=user_id)
    s.add(mute)
    s.flush()
    return mute


def exists(s: Session, model, ref_id: int) -> bool:
    return s.get(model, ref_id) is not None


def test_alert_seq(s: Session, desk_id: int) -> int:
    """How many test alerts a desk has had (a new one's key counts on from it)."""
    return s.scalar(select(func.count(AlertRow.id)).where(AlertRow.desk_id == desk_id,
                                                          AlertRow.kind == "test")) or 0


def retry_alert(s: Session, alert_id: int, now: datetime) -> int:
    """Put an alert's failed deliveries back in the queue, due now; returns how many."""
    alert = s.get(AlertRow, alert_id)
    if alert is None:
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


def operators_desk(s: Session, name: str | None) -> Desk | None:
    """The desk that hears about the pipeline itself: by name from settings, else the flagged one."""
    if name:
        desk = s.scalar(select(DeskRow).where(DeskRow.name == name))
    else:
        desk = s.scalar(select(DeskRow).where(DeskRow.is_operators.is_(True)).order_by(DeskRow.id).limit(1))
    return desk_value(desk) if desk is not None else None


def routed_watchlists(s: Session) -> list[tuple[int, str, datetime, list[Desk]]]:
    """Enabled watchlists (id, name, created at) with the desks their enabled routes reach."""
    out: dict[int, tuple[int, str, datetime, list[Desk]]] = {}
    q = (select(WatchlistRow.id, WatchlistRow.name, WatchlistRow.created_at, DeskRow)
         .join(RouteRow, RouteRow.watchlist_id == WatchlistRow.id)
         .join(DeskRow, RouteRow.desk_id == DeskRow.id)
         .where(WatchlistRow.enabled.is_(True), RouteRow.enabled.is_(True))
         .order_by(WatchlistRow.id, DeskRow.id))
    for wl_id, name, created, desk in s.execute(q):
        out.setdefault(wl_id, (wl_id, name, created, []))[3].append(desk_value(desk))
    return list(out.values())


def hit_counts(s: Session, watchlist_ids: Sequence[int], start: datetime, end: datetime) -> dict[int, int]:
    """Hits per watchlist created in [start, end)."""
    if not watchlist_ids:
        return {}
    return dict(s.execute(select(HitRow.watchlist_id, func.count(HitRow.id))
                          .where(HitRow.watchlist_id.in_(list(watchlist_ids)), HitRow.created_at >= start,
                                 HitRow.created_at < end).group_by(HitRow.watchlist_id)).all())


def desk_failures(s: Session) -> list[tuple[Desk, datetime | None, int]]:
    """Per desk with targets: its last accepted delivery and the failed attempts since then."""
    out = []
    for desk in s.scalars(select(DeskRow).order_by(DeskRow.id)):
        last_ok = s.scalar(select(func.max(DeliveryRow.sent_at))
                           .join(DeskTargetRow, DeliveryRow.target_id == DeskTargetRow.id)
                           .where(DeskTargetRow.desk_id == desk.id))
        q = (select(func.count(DeliveryAttemptRow.id))
             .join(DeliveryRow, DeliveryAttemptRow.delivery_id == DeliveryRow.id)
             .join(DeskTargetRow, DeliveryRow.target_id == DeskTargetRow.id)
             .where(DeskTargetRow.desk_id == desk.id,
                    DeliveryAttemptRow.outcome.in_(("transient", "permanent"))))
        if last_ok is not None:
            q = q.where(DeliveryAttemptRow.at > last_ok)
        out.append((desk_value(desk), last_ok, s.scalar(q) or 0))
    return out
