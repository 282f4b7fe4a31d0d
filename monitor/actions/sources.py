"""Adding and changing sources: the one ``add_source`` every surface calls (CLI, web, OPML, config
import, Telegram export import), and why each source's interval is what it is.

Checks made here, whoever asks: the type exists and the locator is valid for it; a pinned interval
below the adaptive floor (``fetch.min_interval``) needs ``force`` (it would poll faster than the
floor and the feed's TTL allow); ``account`` names a configured Telegram account and only
Telethon sources take one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from monitor.durations import format_duration
from monitor.errors import AlreadyExists, InvalidInput
from monitor.settings import Settings
from monitor.store import overview
from monitor.store import sources as source_repo
from monitor.store.db import Session
from monitor.sources import silent_source
from monitor.store.records import SourceRecord

_UNSET: Any = object()


def check_interval(seconds: int | None, settings: Settings, *, force: bool = False) -> int | None:
    """A pinned interval: positive, and not below the floor unless forced."""
    if seconds is None:
        return None
    if seconds <= 0:
        raise InvalidInput("a pinned interval must be longer than zero")
    floor = settings.fetch.min_interval
    if seconds < floor and not force:
        raise InvalidInput(
            f"interval {format_duration(seconds)} is below the floor of {format_duration(floor)} "
            "(fetch.min_interval): it would poll faster than the floor and the feed's own "
            "TTL allow; pass --force (web: tick 'force') to pin it anyway"
        )
    return seconds


def check_account(type_: str, account: str | None, settings: Settings) -> str | None:
    if account is None:
        return None
    if type_ != "telegram":
        raise InvalidInput(f"--account applies to telegram sources (Telethon), not to {type_}")
    if account not in settings.telegram.accounts:
        known = ", ".join(sorted(settings.telegram.accounts)) or "none configured"
        raise InvalidInput(
            f"no telegram account named {account!r} in the settings (telegram.accounts: {known})"
        )
    return account


def add_source(
    s: Session,
    settings: Settings,
    *,
    type: str,
    locator: str,
    name: str | None = None,
    interval: int | None = None,
    force: bool = False,
    account: str | None = None,
    language: str | None = None,
    options: dict[str, Any] | None = None,
    enabled: bool = True,
    unique_locator: bool | None = None,
) -> SourceRecord:
    """Validate and add a source (due at once); the record as stored.

    ``unique_locator`` defaults to True except for Telegram Desktop exports, whose chats share
    the export's path (one full-account ``result.json`` holds many channels)."""
    from monitor.sources import source_class

    cls = source_class(type)
    locator = cls.check_locator(locator)
    given = (name or "").strip()
    name = given or cls.default_name(locator)
    if not given and overview.source_exists(s, name):
        # the same channel as another type (telegram-web and Telethon): a default of its own
        name = f"{name} ({type})"
    if unique_locator is None:
        unique_locator = type != "telegram-export"
    if unique_locator and (clash := overview.source_by_locator(s, type, locator)) is not None:
        # the same feed or channel again: say so, whatever name it was given
        raise AlreadyExists(f"{type} source {locator!r} already exists as {clash.name!r}")
    row = source_repo.add_source(
        s,
        type=type,
        locator=locator,
        name=name,
        options=dict(options or {}),
        account=check_account(type, account, settings),
        language=(language or "").strip().lower() or None,
        pinned_interval=check_interval(interval, settings, force=force),
        enabled=enabled,
        unique_locator=unique_locator,
    )
    return overview.source_record(s, row.id)


def update_source(
    s: Session,
    settings: Settings,
    ref: str | int,
    *,
    name: str | None = None,
    locator: str | None = None,
    language: Any = _UNSET,
    interval: Any = _UNSET,
    force: bool = False,
    options: dict[str, Any] | None = None,
    account: Any = _UNSET,
) -> SourceRecord:
    """Change a source: ``interval=None`` unpins it, ``language=None`` clears it; ``options`` are
    merged into the stored ones."""
    from monitor.sources import source_class

    src = overview.source_record(s, ref)
    fields: dict[str, Any] = {}
    if name is not None and name.strip() and name.strip() != src.name:
        fields["name"] = name.strip()
    if locator is not None and locator.strip() and locator.strip() != src.locator:
        fields["locator"] = source_class(src.type).check_locator(locator.strip())
    if language is not _UNSET:
        fields["language"] = (language or "").strip().lower() or None
    if interval is not _UNSET:
        fields["pinned_interval"] = check_interval(interval, settings, force=force)
    if options:
        fields["options"] = {**src.options, **options}
    if account is not _UNSET:
        fields["account"] = check_account(src.type, account, settings)
    if fields:
        source_repo.update_source(s, src.id, **fields)
    return overview.source_record(s, src.id)


@dataclass
class OpmlReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why, one line each


def add_feeds(s: Session, settings: Settings, feeds: Iterable[Any]) -> OpmlReport:
    """Add OPML outlines as rss sources; feeds already collected and invalid URLs are skipped.
    A title another source already has gets the feed's host appended."""
    from monitor.sources.rss import RssSource

    report = OpmlReport()
    for feed in feeds:
        try:
            url = RssSource.check_locator(feed.url)
        except InvalidInput as exc:
            report.skipped.append(str(exc))
            continue
        existing = overview.source_by_locator(s, "rss", url)
        if existing is not None:
            report.skipped.append(f"{url}: already collected as {existing.name!r}")
            continue
        name = (feed.title or RssSource.default_name(url)).strip()
        options = {"category": feed.category} if getattr(feed, "category", None) else {}
        try:
            with s.begin_nested():
                src = add_source(s, settings, type="rss", locator=url, name=name, options=options)
        except AlreadyExists:
            with s.begin_nested():
                src = add_source(
                    s,
                    settings,
                    type="rss",
                    locator=url,
                    options=options,
                    name=f"{name} ({RssSource.default_name(url)})",
                )
        report.added.append(src.name)
    return report


def explain_interval(src: SourceRecord, settings: Settings, now: datetime) -> str:
    """Why a source's next check is when it is, in a few words (``source list``, the web)."""
    fs = settings.fetch
    if src.retired:
        return "retired (gone at the source)"
    if not src.enabled:
        return "disabled"
    if src.paused_until and src.paused_until > now:
        return f"paused by the server (Retry-After / FloodWait) until {src.paused_until:%H:%M}Z"
    if src.error_count:
        return f"backoff after {src.error_count} error(s)"
    if src.pinned_interval:
        below = " (below the floor, forced)" if src.pinned_interval < fs.min_interval else ""
        return f"pinned {format_duration(src.pinned_interval)}{below}"
    if src.type == "telegram":
        return f"live; gap-fill poll every {format_duration(settings.telegram.gap_fill_interval)}"
    if src.type == "telegram-export":
        return "imported from a file (not polled)"
    if src.interval is None:
        return "new: due now"
    ttl = (src.state or {}).get("min_interval")
    if ttl and src.interval >= min(float(ttl), fs.max_interval) and src.interval > fs.min_interval:
        return f"feed asks for {format_duration(int(ttl))} (TTL / Cache-Control)" + (
            f", capped at the {format_duration(fs.max_interval)} ceiling"
            if ttl > fs.max_interval
            else ""
        )
    if src.interval >= fs.max_interval:
        return f"ceiling {format_duration(fs.max_interval)} (few or no posts this week)"
    if src.interval <= fs.min_interval:
        return f"floor {format_duration(fs.min_interval)} (posts often)"
    per_week = round(7 * 86400 / src.interval)
    return f"feed rate: about {per_week} post(s) a week"


@dataclass(frozen=True)
class SourceOverview:
    """A source, what it published per day over the last week, and whether it is silent."""

    source: SourceRecord
    per_day: float
    silent: bool


def source_overview(s: Session, *, silent_after: float | None,
                    now: datetime | None = None) -> list[SourceOverview]:
    """Every source with its activity and silence (the sources page)."""
    from monitor.types import utcnow

    now = now or utcnow()
    return [SourceOverview(a.source, a.per_day, silent_source(a.source, now, silent_after))
            for a in overview.source_activity(s)]
