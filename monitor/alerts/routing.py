"""Routing new hits to desks: which alert each hit makes for each route, and when it is due.

Pure: the store reads the hits (:class:`~monitor.store.values.HitFacts`) and everything routing
looks at (:class:`~monitor.store.values.RoutingFacts`: routes with their desks, active mutes,
recent real-time alerts per throttled route, the alerts already stored under the keys this could
write, the stories' source counts, the desks' enabled targets); :func:`route` returns
:class:`~monitor.store.values.AlertDraft` values; the store inserts each unless its key exists
(``INSERT … ON CONFLICT DO NOTHING``), so concurrent writers and re-runs never double one.

For each hit, each route of its watchlist (in route id order):

- the route's source and language filters drop the hit silently (the route does not want it);
- a hit on an item older than the route's ``max_age`` (published time, else fetch time) is
  recorded as ``skipped`` (key ``old:``) and a muted story or term as ``muted`` (key
  ``muted:``) — unless the story already alerted the desk (nothing was held back). These records
  page nobody and do not take the story key, so the story can still alert later;
- otherwise the desk's story alert (key ``story:<desk>:<story>``, or ``item:<desk>:i<item>``
  while a hit has no story) is written once: ``pending`` (due now, or when the desk's quiet hours
  end), or ``held`` for the next digest (digest routes, and real-time routes over their throttle:
  N real-time alerts within the period, counting the ones this call writes);
- a hit on a story that already alerted the desk creates nothing, except the single ``update``
  alert (key ``update:<desk>:<story>``) once the story reaches the route's spread threshold — if
  its first alert went out in real time (a held story is summarised by its digest anyway).

A ``pending`` alert for a desk without an enabled target is ``skipped``: nothing could page anyone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from monitor.alerts.digest import next_digest_at, quiet_release
from monitor.store.values import (
    AlertBody,
    AlertDraft,
    Desk,
    HitFacts,
    Route,
    RoutingFacts,
    StoryAlert,
)

# Alerts that page a desk immediately ignore its quiet hours: operators must hear about a broken
# pipeline at night, and a test is asked for by a person who is awake.
QUIET_EXEMPT = ("operator", "test")


def due_time(desk: Desk, kind: str, now: datetime) -> datetime:
    """When a real-time alert of ``kind`` may page ``desk``: now, or the end of its quiet hours."""
    if kind in QUIET_EXEMPT:
        return now
    return quiet_release(now, desk.quiet_start, desk.quiet_end, desk.timezone)


def draft(*, key: str, kind: str, desk_id: int, body: AlertBody, now: datetime,
          targets: Sequence[int], status: str = "pending", due_at: datetime | None = None,
          **refs) -> AlertDraft:
    """An alert to write; a pending one without targets is ``skipped`` (nobody to page)."""
    if status == "pending" and not targets:
        status = "skipped"
    return AlertDraft(key=key, kind=kind, desk_id=desk_id, status=status, due_at=due_at or now,
                      body=body, targets=tuple(targets) if status == "pending" else (), **refs)


def story_key(desk_id: int, hit: HitFacts) -> str:
    return f"story:{desk_id}:{hit.story_id}" if hit.story_id else f"item:{desk_id}:i{hit.item_id}"


def candidate_keys(hits: Sequence[HitFacts], routes: dict[int, tuple[Route, ...]]) -> set[str]:
    """The story keys :func:`route` may look up (what the store reads as ``existing``)."""
    return {story_key(r.desk.id, h) for h in hits for r in routes.get(h.watchlist_id, ())}


def wants(route: Route, hit: HitFacts) -> bool:
    """The route's source and language filters."""
    if route.source_filter and hit.source not in route.source_filter:
        return False
    return not route.language_filter or (hit.language or "").lower() in route.language_filter


class _Router:
    def __init__(self, facts: RoutingFacts, now: datetime):
        self.facts, self.now = facts, now
        self.status = dict(facts.existing)  # alert key -> status, including this call's drafts
        self.recent = dict(facts.recent)
        self.out: list[AlertDraft] = []

    def add(self, d: AlertDraft) -> None:
        if d.key not in self.status:
            self.status[d.key] = d.status
            self.out.append(d)

    def over_throttle(self, route: Route) -> bool:
        if not route.throttle_count or not route.throttle_period:
            return False
        return self.recent.get(route.id, 0) >= route.throttle_count

    def route(self, hit: HitFacts, route: Route) -> None:
        if not wants(route, hit):
            return
        desk, now = route.desk, self.now
        targets = self.facts.targets.get(desk.id, ())
        body = StoryAlert(term_id=hit.term_id, watchlist_id=hit.watchlist_id, item_id=hit.item_id)
        refs = dict(desk_id=desk.id, route_id=route.id, story_id=hit.story_id, hit_id=hit.id,
                    body=body, now=now, targets=targets)
        key = story_key(desk.id, hit)
        ref = key.split(":", 1)[1]
        too_old = (route.max_age is not None and hit.seen_at is not None
                   and now - hit.seen_at > timedelta(seconds=route.max_age))
        mutes = self.facts.mutes
        muted = ("story", hit.story_id) in mutes or ("term", hit.term_id) in mutes
        if too_old or muted:
            if key not in self.status:  # recorded for the desk's audit
                self.add(draft(key=f"{'old' if too_old else 'muted'}:{ref}", kind="story",
                               status="skipped" if too_old else "muted", record=True, **refs))
            return
        if route.mode == "digest" or self.over_throttle(route):
            due = next_digest_at(now, every=route.digest_every, at=route.digest_at,
                                 tz_name=desk.timezone)
            self.add(draft(key=key, kind="story", status="held", due_at=due, **refs))
            return
        if key not in self.status:
            d = draft(key=key, kind="story", due_at=due_time(desk, "story", now), **refs)
            self.add(d)
            if d.status == "pending":  # counts against the route's throttle
                self.recent[route.id] = self.recent.get(route.id, 0) + 1
            return
        self.maybe_update(hit, route, key, refs)

    def maybe_update(self, hit: HitFacts, route: Route, key: str, refs: dict) -> None:
        """One ``update`` alert when a story that paged the desk reaches the spread threshold."""
        if not route.spread_threshold or not hit.story_id:
            return
        sources = self.facts.source_counts.get(hit.story_id, 0)
        if sources < route.spread_threshold or self.status.get(key) not in ("pending", "sent"):
            return
        body = StoryAlert(term_id=hit.term_id, watchlist_id=hit.watchlist_id, item_id=hit.item_id,
                          source_count=sources)
        self.add(draft(**{**refs, "body": body}, key=f"update:{route.desk.id}:{hit.story_id}",
                       kind="update", due_at=due_time(route.desk, "update", self.now)))


def route(hits: Sequence[HitFacts], facts: RoutingFacts, *, now: datetime) -> list[AlertDraft]:
    """The alerts new hits make (see the module docstring), in the order they are decided."""
    router = _Router(facts, now)
    for hit in sorted(hits, key=lambda h: h.id):
        for r in facts.routes.get(hit.watchlist_id, ()):
            router.route(hit, r)
    return router.out
