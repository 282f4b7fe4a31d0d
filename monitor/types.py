"""Frozen values passed between stages.

A feedparser dict, a Telethon ``Message`` or an HTML fragment never leaves its source module: each
source adapts what it reads into :class:`Item` values, and every later stage (normalize, match,
dedup, store, alert) works on those alone, so it never cares where a post came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping


_clock: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of timestamp the project uses)."""
    return _clock() if _clock is not None else datetime.now(timezone.utc)


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Make :func:`utcnow` read ``clock`` (None: the system clock again). For simulations with a
    virtual clock only (``bench/telegram_scale.py``); never set in the service."""
    global _clock
    _clock = clock


def content_hash(*parts: str | None) -> str:
    """Stable SHA-256 hex digest of text parts (None counts as empty); used to spot changed content."""
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Forward:
    """Where a Telegram post really came from (forward header)."""

    origin_channel_id: int | None = None  # bare channel id (as in t.me/c/<id>/..)
    origin_post_id: int | None = None
    origin_date: datetime | None = None
    from_name: str | None = None  # display name, set when the origin is hidden or only named
    origin_url: str | None = None  # origin permalink when known (t.me/s shows it)
    origin_username: str | None = None  # the origin channel's public username, when known
    origin_title: str | None = None  # the origin channel's title, when known
    signature: str | None = None  # the origin post's author signature


@dataclass(frozen=True, slots=True)
class Item:
    """One post or entry, as every stage after the source sees it.

    ``external_id`` is unique within its source (a feed entry's key, a Telegram message id as a
    string). ``published_at`` is UTC; when the source's date was missing or implausible it is the
    fetch time and ``date_flag`` says why (``missing``, ``unparseable``, ``future``, ``absurd``).
    ``raw`` is the exact payload the item came from (TL bytes, an HTML fragment, a JSON object,
    a feed entry), kept as evidence.
    """

    external_id: str
    fetched_at: datetime
    url: str | None = None
    title: str | None = None
    text: str = ""
    html: str | None = None
    author: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    published_raw: str | None = None
    date_flag: str | None = None
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    # Telegram provenance (None for press items)
    channel_id: int | None = None
    channel_username: str | None = None
    views: int | None = None
    forwards: int | None = None
    reply_to_id: int | None = None
    grouped_id: int | None = None
    media_type: str | None = None
    forward: Forward | None = None
    raw: bytes | None = None
    raw_format: str | None = None  # "tl", "html", "json", "feed-entry-xml", "feed-entry"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of what a reader sees: a change here makes a new version of the item."""
        return content_hash(self.title, self.text, self.url)


@dataclass(frozen=True, slots=True)
class Deletion:
    """A source reports that posts were deleted (Telegram). Items are marked, never erased."""

    external_ids: tuple[str, ...]
    deleted_at: datetime


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` in the original (not normalized) field text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TermHit:
    """The matcher's answer for one item and one matching term."""

    term_id: int
    field: str  # "title", "text", ...: the field holding the first span
    spans: tuple[Span, ...]
    snippet: str  # plain text with the matched words wrapped in « » markers; see match.snippet
    snippet_html: str = ""  # HTML-escaped snippet with <mark> around the matched words


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A read-only snapshot of a source row: what a collector needs to resume."""

    id: int
    name: str
    type: str
    locator: str  # feed URL, channel username / id, export path
    options: Mapping[str, Any] = field(default_factory=dict)
    account: str | None = None  # Telegram account that collects this source
    language: str | None = None  # declared language, if any
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    cursor: str | None = None  # e.g. the highest Telegram message id stored
    state: Mapping[str, Any] = field(default_factory=dict)  # collector-private persisted state
    last_checked_at: datetime | None = None
