"""Collection and reading commands: collect, items, stories, story, OPML import and export.

Lists are newest first (the item's published time, else its fetch time; a story's latest
activity), ``--oldest-first`` reverses them, and without ``--limit`` every row is listed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer

from monitor.cli import app
from monitor.cli.common import (
    FORMAT,
    LIMIT,
    OLDEST,
    SINCE,
    Format,
    emit,
    fail,
    lazy_module,
    parse_since,
    state,
    utc,
)
from monitor.errors import NotFound

overview = lazy_module("monitor.store.overview")

import_app = typer.Typer(
    help="Import posts from files (Telegram Desktop exports).", no_args_is_help=True
)
app.add_typer(import_app, name="import")


def _progress_printer(enabled: bool):
    """A compact progress line on stderr: one dot group per source, then the summary."""
    if not enabled:
        return None
    from rich.console import Console

    console = Console(stderr=True)

    def show(res) -> None:
        mark = {"ok": "[green]✓[/]", "not_modified": "[dim]=[/]", "error": "[red]✗[/]"}.get(
            res.status, "·"
        )
        extra = f" +{res.new}" if res.new else ""
        extra += f" ({res.error})" if res.error else ""
        console.print(f"{mark} {res.source}{extra}", highlight=False)

    return show


@app.command("collect")
def collect_cmd(
    ctx: typer.Context,
    source: Optional[List[str]] = typer.Option(
        None, "--source", help="collect just these sources (repeatable)"
    ),
    all_: bool = typer.Option(False, "--all", help="every enabled source, due or not"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no per-source progress"),
) -> None:
    """One pass over the due sources (or --all / --source), then exit with a summary.

    Exit 1 when a named source does not exist or when every named source failed."""
    from monitor.ingest.runtime import pipeline_for

    st = state(ctx)
    if source:
        with st.unit() as s:
            for name in source:
                src = overview.source_record(s, name)
                if not src.enabled or src.retired:
                    fail(
                        f"source {name!r} is {'retired' if src.retired else 'disabled'}: "
                        f"`monitor source enable {name}` first"
                    )

    async def run():
        async with pipeline_for(st.store, st.settings) as pipeline:
            return await pipeline.collect(
                names=source or None, everything=all_, progress=_progress_printer(not quiet)
            )

    summary = asyncio.run(run())
    typer.echo(
        f"sources: {len(summary.results)}  fetched: {summary.fetched}  "
        f"not modified: {summary.not_modified}  "
        f"new items: {summary.new_items}  versions: {summary.versions}  hits: {summary.hits}  "
        f"errors: {summary.errors}"
    )
    if source and summary.errors == len(summary.results) and summary.results:
        raise typer.Exit(1)


ITEM_FIELDS = [
    "source",
    "external_id",
    "url",
    "title",
    "text",
    "author",
    "published_at",
    "published_raw",
    "fetched_at",
    "content_hash",
    "language",
    "version",
    "deleted_at",
    "date_flag",
    "story",
]


@app.command("items")
def items_cmd(
    ctx: typer.Context,
    source: Optional[str] = typer.Option(None, "--source"),
    since: Optional[str] = SINCE,
    limit: Optional[int] = LIMIT,
    oldest_first: bool = OLDEST,
    fmt: Format = FORMAT,
) -> None:
    """Stored items, newest first (each JSON line: source, external_id, url, title, text, author,
    published_at, fetched_at ...)."""
    from monitor.store.views import list_items

    with state(ctx).unit() as s:
        source_id = overview.source_record(s, source).id if source else None
        items = list_items(
            s, source_id=source_id, since=parse_since(since), limit=limit, oldest_first=oldest_first
        )
    rows = (
        {
            "source": it.source,
            "external_id": it.external_id,
            "url": it.url,
            "title": it.title,
            "text": it.text,
            "author": it.author,
            "published_at": it.published_at,
            "published_raw": it.published_raw,
            "fetched_at": it.fetched_at,
            "content_hash": it.content_hash,
            "language": it.language,
            "version": it.version,
            "deleted_at": it.deleted_at,
            "date_flag": it.date_flag,
            "story": it.story_id,
        }
        for it in items
    )
    columns = {
        Format.table: ["source", "external_id", "published_at", "fetched_at", "title", "url"],
        Format.csv: ITEM_FIELDS,
        Format.jsonl: None,
    }[fmt]
    emit(rows, fmt, columns=columns)


def _story_row(story, line) -> dict:
    return {
        "story": story.id,
        "first_seen_at": story.first_seen_at,
        "last_seen_at": story.last_seen_at,
        "first_source": story.first_source,
        "sources": story.source_count,
        "title": story.title,
        "items": [
            {
                "source": e.source,
                "external_id": e.external_id,
                "url": e.url,
                "published_at": e.seen_at,
                "how": e.how,
                "joined": e.joined,
            }
            for e in line
        ],
    }


STORY_COLUMNS = [
    "story",
    "first_seen_at",
    "first_source",
    "sources",
    "items",
    "last_seen_at",
    "title",
]


@app.command("stories")
def stories_cmd(
    ctx: typer.Context,
    watchlist: Optional[str] = typer.Option(
        None, "--watchlist", help="only stories with hits of it"
    ),
    hits_only: bool = typer.Option(False, "--with-hits", help="only stories with hits"),
    since: Optional[str] = SINCE,
    limit: Optional[int] = LIMIT,
    oldest_first: bool = OLDEST,
    fmt: Format = FORMAT,
) -> None:
    """Stories (the same news from many sources), newest activity first."""
    from monitor.store import feed
    from monitor.store import watch as watch_repo

    with state(ctx).unit() as s:
        wl = watch_repo.get_watchlist(s, watchlist) if watchlist else None
        stories = feed.list_stories(
            s,
            since=parse_since(since),
            watchlist_id=wl.id if wl else None,
            with_hits=hits_only,
            limit=limit,
            oldest_first=oldest_first,
        )
        lines = feed.timelines(s, [st.id for st in stories])
    rows = (_story_row(st, lines.get(st.id, [])) for st in stories)
    if fmt is not Format.jsonl:  # one cell per item list in a table or CSV: its length
        rows = ({**r, "items": len(r["items"])} for r in rows)
    emit(rows, fmt, columns=None if fmt is Format.jsonl else STORY_COLUMNS)


@app.command("story")
def story_cmd(ctx: typer.Context, story_id: int, fmt: Format = FORMAT) -> None:
    """A story's timeline: first seen where and when, then each source that carried it and how
    it joined (forward, same URL, same text, near-duplicate)."""
    from monitor.store import feed

    with state(ctx).unit() as s:
        story = feed.get_story(s, story_id)
        if story is None:
            raise NotFound(f"no story with id {story_id}")
        line = feed.timeline(s, story_id)
    if fmt is not Format.table:
        emit(
            (
                {
                    "story": story.id,
                    "source": e.source,
                    "external_id": e.external_id,
                    "url": e.url,
                    "title": e.title,
                    "published_at": e.published_at,
                    "fetched_at": e.fetched_at,
                    "how": e.how,
                    "joined": e.joined,
                    "level": e.level,
                    "reason": e.reason,
                    "language": e.language,
                }
                for e in line
            ),
            fmt,
            columns=None
            if fmt is Format.jsonl
            else [
                "story",
                "source",
                "external_id",
                "url",
                "title",
                "published_at",
                "fetched_at",
                "how",
                "joined",
                "level",
                "reason",
                "language",
            ],
        )
        return
    from monitor.textout import terminal_safe as safe  # stored text: no ESC or bidi acts

    typer.echo(f"story {story.id}: {safe(story.title or '')}")
    typer.echo(
        f"first seen {utc(story.first_seen_at)} at {safe(story.first_source or '')}; "
        f"{story.source_count} source(s), {story.item_count} item(s)"
    )
    if story.merged_into:
        typer.echo(f"merged into story {story.merged_into}")
    for e in line:
        typer.echo(f"  {utc(e.seen_at)}  #{e.item_id:<7} {safe(e.source):<24} "
                   f"{safe(e.url or e.external_id or '')}  [{e.level}: {e.joined}]")
        if e.reason and e.level != "first":
            typer.echo(f"      {safe(e.reason)}")


@app.command("import-opml")
def import_opml_cmd(ctx: typer.Context, file: Path) -> None:
    """Add the feeds of an OPML file as rss sources (existing ones are left as they are)."""
    from monitor.actions.sources import add_feeds
    from monitor.textout import terminal_safe
    from monitor.files import INPUT_MAX_BYTES, read_bounded
    from monitor.sources.opml import parse_opml

    feeds = parse_opml(read_bounded(file, INPUT_MAX_BYTES, what="OPML file"))
    st = state(ctx)
    with st.unit() as s:
        report = add_feeds(s, st.settings, feeds)
    for line in report.skipped:
        typer.echo(f"skipped: {terminal_safe(line)}", err=True)
    typer.echo(f"added {len(report.added)} feed(s), skipped {len(report.skipped)}")


@app.command("export-opml")
def export_opml_cmd(
    ctx: typer.Context, output: Optional[Path] = typer.Option(None, "--output", "-o")
) -> None:
    """Write the rss sources as OPML."""
    from monitor.sources.opml import OpmlFeed, write_opml

    with state(ctx).unit() as s:
        feeds = [
            OpmlFeed(url=src.locator, title=src.name, category=(src.options or {}).get("category"))
            for src in overview.source_records(s, type="rss")
        ]
    data = write_opml(feeds)
    if output:
        output.write_bytes(data)
    else:
        typer.echo(data.decode("utf-8"), nl=False)
