"""Frozen values the store takes and returns: rows read for a stage to decide on, and the
outcomes a stage decided, for the store to write.

No ORM object leaves :mod:`monitor.store`: a repository reads rows into these values, a stage
(ingest, dedup, schedule, alerts) decides on them with pure functions, and the repository writes
what was decided. This module imports nothing but the standard library and :mod:`monitor.types`,
so every stage may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Mapping

from monitor.types import Item

# ---------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source's schedule and health columns: what :func:`monitor.schedule.next_state` reads
    and returns (the store writes the new value back)."""

    id: int
    name: str
    type: str
    enabled: bool = True
    retired: bool = False
    pinned_interval: int | None = None
    interval: int | None = None
    next_check_at: datetime | None = None
    paused_until: datetime | None = None
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    last_new_item_at: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    error_count: int = 0
    created_at: datetime | None = None
    account: str | None = None
    feed_min_interval: float | None = None  # what the feed last asked for (TTL, max-age)
    live: bool = False  # its posts arrive live (a joined Telegram channel): polled as a gap-fill


@dataclass(frozen=True, slots=True)
class SourceState:
    """What ingest needs to know of a source for one batch (read once, at its start)."""

    id: int
    name: str
    type: str
    language: str | None
    footer: str | None
    state: Mapping[str, Any]
    locator: str


@dataclass(frozen=True, slots=True)
class ResumeState:
    """What a batch changes on its source row, committed with its items (None: unchanged)."""

    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    state: Mapping[str, Any] | None = None
    remote_id: int | None = None
    access_hash: int | None = None
    locator: str | None = None
    last_new_item_at: datetime | None = None
    footer: str | None = None


# ---------------------------------------------------------------------- items


@dataclass(frozen=True, slots=True)
class StoredItem:
    """What a version decision needs to know of a stored item row."""

    id: int
    external_id: str
    content_hash: str
    version: int
    language: str | None
    published_at: datetime | None
    edited_at: datetime | None
    story_id: int | None
    views: int | None = None
    forwards: int | None = None


@dataclass(frozen=True, slots=True)
class ItemWrite:
    """One write to the items of a source, as ingest decided it.

    ``new``: insert the item (``id`` taken up front; ``story_id``, ``dedup_kind`` and ``minhash``
    from the story decision). ``version``: the stored row ``id`` takes ``value``'s content as
    version ``version`` (``keep_date``: the value has no good date, the stored one stays).
    ``counters``: only views / forwards changed (no new version). ``new`` and ``version`` also
    add an ``item_versions`` row and, when the value has one, the raw payload.
    """

    kind: Literal["new", "version", "counters"]
    id: int
    value: Item
    version: int = 1
    norm_text: str | None = None
    language: str | None = None
    keep_date: bool = False
    collector: str | None = None
    story_id: int | None = None
    dedup_kind: str | None = None
    dedup_reason: str | None = None
    minhash: bytes | None = None


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """A stored item as read back for a stage that works on stored history (backtest)."""

    id: int
    source: str
    external_id: str
    url: str | None
    title: str | None
    text: str
    language: str | None
    channel_username: str | None
    published_at: datetime | None


# ---------------------------------------------------------------------- stories


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """A stored exact key and the story that owns it."""

    value: str
    kind: str
    story_id: int
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class BandCandidate:
    """A stored item sharing an LSH band with a new one, with its signature."""

    band: str
    item_id: int
    story_id: int
    seen_at: datetime
    signature: bytes | None


@dataclass(frozen=True, slots=True)
class NewStory:
    """A story a batch starts: ``ref`` numbers it within the decision (ids come at write time)."""

    ref: int
    first_item_id: int
    first_source_id: int
    first_seen_at: datetime
    title: str | None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one new item goes: an existing story (``story_id``) or a new one (``new_ref``).

    ``how`` is what joined it (a key kind, ``near``, or ``new``), ``reason`` says it in words
    for a person (which key, what score)."""

    item_id: int
    source_id: int
    seen_at: datetime
    title: str | None
    how: str
    reason: str
    story_id: int | None = None
    new_ref: int | None = None
    keys: tuple[tuple[str, str], ...] = ()
    bands: tuple[str, ...] = ()
    signature: bytes | None = None
    renewed: tuple[str, ...] = ()  # text keys whose story ended: this item's story owns them now


@dataclass(frozen=True, slots=True)
class EventRow:
    """One stored item of the coverage level's index (``event_items``): its story, its sequence
    number (given in commit order) and its weighted event representation's bytes."""

    item_id: int
    story_id: int
    seq: int
    rep: bytes


@dataclass(frozen=True, slots=True)
class StoryDecision:
    """The stories of a batch's new items, for the store to write."""

    placements: tuple[Placement, ...] = ()
    new_stories: tuple[NewStory, ...] = ()


# ---------------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class Desk:
    id: int
    name: str
    timezone: str = "UTC"
    quiet_start: str | None = None
    quiet_end: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """An enabled route of an enabled watchlist, with its desk."""

    id: int
    watchlist_id: int
    desk: Desk
    mode: str = "realtime"
    throttle_count: int | None = None
    throttle_period: int | None = None
    digest_every: str | None = None
    digest_at: str | None = None
    max_age: int | None = None
    source_filter: tuple[str, ...] = ()
    language_filter: tuple[str, ...] = ()
    spread_threshold: int | None = None


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """A route's settings as an operator gives them, validated by :mod:`monitor.alerts.routes`."""

    mode: str = "realtime"
    throttle_count: int | None = None
    throttle_period: int | None = None
    digest_every: str | None = None
    digest_at: str | None = None
    max_age: int | None = 48 * 3600
    source_filter: tuple[str, ...] = ()
    language_filter: tuple[str, ...] = ()
    spread_threshold: int | None = None


@dataclass(frozen=True, slots=True)
class HitFacts:
    """A new hit with what routing looks at."""

    id: int
    term_id: int
    watchlist_id: int
    story_id: int | None
    item_id: int
    language: str | None  # the item's, else its source's
    source: str
    seen_at: datetime | None  # the item's published time, else its fetch time


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    """Everything routing decides on besides the hits, read in the hits' transaction."""

    routes: Mapping[int, tuple[Route, ...]]  # watchlist id -> its routes, by route id
    mutes: frozenset[tuple[str, int]] = frozenset()  # ("story" | "term", id)
    # route id -> real-time alerts within its throttle period
    recent: Mapping[int, int] = field(default_factory=dict)
    existing: Mapping[str, str] = field(default_factory=dict)  # alert key -> status
    source_counts: Mapping[int, int] = field(default_factory=dict)  # story id -> sources
    targets: Mapping[int, tuple[int, ...]] = field(default_factory=dict)  # desk -> enabled targets


@dataclass(frozen=True, slots=True)
class StoryAlert:
    """Content of a story (or update) alert: which hit, term and item it stands for."""

    term_id: int
    watchlist_id: int
    item_id: int
    source_count: int | None = None  # an update: the spread it reached


@dataclass(frozen=True, slots=True)
class DigestAlert:
    slot: datetime
    count: int


@dataclass(frozen=True, slots=True)
class NoticeAlert:
    """Our own words: a test, spike or operator alert."""

    title: str
    text: str
    watchlist: str | None = None
    count: int | None = None
    baseline: float | None = None


AlertBody = StoryAlert | DigestAlert | NoticeAlert


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert a stage decided on; the store inserts it unless its key exists (and then a
    delivery per target when it is ``pending``)."""

    key: str
    kind: str
    desk_id: int
    status: str
    due_at: datetime
    body: AlertBody
    targets: tuple[int, ...] = ()
    route_id: int | None = None
    story_id: int | None = None
    hit_id: int | None = None
    digest_id: int | None = None
    record: bool = False  # only a record for the desk's audit (a muted or too-old hit)


@dataclass(frozen=True, slots=True)
class HeldGroup:
    """Held alerts of one route and digest slot whose time has come."""

    route_id: int | None
    desk: Desk
    slot: datetime
    members: tuple[int, ...]
    targets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """A delivery target: an Apprise URL or the environment variable holding one."""

    id: int
    desk_id: int
    url: str | None
    url_env: str | None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """One story as an alert shows it, read at send time (source counts are current)."""

    alert_id: int
    title: str | None
    snippet: str | None
    text: str | None
    source: str | None
    permalink: str | None
    posted_at: datetime | None
    watchlist: str | None
    term: str | None
    first_source: str | None
    first_seen_at: datetime | None
    source_count: int = 1
    item_count: int = 1
    item_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoryMessage:
    """A story or update alert: its first hit's story."""

    alert_id: int
    kind: Literal["story", "update"]
    desk: str
    tz: str
    entry: StoryEntry


@dataclass(frozen=True, slots=True)
class DigestMessage:
    alert_id: int
    desk: str
    tz: str
    entries: tuple[StoryEntry, ...]
    kind: Literal["digest"] = "digest"


@dataclass(frozen=True, slots=True)
class NoticeMessage:
    """A test, spike or operator alert (or a story alert whose hit is gone): our own words."""

    alert_id: int
    kind: str
    desk: str
    tz: str
    title: str
    text: str | None = None
    watchlist: str | None = None


AlertMessage = StoryMessage | DigestMessage | NoticeMessage
