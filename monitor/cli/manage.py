"""Management commands: db, config, sources, watchlists, terms, aliases, import/export of config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from monitor.cli import app
from monitor.cli.common import FORMAT, LIMIT, SINCE, Format, emit, lazy_module, parse_since, state
from monitor.errors import InvalidInput

watch_repo = lazy_module("monitor.store.watch")

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
config_app = typer.Typer(
    help="Settings: the effective ones, and the documented example.", no_args_is_help=True
)
source_app = typer.Typer(
    help="Sources to collect (rss, telegram, telegram-web).", no_args_is_help=True
)
watchlist_app = typer.Typer(help="Watchlists (named groups of watch terms).", no_args_is_help=True)
term_app = typer.Typer(help="Watch terms (queries) in watchlists.", no_args_is_help=True)
alias_app = typer.Typer(help="Entity alias sets used as @name in queries.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (config_app, "config"),
    (source_app, "source"),  # its commands: monitor.cli.sources
    (watchlist_app, "watchlist"),
    (term_app, "term"),
    (alias_app, "alias"),
):
    app.add_typer(sub, name=name)


# ---------------------------------------------------------------- db and config


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the schema (creates the SQLite file, mode 0600, if needed)."""
    from monitor.redact import redact_url
    from monitor.store.migrate import upgrade

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
def config_show(
    ctx: typer.Context, fmt: str = typer.Option("toml", "--format", help="toml or json")
) -> None:
    """Print the effective settings (secrets redacted); the TOML output loads back with --config."""
    from monitor.redact import redacted

    if fmt not in ("toml", "json"):
        raise InvalidInput(f"--format {fmt!r}: expected toml or json")
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


@config_app.command("example")
def config_example() -> None:
    """Print the example configuration: every key with its default, documented."""
    from importlib.resources import files

    typer.echo(
        files("monitor.config").joinpath("monitor.example.toml").read_text(encoding="utf-8"),
        nl=False,
    )


# ---------------------------------------------------------------- watchlists, terms, aliases


@watchlist_app.command("add")
def watchlist_add(
    ctx: typer.Context,
    name: str,
    desk: Optional[str] = typer.Option(None, "--desk", help="owning desk (gets a realtime route)"),
    description: Optional[str] = typer.Option(None, "--description"),
) -> None:
    """Create a watchlist."""
    with state(ctx).unit() as s:
        watch_repo.add_watchlist(s, name, desk=desk, description=description)
    typer.echo(f"added watchlist {name!r}" + (f" for desk {desk!r}" if desk else ""))


@watchlist_app.command("list")
def watchlist_list(
    ctx: typer.Context,
    fmt: Format = FORMAT,
    limit: Optional[int] = LIMIT,
    since: Optional[str] = SINCE,
) -> None:
    """List watchlists."""
    with state(ctx).unit() as s:
        rows = [
            {
                "name": wl.name,
                "desk": wl.desk,
                "terms": wl.terms,
                "enabled": wl.enabled,
                "description": wl.description,
            }
            for wl in watch_repo.list_watchlists(s, since=parse_since(since), limit=limit)
        ]
    emit(rows, fmt, columns=["name", "desk", "terms", "enabled", "description"])


@watchlist_app.command("remove")
def watchlist_remove(ctx: typer.Context, name: str) -> None:
    """Remove a watchlist with its terms and hits."""
    with state(ctx).unit() as s:
        watch_repo.remove_watchlist(s, name)
    typer.echo(f"removed watchlist {name!r}")


@term_app.command("add")
def term_add(
    ctx: typer.Context,
    watchlist: str,
    query: str,
    label: Optional[str] = typer.Option(None, "--label"),
) -> None:
    """Add a watch term (the query is validated; errors show where)."""
    from monitor.actions.terms import validator

    st = state(ctx)
    with st.unit() as s:
        term = watch_repo.add_term(
            s, watchlist, query, validate=validator(s, st.settings), label=label
        )
    typer.echo(f"added term {term.id} to {watchlist!r}: {term.query}")


@term_app.command("edit")
def term_edit(
    ctx: typer.Context,
    term_id: int,
    query: Optional[str] = typer.Option(None, "--query"),
    enable: Optional[bool] = typer.Option(None, "--enable/--disable"),
    label: Optional[str] = typer.Option(None, "--label", help="a label; '' clears it"),
) -> None:
    """Change a term's query or enable/disable it; each change is a new version."""
    from monitor.actions.terms import validator

    st = state(ctx)
    extra = {} if label is None else {"label": label}
    with st.unit() as s:
        term = watch_repo.edit_term(
            s, term_id, query=query, enabled=enable, validate=validator(s, st.settings), **extra
        )
    typer.echo(f"term {term.id} is at version {term.version}: {term.query}")


@term_app.command("list")
def term_list(
    ctx: typer.Context,
    watchlist: Optional[str] = typer.Option(None, "--watchlist"),
    fmt: Format = FORMAT,
    limit: Optional[int] = LIMIT,
    since: Optional[str] = SINCE,
) -> None:
    """List watch terms."""
    with state(ctx).unit() as s:
        rows = [
            {
                "id": t.id,
                "watchlist": t.watchlist,
                "query": t.query,
                "label": t.label,
                "enabled": t.enabled,
                "version": t.version,
            }
            for t in watch_repo.list_terms(
                s, watchlist=watchlist, since=parse_since(since), limit=limit
            )
        ]
    emit(rows, fmt, columns=["id", "watchlist", "query", "label", "enabled", "version"])


@term_app.command("remove")
def term_remove(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="term id, or WATCHLIST"),
    query: Optional[str] = typer.Argument(None, help="the query, when REF is a watchlist"),
) -> None:
    """Remove a term by id, or by watchlist and query."""
    with state(ctx).unit() as s:
        if query is None:
            if not ref.isdigit():
                raise InvalidInput("give a term id, or a watchlist name and the query")
            term = watch_repo.remove_term(s, int(ref))
        else:
            term = watch_repo.remove_term(s, watch_repo.find_term(s, ref, query).id)
    typer.echo(f"removed term {term.id}: {term.query}")


@alias_app.command("set")
def alias_set(ctx: typer.Context, name: str, members: List[str]) -> None:
    """Create or replace an alias set.

    monitor alias set kim_jong_un "Ким Чен Ын" "Kim Jong Un" 김정은"""
    from monitor.actions.terms import query_check

    st = state(ctx)
    with st.unit() as s:
        alias = watch_repo.set_alias_set(s, name, members, check=query_check(st.settings))
        members = watch_repo.alias_map(s)[alias]
    typer.echo(f"alias @{alias}: {' | '.join(members)}")


@alias_app.command("list")
def alias_list(ctx: typer.Context, fmt: Format = FORMAT) -> None:
    """List alias sets."""
    with state(ctx).unit() as s:
        aliases = watch_repo.alias_map(s)
    emit(({"name": k, "members": v} for k, v in aliases.items()), fmt, columns=["name", "members"])


@alias_app.command("remove")
def alias_remove(ctx: typer.Context, name: str) -> None:
    """Remove an alias set (not while saved terms use it)."""
    from monitor.actions.terms import query_check

    st = state(ctx)
    with st.unit() as s:
        watch_repo.remove_alias_set(s, name, check=query_check(st.settings))
    typer.echo(f"removed alias @{name.lstrip('@')}")


# ---------------------------------------------------------------- import / export


@app.command("export-config")
def export_config_cmd(
    ctx: typer.Context, output: Optional[Path] = typer.Option(None, "--output", "-o")
) -> None:
    """Write sources, aliases, watchlists, terms, desks and routes as TOML (secrets: references)."""
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

    st = state(ctx)
    with st.unit() as s:
        report = import_config(s, file, st.settings)
    for line in report.created:
        typer.echo(f"created {line}")
    for line in report.updated:
        typer.echo(f"updated {line}")
    for line in report.warnings:
        typer.echo(f"warning: {line}", err=True)
    if not report.changed:
        typer.echo("nothing to change")
