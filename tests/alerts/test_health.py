"""Spike alerts against a baseline, and operator alerts about sources and desks, once per occurrence."""

from __future__ import annotations

from datetime import timedelta

from monitor.alerts.health import check_health, is_spike
from monitor.settings import AlertSettings, Settings
from monitor.store import desks as desk_repo
from monitor.store.models import DeliveryAttemptRow, DeliveryRow, SourceRow, TelegramAccountRow

from tests.alerts.test_outbox_helpers import T0, alerts, hit, make_world

CFG = Settings(alerts=AlertSettings(spike_factor=3, spike_min_hits=10, spike_baseline_days=7, silent_after="48h"))


def test_spike_rule():
    assert not is_spike(9, [0] * 7, factor=3, min_hits=10)  # never below the minimum
    assert is_spike(10, [0] * 7, factor=3, min_hits=10)
    assert not is_spike(30, [10] * 7, factor=3, min_hits=10)  # not more than 3x
    assert is_spike(31, [10] * 7, factor=3, min_hits=10)
    assert not is_spike(50, [], factor=3, min_hits=10)  # no baseline, no spike


def _hits(store, w, n, at):
    for i in range(n):
        hit(store, w, now=at - timedelta(minutes=1 + i % 50))


async def test_spike_needs_enough_baseline_and_alerts_once_per_hour(store):
    now = T0
    young = make_world(store, created_at=now - timedelta(days=3))
    _hits(store, young, 40, now)
    assert await check_health(store, CFG, now) == 0  # 3 days of history < 7: no baseline yet
    old = make_world(store, desk="seoul", watchlist="old", created_at=now - timedelta(days=30))
    for day in range(1, 8):
        _hits(store, old, 4, now - timedelta(days=day))  # the same hour had 4 hits a day
    _hits(store, old, 13, now)  # 13 > 3 x 4 and >= 10
    assert await check_health(store, CFG, now) == 1
    assert await check_health(store, CFG, now + timedelta(minutes=5)) == 0  # same hour: once
    (spike,) = alerts(store, kind="spike")
    assert spike.key == f"spike:{old.watchlist_id}:{now:%Y-%m-%dT%H}:{old.desk_id}"
    assert "13 hits" in spike.payload["title"] and spike.status == "pending"


async def test_no_spike_when_the_hour_is_normal(store):
    now = T0
    w = make_world(store, created_at=now - timedelta(days=30))
    for day in range(1, 8):
        _hits(store, w, 5, now - timedelta(days=day))
    _hits(store, w, 14, now)  # 14 < 3 x 5
    assert await check_health(store, CFG, now) == 0


def _ops_desk(store):
    with store.unit() as s:
        return desk_repo.add_desk(s, "ops", targets=["json://127.0.0.1:9/ops"], is_operators=True).id


async def test_operator_alerts_once_per_occurrence(store):
    ops = _ops_desk(store)
    w = make_world(store)
    now = T0
    with store.unit() as s:
        src = s.get(SourceRow, w.source_id)
        src.created_at = now - timedelta(days=10)
        src.last_new_item_at = now - timedelta(days=3)  # silent for 3 days > 48h
        # two channels of a logged-out account: one alert for the account, none per channel
        tg = [SourceRow(name=f"tg-chan{i}", type="telegram", locator=f"chan{i}", account="second",
                        last_status="account down", last_success_at=now - timedelta(hours=2),
                        created_at=now - timedelta(days=5), last_new_item_at=now - timedelta(days=9))
              for i in range(2)]
        s.add(TelegramAccountRow(name="second", status="down", reason="AuthKeyUnregisteredError",
                                 down_since=now - timedelta(hours=1), stats={}))
        flood = SourceRow(name="tg-flood", type="telegram", locator="flood", last_status="flood_wait",
                       paused_until=now + timedelta(hours=3), created_at=now - timedelta(days=5),
                       last_new_item_at=now)
        failing = SourceRow(name="broken", type="rss", locator="https://x.example/f", last_status="error",
                         error_count=4, last_error="HTTP 503", created_at=now - timedelta(days=5),
                         last_new_item_at=now)
        s.add_all([*tg, flood, failing])
    assert await check_health(store, CFG, now) == 4
    keys = sorted(a.key.split(":")[1] for a in alerts(store, kind="operator"))
    assert keys == ["account_down", "failing", "flood_wait", "silent"]
    (down,) = [a for a in alerts(store, kind="operator") if "account_down" in a.key]
    assert "--account second" in down.payload["text"]
    assert all(a.desk_id == ops for a in alerts(store, kind="operator"))
    assert await check_health(store, CFG, now + timedelta(minutes=10)) == 0  # same occurrences
    # the source recovers, then falls silent again: a new occurrence, a new alert
    with store.unit() as s:
        s.get(SourceRow, w.source_id).last_new_item_at = now + timedelta(hours=1)
    assert await check_health(store, CFG, now + timedelta(hours=2)) == 0
    assert await check_health(store, CFG, now + timedelta(days=3)) >= 1
    assert len([a for a in alerts(store, kind="operator") if f":silent:{w.source_id}:" in a.key]) == 2


async def test_a_desk_whose_deliveries_keep_failing_alerts_operators(store):
    _ops_desk(store)
    w = make_world(store)
    hit(store, w, now=T0)
    with store.unit() as s:
        d = s.query(DeliveryRow).one()
        for i in range(5):
            s.add(DeliveryAttemptRow(delivery_id=d.id, at=T0 + timedelta(minutes=i), outcome="transient",
                                  error="HTTP 500"))
    assert await check_health(store, CFG, T0 + timedelta(minutes=10)) == 1
    (a,) = [a for a in alerts(store, kind="operator") if "desk_failing" in a.key]
    assert a.key == f"op:desk_failing:{w.desk_id}:never" and "kyiv" in a.payload["title"]
    assert await check_health(store, CFG, T0 + timedelta(minutes=20)) == 0


async def test_no_operators_desk_means_no_operator_alerts(store):
    w = make_world(store)
    with store.unit() as s:
        s.get(SourceRow, w.source_id).last_new_item_at = T0 - timedelta(days=30)
    assert await check_health(store, CFG, T0) == 0
