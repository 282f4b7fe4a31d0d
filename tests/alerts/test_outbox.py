"""Routing hits into the outbox: one alert per (desk, story), filters, max age, mutes, quiet hours,
spread updates, and the unique key holding under concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from monitor.alerts.outbox import route_new_hits
from monitor.alerts.routes import route_settings
from monitor.store import alerts as repo
from monitor.store import desks as desk_repo
from monitor.store import watch as watch_repo
from monitor.store.models import AlertRow, DeskRow, DeskTargetRow, HitRow

from tests.alerts.test_outbox_helpers import T0, add_source, alerts, deliveries, hit, make_world


def test_one_alert_per_desk_and_story_whatever_joins_it_later(store):
    w = make_world(store, targets=["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"])
    _, story, made = hit(store, w, now=T0)
    other = add_source(store, "src-b")
    for i in range(3):
        assert hit(store, w, now=T0 + timedelta(minutes=i + 1), story_id=story, source_id=other)[2] == 0
    (a,) = alerts(store)
    assert made == 1 and a.key == f"story:{w.desk_id}:{story}" and a.kind == "story"
    assert sorted(d.target_id for d in deliveries(store)) == sorted(
        t for t in _targets(store, w.desk_id))


def _targets(store, desk_id):
    with store.unit() as s:
        return list(s.scalars(select(DeskTargetRow.id).where(DeskTargetRow.desk_id == desk_id)))


def test_a_hit_without_a_story_alerts_by_item(store):
    w = make_world(store)
    hit(store, w, now=T0, story_id=False)
    (a,) = alerts(store)
    assert a.key.startswith(f"item:{w.desk_id}:i") and a.story_id is None


def test_two_desks_each_get_their_alert(store):
    w = make_world(store)
    with store.unit() as s:
        second = desk_repo.add_desk(s, "seoul", targets=["json://127.0.0.1:9/s"])
        desk_repo.add_route(s, watch_repo.get_watchlist(s, "dprk"), second, route_settings())
    hit(store, w, now=T0)
    assert sorted(a.desk_id for a in alerts(store)) == sorted([w.desk_id, second.id])


def test_filters_drop_what_the_route_does_not_want(store):
    w = make_world(store, sources=["src-a"], languages=["ru"])
    other = add_source(store, "src-b")
    assert hit(store, w, now=T0, source_id=other)[2] == 0  # source not in the filter
    assert hit(store, w, now=T0, language="en")[2] == 0  # item language beats the source's
    assert hit(store, w, now=T0)[2] == 1  # src-a declares ru
    assert len(alerts(store)) == 1


def test_a_backfilled_old_item_is_recorded_but_pages_nobody(store):
    w = make_world(store, max_age=6 * 3600)
    _, story, made = hit(store, w, now=T0, published_at=T0 - timedelta(days=3))
    (a,) = alerts(store)
    assert made == 0 and a.status == "skipped" and a.key == f"old:{w.desk_id}:{story}"
    assert deliveries(store) == []
    # fresh coverage of the same story still alerts: the old record did not take the story key
    assert hit(store, w, now=T0, story_id=story)[2] == 1
    # without a limit the same old item alerts
    w2 = make_world(store, desk="seoul", watchlist="other", max_age=None)
    assert hit(store, w2, now=T0, published_at=T0 - timedelta(days=300))[2] == 1


def test_mutes_on_story_and_term_until_they_expire(store):
    w = make_world(store)
    _, story, _ = hit(store, w, now=T0)
    with store.unit() as s:
        repo.add_mute(s, "story", story, T0 + timedelta(hours=1))
    assert hit(store, w, now=T0 + timedelta(minutes=5), story_id=story)[2] == 0
    _, story2, made = hit(store, w, now=T0 + timedelta(minutes=6))
    assert made == 1  # another story is not muted
    with store.unit() as s:
        repo.add_mute(s, "term", w.term_id, T0 + timedelta(hours=2))
    _, muted_story, made = hit(store, w, now=T0 + timedelta(minutes=7))
    assert made == 0
    muted = alerts(store, status="muted")
    assert [a.key for a in muted] == [f"muted:{w.desk_id}:{muted_story}"]
    # after the mute, the muted story alerts on its next hit
    assert hit(store, w, now=T0 + timedelta(hours=3), story_id=muted_story)[2] == 1


def test_quiet_hours_push_due_time_to_their_end_in_the_desk_zone(store):
    w = make_world(store, tz="Europe/Kyiv", quiet=("23:00", "07:00"))
    night = T0.replace(hour=22)  # 01:00 in Kyiv (EEST, UTC+3)
    hit(store, w, now=night)
    (a,) = alerts(store)
    assert a.status == "pending" and a.due_at == T0.replace(day=3, hour=4)  # 07:00 EEST
    assert deliveries(store)[0].next_attempt_at == a.due_at
    hit(store, w, now=T0.replace(hour=12))  # 15:00 in Kyiv: not quiet
    assert alerts(store)[1].due_at == T0.replace(hour=12)


def test_a_desk_without_targets_records_a_skipped_alert(store):
    w = make_world(store, targets=[])
    hit(store, w, now=T0)
    (a,) = alerts(store)
    assert a.status == "skipped" and deliveries(store) == []


def test_spread_threshold_sends_one_update(store):
    w = make_world(store, spread_threshold=3)
    _, story, _ = hit(store, w, now=T0)
    b, c, d = (add_source(store, n) for n in ("src-b", "src-c", "src-d"))
    assert hit(store, w, now=T0, story_id=story, source_id=b)[2] == 0  # 2 sources
    assert hit(store, w, now=T0, story_id=story, source_id=c)[2] == 1  # 3: update
    assert hit(store, w, now=T0, story_id=story, source_id=d)[2] == 0  # only one update
    kinds = [(a.kind, a.key) for a in alerts(store)]
    assert kinds == [("story", f"story:{w.desk_id}:{story}"), ("update", f"update:{w.desk_id}:{story}")]


def test_disabled_route_or_watchlist_alerts_nobody(store):
    w = make_world(store)
    with store.unit() as s:
        s.get(DeskRow, w.desk_id)  # noqa: B018
        from monitor.store.models import RouteRow

        s.get(RouteRow, w.route_id).enabled = False
    assert hit(store, w, now=T0)[2] == 0 and alerts(store) == []


def test_insert_if_absent_holds_under_concurrent_writers(store):
    """Eight threads write the same story alert at once: one row, one delivery per target."""
    w = make_world(store, targets=["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"])
    hid, story, _ = hit(store, w, now=T0)
    with store.unit() as s:
        s.execute(AlertRow.__table__.delete())  # start again from the stored hit
    barrier, results, errors = threading.Barrier(8), [], []

    def write():
        try:
            barrier.wait()
            with store.unit() as s:
                results.append(route_new_hits(s, [hid], now=T0))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == [0] * 7 + [1]
    assert len(alerts(store)) == 1 and len(deliveries(store)) == 2
    with store.unit() as s:
        assert s.scalar(select(HitRow.story_id).where(HitRow.id == hid)) == story
