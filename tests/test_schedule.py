"""Schedule maths: adaptive intervals, graded backoff and Retry-After."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from monitor.errors import PermanentSourceError, RateLimited, SourceGone, TransientSourceError
from monitor.schedule import (
    Outcome,
    Rules,
    backoff,
    error_kind,
    next_interval,
    next_state,
    parse_retry_after,
)
from monitor.sources.http import FetchTimeout
from monitor.store.values import SourceHealth

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)


def dates(count: int, span_days: float = 7):
    step = timedelta(days=span_days) / max(count, 1)
    return [NOW - step * (i + 0.5) for i in range(count)]


def test_interval_follows_publishing_rate():
    week = 7 * 86400
    assert next_interval(dates(84), now=NOW, min_seconds=60) == pytest.approx(week / 84)
    assert next_interval(dates(7), now=NOW) == pytest.approx(86400)
    busy = next_interval(dates(5000), now=NOW, min_seconds=300)
    assert busy == 300  # clamped to the floor


def test_quiet_feed_goes_to_the_ceiling_and_old_or_future_dates_do_not_count():
    old = [NOW - timedelta(days=30 + i) for i in range(50)]
    future = [NOW + timedelta(days=1)] * 50
    assert next_interval(old + future + [None], now=NOW, max_seconds=86400) == 86400
    assert next_interval([], now=NOW, max_seconds=43200) == 43200


def test_feed_min_interval_raises_but_never_past_the_ceiling():
    assert next_interval(dates(700), now=NOW, feed_min_interval=3600) == 3600
    assert next_interval(dates(700), now=NOW, feed_min_interval=30 * 86400,
                         max_seconds=86400) == 86400
    assert next_interval(dates(7), now=NOW, feed_min_interval=60) == pytest.approx(86400)


def test_pinned_interval_wins():
    assert next_interval(dates(700), now=NOW, pinned=900, feed_min_interval=3600) == 900


@pytest.mark.parametrize("error,kind", [
    (PermanentSourceError("x", status=403), "hard"),
    (PermanentSourceError("not a feed", status=200), "hard"),
    (PermanentSourceError("x", status=404), "soft"),
    (SourceGone("x", status=410), "hard"),
    (RateLimited("x", status=429, retry_after=30), "soft"),
    (TransientSourceError("x", status=502), "soft"),
    (FetchTimeout("x"), "soft"),
    (TransientSourceError("reset"), "temporary"),
])
def test_error_grading(error, kind):
    assert error_kind(error) == kind


def test_backoff_grows_by_grade_and_is_capped():
    no_jitter = dict(jitter=0, max_seconds=86400)
    assert backoff(1, "hard", 600, **no_jitter) == 600
    assert backoff(2, "hard", 600, **no_jitter) == 1200
    assert backoff(3, "hard", 600, **no_jitter) == 2400
    assert backoff(3, "soft", 600, **no_jitter) == 1200
    assert backoff(5, "temporary", 600, **no_jitter) == 1200
    assert backoff(50, "hard", 600, **no_jitter) == 86400
    assert backoff(10**6, "hard", 600, **no_jitter) == 86400  # no overflow
    hard = [backoff(n, "hard", 600, **no_jitter) for n in range(1, 10)]
    soft = [backoff(n, "soft", 600, **no_jitter) for n in range(1, 10)]
    assert hard == sorted(hard) and all(h >= s for h, s in zip(hard, soft))


def test_backoff_honours_retry_after_and_jitter_only_lengthens():
    rng = random.Random(7)
    error = RateLimited("x", status=429, retry_after=7200)
    values = [backoff(1, error, 600, rng=rng, max_seconds=3600) for _ in range(50)]
    assert all(v >= 7200 for v in values)
    jittered = [backoff(2, "soft", 600, jitter=0.2, rng=rng) for _ in range(200)]
    assert all(600 * 2 ** 0.5 <= v <= 600 * 2 ** 0.5 * 1.2 for v in jittered)
    assert len(set(jittered)) > 100  # really spread out


def test_parse_retry_after_forms():
    epoch = datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc)
    assert parse_retry_after("30", now=NOW) == 30 and parse_retry_after(" 30 ", now=NOW) == 30
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_retry_after(date, now=epoch - timedelta(seconds=60)) == 60
    assert parse_retry_after(date, now=epoch + timedelta(seconds=60)) == 0
    assert parse_retry_after("soon", now=NOW) is None and parse_retry_after(None, now=NOW) is None


@pytest.mark.parametrize("value, expected", [
    ("99999999999999999999", 3600),  # overflowed timedelta before
    ("9" * 5000, 3600),  # past Python's limit on int() of a string
    ("Fri, 31 Dec 9999 23:59:59 GMT", 3600),  # paused a source until year 9999
    ("3601", 3600), ("3599", 3599), ("0", 0),
    ("\u00b2", None), ("-5", None), ("1e9", None), ("Mon, 99 Foo 99999 GMT", None),
])
def test_hostile_retry_after_is_capped_and_never_overflows(value, expected):
    seconds = parse_retry_after(value, now=NOW, cap=3600)
    assert seconds == expected
    if seconds is not None:
        assert NOW + timedelta(seconds=seconds) <= NOW + timedelta(hours=1)


def test_backoff_caps_retry_after_and_serves_the_alert_worker_jitter():
    error = RateLimited("x", status=429, retry_after=10 ** 12)
    assert backoff(1, error, 600, jitter=0, max_retry_after=86400) == 86400
    rng = random.Random(3)
    shortened = [backoff(1, 1.0, 30, jitter=(0.75, 1.0), rng=rng) for _ in range(100)]
    assert all(22.5 <= v <= 30 for v in shortened) and len(set(shortened)) > 50
# ---------------------------------------------------------------------- next_state


def _health(**kw):
    return SourceHealth(**({"id": 1, "name": "feed", "type": "rss"} | kw))


def test_next_state_success_clears_the_streak_and_adapts_the_interval():
    now = datetime(2025, 1, 8, tzinfo=timezone.utc)
    before = _health(error_count=3, last_error="x", paused_until=now, interval=600)
    dates = [now - timedelta(hours=h) for h in range(0, 168, 2)]  # every 2 hours
    after = next_state(before, Outcome(status=200), now=now, rules=Rules(), recent_dates=dates)
    assert (after.error_count, after.last_error, after.paused_until) == (0, None, None)
    assert (after.last_status, after.last_success_at, after.last_checked_at) == ("200", now, now)
    assert after.interval == 7200 and after.next_check_at == now + timedelta(hours=2)
    fixed = next_state(before, Outcome(not_modified=True), now=now,
                       rules=Rules(fixed_interval=300), recent_dates=dates)
    assert (fixed.interval, fixed.last_status) == (300, "not modified")
    pinned = next_state(_health(pinned_interval=900), Outcome(), now=now, rules=Rules())
    assert pinned.interval == 900


def test_next_state_errors_back_off_pause_retire_and_stop():
    now = datetime(2025, 1, 8, tzinfo=timezone.utc)
    rng = random.Random(1)
    slow = Outcome.from_error(RateLimited("slow down", status=429, retry_after=900))
    after = next_state(_health(interval=60), slow, now=now, rules=Rules(), rng=rng)
    assert (after.error_count, after.last_status) == (1, "rate limited (429)")
    assert after.paused_until == now + timedelta(seconds=900)
    assert after.next_check_at >= after.paused_until
    flood = next_state(_health(), slow, now=now, rules=Rules(rate_limited_status="flood_wait"),
                       rng=rng)
    assert flood.last_status == "flood_wait"
    gone = next_state(_health(), Outcome.from_error(SourceGone("410", status=410)), now=now,
                      rules=Rules())
    assert (gone.retired, gone.next_check_at, gone.last_status) == (True, None, "gone (410)")
    flaky = Outcome.from_error(TransientSourceError("timeout"))
    state = _health()
    for _ in range(3):
        state = next_state(state, flaky, now=now, rules=Rules(error_limit=3), rng=rng)
    assert (state.enabled, state.error_count) == (False, 3)
    assert state.last_status == "stopped after 3 errors (enable to resume)"
