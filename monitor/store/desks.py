"""Desks, their delivery targets and the routes that send watchlists to them."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound
from monitor.store.models import DeskRow, DeskTargetRow, RouteRow, WatchlistRow
from monitor.store.values import RouteSettings

_ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r} (expected an IANA name such as Europe/Kyiv)") from None
    return name


def check_hhmm(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not _HHMM.match(value):
        raise InvalidInput(f"{what} {value!r}: expected HH:MM (24-hour)")
    return value


def target_fingerprint(url: str) -> str:
    """A short, non-reversible reference to a stored secret target (for exports)."""
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def make_target(spec: str) -> DeskTargetRow:
    """``env:NAME`` refers to an environment variable; anything else is the Apprise URL itself."""
    spec = spec.strip()
    if not spec:
        raise InvalidInput("empty delivery target")
    if m := _ENV_REF.match(spec):
        return DeskTargetRow(url_env=m.group(1))
    if "://" not in spec:
        raise InvalidInput("a delivery target is an Apprise URL (scheme://...) or env:VARIABLE")
    return DeskTargetRow(url=spec)


def add_desk(
    s: Session, name: str, *, targets: Sequence[str] = (), timezone: str = "UTC",
    quiet_start: str | None = None, quiet_end: str | None = None, is_operators: bool = False,
) -> DeskRow:
    if not name.strip():
        raise InvalidInput("a desk needs a name")
    if s.scalar(select(DeskRow.id).where(DeskRow.name == name)) is not None:
        raise AlreadyExists(f"a desk named {name!r} already exists")
    if (quiet_start is None) != (quiet_end is None):
        raise InvalidInput("quiet hours need both a start and an end")
    desk = DeskRow(name=name, timezone=check_timezone(timezone), is_operators=is_operators,
                quiet_start=check_hhmm(quiet_start, "quiet start"), quiet_end=check_hhmm(quiet_end, "quiet end"))
    desk.targets = [make_target(t) for t in targets]
    s.add(desk)
    s.flush()
    return desk


def get_desk(s: Session, name: str) -> DeskRow:
    desk = s.scalar(select(DeskRow).where(DeskRow.name == name))
    if desk is None:
        raise NotFound(f"no desk named {name!r}")
    return desk


def list_desks(s: Session, *, since: datetime | None = None, limit: int | None = None) -> Sequence[DeskRow]:
    q = select(DeskRow).order_by(DeskRow.name)
    if since:
        q = q.where(DeskRow.created_at >= since)
    if limit:
        q = q.limit(limit)
    return s.scalars(q).all()


def remove_desk(s: Session, name: str) -> None:
    s.delete(get_desk(s, name))
    s.flush()


def add_target(s: Session, desk: DeskRow, spec: str) -> DeskTargetRow:
    target = make_target(spec)
    for existing in desk.targets:
        if (existing.url, existing.url_env) == (target.url, target.url_env):
            return existing
    desk.targets.append(target)
    s.flush()
    return target


def add_route(s: Session, watchlist: WatchlistRow, desk: DeskRow, settings: RouteSettings) -> RouteRow:
    """Send a watchlist to a desk with settings checked by :func:`monitor.alerts.routes.route_settings`;
    replaces the settings of an existing route between them."""
    route = s.scalar(select(RouteRow).where(RouteRow.watchlist_id == watchlist.id, RouteRow.desk_id == desk.id))
    if route is None:
        route = RouteRow(watchlist_id=watchlist.id, desk_id=desk.id)
        s.add(route)
    route.mode = settings.mode
    route.throttle_count, route.throttle_period = settings.throttle_count, settings.throttle_period
    route.digest_every, route.digest_at = settings.digest_every, settings.digest_at
    route.max_age = settings.max_age
    route.source_filter = list(settings.source_filter)
    route.language_filter = list(settings.language_filter)
    route.spread_threshold = settings.spread_threshold
    s.flush()
    return route


def get_route(s: Session, watchlist: WatchlistRow, desk: DeskRow) -> RouteRow | None:
    return s.scalar(select(RouteRow).where(RouteRow.watchlist_id == watchlist.id, RouteRow.desk_id == desk.id))


def list_routes(s: Session, *, desk: DeskRow | None = None) -> Sequence[tuple[RouteRow, WatchlistRow, DeskRow]]:
    q = (select(RouteRow, WatchlistRow, DeskRow).join(WatchlistRow, RouteRow.watchlist_id == WatchlistRow.id)
         .join(DeskRow, RouteRow.desk_id == DeskRow.id).order_by(DeskRow.name, WatchlistRow.name))
    if desk is not None:
        q = q.where(RouteRow.desk_id == desk.id)
    return s.execute(q).all()
