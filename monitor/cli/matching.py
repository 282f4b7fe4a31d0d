"""Matching commands: term test, term backtest, hits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import Format, emit, parse_since, state
from monitor.cli.manage import term_app
from monitor.errors import InvalidInput, QuerySyntaxError


def _aliases(ctx: typer.Context) -> dict:
    """Stored alias sets, when a database is there (term test works without one)."""
    from monitor.store.watch import alias_map

    try:
        with state(ctx).unit() as s:
            return alias_map(s)
    except Exception:  # no database yet: aliases cannot be referenced, which validate reports
        return {}


def _compile_one(ctx: typer.Context, query: str, aliases: dict):
    from monitor.match import TermSpec, compile_matcher, validate

    m = state(ctx).settings.match
    try:
        validate(query, aliases, min_prefix=m.min_prefix, max_length=m.max_query_length, max_nesting=m.max_nesting)
    except QuerySyntaxError as exc:
        typer.echo(f"invalid query: {exc}\n{exc.pointer()}", err=True)
        raise typer.Exit(2)
    return compile_matcher([TermSpec(0, query)], aliases, min_prefix=m.min_prefix)


@term_app.command("test")
def term_test(
    ctx: typer.Context, query: str,
    text: Optional[str] = typer.Option(None, "--text", help="text to test against"),
    file: Optional[Path] = typer.Option(None, "--file", help="file to test against ('-' for stdin)"),
    title: Optional[str] = typer.Option(None, "--title"),
    lang: Optional[str] = typer.Option(None, "--lang"),
    source: Optional[str] = typer.Option(None, "--source"),
    channel: Optional[str] = typer.Option(None, "--channel"),
) -> None:
    """Whether and where QUERY matches: exit 0 when it matches, 1 when not, 2 for an invalid query."""
    from monitor.match import MatchDoc

    if (text is None) == (file is None):
        raise InvalidInput("give exactly one of --text or --file")
    if file is not None:
        try:
            body = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{file}: cannot read: {exc}") from None
    else:
        body = text or ""
    matcher = _compile_one(ctx, query, _aliases(ctx))
    hits = matcher.match(MatchDoc(text=body, title=title, source=source, lang=lang, channel=channel))
    if not hits:
        typer.echo("no match")
        raise typer.Exit(1)
    for hit in hits:
        spans = ", ".join(f"{sp.start}-{sp.end}" for sp in hit.spans)
        typer.echo(f"match in {hit.field} at {spans}")
        typer.echo(f"  {hit.snippet}")


@term_app.command("backtest")
def term_backtest(
    ctx: typer.Context, query: str,
    since: Optional[str] = typer.Option(None, "--since"), source: Optional[str] = typer.Option(None, "--source"),
    limit: int = typer.Option(20, "--show", help="how many matching items to list"),
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
) -> None:
    """Run QUERY over stored items without saving it: how many and which items it would hit."""
    from monitor.actions.backtest import backtest

    from rich.console import Console
    from rich.progress import Progress

    from monitor.store.watch import alias_map

    st = state(ctx)
    with st.unit() as s:
        aliases = alias_map(s)
    matcher = _compile_one(ctx, query, aliases)
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("backtest", total=None)
        with st.unit() as s:
            report = backtest(s, query, matcher, aliases=aliases, since=parse_since(since), source=source,
                              keep=limit, progress=lambda n: bar.update(task, completed=n))
    typer.echo(f"scanned {report.scanned} of {report.total} item(s) (prefilter: {report.prefilter or 'none'}); "
               f"{report.matched} would match", err=fmt is not Format.table)
    emit(report.examples, fmt, columns=["source", "external_id", "published_at", "field", "snippet", "url"])


@app.command("hits")
def hits_cmd(ctx: typer.Context, watchlist: Optional[str] = typer.Option(None, "--watchlist"),
             since: Optional[str] = typer.Option(None, "--since"), limit: Optional[int] = typer.Option(None, "--limit"),
             fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """Stored hits (each JSON line: watchlist, query, source, external_id, url, published_at, fetched_at,
    field, spans, snippet)."""
    from monitor.store.hits import list_hits
    from monitor.store.watch import get_watchlist

    with state(ctx).unit() as s:
        if watchlist:
            get_watchlist(s, watchlist)
        # provenance as it was when the hit matched: that term version's query, that item version's
        # url and times
        rows = ({"watchlist": r.watchlist.name, "query": r.query, "term_version": r.hit.term_version,
                 "source": r.source.name, "external_id": r.item.external_id, "url": r.url,
                 "published_at": r.item.published_at, "fetched_at": r.fetched_at, "field": r.hit.field,
                 "spans": r.hit.spans, "snippet": r.hit.snippet, "item_version": r.hit.item_version,
                 "story": r.hit.story_id, "matched_hash": r.hit.matched_hash, "edited_at": r.edited_at,
                 "collector": r.item.collector, "language": r.item.language, "author": r.item.author,
                 "deleted_at": r.item.deleted_at}
                for r in list_hits(s, watchlist=watchlist, since=parse_since(since), limit=limit))
        emit(rows, fmt, columns=None if fmt is Format.jsonl else
             (["watchlist", "query", "source", "external_id", "url", "published_at", "fetched_at", "field", "spans",
               "snippet"] if fmt is Format.csv else ["watchlist", "source", "published_at", "snippet"]),
             max_width=80)
