"""Alerts about the world changing pace (spikes) and about the pipeline itself (operators).

Each condition is keyed by its *occurrence*, so it alerts once and again only when it happens anew:

=======================================  ===============================================
``spike:<watchlist>:<hour>:<desk>``      hits in the last hour exceed the baseline
``op:silent:<source>:<last new item>``   no new item for longer than expected (see below)
``op:failing:<source>:<last success>``   3+ errors in a row, or erroring for 3 intervals
``op:account_down:<account>:<since>``     a Telegram account is down (logged out, banned):
                                         one per account, not one per channel
``op:flood_wait:<source>:<paused until>`` a FloodWait longer than an hour
``op:desk_failing:<desk>:<last sent>``   5+ failed attempts to a desk since it last received
=======================================  ===============================================

Silence (:func:`monitor.schedule.silence_limit`): 8 of the source's usual gaps between posts
(its adaptive interval), at least 6 hours and at most ``alerts.silent_after``; sources whose
interval says nothing about their pace (pinned, Telegram live) use ``alerts.silent_after``.

Spike rule: the baseline of a watchlist is the mean number of hits in the same hour of each of
the previous ``alerts.spike_baseline_days`` days. It is a spike when the last hour's hits are at
least ``alerts.spike_min_hits`` and more than ``alerts.spike_factor`` times the baseline — and
never before the watchlist has existed for the whole baseline period (a new watchlist has no
"normal" yet).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Sequence

from monitor.alerts.routing import draft, due_time
from monitor.durations import parse_duration
from monitor.settings import Settings
from monitor.sources import silent_source
from monitor.store import alerts as repo
from monitor.store import sources as source_repo
from monitor.store.db import Session, Store
from monitor.store.values import NoticeAlert, SourceHealth

log = logging.getLogger("monitor.alerts")

LONG_FLOOD_WAIT = timedelta(hours=1)
ACCOUNT_WIDE = ("account down", "resolve cap")  # statuses that are the account's, not a source's
FAILING_STREAK = 3
DESK_FAILED_ATTEMPTS = 5


def is_spike(count: int, baseline_counts: Sequence[int], *, factor: float, min_hits: int) -> bool:
    """Whether ``count`` hits in an hour is a spike against the same hour on previous days."""
    if not baseline_counts or count < min_hits:
        return False
    baseline = sum(baseline_counts) / len(baseline_counts)
    return count > factor * baseline


def check_spikes(s: Session, settings: Settings, now: datetime) -> int:
    """Write a spike alert per watchlist in spike and routed desk; returns alerts created."""
    cfg = settings.alerts
    routed = repo.routed_watchlists(s)
    if not routed:
        return 0
    ids = [wl_id for wl_id, _, _, _ in routed]
    hour = timedelta(hours=1)
    current = repo.hit_counts(s, ids, now - hour, now)
    days = [repo.hit_counts(s, ids, now - timedelta(days=d) - hour, now - timedelta(days=d))
            for d in range(1, cfg.spike_baseline_days + 1)]
    targets = repo.desk_targets(s, sorted({d.id for *_, desks in routed for d in desks}))
    drafts = []
    for wl_id, name, created_at, desks in routed:
        if created_at > now - timedelta(days=cfg.spike_baseline_days):
            continue  # not enough history for a baseline
        count, base = current.get(wl_id, 0), [d.get(wl_id, 0) for d in days]
        if not is_spike(count, base, factor=cfg.spike_factor, min_hits=cfg.spike_min_hits):
            continue
        mean = sum(base) / len(base)
        body = NoticeAlert(
            title=f"Spike in {name}: {count} hits in the last hour",
            text=f"{count} hits in the hour to {now:%Y-%m-%d %H:%M} UTC; the same hour of the "
                 f"previous {len(base)} days averaged {mean:.1f}.",
            watchlist=name, count=count, baseline=mean)
        drafts += [draft(key=f"spike:{wl_id}:{now:%Y-%m-%dT%H}:{desk.id}", kind="spike",
                         desk_id=desk.id, now=now, due_at=due_time(desk, "spike", now), body=body,
                         targets=targets.get(desk.id, ())) for desk in desks]
    return len(repo.write_alerts(s, drafts, now=now))


def source_problems(src: SourceHealth, now: datetime, *, silent_after: int | None,
                    default_interval: int) -> list[tuple[str, str, str]]:
    """(key, title, text) for each operator condition a source is in right now."""
    def stamp(dt: datetime | None) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%S") if dt else "never"

    name, out = src.name, []
    since_ok = stamp(src.last_success_at)
    if src.last_status in ACCOUNT_WIDE:
        return out  # the account's condition, alerted once per account (account_problems)
    if src.last_status == "flood_wait" and src.paused_until and src.paused_until - now > LONG_FLOOD_WAIT:
        out.append((f"op:flood_wait:{src.id}:{stamp(src.paused_until)}", f"Long FloodWait on {name}",
                    f"Telegram asked to wait until {src.paused_until:%Y-%m-%d %H:%M} UTC before collecting {name}."))
    interval = src.pinned_interval or src.interval or default_interval
    erroring_since = src.last_success_at or src.created_at
    if src.error_count >= FAILING_STREAK or (
            src.last_status == "error" and erroring_since and now - erroring_since > timedelta(seconds=3 * interval)):
        out.append((f"op:failing:{src.id}:{since_ok}", f"Source failing: {name}",
                    f"{src.error_count} errors in a row; last error: {src.last_error or 'unknown'}."))
    if not out and silent_source(src, now, silent_after):
        out.append((f"op:silent:{src.id}:{stamp(src.last_new_item_at)}", f"Source silent: {name}",
                    f"No new item from {name} since {stamp(src.last_new_item_at)} UTC."))
    return out


def account_problems(s: Session) -> list[tuple[str, str, str]]:
    """One operator alert per Telegram account that is down (keyed by when it went down)."""
    from monitor.store import telegram as tg_repo

    out = []
    for name, acc in sorted(tg_repo.accounts(s).items()):
        if acc.status != "down":
            continue
        label = name or "default"
        since = acc.down_since.strftime("%Y-%m-%dT%H:%M:%S") if acc.down_since else "unknown"
        out.append((f"op:account_down:{label}:{since}", f"Telegram account {label} is down",
                    f"Telegram account {label} stopped working at {since} UTC ({acc.reason}). "
                    f"Its channels are paused as \"account down\" (not failing, never disabled) "
                    f"and moved to an account that works, where there is one. Log in again with "
                    f"`monitor telegram login{'' if not name else ' --account ' + name}`."))
    return out


def check_operators(s: Session, settings: Settings, now: datetime) -> int:
    """Write operator alerts for sources and desks in trouble; returns alerts created."""
    desk = repo.operators_desk(s, settings.alerts.operators_desk)
    if desk is None:
        return 0
    silent = parse_duration(settings.alerts.silent_after, allow_none=True)
    problems = [p for src in source_repo.watched_health(s)
                for p in source_problems(src, now, silent_after=silent,
                                         default_interval=settings.fetch.default_interval)]
    problems += account_problems(s)
    for other, last_ok, failed in repo.desk_failures(s):
        if other.id != desk.id and failed >= DESK_FAILED_ATTEMPTS:
            when = last_ok.strftime("%Y-%m-%dT%H:%M:%S") if last_ok else "never"
            problems.append((f"op:desk_failing:{other.id}:{when}",
                             f"Deliveries to desk {other.name} keep failing",
                             f"{failed} failed attempts since its last delivery ({when}). "
                             f"See `monitor alerts --desk {other.name}`."))
    targets = repo.desk_targets(s, [desk.id]).get(desk.id, ())
    drafts = [draft(key=key, kind="operator", desk_id=desk.id, now=now, targets=targets,
                    body=NoticeAlert(title=title, text=text)) for key, title, text in problems]
    return len(repo.write_alerts(s, drafts, now=now))


async def check_health(store: Store, settings: Settings, now: datetime) -> int:
    """Spike and operator checks in one unit of work; returns the alerts created."""
    def run() -> int:
        with store.unit() as s:
            return check_spikes(s, settings, now) + check_operators(s, settings, now)

    created = await asyncio.to_thread(run)
    if created:
        log.info("health check created %d alert(s)", created)
    return created
