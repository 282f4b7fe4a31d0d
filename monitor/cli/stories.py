"""Desk corrections of stories from the command line: ``story-split ITEM``, ``story-merge A B``
(``monitor story ID`` shows a story's timeline)."""

from __future__ import annotations

import getpass

import typer

from monitor.cli import app
from monitor.cli.common import state


def _by() -> str:
    try:
        return f"cli ({getpass.getuser()})"
    except Exception:  # noqa: BLE001 - no user name: still say where it came from
        return "cli"


@app.command("story-split")
def story_split_cmd(ctx: typer.Context, item_id: int) -> None:
    """Move an item out of its story into a story of its own (later ingest keeps it there)."""
    from monitor.actions.stories import split_item

    with state(ctx).unit() as s:
        done = split_item(s, item_id, by=_by())
    typer.echo(f"item {done.item_id}: out of story {done.old_story}, now story {done.new_story}")


@app.command("story-merge")
def story_merge_cmd(ctx: typer.Context, story_id: int, other: int) -> None:
    """Merge story OTHER into STORY_ID: its items, keys and hits move there, for good."""
    from monitor.actions.stories import merge_stories

    with state(ctx).unit() as s:
        done = merge_stories(s, story_id, other, by=_by())
    typer.echo(f"story {done.merged} merged into story {done.story_id} ({done.items} item(s))")
