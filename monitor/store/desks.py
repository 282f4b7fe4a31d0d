"""Desks, their delivery targets and the routes that send watchlists to them.

Functions take a desk or watchlist by name, or any value with its ``id`` (a record, a row), and
return frozen records (:mod:`monitor.store.records`); rows stay inside the store.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound
from monitor.store.models import DeskRow, DeskTargetRow, RouteRow, WatchlistRow
from monitor.store.records import DeskRecord, RouteRecord, TargetRecord, freeze
from monitor.store.values import RouteSettings

_ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DEFAULT_MAX_AGE = 48 * 3600


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r} (expected an IANA name such as Europe/Kyiv)"
        ) from None
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


def parse_target(spec: str) -> tuple[str | None, str | None]:
    """(url, env name): ``env:NAME`` refers to an environment variable; anything else is the
    Apprise URL itself (checked by the alerts stage before it is saved)."""
    spec = spec.strip()
    if not spec:
        raise InvalidInput("empty delivery target")
    if m := _ENV_REF.match(spec):
        return None, m.group(1)
    if spec.startswith("env:"):
        raise InvalidInput(f"{spec!r}: an environment reference is env:NAME (letters, digits, _)")
    if "://" not in spec:
        raise InvalidInput("a delivery target is an Apprise URL (scheme://...) or env:VARIABLE")
    return spec, None


def _row(s: Session, model: Any, ref: Any, what: str):
    if isinstance(ref, str):
        row = s.scalar(select(model).where(model.name == ref))
        if row is None:
            raise NotFound(f"no {what} named {ref!r}")
        return row
    row = s.get(model, ref if isinstance(ref, int) else ref.id)
    if row is None:
        raise NotFound(f"no {what} with id {ref if isinstance(ref, int) else ref.id}")
    return row


def desk_row(s: Session, ref: Any) -> DeskRow:
    return _row(s, DeskRow, ref, "desk")


def watchlist_row(s: Session, ref: Any) -> WatchlistRow:
    return _row(s, WatchlistRow, ref, "watchlist")


def _record(desk: DeskRow) -> DeskRecord:
    return freeze(DeskRecord, desk, targets=tuple(freeze(TargetRecord, t) for t in desk.targets))


def add_desk(
    s: Session,
    name: str,
    *,
    targets: Sequence[str] = (),
    timezone: str = "UTC",
    quiet_start: str | None = None,
    quiet_end: str | None = None,
    is_operators: bool = False,
) -> DeskRecord:
    if not name.strip():
        raise InvalidInput("a desk needs a name")
    if s.scalar(select(DeskRow.id).where(DeskRow.name == name)) is not None:
        raise AlreadyExists(f"a desk named {name!r} already exists")
    if (quiet_start is None) != (quiet_end is None):
        raise InvalidInput("quiet hours need both a start and an end")
    desk = DeskRow(
        name=name,
        timezone=check_timezone(timezone),
        is_operators=is_operators,
        quiet_start=check_hhmm(quiet_start, "quiet start"),
        quiet_end=check_hhmm(quiet_end, "quiet end"),
    )
    desk.targets = [DeskTargetRow(url=url, url_env=env) for url, env in map(parse_target, targets)]
    s.add(desk)
    s.flush()
    return _record(desk)


def update_desk(
    s: Session,
    ref: Any,
    *,
    timezone: str | None = None,
    quiet: tuple[str, str] | None = None,
    clear_quiet: bool = False,
    is_operators: bool | None = None,
) -> DeskRecord:
    """Change a desk's time zone, quiet hours (``clear_quiet`` removes them) or operators flag."""
    desk = desk_row(s, ref)
    if timezone is not None:
        desk.timezone = check_timezone(timezone)
    if clear_quiet:
        desk.quiet_start = desk.quiet_end = None
    elif quiet is not None:
        desk.quiet_start = check_hhmm(quiet[0], "quiet start")
        desk.quiet_end = check_hhmm(quiet[1], "quiet end")
    if is_operators is not None:
        desk.is_operators = is_operators
    s.flush()
    return _record(desk)


def get_desk(s: Session, ref: Any) -> DeskRecord:
    return _record(desk_row(s, ref))


def list_desks(
    s: Session,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    ids: Sequence[int] | None = None,
) -> list[DeskRecord]:
    q = select(DeskRow).order_by(DeskRow.name)
    if since:
        q = q.where(DeskRow.created_at >= since)
    if ids is not None:
        q = q.where(DeskRow.id.in_(ids or (-1,)))
    if limit:
        q = q.limit(limit)
    return [_record(d) for d in s.scalars(q)]


def remove_desk(s: Session, ref: Any) -> None:
    """Remove a desk with its targets, routes and alerts; its watchlists stay (without a desk)."""
    s.delete(desk_row(s, ref))
    s.flush()


def add_target(s: Session, desk: Any, spec: str) -> TargetRecord:
    """Add a target to a desk (the same target twice is one target)."""
    row = desk_row(s, desk)
    url, env = parse_target(spec)
    for existing in row.targets:
        if (existing.url, existing.url_env) == (url, env):
            return freeze(TargetRecord, existing)
    target = DeskTargetRow(url=url, url_env=env)
    row.targets.append(target)
    s.flush()
    return freeze(TargetRecord, target)


def find_target(s: Session, desk: Any, ref: str) -> TargetRecord:
    """A desk's target by its id (as ``desk list`` shows it), its ``env:NAME`` or its exact URL."""
    row = desk_row(s, desk)
    ref = ref.strip().lstrip("#")
    for t in row.targets:
        if (ref.isdigit() and t.id == int(ref)) or ref in (f"env:{t.url_env}", t.url):
            return freeze(TargetRecord, t)
    raise NotFound(
        f"desk {row.name!r} has no target {ref!r} (give its id from `monitor desk list`, "
        "its env:NAME or its URL)"
    )


def remove_target(s: Session, desk: Any, ref: str) -> TargetRecord:
    """Remove a desk's target (its deliveries go with it)."""
    target = find_target(s, desk, ref)
    s.delete(s.get(DeskTargetRow, target.id))
    s.flush()
    return target


def set_target_enabled(s: Session, target_id: int, enabled: bool) -> TargetRecord:
    target = s.get(DeskTargetRow, target_id)
    if target is None:
        raise NotFound(f"no target with id {target_id}")
    target.enabled = enabled
    s.flush()
    return freeze(TargetRecord, target)


def add_route(s: Session, watchlist: Any, desk: Any, settings: RouteSettings) -> RouteRecord:
    """Send a watchlist to a desk with settings checked by
    :func:`monitor.alerts.routes.route_settings`; replaces the settings of an existing route
    between them. ``max_age=None`` means no limit, on a new route as on an existing one (the
    column has no default that could replace an explicit NULL)."""
    wl, d = watchlist_row(s, watchlist), desk_row(s, desk)
    route = s.scalar(
        select(RouteRow).where(RouteRow.watchlist_id == wl.id, RouteRow.desk_id == d.id)
    )
    if route is None:
        route = RouteRow(watchlist_id=wl.id, desk_id=d.id)
        s.add(route)
    route.mode = settings.mode
    route.throttle_count, route.throttle_period = settings.throttle_count, settings.throttle_period
    route.digest_every, route.digest_at = settings.digest_every, settings.digest_at
    route.max_age = settings.max_age
    route.source_filter = list(settings.source_filter)
    route.language_filter = list(settings.language_filter)
    route.spread_threshold = settings.spread_threshold
    route.enabled = True
    s.flush()
    return _route(route, wl.name, d.name)


def _route(route: RouteRow, watchlist: str, desk: str) -> RouteRecord:
    return freeze(RouteRecord, route, watchlist=watchlist, desk=desk)


def _routes_select():
    return (
        select(RouteRow, WatchlistRow.name, DeskRow.name)
        .join(WatchlistRow, RouteRow.watchlist_id == WatchlistRow.id)
        .join(DeskRow, RouteRow.desk_id == DeskRow.id)
        .order_by(DeskRow.name, WatchlistRow.name)
    )


def get_route(s: Session, watchlist: Any, desk: Any) -> RouteRecord | None:
    wl, d = watchlist_row(s, watchlist), desk_row(s, desk)
    row = s.execute(
        _routes_select().where(RouteRow.watchlist_id == wl.id, RouteRow.desk_id == d.id)
    ).first()
    return _route(*row) if row else None


def list_routes(s: Session, *, desk: Any = None, watchlist: Any = None) -> list[RouteRecord]:
    q = _routes_select()
    if desk is not None:
        q = q.where(RouteRow.desk_id == desk_row(s, desk).id)
    if watchlist is not None:
        q = q.where(RouteRow.watchlist_id == watchlist_row(s, watchlist).id)
    return [_route(*row) for row in s.execute(q)]


def remove_route(s: Session, watchlist: Any, desk: Any) -> None:
    """Stop sending a watchlist to a desk (alerts already made stay in the log)."""
    wl, d = watchlist_row(s, watchlist), desk_row(s, desk)
    route = s.scalar(
        select(RouteRow).where(RouteRow.watchlist_id == wl.id, RouteRow.desk_id == d.id)
    )
    if route is None:
        raise NotFound(f"no route from watchlist {wl.name!r} to desk {d.name!r}")
    s.delete(route)
    s.flush()
