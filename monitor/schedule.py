"""When to look at a source again: pure arithmetic, no clock reads, no I/O.

Two questions, two functions. Both return seconds; the pipeline adds them to "now" and stores the
next-check time on the source row. :func:`backoff` is the one backoff helper of the code base (the
alert worker uses it too), and :func:`parse_retry_after` the one reader of ``Retry-After``.

:func:`next_interval` (after a successful fetch) follows Miniflux's entry-frequency scheduler:
count the entries published in the last week, poll about as often as the feed publishes
(``window / count``), clamp to the configured floor and ceiling, then raise it to whatever the feed
asked for (RSS ``ttl``, ``Cache-Control: max-age``, ``sy:updatePeriod``). A feed that published
nothing this week is polled at the ceiling. An operator's pinned interval overrides all of that.

:func:`backoff` (after a failure) follows Media Cloud's rss-fetcher grading: each consecutive error
adds a weight to a penalty (hard errors 1, "soft" ones 0.5: 404, 429, 5xx, timeouts; temporary
ones 0.25: resets, DNS hiccups), and the delay doubles per whole penalty point, capped. Jitter only
ever lengthens the delay, so a ``Retry-After`` the server sent is always honoured, up to a cap
(``fetch.max_retry_after``): a server cannot park a source for a century.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Iterable, Literal

from monitor.errors import (AccountUnavailable, PermanentSourceError, RateLimited, SourceError,
                            SourceGone)
from monitor.store.values import SourceHealth

__all__ = ["ERROR_WEIGHTS", "Outcome", "Rules", "backoff", "error_kind", "is_silent",
           "next_interval", "next_state", "parse_retry_after"]

ERROR_WEIGHTS = {"hard": 1.0, "soft": 0.5, "temporary": 0.25}
WEEK = 7 * 24 * 3600.0


def next_interval(item_dates: Iterable[datetime | None], *, now: datetime, min_seconds: float = 300,
                  max_seconds: float = 86400, feed_min_interval: float | None = None,
                  pinned: float | None = None, window: float = WEEK) -> float:
    """Seconds until the next check of a feed that was just fetched successfully.

    ``item_dates`` are the published times of the entries the feed currently lists (items whose
    date was a fallback should be left out by the caller: they say nothing about frequency).
    ``feed_min_interval`` is what the feed asked for (``Batch.min_interval``); it raises the
    interval but never beyond ``max_seconds``, so a feed claiming a one-month TTL is still seen
    daily. ``pinned`` (an operator's fixed interval) wins over everything.
    """
    if pinned is not None and pinned > 0:
        return float(pinned)
    since = now - timedelta(seconds=window)
    recent = sum(1 for d in item_dates if d is not None and since <= d <= now)
    interval = max_seconds if recent == 0 else window / recent
    interval = min(max(interval, min_seconds), max_seconds)
    if feed_min_interval:
        interval = max(interval, min(float(feed_min_interval), max_seconds))
    return float(interval)


# A polled source is "silent" after this many of its usual gaps between posts without a new one
# (its adaptive interval is the mean gap over the last week) ...
SILENT_GAPS = 8
# ... but never sooner than this: a source posting every 10 minutes may rest for a night.
SILENT_FLOOR = 6 * 3600.0


Silence = Literal["pace", "fixed", "never"]


def silence_limit(usual_gap: float | None, silent_after: float) -> float:
    """Seconds without a new item after which a source is flagged silent.

    ``usual_gap`` is the source's adaptive polling interval (None when it says nothing about the
    posting rate: pinned intervals, Telegram live sources); ``silent_after`` is the configured
    longest silence, which also applies when the usual gap is unknown."""
    if not usual_gap:
        return float(silent_after)
    return float(min(silent_after, max(SILENT_FLOOR, SILENT_GAPS * usual_gap)))


def is_silent(health: SourceHealth, now: datetime, silent_after: float | None,
              rule: Silence) -> bool:
    """Whether a source has had no new item for longer than expected (never-productive sources
    count from when they were added).

    ``rule`` is the source type's (:attr:`monitor.sources.base.Source.silence`): ``pace`` measures
    against its adaptive interval (unless an operator pinned one), ``fixed`` only against
    ``silent_after``, ``never`` (sources imported on demand) is never silent.
    """
    if silent_after is None or rule == "never" or not health.enabled or health.retired:
        return False
    quiet_since = health.last_new_item_at or health.created_at
    if quiet_since is None:
        return False
    paced = rule == "pace" and not health.pinned_interval
    limit = silence_limit(health.interval if paced else None, silent_after)
    return (now - quiet_since).total_seconds() > limit


def error_kind(error: BaseException) -> str:
    """Grade an error for :func:`backoff`: ``hard``, ``soft`` or ``temporary``.

    Hard: operator action needed (401/403, not a feed, 410, body too big). Soft: the server said
    no for now or is broken (404 is often a botched deploy, 429, 5xx, timeouts). Temporary:
    connection-level trouble without an HTTP answer.
    """
    status = getattr(error, "status", None)
    if isinstance(error, SourceGone):
        return "hard"
    if isinstance(error, PermanentSourceError):
        return "soft" if status == 404 else "hard"
    if isinstance(error, RateLimited) or (status is not None and status >= 500):
        return "soft"
    if isinstance(error, SourceError) and status is None:
        # The Fetcher marks timeouts (connect, read, overall deadline) with .timeout = True.
        return "soft" if getattr(error, "timeout", False) else "temporary"
    if isinstance(error, (TimeoutError,)):
        return "soft"
    return "hard" if not getattr(error, "transient", True) else "temporary"


def backoff(error_count: int, kind: str | float | BaseException, base: float, *,
            retry_after: float | None = None, max_seconds: float = 86400,
            jitter: float | tuple[float, float] = 0.1, max_retry_after: float = 86400,
            rng: random.Random | None = None) -> float:
    """Seconds to wait after ``error_count`` consecutive failures (1 for the first).

    ``kind`` is a grade name, a weight, or the error itself (graded by :func:`error_kind`; its
    ``retry_after`` is used when the argument is not given). The delay is
    ``base * 2 ** (weight * (error_count - 1))``, at least ``base``, at most ``max_seconds``,
    times a random factor (``jitter``: a number ``j`` draws it from ``[1, 1 + j]``, so it only
    lengthens; a pair ``(low, high)`` from that range), and never below ``retry_after``, itself
    taken at most up to ``max_retry_after``.
    """
    if isinstance(kind, BaseException):
        if retry_after is None:
            retry_after = getattr(kind, "retry_after", None)
        kind = error_kind(kind)
    weight = ERROR_WEIGHTS[kind] if isinstance(kind, str) else float(kind)
    count = max(int(error_count), 1)
    exponent = min(weight * (count - 1), 60.0)  # 2**60 * base overflows nothing and is capped below
    delay = min(base * 2.0 ** exponent, max_seconds)
    delay = max(delay, base if base <= max_seconds else max_seconds)
    low, high = (1.0, 1.0 + jitter) if isinstance(jitter, (int, float)) else jitter
    if high > low:
        delay *= low + (rng or random).random() * (high - low)
    else:
        delay *= low
    if retry_after is not None and retry_after > 0:
        # The server's word is a floor, not a ceiling (polling earlier would just earn another
        # 429), but only up to the cap: a hostile header must not park a source for years.
        delay = max(delay, min(float(retry_after), float(max_retry_after)))
    return float(delay)


_DELTA_SECONDS = re.compile(r"[0-9]{1,30}")  # ASCII digits only: "²".isdigit() is true


def parse_retry_after(value: str | None, *, now: datetime, cap: float = 86400) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), at most
    ``cap``; None when absent or unreadable. A date in the past gives 0.

    Any value, however large or far in the future, gives a finite number in ``[0, cap]``: it
    ends up in ``now + timedelta(seconds=...)``, which must never overflow."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # 30 digits is already ~3e22 years; longer ones are capped without reading them
        return float(min(int(value), cap)) if _DELTA_SECONDS.fullmatch(value) else float(cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    try:
        seconds = (when - now).total_seconds()
    except OverflowError:
        return float(cap)
    return float(min(max(seconds, 0.0), cap))


# ---------------------------------------------------------------------- the next state of a source


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run of a source ended, as :func:`next_state` reads it (no exception objects)."""

    error: str | None = None  # "Type: message"; None when the run succeeded
    kind: Literal["gone", "rate_limited", "paused", "error"] | None = None
    grade: str = "hard"  # the error's backoff grade (:func:`error_kind`)
    status: int | None = None  # HTTP status: of the error, or of the successful fetch
    retry_after: float | None = None  # seconds the server asked us to wait, already parsed
    not_modified: bool = False
    min_interval: float | None = None  # what the feed asked for (TTL, Cache-Control, ...)
    check_again_in: float | None = None  # the collector wants another look this soon (seconds)
    label: str | None = None  # "paused": the status to show (e.g. "account down")

    @classmethod
    def from_error(cls, error: BaseException) -> Outcome:
        kind = ("gone" if isinstance(error, SourceGone)
                else "paused" if isinstance(error, AccountUnavailable)
                else "rate_limited" if isinstance(error, RateLimited) else "error")
        return cls(error=f"{type(error).__name__}: {error}"[:2000], kind=kind,
                   grade=error_kind(error),
                   status=getattr(error, "status", None),
                   retry_after=getattr(error, "retry_after", None),
                   label=getattr(error, "label", None))


@dataclass(frozen=True, slots=True)
class Rules:
    """The configured limits and the source type's own pace (see
    :class:`~monitor.sources.base.Source`)."""

    min_interval: float = 300
    max_interval: float = 86400
    default_interval: float = 3600
    error_limit: int = 10
    max_retry_after: float = 86400  # a server's Retry-After is honoured up to this (fetch.*)
    fixed_interval: float | None = None  # the type polls at this pace (Telegram's gap-fill poll)
    rate_limited_status: str | None = None  # how the type names a rate limit ("flood_wait")


def next_state(health: SourceHealth, outcome: Outcome, *, now: datetime, rules: Rules,
               recent_dates: Iterable[datetime | None] = (),
               rng: random.Random | None = None) -> SourceHealth:
    """The source's schedule and health after a run: status, error streak, next check.

    Success clears the streak and any pause and schedules the next check after the adaptive
    interval (:func:`next_interval` over ``recent_dates``, the source's published times of the
    last week), the type's fixed pace, or the operator's pinned interval — sooner when the
    collector asked for another look (``check_again_in``). An account-wide pause (``paused``:
    :class:`~monitor.errors.AccountUnavailable`) waits it out without counting an error.
    An error grows the streak and backs off (:func:`backoff`, never before a Retry-After); a
    source that is gone (HTTP 410) is retired; after ``rules.error_limit`` errors in a row the
    source is disabled until an operator enables it again.
    """
    state = dataclasses.replace(health, last_checked_at=now)
    if outcome.error is None:
        if rules.fixed_interval is not None:
            interval = float(health.pinned_interval or rules.fixed_interval)
        else:
            asked = outcome.min_interval or health.feed_min_interval
            interval = next_interval(recent_dates, now=now, min_seconds=rules.min_interval,
                                     max_seconds=rules.max_interval, feed_min_interval=asked,
                                     pinned=health.pinned_interval)
        wait = interval
        if outcome.check_again_in is not None:  # a backfill under way, a recheck coming due
            wait = min(interval, max(float(outcome.check_again_in), 0.0))
        status = ("not modified" if outcome.not_modified
                  else str(outcome.status) if outcome.status else "ok")
        return dataclasses.replace(state, error_count=0, last_error=None, last_success_at=now,
                                   last_status=status, paused_until=None, interval=int(interval),
                                   next_check_at=now + timedelta(seconds=wait))
    if outcome.kind == "paused":
        # the account, not the source: no error counted, never disabled for it, no backoff
        pause = min(max(outcome.retry_after or rules.default_interval, 1.0), rules.max_retry_after)
        until = now + timedelta(seconds=pause)
        return dataclasses.replace(state, last_status=outcome.label or "paused",
                                   last_error=outcome.error, paused_until=until,
                                   next_check_at=until)
    errors = health.error_count + 1
    state = dataclasses.replace(state, error_count=errors, last_error=outcome.error)
    if outcome.kind == "gone":
        return dataclasses.replace(state, retired=True, next_check_at=None,
                                   last_status=f"gone ({outcome.status or 'permanent'})")
    paused = health.paused_until
    if outcome.kind == "rate_limited":
        status = rules.rate_limited_status or f"rate limited ({outcome.status or '-'})"
        if outcome.retry_after:  # capped: a hostile header must not park a source for years
            paused = now + timedelta(seconds=min(max(outcome.retry_after, 0.0),
                                                 rules.max_retry_after))
    else:
        status = f"error ({outcome.status})" if outcome.status else "error"
    base = float(health.pinned_interval or health.interval or rules.default_interval)
    delay = backoff(errors, outcome.grade, min(base, rules.max_interval),
                    retry_after=outcome.retry_after, max_seconds=rules.max_interval,
                    max_retry_after=rules.max_retry_after, rng=rng)
    state = dataclasses.replace(state, last_status=status, paused_until=paused,
                                next_check_at=now + timedelta(seconds=delay))
    if errors >= rules.error_limit:
        state = dataclasses.replace(state, enabled=False,
                                    last_status=f"stopped after {errors} errors (enable to resume)")
    return state
