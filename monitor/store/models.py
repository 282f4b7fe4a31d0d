"""The schema, end to end: sources → items (+ versions, payloads) → hits → stories → alerts.

Every table is here so later features add columns rather than redesign. Uniqueness that the
pipeline relies on (one item per source and external id, one hit per item and term, one alert per
desk and story, one delivery per alert and target) is a database constraint, never a set in memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from monitor.store.types import BigID, JSONType, UTCDateTime
from monitor.types import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def _pk() -> Mapped[int]:
    return mapped_column(BigID, primary_key=True, autoincrement=True)


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow)


# ---------------------------------------------------------------- people and desks


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # viewer | operator | admin
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = _created()
    last_login_at: Mapped[datetime | None]
    __table_args__ = (CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role"),)


class Desk(Base):
    __tablename__ = "desks"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "23:00"
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "07:00"
    is_operators: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = _created()
    targets: Mapped[list[DeskTarget]] = relationship(
        back_populates="desk", cascade="all, delete-orphan", order_by="DeskTarget.id"
    )


class DeskMember(Base):
    __tablename__ = "desk_members"
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class DeskTarget(Base):
    """A delivery target: an Apprise URL (a secret) or a reference to an environment variable."""

    __tablename__ = "desk_targets"
    id: Mapped[int] = _pk()
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"), index=True)
    url: Mapped[str | None] = mapped_column(Text)  # secret value; never rendered in full
    url_env: Mapped[str | None] = mapped_column(String(200))  # name of an env var holding it
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = _created()
    desk: Mapped[Desk] = relationship(back_populates="targets")
    __table_args__ = (
        CheckConstraint("url IS NOT NULL OR url_env IS NOT NULL", name="url_or_env"),
    )


# ---------------------------------------------------------------- sources and items


class Source(Base):
    __tablename__ = "sources"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(30), index=True)
    locator: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    account: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(default=True)
    retired: Mapped[bool] = mapped_column(default=False)  # HTTP 410 and the like
    # schedule
    pinned_interval: Mapped[int | None]  # seconds, set by an operator
    interval: Mapped[int | None]  # seconds, adaptive
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    paused_until: Mapped[datetime | None]  # FloodWait / Retry-After
    # health
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(120))
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(default=0)
    # resume state
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    remote_id: Mapped[int | None] = mapped_column(BigInteger)  # Telegram channel id
    access_hash: Mapped[int | None] = mapped_column(BigInteger)
    footer: Mapped[str | None] = mapped_column(Text)  # recurring signature footer
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Story(Base):
    """A cluster of items that carry the same news, with its first-seen item."""

    __tablename__ = "stories"
    id: Mapped[int] = _pk()
    # A plain id, not a foreign key: stories and items reference each other, and the item side
    # (items.story_id) is the one the database enforces.
    first_item_id: Mapped[int | None] = mapped_column(BigInteger)
    first_source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]
    item_count: Mapped[int] = mapped_column(default=1)
    source_count: Mapped[int] = mapped_column(default=1)
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = _pk()
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    dedup_kind: Mapped[str | None] = mapped_column(String(20))  # how it joined its story
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    norm_text: Mapped[str | None] = mapped_column(Text)  # matching form, for backtest prefilters
    author: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10))
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    published_raw: Mapped[str | None] = mapped_column(Text)
    date_flag: Mapped[str | None] = mapped_column(String(20))
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    collector: Mapped[str | None] = mapped_column(String(30))
    # Telegram provenance
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_username: Mapped[str | None] = mapped_column(String(100))
    views: Mapped[int | None] = mapped_column(BigInteger)
    forwards: Mapped[int | None] = mapped_column(BigInteger)
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger)
    grouped_id: Mapped[int | None] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(30))
    fwd_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    fwd_post_id: Mapped[int | None] = mapped_column(BigInteger)
    fwd_date: Mapped[datetime | None]
    fwd_from_name: Mapped[str | None] = mapped_column(Text)
    fwd_url: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index("ix_items_source_published", "source_id", "published_at"),
    )


class ItemVersion(Base):
    """Every version of an item's content; version 1 is what was first seen."""

    __tablename__ = "item_versions"
    id: Mapped[int] = _pk()
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    version: Mapped[int]
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    edited_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("item_id", "version"),)


class ItemPayload(Base):
    """The raw payload an item version came from, compressed, with its hash: evidence."""

    __tablename__ = "item_payloads"
    id: Mapped[int] = _pk()
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    version: Mapped[int]
    format: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed
    created_at: Mapped[datetime] = _created()
    __table_args__ = (UniqueConstraint("item_id", "version"),)


class ItemTombstone(Base):
    """An item retention removed: a feed still listing it must not bring it back as new."""

    __tablename__ = "item_tombstones"
    id: Mapped[int] = _pk()
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    pruned_at: Mapped[datetime] = mapped_column(index=True)
    __table_args__ = (UniqueConstraint("source_id", "external_id"),)


class DedupKey(Base):
    """Exact dedup keys: the first item holding a key owns it; later items join its story."""

    __tablename__ = "dedup_keys"
    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(String(20))  # tg | forward | url | text
    value: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    seen_at: Mapped[datetime]
    # value first: stories are found by key value alone (a forward meets its original across kinds)
    __table_args__ = (UniqueConstraint("value", "kind"),)


class LshBand(Base):
    """MinHash LSH band keys over a sliding window, for near-duplicate candidates."""

    __tablename__ = "lsh_bands"
    id: Mapped[int] = _pk()
    band_key: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    # published (or fetched) time; indexed only behind band_key, so candidate lookups always use
    # the composite index (a lone seen_at index lured the planner into scanning the window)
    seen_at: Mapped[datetime]
    __table_args__ = (Index("ix_lsh_bands_key_seen", "band_key", "seen_at"),)


# ---------------------------------------------------------------- watchlists and hits


class Watchlist(Base):
    __tablename__ = "watchlists"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    desk_id: Mapped[int | None] = mapped_column(ForeignKey("desks.id", ondelete="SET NULL"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(Text)
    atom_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    terms: Mapped[list[WatchTerm]] = relationship(
        back_populates="watchlist", cascade="all, delete-orphan", order_by="WatchTerm.id"
    )


class WatchTerm(Base):
    __tablename__ = "watch_terms"
    id: Mapped[int] = _pk()
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    watchlist: Mapped[Watchlist] = relationship(back_populates="terms")
    __table_args__ = (Index("ix_watch_terms_watchlist_id", "watchlist_id"),)


class WatchTermVersion(Base):
    __tablename__ = "watch_term_versions"
    id: Mapped[int] = _pk()
    term_id: Mapped[int] = mapped_column(ForeignKey("watch_terms.id", ondelete="CASCADE"))
    version: Mapped[int]
    query: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    __table_args__ = (UniqueConstraint("term_id", "version"),)


class AliasSet(Base):
    __tablename__ = "alias_sets"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    members: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Hit(Base):
    """One item matched one term: at most one hit per (item, term)."""

    __tablename__ = "hits"
    id: Mapped[int] = _pk()
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    term_id: Mapped[int] = mapped_column(ForeignKey("watch_terms.id", ondelete="CASCADE"), index=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))
    term_version: Mapped[int]
    item_version: Mapped[int]
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    field: Mapped[str] = mapped_column(String(20))
    spans: Mapped[list[Any]] = mapped_column(default=list)
    snippet: Mapped[str] = mapped_column(Text, default="")
    snippet_html: Mapped[str] = mapped_column(Text, default="")
    matched_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the exact field text matched
    review_state: Mapped[str] = mapped_column(String(20), default="new")  # new|relevant|not_relevant
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    __table_args__ = (
        UniqueConstraint("item_id", "term_id"),
        Index("ix_hits_watchlist_created", "watchlist_id", "created_at"),
        # keyset pagination of the web feed and per-term precision (migration 0002)
        Index("ix_hits_watchlist_id_id", "watchlist_id", "id"),
        Index("ix_hits_review_state_id", "review_state", "id"),
        Index("ix_hits_term_id_review_state", "term_id", "review_state"),
    )


class Review(Base):
    """Every review change is a row: the audit trail of verdicts, notes and assignments."""

    __tablename__ = "reviews"
    id: Mapped[int] = _pk()
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verdict: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = _pk()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# ---------------------------------------------------------------- alerting


class Route(Base):
    """Sends a watchlist's hits to a desk in a mode."""

    __tablename__ = "routes"
    id: Mapped[int] = _pk()
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(20), default="realtime")  # realtime | digest
    throttle_count: Mapped[int | None]
    throttle_period: Mapped[int | None]  # seconds
    digest_every: Mapped[str | None] = mapped_column(String(10))  # hourly | daily
    digest_at: Mapped[str | None] = mapped_column(String(5))  # HH:MM in the desk's time zone
    max_age: Mapped[int | None] = mapped_column(default=48 * 3600)  # seconds; None = no limit
    source_filter: Mapped[list[Any]] = mapped_column(default=list)  # source names; empty = all
    language_filter: Mapped[list[Any]] = mapped_column(default=list)
    spread_threshold: Mapped[int | None]  # one update message when a story reaches N sources
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = _created()
    __table_args__ = (
        UniqueConstraint("watchlist_id", "desk_id"),
        CheckConstraint("mode IN ('realtime', 'digest')", name="mode"),
    )


class Alert(Base):
    """The outbox: one alert per (desk, story) — or per spike / operator event — by unique key."""

    __tablename__ = "alerts"
    id: Mapped[int] = _pk()
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # story | update | digest | spike | operator | test
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id", ondelete="SET NULL"))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    hit_id: Mapped[int | None] = mapped_column(ForeignKey("hits.id", ondelete="SET NULL"))
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # pending | held (in a digest) | sent | failed | muted | skipped
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()
    sent_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_alerts_status_due", "status", "due_at"),
        Index("ix_alerts_desk_id", "desk_id"),
        Index("ix_alerts_route_created", "route_id", "created_at"),  # throttle windows
        Index("ix_alerts_digest_id", "digest_id"),  # settling a digest's members
    )


class Delivery(Base):
    """State of one alert at one target."""

    __tablename__ = "deliveries"
    id: Mapped[int] = _pk()
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("desk_targets.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("alert_id", "target_id"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_target_status", "target_id", "status", "alert_id"),  # claim in order
    )


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = _pk()
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))  # sent | transient | permanent
    error: Mapped[str | None] = mapped_column(Text)


class Mute(Base):
    __tablename__ = "mutes"
    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(String(10))  # story | term
    ref_id: Mapped[int]
    until: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    __table_args__ = (Index("ix_mutes_kind_ref", "kind", "ref_id"),)


class KeyValue(Base):
    """Small service state (e.g. last spike check, matcher generation)."""

    __tablename__ = "service_state"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


__all__ = [name for name in dir() if name[:1].isupper()]
