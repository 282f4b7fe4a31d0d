"""Desk corrections of stories, the one function per action the CLI and the web call: split an
item out of its story, merge two stories. Each is recorded in the audit trail (``story.split``,
``story.merge``) and is never undone by later ingest (see :mod:`monitor.store.corrections`)."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.store import corrections
from monitor.store import users as user_repo
from monitor.store.db import Session
from monitor.types import utcnow


@dataclass(frozen=True, slots=True)
class Split:
    item_id: int
    old_story: int
    new_story: int


@dataclass(frozen=True, slots=True)
class Merge:
    story_id: int  # the story that stays
    merged: int  # the story merged into it
    items: int  # items moved


def split_item(s: Session, item_id: int, *, user_id: int | None = None, by: str = "the desk",
               story_id: int | None = None) -> Split:
    """Move an item out of its story (``story_id``, when given) into one of its own."""
    old, new = corrections.split_item(s, item_id, by=by, now=utcnow(), story_id=story_id)
    user_repo.audit(s, user_id, "story.split", f"item:{item_id}", from_story=old, to_story=new,
                    by=by)
    return Split(item_id, old, new)


def merge_stories(s: Session, story_id: int, other: int, *, user_id: int | None = None,
                  by: str = "the desk") -> Merge:
    """Merge story ``other`` into ``story_id`` (its items, keys and hits move there)."""
    moved = corrections.merge_stories(s, story_id, other, by=by)
    user_repo.audit(s, user_id, "story.merge", f"story:{story_id}", merged=other, items=moved,
                    by=by)
    return Merge(story_id, other, moved)
