"""Desk clocks: when a digest is due and when quiet hours end, in the desk's own time zone.

Pure functions on UTC-aware datetimes; no I/O. Local wall times are turned into instants with
``zoneinfo`` so daylight-saving changes are honoured:

* A daily digest at ``HH:MM`` fires at that local wall time every day, so its UTC instant moves by
  an hour across a DST change (Europe/Kyiv 09:00 is 06:00 UTC in summer, 07:00 UTC in winter).
* A wall time that happens twice (the autumn fall-back hour) fires once, at its first occurrence.
* A wall time that does not exist (the spring-forward gap) fires at the instant the clock jumps,
  i.e. as soon as the desk's day has passed that time.
* Hourly digests fire every 60 real minutes, at minute ``MM`` of the local hour (default ``:00``),
  so the repeated autumn hour gets its own digest rather than being skipped.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


def _hhmm(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes or 0))


def wall_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The first instant at which the desk's clock reads ``day at`` (or passes it, in a DST gap)."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) != naive:
        # A gap: the wall time never shows. Find the jump itself, the first instant whose wall
        # time has passed ``at`` (between the two readings zoneinfo offers; wall time rises there).
        lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
        hi = first
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if mid.astimezone(tz).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        return hi.replace(microsecond=0)
    return first


def next_daily(now: datetime, at: str, tz_name: str) -> datetime:
    """The first instant strictly after ``now`` when the desk's clock reads ``at`` (HH:MM)."""
    tz = ZoneInfo(tz_name)
    wall = _hhmm(at)
    day = now.astimezone(tz).date() - timedelta(days=1)  # a gap instant may precede today's date
    while True:
        candidate = wall_to_utc(day, wall, tz)
        if candidate > now:
            return candidate
        day += timedelta(days=1)


def next_hourly(now: datetime, tz_name: str, minute: int = 0) -> datetime:
    """The first instant strictly after ``now`` at local minute ``minute`` of an hour."""
    tz = ZoneInfo(tz_name)
    local = now.astimezone(tz)
    candidate = local.replace(minute=minute, second=0, microsecond=0).astimezone(UTC)
    while candidate <= now:
        candidate += timedelta(hours=1)
    # Step back while an earlier slot still lies after now (zones with odd offsets).
    while candidate - timedelta(hours=1) > now:
        candidate -= timedelta(hours=1)
    return candidate


def next_digest_at(now: datetime, *, every: str | None, at: str | None, tz_name: str) -> datetime:
    """When the digest that would include an alert held at ``now`` is due.

    ``every`` is ``daily`` (at ``at``, default 09:00) or ``hourly`` (at the minute of ``at``, default
    :00); anything else counts as hourly, the safe default for throttled overflow.
    """
    if every == "daily":
        return next_daily(now, at or "09:00", tz_name)
    return next_hourly(now, tz_name, _hhmm(at).minute if at else 0)


def in_quiet_hours(now: datetime, start: str | None, end: str | None, tz_name: str) -> bool:
    """Whether the desk's clock at ``now`` lies in [start, end) (the window may cross midnight)."""
    if not start or not end or start == end:
        return False
    wall = now.astimezone(ZoneInfo(tz_name)).time().replace(second=0, microsecond=0)
    a, b = _hhmm(start), _hhmm(end)
    return a <= wall < b if a < b else (wall >= a or wall < b)


def quiet_release(now: datetime, start: str | None, end: str | None, tz_name: str) -> datetime:
    """``now`` if the desk is not in quiet hours, else the instant its quiet hours end."""
    if not in_quiet_hours(now, start, end, tz_name):
        return now
    return next_daily(now, end or "00:00", tz_name)
