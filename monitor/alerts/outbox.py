"""Filling the outbox, and turning an outbox row into what a target receives.

Each function here is one read → decide → write over the store: the store reads (hits, routes,
held alerts), :mod:`monitor.alerts.routing` decides (pure), the store writes the drafts with
``INSERT … ON CONFLICT DO NOTHING`` (an alert exists once per key, however many writers race).

- :func:`route_new_hits`: the pipeline's hook, in the transaction that stored the hits, so an
  alert exists if and only if its hit does;
- :func:`fold_due_digests`: held alerts whose digest time has come become one digest per route
  and slot (the worker's first step);
- :func:`create_test_alert`: ``monitor desk test``.

What a message says is :mod:`monitor.alerts.content`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from monitor.alerts.routing import candidate_keys, draft, due_time, route
from monitor.store import alerts as alert_repo
from monitor.store import deliveries as delivery_repo
from monitor.store.db import Session
from monitor.store.locks import lock_keys, route_keys
from monitor.store.values import DigestAlert, NoticeAlert


def route_new_hits(s: Session, hit_ids: Sequence[int], *, now: datetime, **_: object) -> int:
    """Route new hits to desks inside the transaction that stored them; returns the alerts made
    (records of muted or too-old hits not counted)."""
    hits = alert_repo.hit_facts(s, hit_ids)
    routes = alert_repo.routes_for(s, sorted({h.watchlist_id for h in hits}))
    if not routes:  # no desk wants these watchlists
        return 0
    # several nodes: one writer at a time per route (throttle slots, the spread update)
    lock_keys(s, route_keys(r.id for group in routes.values() for r in group))
    facts = alert_repo.routing_facts(s, hits, routes, sorted(candidate_keys(hits, routes)), now=now)
    written = alert_repo.write_alerts(s, route(hits, facts, now=now), now=now)
    return sum(not d.record for d in written)


def fold_due_digests(s: Session, now: datetime) -> list[int]:
    """Fold held alerts whose digest time has come into one digest alert per route and slot."""
    made = []
    for group in delivery_repo.held_groups(s, now):
        slot = group.slot
        digest = draft(key=f"digest:{group.route_id}:{slot:%Y%m%dT%H%M}:{group.members[0]}",
                       kind="digest", desk_id=group.desk.id, route_id=group.route_id, now=now,
                       due_at=due_time(group.desk, "digest", now), targets=group.targets,
                       body=DigestAlert(slot, len(group.members)))
        digest_id = delivery_repo.fold_digest(s, digest, group.members, now=now)
        if digest_id is not None:
            made.append(digest_id)
    return made


def create_test_alert(s: Session, desk_id: int, desk_name: str, now: datetime) -> int:
    """A ``test`` alert to every enabled target of a desk, due now."""
    seq = alert_repo.test_alert_seq(s, desk_id)
    targets = alert_repo.desk_targets(s, [desk_id]).get(desk_id, ())
    body = NoticeAlert(title=f"Test alert for desk {desk_name}",
                       text="If you can read this, the desk's target works.")
    d = draft(key=f"test:{desk_id}:{now.strftime('%Y%m%dT%H%M%S.%f')}:{seq}", kind="test",
              desk_id=desk_id, body=body, now=now, targets=targets)
    alert_id = alert_repo.insert_alert(s, d, now=now)
    assert alert_id is not None
    return alert_id
