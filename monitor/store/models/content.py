"""Sources and what they bring: items (+ versions, payloads, tombstones), stories and the dedup
keys and LSH bands that fold copies into them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base, _created, _pk
from monitor.types import utcnow


# ---------------------------------------------------------------- sources and items


class SourceRow(Base):
    __tablename__ = "sources"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(30), index=True)
    locator: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    account: Mapped[str | None] = mapped_column(String(100))
    # the operator chose the account (else the Telegram planner assigns and moves it)
    account_pinned: Mapped[bool] = mapped_column(default=False)
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


class StoryRow(Base):
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
    # a desk merged this story into another (a plain id, like first_item_id): its items, keys
    # and hits moved there
    merged_into: Mapped[int | None] = mapped_column(BigInteger)


class ItemRow(Base):
    __tablename__ = "items"
    id: Mapped[int] = _pk()
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    dedup_kind: Mapped[str | None] = mapped_column(String(20))  # how it joined its story
    dedup_reason: Mapped[str | None] = mapped_column(Text)  # why, in words (coverage, desk)
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
    fwd_username: Mapped[str | None] = mapped_column(String(100))
    fwd_title: Mapped[str | None] = mapped_column(Text)
    fwd_signature: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index("ix_items_source_published", "source_id", "published_at"),
    )


class ItemVersionRow(Base):
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


class ItemPayloadRow(Base):
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


class ItemTombstoneRow(Base):
    """An item retention removed: a feed still listing it must not bring it back as new."""

    __tablename__ = "item_tombstones"
    id: Mapped[int] = _pk()
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    pruned_at: Mapped[datetime] = mapped_column(index=True)
    __table_args__ = (UniqueConstraint("source_id", "external_id"),)


class DedupKeyRow(Base):
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


class LshBandRow(Base):
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


class EventItemRow(Base):
    """An item's event representation (:class:`monitor.dedup.eventindex.Weighted` bytes) and its
    story, for the coverage level's in-memory index: rebuilt from the window's rows at start, kept
    up to date from rows with a larger ``seq`` (given under the coverage lock, so in commit
    order). A desk correction rewrites an item's row with a new ``seq``."""

    __tablename__ = "event_items"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    rep: Mapped[bytes] = mapped_column(LargeBinary)
