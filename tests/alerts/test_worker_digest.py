"""Throttle and digests: a burst becomes N real-time alerts and one digest; digest times follow the
desk's clock across daylight-saving changes (Europe/Kyiv, last Sundays of March and October)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from monitor.alerts.digest import in_quiet_hours, next_daily, next_digest_at, next_hourly, quiet_release
from monitor.alerts.worker import deliver_due
from monitor.settings import Settings

from tests.alerts.sinks import WebhookSink
from tests.alerts.test_outbox_helpers import T0, alerts, hit, make_world

UTC = timezone.utc
KYIV = "Europe/Kyiv"


@pytest.fixture
def sink():
    with WebhookSink() as s:
        yield s


async def test_a_burst_of_100_gives_n_realtime_alerts_and_one_digest_with_the_rest(store, sink):
    w = make_world(store, targets=[sink.url()], throttle=(5, 3600))
    t = T0.replace(minute=10)
    made = [hit(store, w, now=t + timedelta(seconds=i))[2] for i in range(100)]
    assert sum(made) == 100
    realtime = alerts(store, status="pending")
    held = alerts(store, status="held")
    assert len(realtime) == 5 and len(held) == 95
    assert {a.due_at for a in held} == {T0.replace(hour=11, minute=0)}  # the next hourly digest
    await deliver_due(store, Settings(), now=t + timedelta(minutes=1))
    assert [r.json()["alert_id"] for r in sink.requests] == [a.id for a in realtime]
    summary = await deliver_due(store, Settings(), now=T0.replace(hour=11))
    assert summary.digests == 1 and len(sink.requests) == 6
    digest = sink.requests[-1].json()
    (d,) = alerts(store, kind="digest")
    assert digest["alert_id"] == d.id and digest["kind"] == "digest"
    assert "95 new items" in digest["body"] and f"alert #{d.id}" in digest["body"]
    assert all(a.status == "sent" and a.digest_id == d.id for a in alerts(store, kind="story")[5:])
    # an hour later the throttle window has room again: real time resumes
    assert hit(store, w, now=T0.replace(hour=11, minute=30))[2] == 1
    assert alerts(store)[-1].status == "pending"
    # and nothing is folded twice
    assert (await deliver_due(store, Settings(), now=T0.replace(hour=13))).digests == 0


async def test_digest_route_holds_everything_until_the_daily_time(store, sink):
    w = make_world(store, targets=[sink.url()], mode="digest", digest_at="09:00", tz=KYIV)
    for i in range(3):
        hit(store, w, now=T0 + timedelta(minutes=i))  # 13:00 in Kyiv
    assert [a.status for a in alerts(store)] == ["held"] * 3
    await deliver_due(store, Settings(), now=T0 + timedelta(hours=12))
    assert sink.requests == []
    nine = datetime(2025, 6, 3, 6, 0, tzinfo=UTC)  # 09:00 EEST
    await deliver_due(store, Settings(), now=nine - timedelta(seconds=1))
    assert sink.requests == []
    await deliver_due(store, Settings(), now=nine)
    (req,) = sink.requests
    assert req.json()["kind"] == "digest" and "3 new items" in req.json()["body"]


@pytest.mark.parametrize("held_at, before, due", [
    # October: clocks go back at 04:00 EEST on Sunday the 26th; 09:00 is now 07:00 UTC, not 06:00
    (datetime(2025, 10, 25, 12, 0, tzinfo=UTC), datetime(2025, 10, 26, 6, 0, tzinfo=UTC),
     datetime(2025, 10, 26, 7, 0, tzinfo=UTC)),
    # March: clocks go forward at 03:00 EET on Sunday the 30th; 09:00 is now 06:00 UTC, not 07:00
    (datetime(2025, 3, 29, 12, 0, tzinfo=UTC), datetime(2025, 3, 30, 5, 59, tzinfo=UTC),
     datetime(2025, 3, 30, 6, 0, tzinfo=UTC)),
])
async def test_daily_digest_follows_the_desk_clock_across_dst(store, sink, held_at, before, due):
    w = make_world(store, targets=[sink.url()], mode="digest", digest_at="09:00", tz=KYIV)
    hit(store, w, now=held_at)
    assert alerts(store)[0].due_at == due
    await deliver_due(store, Settings(), now=before)
    assert sink.requests == []
    await deliver_due(store, Settings(), now=due)
    assert len(sink.requests) == 1 and sink.requests[0].json()["kind"] == "digest"


def test_desk_clock_edge_cases():
    # the repeated autumn hour: 03:30 happens twice on 26 Oct in Kyiv; the digest fires once
    first = next_daily(datetime(2025, 10, 25, 12, tzinfo=UTC), "03:30", KYIV)
    assert first == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 03:30 EEST
    assert next_daily(first, "03:30", KYIV) == datetime(2025, 10, 27, 1, 30, tzinfo=UTC)
    # the missing spring hour: 03:30 never shows on 30 Mar; fire at the jump (03:00 EET = 01:00 UTC)
    assert next_daily(datetime(2025, 3, 29, 12, tzinfo=UTC), "03:30", KYIV) == datetime(2025, 3, 30, 1, 0,
                                                                                          tzinfo=UTC)
    # hourly digests keep a 60-minute rhythm through the repeated hour
    t, slots = datetime(2025, 10, 25, 23, 30, tzinfo=UTC), []
    for _ in range(4):
        t = next_hourly(t, KYIV)
        slots.append(t)
    assert [s.hour for s in slots] == [0, 1, 2, 3]
    assert next_hourly(datetime(2025, 1, 1, 0, 10, tzinfo=UTC), "Asia/Kolkata") == datetime(
        2025, 1, 1, 0, 30, tzinfo=UTC)
    assert next_digest_at(T0, every="hourly", at="00:15", tz_name="UTC") == T0.replace(minute=15)
    # quiet hours across midnight, in the desk's zone
    late = datetime(2025, 10, 26, 22, tzinfo=UTC)  # 00:00 EET
    assert in_quiet_hours(late, "23:00", "07:00", KYIV)
    assert quiet_release(late, "23:00", "07:00", KYIV) == datetime(2025, 10, 27, 5, tzinfo=UTC)
    assert quiet_release(T0, "23:00", "07:00", KYIV) == T0
    assert not in_quiet_hours(T0, None, None, KYIV)
