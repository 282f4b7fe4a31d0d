"""Collection commands: collect, items, stories, story, OPML and Telegram export import."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer

from monitor.cli import app
from monitor.cli.common import Format, emit, parse_since, state
from monitor.errors import InvalidInput

import_app = typer.Typer(help="Import posts from files (Telegram Desktop exports).", no_args_is_help=True)
app.add_typer(import_app, name="import")


def _progress_printer(enabled: bool):
    """A compact progress line on stderr: one dot group per source, then the summary."""
    if not enabled:
        return None
    from rich.console import Console

    console = Console(stderr=True)

    def show(res) -> None:
        mark = {"ok": "[green]✓[/]", "not_modified": "[dim]=[/]", "error": "[red]✗[/]"}.get(res.status, "·")
        extra = f" +{res.new}" if res.new else ""
        extra += f" ({res.error})" if res.error else ""
        console.print(f"{mark} {res.source}{extra}", highlight=False)

    return show


@app.command("collect")
def collect_cmd(
    ctx: typer.Context,
    source: Optional[List[str]] = typer.Option(None, "--source", help="collect just these sources (repeatable)"),
    all_: bool = typer.Option(False, "--all", help="every enabled source, due or not"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no per-source progress"),
) -> None:
    """One pass over the due sources (or --all / --source), then exit with a summary."""
    from monitor.ingest.runtime import pipeline_for

    st = state(ctx)

    async def run():
        async with pipeline_for(st.store, st.settings) as pipeline:
            return await pipeline.collect(names=source or None, everything=all_,
                                          progress=_progress_printer(not quiet))

    summary = asyncio.run(run())
    typer.echo(f"sources: {len(summary.results)}  fetched: {summary.fetched}  not modified: {summary.not_modified}  "
               f"new items: {summary.new_items}  versions: {summary.versions}  hits: {summary.hits}  "
               f"errors: {summary.errors}")
    if source and summary.errors == len(summary.results) and summary.results:
        raise typer.Exit(1)


@app.command("items")
def items_cmd(ctx: typer.Context, source: Optional[str] = typer.Option(None, "--source"),
              since: Optional[str] = typer.Option(None, "--since"), limit: Optional[int] = typer.Option(None, "--limit"),
              fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """Stored items (each JSON line: source, external_id, url, title, text, author, published_at ...)."""
    from monitor.store.items import list_items

    with state(ctx).unit() as s:
        if source:
            from monitor.store.sources import get_source
            get_source(s, source)
        rows = ({"source": name, "external_id": it.external_id, "url": it.url, "title": it.title, "text": it.text,
                 "author": it.author, "published_at": it.published_at, "published_raw": it.published_raw,
                 "fetched_at": it.fetched_at, "content_hash": it.content_hash, "language": it.language,
                 "version": it.version, "deleted_at": it.deleted_at, "date_flag": it.date_flag}
                for it, name in list_items(s, source=source, since=parse_since(since), limit=limit))
        columns = None if fmt is Format.jsonl else ["source", "external_id", "published_at", "title", "url"]
        if fmt is Format.csv:
            columns = ["source", "external_id", "url", "title", "text", "author", "published_at", "published_raw",
                       "fetched_at", "content_hash", "language", "version", "deleted_at"]
        emit(rows, fmt, columns=columns)


def _story_rows(s, stories):
    from monitor.store.models import SourceRow
    from monitor.store.stories import story_timeline

    for story in stories:
        timeline = story_timeline(s, story.id)
        first = s.get(SourceRow, story.first_source_id) if story.first_source_id else None
        yield {
            "story": story.id, "first_seen_at": story.first_seen_at, "first_source": first.name if first else None,
            "sources": story.source_count, "items": [
                {"source": src.name, "external_id": it.external_id, "url": it.url,
                 "published_at": it.published_at or it.fetched_at, "how": it.dedup_kind}
                for it, src in timeline],
            "title": story.title,
        }


@app.command("stories")
def stories_cmd(ctx: typer.Context, watchlist: Optional[str] = typer.Option(None, "--watchlist"),
                since: Optional[str] = typer.Option(None, "--since"), limit: Optional[int] = typer.Option(None, "--limit"),
                fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """Stories (clusters of the same news), newest first; --watchlist keeps stories with hits."""
    from monitor.store.stories import list_stories
    from monitor.store.watch import get_watchlist

    with state(ctx).unit() as s:
        wl = get_watchlist(s, watchlist) if watchlist else None
        rows = _story_rows(s, list_stories(s, since=parse_since(since), watchlist_id=wl.id if wl else None,
                                           limit=limit))
        if fmt is Format.table:
            rows = ({**r, "items": len(r["items"])} for r in rows)
        emit(rows, fmt, columns=None if fmt is Format.jsonl else
             ["story", "first_seen_at", "first_source", "sources", "items", "title"])


@app.command("story")
def story_cmd(ctx: typer.Context, story_id: int) -> None:
    """A story's timeline: first seen where and when, then each source that carried it."""
    from monitor.store.models import StoryRow

    with state(ctx).unit() as s:
        story = s.get(StoryRow, story_id)
        if story is None:
            raise InvalidInput(f"no story with id {story_id}")
        row = next(_story_rows(s, [story]))
    typer.echo(f"story {row['story']}: {row['title'] or ''}")
    typer.echo(f"first seen {row['first_seen_at']:%Y-%m-%d %H:%M:%SZ} at {row['first_source']}; "
               f"{row['sources']} source(s), {len(row['items'])} item(s)")
    for entry in row["items"]:
        typer.echo(f"  {entry['published_at']:%Y-%m-%d %H:%M:%SZ}  {entry['source']:<24} "
                   f"{entry['url'] or entry['external_id']}  [{entry['how']}]")


@app.command("import-opml")
def import_opml_cmd(ctx: typer.Context, file: Path) -> None:
    """Add the feeds of an OPML file as rss sources (existing ones are left as they are)."""
    from monitor.errors import AlreadyExists
    from monitor.sources.opml import parse_opml
    from monitor.sources.rss import RssSource
    from monitor.store.sources import add_source, find_source

    try:
        feeds = parse_opml(file.read_bytes())
    except FileNotFoundError:
        raise InvalidInput(f"{file}: no such file") from None
    added = skipped = 0
    with state(ctx).unit() as s:
        for feed in feeds:
            try:
                url = RssSource.check_locator(feed.url)
            except InvalidInput as exc:
                typer.echo(f"skipped: {exc}", err=True)
                skipped += 1
                continue
            if find_source(s, type="rss", locator=url):
                skipped += 1
                continue
            name = (feed.title or RssSource.default_name(url)).strip()
            try:
                with s.begin_nested():
                    add_source(s, type="rss", locator=url, name=name, options={"category": feed.category}
                               if getattr(feed, "category", None) else {})
            except AlreadyExists:
                with s.begin_nested():
                    add_source(s, type="rss", locator=url, name=f"{name} ({RssSource.default_name(url)})")
            added += 1
    typer.echo(f"added {added} feed(s), skipped {skipped}")


@app.command("export-opml")
def export_opml_cmd(ctx: typer.Context, output: Optional[Path] = typer.Option(None, "--output", "-o")) -> None:
    """Write the rss sources as OPML."""
    from monitor.sources.opml import OpmlFeed, write_opml
    from monitor.store.sources import list_sources

    with state(ctx).unit() as s:
        feeds = [OpmlFeed(url=src.locator, title=src.name, category=(src.options or {}).get("category"))
                 for src in list_sources(s, type="rss")]
    data = write_opml(feeds)
    if output:
        output.write_bytes(data)
    else:
        typer.echo(data.decode("utf-8"), nl=False)
