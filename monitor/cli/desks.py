"""Desk and route commands: desks, their delivery targets, and which watchlists alert which
desks, how. Targets are checked when saved and always shown redacted."""

from __future__ import annotations

from typing import List, Optional

import typer

from monitor.cli import app
from monitor.cli.common import FORMAT, LIMIT, SINCE, Format, emit, lazy_module, parse_since, state
from monitor.durations import format_duration, parse_duration, parse_throttle

desk_repo = lazy_module("monitor.store.desks")
overview = lazy_module("monitor.store.overview")

desk_app = typer.Typer(help="Desks and their delivery targets.", no_args_is_help=True)
route_app = typer.Typer(
    help="Routes: which watchlists alert which desks, and how.", no_args_is_help=True
)
app.add_typer(desk_app, name="desk")
app.add_typer(route_app, name="route")

TARGET_HELP = (
    "Apprise URL, or env:VARIABLE holding it (recommended: keeps the secret out of the database)"
)


@desk_app.command("add")
def desk_add(
    ctx: typer.Context,
    name: str,
    target: Optional[List[str]] = typer.Option(
        None, "--target", help=TARGET_HELP + " (repeatable)"
    ),
    tz: str = typer.Option(
        "UTC", "--timezone", help="IANA time zone for digests, quiet hours and pages"
    ),
    quiet: Optional[str] = typer.Option(None, "--quiet", help="quiet hours HH:MM-HH:MM"),
    operators: bool = typer.Option(False, "--operators", help="this desk receives operator alerts"),
) -> None:
    """Create a desk (sends nothing; `monitor desk test NAME` does)."""
    from monitor.actions.desks import add_desk

    with state(ctx).unit() as s:
        desk = add_desk(
            s, name, targets=target or [], timezone=tz, quiet=quiet, is_operators=operators
        )
    typer.echo(f"added desk {name!r} with {len(desk.targets)} target(s)")


@desk_app.command("set")
def desk_set(
    ctx: typer.Context,
    name: str,
    tz: Optional[str] = typer.Option(None, "--timezone", help="IANA time zone"),
    quiet: Optional[str] = typer.Option(None, "--quiet", help="quiet hours HH:MM-HH:MM, or 'none'"),
    operators: Optional[bool] = typer.Option(None, "--operators/--no-operators"),
) -> None:
    """Change a desk's time zone, quiet hours or operators flag."""
    from monitor.actions.desks import parse_quiet

    clear = quiet is not None and quiet.strip().lower() == "none"
    with state(ctx).unit() as s:
        desk_repo.update_desk(
            s,
            name,
            timezone=tz,
            quiet=None if clear else parse_quiet(quiet),
            clear_quiet=clear,
            is_operators=operators,
        )
    typer.echo(f"updated desk {name!r}")


@desk_app.command("list")
def desk_list(
    ctx: typer.Context,
    fmt: Format = FORMAT,
    limit: Optional[int] = LIMIT,
    since: Optional[str] = SINCE,
) -> None:
    """List desks; targets are shown redacted, with the id `desk target-remove` takes."""
    from monitor.alerts.targets import describe_target

    with state(ctx).unit() as s:
        desks = desk_repo.list_desks(s, since=parse_since(since), limit=limit)
    emit(
        (
            {
                "name": d.name,
                "timezone": d.timezone,
                "quiet": f"{d.quiet_start}-{d.quiet_end}" if d.quiet_start else "",
                "targets": [
                    f"#{t.id} {describe_target(t)}" + ("" if t.enabled else " (off)")
                    for t in d.targets
                ],
                "operators": d.is_operators,
            }
            for d in desks
        ),
        fmt,
        columns=["name", "timezone", "quiet", "targets", "operators"],
    )


@desk_app.command("remove")
def desk_remove(ctx: typer.Context, name: str) -> None:
    """Remove a desk with its targets, routes and alert log (its watchlists stay, deskless)."""
    with state(ctx).unit() as s:
        desk_repo.remove_desk(s, name)
    typer.echo(f"removed desk {name!r}")


@desk_app.command("target-add")
def desk_target_add(
    ctx: typer.Context, name: str, target: str = typer.Argument(..., help=TARGET_HELP)
) -> None:
    """Add a delivery target to a desk (checked before it is saved)."""
    from monitor.actions.desks import add_target
    from monitor.alerts.targets import describe_target

    with state(ctx).unit() as s:
        added = add_target(s, name, target)
    typer.echo(f"desk {name!r}: target #{added.id} {describe_target(added)}")


@desk_app.command("target-remove")
def desk_target_remove(
    ctx: typer.Context,
    name: str,
    target: str = typer.Argument(..., help="the target's id (desk list), env:NAME or URL"),
) -> None:
    """Remove a delivery target from a desk (its pending deliveries go with it)."""
    from monitor.alerts.targets import describe_target

    with state(ctx).unit() as s:
        removed = desk_repo.remove_target(s, name, target)
    typer.echo(f"desk {name!r}: removed target #{removed.id} {describe_target(removed)}")


@route_app.command("add")
def route_add(
    ctx: typer.Context,
    watchlist: str,
    desk: str,
    mode: str = typer.Option("realtime", "--mode", help="realtime or digest"),
    throttle: Optional[str] = typer.Option(
        None, "--throttle", help="N/PERIOD, e.g. 5/1h (rest goes to a digest)"
    ),
    digest_at: Optional[str] = typer.Option(
        None, "--digest-at", help="HH:MM daily digest time (desk time zone)"
    ),
    digest_every: Optional[str] = typer.Option(None, "--digest-every", help="hourly or daily"),
    max_age: str = typer.Option(
        "48h", "--max-age", help="skip items older than this (on published time), or none"
    ),
    source: Optional[List[str]] = typer.Option(
        None, "--source", help="only these sources (repeatable)"
    ),
    language: Optional[List[str]] = typer.Option(
        None, "--language", help="only these languages (repeatable)"
    ),
    spread: Optional[int] = typer.Option(
        None, "--spread-threshold", help="one update when a story reaches N sources"
    ),
) -> None:
    """Route a watchlist's hits to a desk (replaces an existing route between them)."""
    from monitor.alerts.routes import route_settings

    ages = parse_duration(max_age, allow_none=True)
    limit = parse_throttle(throttle) if throttle else None
    with state(ctx).unit() as s:
        for name in source or []:
            overview.source_record(s, name)
        route = desk_repo.add_route(
            s,
            watchlist,
            desk,
            route_settings(
                mode=mode,
                throttle=limit,
                digest_every=digest_every,
                digest_at=digest_at,
                max_age=ages,
                sources=source or [],
                languages=language or [],
                spread_threshold=spread,
            ),
        )
    typer.echo(
        f"route {watchlist!r} -> {desk!r}: {route.mode}"
        + (f", throttle {throttle}" if throttle else "")
        + f", max age {format_duration(route.max_age)}"
    )


@route_app.command("list")
def route_list(
    ctx: typer.Context, desk: Optional[str] = typer.Option(None, "--desk"), fmt: Format = FORMAT
) -> None:
    """List routes."""
    with state(ctx).unit() as s:
        routes = desk_repo.list_routes(s, desk=desk)
    emit(
        (
            {
                "watchlist": r.watchlist,
                "desk": r.desk,
                "mode": r.mode,
                "throttle": f"{r.throttle_count}/{format_duration(r.throttle_period)}"
                if r.throttle_count
                else "",
                "digest": (r.digest_every or "") + (f" at {r.digest_at}" if r.digest_at else ""),
                "max_age": format_duration(r.max_age),
                "sources": list(r.source_filter),
                "languages": list(r.language_filter),
            }
            for r in routes
        ),
        fmt,
        columns=[
            "watchlist",
            "desk",
            "mode",
            "throttle",
            "digest",
            "max_age",
            "sources",
            "languages",
        ],
    )


@route_app.command("remove")
def route_remove(ctx: typer.Context, watchlist: str, desk: str) -> None:
    """Stop sending a watchlist's hits to a desk (the alerts already sent stay in the log)."""
    with state(ctx).unit() as s:
        desk_repo.remove_route(s, watchlist, desk)
    typer.echo(f"removed route {watchlist!r} -> {desk!r}")
