"""Matching commands: term test, term backtest, hits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import (
    FORMAT,
    LIMIT,
    OLDEST,
    SINCE,
    Format,
    emit,
    lazy_module,
    parse_since,
    state,
)
from monitor.cli.manage import term_app
from monitor.errors import InvalidInput, QuerySyntaxError

overview = lazy_module("monitor.store.overview")


def _aliases(ctx: typer.Context) -> dict:
    """Stored alias sets, when a database is there (term test works without one)."""
    from monitor.store.db import DatabaseError
    from monitor.store.watch import alias_map

    try:
        with state(ctx).unit() as s:
            return alias_map(s)
    except DatabaseError:  # no database yet: aliases cannot be referenced, which validate reports
        return {}


def _compile_one(ctx: typer.Context, query: str, aliases: dict):
    from monitor.match import TermSpec, compile_matcher, validate

    m = state(ctx).settings.match
    try:
        validate(
            query,
            aliases,
            min_prefix=m.min_prefix,
            max_length=m.max_query_length,
            max_nesting=m.max_nesting,
        )
    except QuerySyntaxError as exc:
        typer.echo(f"invalid query: {exc}\n{exc.pointer()}", err=True)
        raise typer.Exit(2)
    return compile_matcher([TermSpec(0, query)], aliases, min_prefix=m.min_prefix)


@term_app.command("test")
def term_test(
    ctx: typer.Context,
    query: str,
    text: Optional[str] = typer.Option(None, "--text", help="text to test against"),
    file: Optional[Path] = typer.Option(
        None, "--file", help="file to test against ('-' for stdin)"
    ),
    title: Optional[str] = typer.Option(None, "--title"),
    lang: Optional[str] = typer.Option(None, "--lang"),
    source: Optional[str] = typer.Option(None, "--source"),
    channel: Optional[str] = typer.Option(None, "--channel"),
) -> None:
    """Whether and where QUERY matches: exit 0 on a match, 1 when not, 2 for an invalid query."""
    from monitor.match import MatchDoc
    from monitor.textout import terminal_safe

    if (text is None) == (file is None):
        raise InvalidInput("give exactly one of --text or --file")
    if file is not None:
        from monitor.files import INPUT_MAX_BYTES, read_bounded

        try:
            if str(file) == "-":
                body = sys.stdin.read(INPUT_MAX_BYTES + 1)
                if len(body) > INPUT_MAX_BYTES:
                    raise InvalidInput(f"standard input: longer than {INPUT_MAX_BYTES} characters,"
                                       " the cap for a text to test")
            else:
                body = read_bounded(file, INPUT_MAX_BYTES, what="text file").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{file}: not UTF-8 text (byte {exc.start})") from None
    else:
        body = text or ""
    matcher = _compile_one(ctx, query, _aliases(ctx))
    hits = matcher.match(
        MatchDoc(text=body, title=title, source=source, lang=lang, channel=channel)
    )
    if not hits:
        typer.echo("no match")
        raise typer.Exit(1)
    for hit in hits:
        spans = ", ".join(f"{sp.start}-{sp.end}" for sp in hit.spans)
        typer.echo(f"match in {hit.field} at {spans}")
        typer.echo(f"  {terminal_safe(hit.snippet)}")


@term_app.command("backtest")
def term_backtest(
    ctx: typer.Context,
    query: str,
    since: Optional[str] = typer.Option(
        None, "--since", help="items fetched since (30d, an ISO date)"
    ),
    source: Optional[str] = typer.Option(None, "--source", help="only this source's items"),
    limit: int = typer.Option(20, "--show", min=0, help="how many matching items to list"),
    fmt: Format = FORMAT,
) -> None:
    """Run QUERY over stored items without saving it: how many and which items it would hit."""
    from rich.console import Console
    from rich.progress import Progress

    from monitor.actions.backtest import backtest
    from monitor.store.watch import alias_map

    st = state(ctx)
    with st.unit() as s:
        aliases = alias_map(s)
        if source:
            overview.source_record(s, source)
    _compile_one(ctx, query, aliases)  # an invalid query: its message, exit 2
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("backtest", total=None)
        with st.unit() as s:
            report = backtest(
                s,
                query,
                aliases=aliases,
                since=parse_since(since),
                source=source,
                examples=limit,
                min_prefix=st.settings.match.min_prefix,
                progress=lambda n: bar.update(task, completed=n),
            )
    typer.echo(
        f"scanned {report.scanned} of {report.total} item(s) "
        f"(prefilter: {report.prefilter or 'none'}); "
        f"{report.matched} would match"
        + (" (stopped at the scan cap)" if report.truncated else ""),
        err=fmt is not Format.table,
    )
    emit(
        report.examples["only_new"],
        fmt,
        columns=["source", "external_id", "published_at", "field", "snippet", "url"],
    )


HIT_FIELDS = [
    "watchlist",
    "query",
    "term_version",
    "source",
    "external_id",
    "url",
    "published_at",
    "fetched_at",
    "field",
    "spans",
    "snippet",
    "item_version",
    "story",
    "matched_hash",
    "edited_at",
    "collector",
    "language",
    "author",
    "deleted_at",
    "review_state",
]


@app.command("hits")
def hits_cmd(
    ctx: typer.Context,
    watchlist: Optional[str] = typer.Option(None, "--watchlist"),
    since: Optional[str] = SINCE,
    limit: Optional[int] = LIMIT,
    oldest_first: bool = OLDEST,
    fmt: Format = FORMAT,
) -> None:
    """Stored hits, newest first (each JSON line: watchlist, query, source, external_id, url,
    published_at, fetched_at, field, spans, snippet ...: the term and item as they were when
    the hit matched)."""
    from monitor.store import views
    from monitor.store.watch import get_watchlist

    with state(ctx).unit() as s:
        wl = get_watchlist(s, watchlist) if watchlist else None
        hits = views.list_hits(
            s,
            watchlist_id=wl.id if wl else None,
            since=parse_since(since),
            limit=limit,
            oldest_first=oldest_first,
        )
    rows = (
        {
            "watchlist": h.watchlist,
            "query": h.term_query,
            "term_version": h.term_version,
            "source": h.source,
            "external_id": h.external_id,
            "url": h.url,
            "published_at": h.published_at,
            "fetched_at": h.fetched_at,
            "field": h.field,
            "spans": [list(sp) for sp in h.spans],
            "snippet": h.snippet,
            "item_version": h.item_version,
            "story": h.story_id,
            "matched_hash": h.matched_hash,
            "edited_at": h.edited_at,
            "collector": h.collector,
            "language": h.language,
            "author": h.author,
            "deleted_at": h.deleted_at,
            "review_state": h.review_state,
        }
        for h in hits
    )
    columns = {
        Format.jsonl: None,
        Format.csv: HIT_FIELDS,
        Format.table: ["watchlist", "source", "published_at", "snippet"],
    }[fmt]
    emit(rows, fmt, columns=columns, max_width=80)
