"""Desks and their delivery targets: targets are checked when they are saved (an Apprise URL
Apprise cannot load, or a webhook without a host, is refused then, not at the first alert)."""

from __future__ import annotations

from typing import Any, Sequence

from monitor.errors import InvalidInput
from monitor.store import desks as desk_repo
from monitor.store.db import Session
from monitor.store.records import DeskRecord, TargetRecord


def check_target(spec: str) -> str:
    """A target spec as given (``env:NAME`` or a URL the alerts stage can deliver to)."""
    from monitor.alerts.sinks import check_target as check_url

    url, _env = desk_repo.parse_target(spec)
    if url is not None:
        try:
            check_url(url)
        except ValueError as exc:
            raise InvalidInput(f"delivery target: {exc}") from None
    return spec.strip()


def parse_quiet(text: str | None) -> tuple[str, str] | None:
    """``HH:MM-HH:MM`` → (start, end)."""
    if not text:
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise InvalidInput("quiet hours: expected HH:MM-HH:MM, e.g. 23:00-07:00")
    desk_repo.check_hhmm(start.strip(), "quiet start")
    desk_repo.check_hhmm(end.strip(), "quiet end")
    return start.strip(), end.strip()


def add_desk(
    s: Session,
    name: str,
    *,
    targets: Sequence[str] = (),
    timezone: str = "UTC",
    quiet: str | None = None,
    is_operators: bool = False,
) -> DeskRecord:
    window = parse_quiet(quiet)
    return desk_repo.add_desk(
        s,
        name,
        targets=[check_target(t) for t in targets],
        timezone=timezone,
        quiet_start=window[0] if window else None,
        quiet_end=window[1] if window else None,
        is_operators=is_operators,
    )


def add_target(s: Session, desk: Any, spec: str) -> TargetRecord:
    return desk_repo.add_target(s, desk, check_target(spec))
