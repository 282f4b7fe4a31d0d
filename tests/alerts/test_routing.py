"""The routing rules (monitor.alerts.routing.route), over hits and facts given as values."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from monitor.alerts.routing import candidate_keys, route
from monitor.store.values import Desk, HitFacts, Route, RoutingFacts, StoryAlert

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=timezone.utc)
DESK = Desk(1, "kyiv", "Europe/Kyiv")
ROUTE = Route(id=5, watchlist_id=2, desk=DESK, max_age=48 * 3600)


def hit(n: int, story: int | None = 100, **kw) -> HitFacts:
    base = dict(id=n, term_id=3, watchlist_id=2, story_id=story, item_id=1000 + n, language="ru",
                source="src-a", seen_at=T0)
    return HitFacts(**(base | kw))


def facts(*routes: Route, **kw) -> RoutingFacts:
    routes = routes or (ROUTE,)
    return RoutingFacts(routes={2: tuple(routes)}, targets=kw.pop("targets", {1: (7, 8)}), **kw)


def test_a_story_alerts_a_desk_once_with_typed_content():
    drafts = route([hit(1), hit(2)], facts(), now=T0)
    assert [(d.key, d.status, d.due_at, d.targets) for d in drafts] == [
        ("story:1:100", "pending", T0, (7, 8))]
    assert drafts[0].body == StoryAlert(term_id=3, watchlist_id=2, item_id=1001)
    assert candidate_keys([hit(1), hit(2, story=None)], facts().routes) == {
        "story:1:100", "item:1:i1002"}


def test_filters_drop_silently_old_and_muted_hits_are_records():
    picky = replace(ROUTE, source_filter=("other",))
    assert route([hit(1)], facts(picky), now=T0) == []
    russian = replace(ROUTE, language_filter=("ru",))
    assert route([hit(1, language="uk")], facts(russian), now=T0) == []
    (old,) = route([hit(1, seen_at=T0 - timedelta(days=3))], facts(), now=T0)
    assert (old.key, old.status, old.record) == ("old:1:100", "skipped", True)
    (muted,) = route([hit(1)], facts(mutes=frozenset({("term", 3)})), now=T0)
    assert (muted.key, muted.status, muted.record) == ("muted:1:100", "muted", True)
    assert muted.targets == ()
    # nothing was held back from a story that already alerted: no record
    assert route([hit(1)], facts(mutes=frozenset({("story", 100)}),
                                 existing={"story:1:100": "sent"}), now=T0) == []


def test_digest_routes_and_throttle_overflow_are_held_for_the_next_digest():
    (d,) = route([hit(1)], facts(replace(ROUTE, mode="digest", digest_every="hourly")), now=T0)
    next_hour = datetime(2025, 6, 2, 11, 0, tzinfo=timezone.utc)
    assert (d.status, d.due_at, d.targets) == ("held", next_hour, ())
    throttled = replace(ROUTE, throttle_count=2, throttle_period=3600, digest_every="hourly")
    drafts = route([hit(1, story=1), hit(2, story=2), hit(3, story=3)],
                   facts(throttled, recent={5: 1}), now=T0)
    assert [d.status for d in drafts] == ["pending", "held", "held"]  # one slot was left


def test_quiet_hours_delay_and_no_target_means_skipped():
    quiet = replace(ROUTE, desk=replace(DESK, quiet_start="12:00", quiet_end="14:00"))
    (d,) = route([hit(1)], facts(quiet), now=T0)  # 13:00 in Kyiv
    assert d.due_at == datetime(2025, 6, 2, 11, 0, tzinfo=timezone.utc)
    (nobody,) = route([hit(1)], facts(targets={}), now=T0)
    assert (nobody.status, nobody.record) == ("skipped", False)


def test_one_update_when_a_paged_story_reaches_the_spread_threshold():
    spread = replace(ROUTE, spread_threshold=3)
    known = {"story:1:100": "sent"}
    assert route([hit(1)], facts(spread, existing=known, source_counts={100: 2}), now=T0) == []
    (u,) = route([hit(1), hit(2)], facts(spread, existing=known, source_counts={100: 3}), now=T0)
    assert (u.key, u.kind, u.body.source_count) == ("update:1:100", "update", 3)
    held = {"story:1:100": "held"}  # a digest summarises it anyway
    assert route([hit(1)], facts(spread, existing=held, source_counts={100: 5}), now=T0) == []
