"""The pure steps of ingesting one batch, between the store's reads and its writes.

- :func:`work_out`: from the version decision (:mod:`monitor.ingest.versions`), the new items'
  ids and their matching forms, the :class:`Prepared` batch (what is new, what changed);
- :func:`story_entries`: the new items as the story decision takes them;
- :func:`item_writes`: every write to the items table, once stories are decided;
- :func:`learn_footer`: the source's signature footer, looked for in its latest posts;
- :func:`resume_state`: what the batch changes on its source row.

Values in, values out, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from monitor.dedup import detect_footer
from monitor.dedup.stories import Cluster, Entry, story_title
from monitor.ingest.versions import Change
from monitor.sources.base import Batch
from monitor.store.values import ItemWrite, ResumeState, SourceState, StoryDecision
from monitor.types import Item

FOOTER_SAMPLE = 30  # posts a footer is looked for in
FOOTER_FIRST = 5  # new posts before the first look
FOOTER_AGAIN = 25  # new posts between two looks


@dataclass(frozen=True, slots=True)
class Changed:
    """A new item or a new version, with what matching and hits need to know of it."""

    change: Change
    item_id: int
    version: int
    norm_text: str
    language: str | None

    @property
    def value(self) -> Item:
        return self.change.value

    @property
    def is_new(self) -> bool:
        return self.change.status == "new"


@dataclass(frozen=True, slots=True)
class Prepared:
    changed: tuple[Changed, ...]  # new items and new versions, in batch order
    counters: tuple[tuple[int, Item], ...]  # (item id, value) whose counters moved
    unchanged: int

    @property
    def fresh(self) -> tuple[Changed, ...]:
        return tuple(c for c in self.changed if c.is_new)


def work_out(changes: Sequence[Change], new_ids: Sequence[int],
             enrich: Callable[[Item], tuple[str, str | None]]) -> Prepared:
    """Give new items their ids (a value repeated in the batch is a version of the new item)
    and every new item or version its matching form and language."""
    ids = iter(new_ids)
    by_ext: dict[str, int] = {}
    changed, counters, unchanged = [], [], 0
    for c in changes:
        ext = c.value.external_id
        if c.status == "new":
            item_id = by_ext[ext] = next(ids)
        else:
            item_id = c.stored.id or by_ext[ext]
        if c.status in ("new", "version"):
            norm, lang = enrich(c.value)
            if c.status == "version":
                lang = lang or c.stored.language
            changed.append(Changed(c, item_id, c.version, norm, lang))
        elif c.status == "counters":
            counters.append((item_id, c.value))
            unchanged += 1
        else:
            unchanged += 1
    return Prepared(tuple(changed), tuple(counters), unchanged)


def story_entries(fresh: Sequence[Changed], source_id: int,
                  clusters: Sequence[Cluster]) -> list[Entry]:
    return [Entry(item_id=c.item_id, source_id=source_id,
                  seen_at=c.value.published_at or c.value.fetched_at,
                  title=story_title(c.value.title, c.value.text), cluster=cluster)
            for c, cluster in zip(fresh, clusters)]


def item_writes(prepared: Prepared, decision: StoryDecision, story_of: Mapping[int, int], *,
                collector: str) -> list[ItemWrite]:
    """Every write to the items of the batch, in batch order."""
    placed = {p.item_id: p for p in decision.placements}
    out = []
    for c in prepared.changed:
        if c.is_new:
            p = placed[c.item_id]
            out.append(ItemWrite("new", c.item_id, c.value, 1, c.norm_text, c.language,
                                 collector=collector, story_id=story_of[c.item_id],
                                 dedup_kind=p.how, minhash=p.signature,
                                 dedup_reason=None if p.how == "new" else p.reason))
        else:
            out.append(ItemWrite("version", c.item_id, c.value, c.version, c.norm_text, c.language,
                                 keep_date=c.change.keep_date))
    out += [ItemWrite("counters", item_id, value) for item_id, value in prepared.counters]
    return out


def story_of_changed(c: Changed, story_of: Mapping[int, int]) -> int | None:
    """The story of a new item or a version (a version of an item new in this batch included)."""
    if c.item_id in story_of:
        return story_of[c.item_id]
    return c.change.stored.story_id if c.change.stored is not None else None


def footer_due(state: Mapping[str, Any], new_posts: int) -> bool:
    """Whether this batch's new posts make it time to look for the footer."""
    return int(state.get("footer_pending", 0)) + new_posts >= FOOTER_FIRST


def learn_footer(state: Mapping[str, Any], texts: Sequence[str], recent: Sequence[str]
                 ) -> tuple[str | None, dict[str, Any]]:
    """Look for the source's signature footer: first after 5 new posts, then after every 25 more
    until one is found (live sources bring one post per batch). ``texts``: the batch's new posts;
    ``recent``: stored ones (newest first) to fill the sample. Returns (footer, new state)."""
    state = dict(state)
    pending = int(state.get("footer_pending", 0)) + len(texts)
    if pending >= FOOTER_FIRST:
        sample = list(texts[-FOOTER_SAMPLE:])
        footer = detect_footer(sample + list(recent[:FOOTER_SAMPLE - len(sample)]))
        if footer:
            state.pop("footer_pending", None)
            return footer, state
        pending = FOOTER_FIRST - FOOTER_AGAIN  # not yet: try again 25 posts on
    state["footer_pending"] = pending
    return None, state


def resume_state(source: SourceState, batch: Batch, state: Mapping[str, Any], *, now: datetime,
                 had_new: bool, footer: str | None) -> ResumeState:
    """The cursor, validators and state a batch brings, committed with its items. ``state`` is
    the source's state before the batch (with the footer search's count)."""
    merged = dict(state)
    if batch.state:
        merged.update(batch.state)
    if batch.min_interval:
        merged["min_interval"] = batch.min_interval
    ids = {key: int(batch.state[key]) for key in ("channel_id", "access_hash")
           if batch.state and batch.state.get(key) is not None}
    moved = batch.new_locator if batch.new_locator and batch.new_locator != source.locator else None
    return ResumeState(
        cursor=batch.cursor, etag=batch.etag, last_modified=batch.last_modified,
        body_hash=batch.body_hash, state=merged if merged != dict(source.state) else None,
        remote_id=ids.get("channel_id"), access_hash=ids.get("access_hash"), locator=moved,
        last_new_item_at=now if had_new else None, footer=footer)
