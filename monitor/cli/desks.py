"""Desk and route commands: delivery targets, and which watchlists alert which desks, how."""

from __future__ import annotations

from typing import List, Optional

import typer

from monitor.cli import app
from monitor.cli.common import Format, emit, parse_since, state
from monitor.cli.manage import FORMAT, LIMIT, SINCE
from monitor.alerts.routes import route_settings
from monitor.durations import format_duration, parse_duration, parse_throttle
from monitor.errors import InvalidInput
from monitor.store import desks as desk_repo
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo

desk_app = typer.Typer(help="Desks and their delivery targets.", no_args_is_help=True)
route_app = typer.Typer(help="Routes: which watchlists alert which desks, and how.", no_args_is_help=True)
app.add_typer(desk_app, name="desk")
app.add_typer(route_app, name="route")


@desk_app.command("add")
def desk_add(
    ctx: typer.Context, name: str,
    target: Optional[List[str]] = typer.Option(None, "--target", help="Apprise URL or env:VARIABLE (repeatable)"),
    tz: str = typer.Option("UTC", "--timezone", help="IANA time zone for digests and quiet hours"),
    quiet: Optional[str] = typer.Option(None, "--quiet", help="quiet hours HH:MM-HH:MM"),
    operators: bool = typer.Option(False, "--operators", help="this desk receives operator alerts"),
) -> None:
    """Create a desk (sends nothing)."""
    start = end = None
    if quiet:
        start, sep, end = quiet.partition("-")
        if not sep:
            raise InvalidInput("--quiet expects HH:MM-HH:MM")
    with state(ctx).unit() as s:
        desk = desk_repo.add_desk(s, name, targets=target or [], timezone=tz, quiet_start=start, quiet_end=end,
                                  is_operators=operators)
        typer.echo(f"added desk {name!r} with {len(desk.targets)} target(s)")


@desk_app.command("list")
def desk_list(ctx: typer.Context, fmt: Format = FORMAT, limit: Optional[int] = LIMIT,
              since: Optional[str] = SINCE) -> None:
    """List desks; targets are shown redacted."""
    from monitor.alerts.targets import describe_target

    with state(ctx).unit() as s:
        rows = [{"name": d.name, "timezone": d.timezone,
                 "quiet": f"{d.quiet_start}-{d.quiet_end}" if d.quiet_start else "",
                 "targets": [describe_target(t) for t in d.targets], "operators": d.is_operators}
                for d in desk_repo.list_desks(s, since=parse_since(since), limit=limit)]
        emit(rows, fmt, columns=["name", "timezone", "quiet", "targets", "operators"])


@desk_app.command("target-add")
def desk_target_add(ctx: typer.Context, name: str, target: str) -> None:
    """Add a delivery target (Apprise URL or env:VARIABLE) to a desk."""
    with state(ctx).unit() as s:
        desk_repo.add_target(s, desk_repo.get_desk(s, name), target)
    typer.echo(f"desk {name!r}: target added")


@route_app.command("add")
def route_add(
    ctx: typer.Context, watchlist: str, desk: str,
    mode: str = typer.Option("realtime", "--mode", help="realtime or digest"),
    throttle: Optional[str] = typer.Option(None, "--throttle", help="N/PERIOD, e.g. 5/1h (rest goes to a digest)"),
    digest_at: Optional[str] = typer.Option(None, "--digest-at", help="HH:MM daily digest time (desk time zone)"),
    digest_every: Optional[str] = typer.Option(None, "--digest-every", help="hourly or daily"),
    max_age: str = typer.Option("48h", "--max-age", help="skip items older than this (on published time), or none"),
    source: Optional[List[str]] = typer.Option(None, "--source", help="only these sources (repeatable)"),
    language: Optional[List[str]] = typer.Option(None, "--language", help="only these languages (repeatable)"),
    spread: Optional[int] = typer.Option(None, "--spread-threshold", help="one update when a story reaches N sources"),
) -> None:
    """Route a watchlist's hits to a desk (replaces an existing route between them)."""
    with state(ctx).unit() as s:
        wl, d = watch_repo.get_watchlist(s, watchlist), desk_repo.get_desk(s, desk)
        for name in source or []:
            source_repo.get_source(s, name)
        route = desk_repo.add_route(s, wl, d, route_settings(
            mode=mode, throttle=parse_throttle(throttle) if throttle else None,
            digest_every=digest_every, digest_at=digest_at, max_age=parse_duration(max_age, allow_none=True),
            sources=source or [], languages=language or [], spread_threshold=spread))
        typer.echo(f"route {watchlist!r} -> {desk!r}: {route.mode}"
                   + (f", throttle {throttle}" if throttle else "") + f", max age {format_duration(route.max_age)}")


@route_app.command("list")
def route_list(ctx: typer.Context, desk: Optional[str] = typer.Option(None, "--desk"), fmt: Format = FORMAT) -> None:
    """List routes."""
    with state(ctx).unit() as s:
        d = desk_repo.get_desk(s, desk) if desk else None
        rows = [{"watchlist": wl.name, "desk": dk.name, "mode": r.mode,
                 "throttle": f"{r.throttle_count}/{format_duration(r.throttle_period)}" if r.throttle_count else "",
                 "digest": (r.digest_every or "") + (f" at {r.digest_at}" if r.digest_at else ""),
                 "max_age": format_duration(r.max_age), "sources": r.source_filter, "languages": r.language_filter}
                for r, wl, dk in desk_repo.list_routes(s, desk=d)]
        emit(rows, fmt, columns=["watchlist", "desk", "mode", "throttle", "digest", "max_age", "sources", "languages"])
