"""Source commands: add, list (with health and why each interval is what it is), set, enable,
disable, remove."""

from __future__ import annotations

from typing import List, Optional

import typer

from monitor.cli.common import FORMAT, LIMIT, SINCE, Format, emit, lazy_module, parse_since, state
from monitor.cli.manage import source_app
from monitor.durations import format_duration, parse_duration
from monitor.errors import InvalidInput

overview = lazy_module("monitor.store.overview")


def _option_pairs(pairs: list[str] | None) -> dict:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--option {pair!r}: expected KEY=VALUE")
        lowered = value.lower()
        options[key] = (
            True
            if lowered == "true"
            else False
            if lowered == "false"
            else (int(value) if value.isdigit() else value)
        )
    return options


INTERVAL_HELP = (
    "pin the check interval, with a unit (15m, 2h); below fetch.min_interval needs --force"
)


@source_app.command("add")
def source_add(
    ctx: typer.Context,
    type_: str = typer.Argument(..., metavar="TYPE", help="rss, telegram or telegram-web"),
    locator: str = typer.Argument(..., help="feed URL, or channel username / link / id"),
    name: Optional[str] = typer.Option(None, "--name", help="unique name (default: derived)"),
    interval: Optional[str] = typer.Option(None, "--interval", help=INTERVAL_HELP),
    force: bool = typer.Option(False, "--force", help="accept a pinned interval below the floor"),
    account: Optional[str] = typer.Option(
        None, "--account", help="Telegram account (telegram.accounts) that collects it"
    ),
    language: Optional[str] = typer.Option(
        None, "--language", help="declared language (ru, uk, en ...)"
    ),
    option: Optional[List[str]] = typer.Option(
        None, "--option", help="KEY=VALUE source option (repeatable)"
    ),
    disabled: bool = typer.Option(False, "--disabled", help="add without collecting yet"),
) -> None:
    """Add a source; it is due at once."""
    from monitor.actions.sources import add_source

    st = state(ctx)
    pinned = parse_duration(interval) if interval else None
    with st.unit() as s:
        src = add_source(
            s,
            st.settings,
            type=type_,
            locator=locator,
            name=name,
            interval=pinned,
            force=force,
            account=account,
            language=language,
            options=_option_pairs(option),
            enabled=not disabled,
        )
    typer.echo(f"added {src.type} source {src.name!r} ({src.locator})")


SOURCE_COLUMNS = [
    "name",
    "type",
    "locator",
    "enabled",
    "last_fetch",
    "status",
    "errors",
    "next_check",
    "interval",
    "why",
    "silent",
    "last_error",
]


@source_app.command("list")
def source_list(
    ctx: typer.Context,
    fmt: Format = FORMAT,
    limit: Optional[int] = LIMIT,
    since: Optional[str] = SINCE,
    type_: Optional[str] = typer.Option(None, "--type"),
) -> None:
    """List sources with their health and why each interval is what it is."""
    from monitor.actions.sources import explain_interval
    from monitor.sources import silent_source
    from monitor.types import utcnow

    st = state(ctx)
    silent_after = parse_duration(st.settings.alerts.silent_after, allow_none=True)
    now = utcnow()
    with st.unit() as s:
        sources = overview.source_records(s, type=type_, since=parse_since(since), limit=limit)
    silent = {src.name: silent_source(src, now, silent_after) for src in sources}
    emit(
        (
            {
                "name": src.name,
                "type": src.type,
                "locator": src.locator,
                "enabled": "retired" if src.retired else ("yes" if src.enabled else "no"),
                "last_fetch": src.last_checked_at,
                "status": src.last_status,
                "errors": src.error_count,
                "next_check": src.next_check_at,
                "interval": format_duration(src.pinned_interval or src.interval)
                if (src.pinned_interval or src.interval)
                else "",
                "why": explain_interval(src, st.settings, now),
                "silent": silent.get(src.name, False),
                "last_error": src.last_error,
                "last_new_item": src.last_new_item_at,
            }
            for src in sources
        ),
        fmt,
        columns=SOURCE_COLUMNS,
    )


@source_app.command("remove")
def source_remove(ctx: typer.Context, name: str) -> None:
    """Remove a source and everything collected from it."""
    from monitor.store import sources as source_repo

    with state(ctx).unit() as s:
        source_repo.remove_source(s, name)
    typer.echo(f"removed source {name!r}")


@source_app.command("enable")
def source_enable(ctx: typer.Context, name: str) -> None:
    """Resume polling (clears the error streak; due at once)."""
    from monitor.store import sources as source_repo

    with state(ctx).unit() as s:
        source_repo.set_enabled(s, name, True)
    typer.echo(f"enabled source {name!r}")


@source_app.command("disable")
def source_disable(ctx: typer.Context, name: str) -> None:
    """Stop polling a source (kept with its items)."""
    from monitor.store import sources as source_repo

    with state(ctx).unit() as s:
        source_repo.set_enabled(s, name, False)
    typer.echo(f"disabled source {name!r}")


@source_app.command("set")
def source_set(
    ctx: typer.Context,
    name: str,
    interval: Optional[str] = typer.Option(
        None, "--interval", help=INTERVAL_HELP + "; 'none' unpins"
    ),
    force: bool = typer.Option(False, "--force", help="accept a pinned interval below the floor"),
    language: Optional[str] = typer.Option(None, "--language", help="declared language; '' clears"),
    new_name: Optional[str] = typer.Option(None, "--name", help="rename the source"),
    account: Optional[str] = typer.Option(
        None, "--account", help="Telegram account; 'none' clears"
    ),
    option: Optional[List[str]] = typer.Option(None, "--option", help="KEY=VALUE"),
) -> None:
    """Change a source's pinned interval, language, name, account or options."""
    from monitor.actions.sources import update_source

    st = state(ctx)
    changes = {}
    if interval is not None:
        changes["interval"] = parse_duration(interval, allow_none=True)
    if language is not None:
        changes["language"] = language or None
    if account is not None:
        changes["account"] = None if account.lower() == "none" else account
    with st.unit() as s:
        src = update_source(
            s,
            st.settings,
            name,
            name=new_name,
            force=force,
            options=_option_pairs(option),
            **changes,
        )
    typer.echo(f"updated source {src.name!r}")
