"""Management commands: db, config, sources, watchlists, terms, aliases, desks, routes, import/export."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import List, Optional

import typer

from monitor.cli import app
from monitor.cli.common import Format, emit, parse_since, state
from monitor.durations import format_duration, parse_duration
from monitor.errors import InvalidInput
from monitor.store import desks as desk_repo
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
config_app = typer.Typer(help="Effective settings.", no_args_is_help=True)
source_app = typer.Typer(help="Sources to collect (rss, telegram, telegram-web).", no_args_is_help=True)
watchlist_app = typer.Typer(help="Watchlists (named groups of watch terms).", no_args_is_help=True)
term_app = typer.Typer(help="Watch terms (queries) in watchlists.", no_args_is_help=True)
alias_app = typer.Typer(help="Entity alias sets used as @name in queries.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (config_app, "config"), (source_app, "source"), (watchlist_app, "watchlist"),
                  (term_app, "term"), (alias_app, "alias")):
    app.add_typer(sub, name=name)

FORMAT = typer.Option(Format.table, "--format", "-f", help="table, jsonl or csv")
LIMIT = typer.Option(None, "--limit", min=1, help="at most this many rows")
SINCE = typer.Option(None, "--since", help="only newer than a duration (24h, 7d) or an ISO date")


# ---------------------------------------------------------------- db and config


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the schema (creates the SQLite file if needed)."""
    from monitor.store.migrate import upgrade
    from monitor.settings import redact_url

    st = state(ctx)
    before, after = upgrade(st.store)
    where = redact_url(st.settings.db_url)
    if before == after:
        typer.echo(f"{where}: already at revision {after}")
    else:
        typer.echo(f"{where}: upgraded {before or 'empty'} -> {after}")


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Compare the database schema with the models (exit 1 on drift)."""
    from monitor.store.migrate import schema_drift

    drift = schema_drift(state(ctx).store)
    if drift:
        for d in drift:
            typer.echo(f"drift: {d}")
        raise typer.Exit(1)
    typer.echo("schema matches the models")


@config_app.command("show")
def config_show(ctx: typer.Context, fmt: str = typer.Option("toml", "--format", help="toml or json")) -> None:
    """Print the effective settings; secrets are redacted."""
    from monitor.settings import redacted

    data = redacted(state(ctx).settings)
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    import tomli_w

    def drop_none(v):
        if isinstance(v, dict):
            return {k: drop_none(x) for k, x in v.items() if x is not None}
        return v

    typer.echo(tomli_w.dumps(drop_none(data)))


# ---------------------------------------------------------------- sources


def _option_pairs(pairs: list[str] | None) -> dict:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--option {pair!r}: expected KEY=VALUE")
        lowered = value.lower()
        options[key] = True if lowered == "true" else False if lowered == "false" else (
            int(value) if value.isdigit() else value)
    return options


def check_locator(type_: str, locator: str) -> str:
    from monitor.sources import source_class

    return source_class(type_).check_locator(locator)


@source_app.command("add")
def source_add(
    ctx: typer.Context,
    type_: str = typer.Argument(..., metavar="TYPE", help="rss, telegram or telegram-web"),
    locator: str = typer.Argument(..., help="feed URL, or channel username / link / id"),
    name: Optional[str] = typer.Option(None, "--name", help="unique name (default: derived)"),
    interval: Optional[str] = typer.Option(None, "--interval", help="pin the check interval (e.g. 15m)"),
    account: Optional[str] = typer.Option(None, "--account", help="Telegram account that collects it"),
    language: Optional[str] = typer.Option(None, "--language", help="declared language (ru, uk, en ...)"),
    option: Optional[List[str]] = typer.Option(None, "--option", help="KEY=VALUE source option (repeatable)"),
    disabled: bool = typer.Option(False, "--disabled", help="add without collecting yet"),
) -> None:
    """Add a source; it is due at once."""
    from monitor.sources import source_class

    cls = source_class(type_)
    locator = cls.check_locator(locator)
    pinned = parse_duration(interval) if interval else None
    with state(ctx).unit() as s:
        src = source_repo.add_source(
            s, type=type_, locator=locator, name=name or cls.default_name(locator), options=_option_pairs(option),
            account=account, language=language, pinned_interval=pinned, enabled=not disabled,
        )
        typer.echo(f"added {type_} source {src.name!r} ({locator})")


def source_rows(sources, *, silent_after: int | None = None):
    from monitor.sources import silent_source
    from monitor.types import utcnow

    now = utcnow()
    for src in sources:
        silent = silent_source(src, now, silent_after)
        yield {
            "name": src.name, "type": src.type, "locator": src.locator,
            "enabled": "retired" if src.retired else ("yes" if src.enabled else "no"),
            "last_fetch": src.last_checked_at, "status": src.last_status, "errors": src.error_count,
            "next_check": src.next_check_at, "interval": format_duration(src.pinned_interval or src.interval)
            if (src.pinned_interval or src.interval) else "",
            "last_error": src.last_error, "silent": silent, "last_new_item": src.last_new_item_at,
        }


@source_app.command("list")
def source_list(ctx: typer.Context, fmt: Format = FORMAT, limit: Optional[int] = LIMIT,
                since: Optional[str] = SINCE, type_: Optional[str] = typer.Option(None, "--type")) -> None:
    """List sources with their health (last fetch, status, errors, next check)."""
    st = state(ctx)
    silent_after = parse_duration(st.settings.alerts.silent_after, allow_none=True)
    with st.unit() as s:
        emit(source_rows(source_repo.list_sources(s, type=type_, since=parse_since(since), limit=limit),
                         silent_after=silent_after), fmt,
             columns=["name", "type", "locator", "enabled", "last_fetch", "status", "errors", "next_check",
                      "interval", "silent", "last_error"])


@source_app.command("remove")
def source_remove(ctx: typer.Context, name: str) -> None:
    """Remove a source and everything collected from it."""
    with state(ctx).unit() as s:
        source_repo.remove_source(s, name)
    typer.echo(f"removed source {name!r}")


@source_app.command("enable")
def source_enable(ctx: typer.Context, name: str) -> None:
    """Resume polling (clears the error streak; due at once)."""
    with state(ctx).unit() as s:
        source_repo.set_enabled(s, name, True)
    typer.echo(f"enabled source {name!r}")


@source_app.command("disable")
def source_disable(ctx: typer.Context, name: str) -> None:
    """Stop polling a source (kept with its items)."""
    with state(ctx).unit() as s:
        source_repo.set_enabled(s, name, False)
    typer.echo(f"disabled source {name!r}")


@source_app.command("set")
def source_set(ctx: typer.Context, name: str,
               interval: Optional[str] = typer.Option(None, "--interval", help="pin interval, or 'none' to unpin"),
               language: Optional[str] = typer.Option(None, "--language"),
               option: Optional[List[str]] = typer.Option(None, "--option", help="KEY=VALUE")) -> None:
    """Change a source's pinned interval, language or options."""
    with state(ctx).unit() as s:
        src = source_repo.get_source(s, name)
        if interval is not None:
            src.pinned_interval = parse_duration(interval, allow_none=True)
        if language is not None:
            src.language = language or None
        if option:
            src.options = {**(src.options or {}), **_option_pairs(option)}
    typer.echo(f"updated source {name!r}")


# ---------------------------------------------------------------- watchlists, terms, aliases


@watchlist_app.command("add")
def watchlist_add(ctx: typer.Context, name: str,
                  desk: Optional[str] = typer.Option(None, "--desk", help="owning desk (gets a realtime route)"),
                  description: Optional[str] = typer.Option(None, "--description")) -> None:
    """Create a watchlist."""
    with state(ctx).unit() as s:
        d = desk_repo.get_desk(s, desk) if desk else None
        watch_repo.add_watchlist(s, name, desk=d, description=description)
    typer.echo(f"added watchlist {name!r}" + (f" for desk {desk!r}" if desk else ""))


@watchlist_app.command("list")
def watchlist_list(ctx: typer.Context, fmt: Format = FORMAT, limit: Optional[int] = LIMIT,
                   since: Optional[str] = SINCE) -> None:
    """List watchlists."""
    from monitor.store.models import DeskRow

    with state(ctx).unit() as s:
        rows = []
        for wl in watch_repo.list_watchlists(s, since=parse_since(since), limit=limit):
            desk = s.get(DeskRow, wl.desk_id) if wl.desk_id else None
            rows.append({"name": wl.name, "desk": desk.name if desk else None,
                         "terms": len(wl.terms), "enabled": wl.enabled, "description": wl.description})
        emit(rows, fmt, columns=["name", "desk", "terms", "enabled", "description"])


@watchlist_app.command("remove")
def watchlist_remove(ctx: typer.Context, name: str) -> None:
    """Remove a watchlist with its terms and hits."""
    with state(ctx).unit() as s:
        watch_repo.remove_watchlist(s, name)
    typer.echo(f"removed watchlist {name!r}")


def query_check(ctx: typer.Context) -> watch_repo.QueryCheck:
    """Validate a query with the matcher against given alias sets, within the settings' limits."""
    from monitor.match import validate

    m = state(ctx).settings.match
    return functools.partial(validate, min_prefix=m.min_prefix, max_length=m.max_query_length,
                             max_nesting=m.max_nesting)


def term_validator(ctx: typer.Context, session):
    """Validate queries against the alias sets stored at the time of the check."""
    check = query_check(ctx)
    return lambda q: check(q, watch_repo.alias_map(session))


@term_app.command("add")
def term_add(ctx: typer.Context, watchlist: str, query: str,
             label: Optional[str] = typer.Option(None, "--label")) -> None:
    """Add a watch term (the query is validated; errors show where)."""
    with state(ctx).unit() as s:
        wl = watch_repo.get_watchlist(s, watchlist)
        term = watch_repo.add_term(s, wl, query, validate=term_validator(ctx, s), label=label)
        typer.echo(f"added term {term.id} to {watchlist!r}: {term.query}")


@term_app.command("edit")
def term_edit(ctx: typer.Context, term_id: int, query: Optional[str] = typer.Option(None, "--query"),
              enable: Optional[bool] = typer.Option(None, "--enable/--disable")) -> None:
    """Change a term's query or enable/disable it; each change is a new version."""
    with state(ctx).unit() as s:
        term = watch_repo.edit_term(s, watch_repo.get_term(s, term_id), query=query, enabled=enable,
                                    validate=term_validator(ctx, s))
        typer.echo(f"term {term.id} is at version {term.version}: {term.query}")


@term_app.command("list")
def term_list(ctx: typer.Context, watchlist: Optional[str] = typer.Option(None, "--watchlist"),
              fmt: Format = FORMAT, limit: Optional[int] = LIMIT, since: Optional[str] = SINCE) -> None:
    """List watch terms."""
    with state(ctx).unit() as s:
        wl = watch_repo.get_watchlist(s, watchlist) if watchlist else None
        rows = [{"id": t.id, "watchlist": w.name, "query": t.query, "enabled": t.enabled, "version": t.version}
                for t, w in watch_repo.list_terms(s, watchlist=wl, since=parse_since(since), limit=limit)]
        emit(rows, fmt, columns=["id", "watchlist", "query", "enabled", "version"])


@term_app.command("remove")
def term_remove(ctx: typer.Context, ref: str = typer.Argument(..., help="term id, or WATCHLIST"),
                query: Optional[str] = typer.Argument(None, help="the query, when REF is a watchlist")) -> None:
    """Remove a term by id, or by watchlist and query."""
    with state(ctx).unit() as s:
        if query is None:
            if not ref.isdigit():
                raise InvalidInput("give a term id, or a watchlist name and the query")
            term = watch_repo.get_term(s, int(ref))
        else:
            term = watch_repo.find_term(s, watch_repo.get_watchlist(s, ref), query)
        watch_repo.remove_term(s, term)
        typer.echo(f"removed term {term.id}: {term.query}")


@alias_app.command("set")
def alias_set(ctx: typer.Context, name: str, members: List[str]) -> None:
    """Create or replace an alias set: monitor alias set kim_jong_un "Ким Чен Ын" "Kim Jong Un" 김정은"""
    with state(ctx).unit() as s:
        alias = watch_repo.set_alias_set(s, name, members, check=query_check(ctx))
        typer.echo(f"alias @{alias.name}: {' | '.join(alias.members)}")


@alias_app.command("list")
def alias_list(ctx: typer.Context, fmt: Format = FORMAT) -> None:
    """List alias sets."""
    with state(ctx).unit() as s:
        emit(({"name": k, "members": v} for k, v in watch_repo.alias_map(s).items()), fmt,
             columns=["name", "members"])


@alias_app.command("remove")
def alias_remove(ctx: typer.Context, name: str) -> None:
    with state(ctx).unit() as s:
        watch_repo.remove_alias_set(s, name, check=query_check(ctx))
    typer.echo(f"removed alias @{name.lstrip('@')}")


# ---------------------------------------------------------------- import / export


@app.command("export-config")
def export_config_cmd(ctx: typer.Context, output: Optional[Path] = typer.Option(None, "--output", "-o")) -> None:
    """Write sources, aliases, watchlists, terms, desks and routes as TOML (secrets as references)."""
    from monitor.actions.configio import export_config

    with state(ctx).unit() as s:
        text = export_config(s)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


@app.command("import-config")
def import_config_cmd(ctx: typer.Context, file: Path) -> None:
    """Merge an exported TOML file (adds and updates, never deletes; idempotent)."""
    from monitor.actions.configio import import_config

    with state(ctx).unit() as s:
        report = import_config(s, file, validate=term_validator(ctx, s), check_query=query_check(ctx),
                               check_locator=check_locator)
    for line in report.created:
        typer.echo(f"created {line}")
    for line in report.updated:
        typer.echo(f"updated {line}")
    for line in report.warnings:
        typer.echo(f"warning: {line}", err=True)
    if not report.changed:
        typer.echo("nothing to change")
