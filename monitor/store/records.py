"""Frozen values the store's read functions return to the surfaces (CLI, web, actions).

An ORM row never leaves :mod:`monitor.store`: a surface gets one of these, a snapshot taken
inside the unit of work, so a template or a command cannot lazy-load, change or flush anything.
Field names follow the columns they come from; derived fields (a desk's name beside its id, a
term count) say so in their comment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def freeze(cls: type[T], obj: Any, **extra: Any) -> T:
    """``cls`` built from ``obj``'s attributes of the same names (``extra`` fills or overrides).

    JSON columns are copied (lists become tuples) so the value shares nothing with the row."""
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in extra:
            values[f.name] = extra[f.name]
            continue
        value = getattr(obj, f.name)
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, dict):
            value = dict(value)
        values[f.name] = value
    return cls(**values)


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class SourceRecord:
    id: int
    name: str
    type: str
    locator: str
    options: dict[str, Any]
    account: str | None
    language: str | None
    enabled: bool
    retired: bool
    pinned_interval: int | None
    interval: int | None
    next_check_at: datetime | None
    paused_until: datetime | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_count: int
    state: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TargetRecord:
    """A delivery target; ``url`` is a secret: show it only through ``describe_target``."""

    id: int
    desk_id: int
    url: str | None
    url_env: str | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class DeskRecord:
    id: int
    name: str
    timezone: str
    quiet_start: str | None
    quiet_end: str | None
    is_operators: bool
    created_at: datetime
    targets: tuple[TargetRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteRecord:
    id: int
    watchlist_id: int
    desk_id: int
    watchlist: str  # the watchlist's name
    desk: str  # the desk's name
    mode: str
    throttle_count: int | None
    throttle_period: int | None
    digest_every: str | None
    digest_at: str | None
    max_age: int | None
    source_filter: tuple[str, ...]
    language_filter: tuple[str, ...]
    spread_threshold: int | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class WatchlistRecord:
    id: int
    name: str
    desk_id: int | None
    desk: str | None  # the owning desk's name
    enabled: bool
    description: str | None
    atom_token: str | None
    terms: int  # how many terms it holds
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TermRecord:
    id: int
    watchlist_id: int
    watchlist: str  # the watchlist's name
    query: str
    label: str | None
    enabled: bool
    version: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TermVersionRecord:
    version: int
    query: str
    enabled: bool
    changed_by: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    name: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    desks: tuple[str, ...] = ()  # names of the desks they belong to


@dataclass(frozen=True, slots=True)
class MuteRecord:
    id: int
    kind: str  # story | term
    ref_id: int
    until: datetime
    created_at: datetime
    label: str | None = None  # the story's title or the term's query


# ---------------------------------------------------------------- content


@dataclass(frozen=True, slots=True)
class ItemRecord:
    id: int
    source_id: int
    source: str  # the source's name
    source_type: str
    external_id: str
    url: str | None
    title: str | None
    text: str
    author: str | None
    language: str | None
    published_at: datetime | None
    published_raw: str | None
    date_flag: str | None
    fetched_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    content_hash: str
    version: int
    collector: str | None
    story_id: int | None
    dedup_kind: str | None
    channel_username: str | None
    views: int | None
    fwd_channel_id: int | None
    fwd_post_id: int | None
    fwd_date: datetime | None
    fwd_from_name: str | None
    fwd_url: str | None

    @property
    def seen_at(self) -> datetime:
        """When the item appeared: published, else fetched (the order of every list)."""
        return self.published_at or self.fetched_at


@dataclass(frozen=True, slots=True)
class ItemVersionRecord:
    version: int
    title: str | None
    text: str
    url: str | None
    edited_at: datetime | None
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class StoryRecord:
    id: int
    title: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    first_item_id: int | None
    first_source_id: int | None
    first_source: str | None  # the first source's name
    item_count: int
    source_count: int
    merged_into: int | None = None  # a desk merged it into that story


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One item of a story, in the order the story spread.

    ``how`` is the item's ``dedup_kind`` as stored: how it joined the story *when it was
    collected* (``new`` for the first one collected, ``forward``, ``tg``, ``url``, ``text``,
    ``near``). ``joined`` says it in words relative to the timeline's order: the first entry is
    "first seen", and a copy collected before an earlier original (sources are collected
    concurrently, archives imported late) is named for what it is (a forward) rather than "new".
    """

    item_id: int
    source: str
    source_type: str
    external_id: str
    title: str | None
    url: str | None
    language: str | None
    published_at: datetime | None
    fetched_at: datetime
    deleted_at: datetime | None
    how: str | None
    channel_username: str | None
    fwd_from_name: str | None
    forwarded: bool = False  # the item carries a forward header
    joined: str = ""
    reason: str | None = None  # why it joined, in words (which key, what similarity, facts)

    @property
    def seen_at(self) -> datetime:
        return self.published_at or self.fetched_at

    @property
    def level(self) -> str:
        """``first`` (started the story), ``copy`` (forward, same URL or text, near-duplicate),
        ``coverage`` (the same event in other words) or ``desk`` (an editor's correction)."""
        if self.how in (None, "new"):
            return "first"
        return {"rewrite": "coverage", "abridged": "coverage", "desk": "desk"}.get(self.how,
                                                                                 "copy")


JOINED = {
    "forward": "forward",
    "tg": "same post",
    "url": "same URL",
    "text": "same text",
    "near": "near-duplicate",
    "rewrite": "rewrite",
    "abridged": "abridged",
    "desk": "by the desk",
}


def joined_words(how: str | None, *, first: bool, forwarded: bool) -> str:
    """How an item joined its story, in the words the timeline shows."""
    if first:
        return "first seen"
    if forwarded and how in (None, "new", "tg", "forward"):
        return "forward"
    return JOINED.get(how or "", "first collected" if how == "new" else (how or "joined"))


@dataclass(frozen=True, slots=True)
class HitEntry:
    """A hit with what the feed, exports and ``monitor hits`` show of it: the term's query as it
    was when it matched, and the item's url and times as of the version that matched."""

    id: int
    created_at: datetime
    review_state: str
    field: str
    snippet: str
    snippet_html: str
    spans: tuple
    item_id: int
    item_version: int
    story_id: int | None
    term_id: int
    term_version: int
    term_query: str
    term_label: str | None
    watchlist_id: int
    watchlist: str
    matched_hash: str | None
    assignee: str | None
    source_id: int
    source: str
    external_id: str
    title: str | None
    url: str | None
    language: str | None
    author: str | None
    collector: str | None
    published_at: datetime | None
    fetched_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    source_count: int | None  # sources carrying the hit's story

    @property
    def seen_at(self) -> datetime:
        return self.published_at or self.fetched_at
