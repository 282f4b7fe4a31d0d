"""Watchlists and hits: watch terms (+ versions), alias sets, hits, reviews and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from monitor.store.models.base import Base, _created, _pk
from monitor.types import utcnow


# ---------------------------------------------------------------- watchlists and hits


class WatchlistRow(Base):
    __tablename__ = "watchlists"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    desk_id: Mapped[int | None] = mapped_column(ForeignKey("desks.id", ondelete="SET NULL"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(Text)
    atom_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    terms: Mapped[list[WatchTermRow]] = relationship(
        back_populates="watchlist", cascade="all, delete-orphan", order_by="WatchTermRow.id"
    )


class WatchTermRow(Base):
    __tablename__ = "watch_terms"
    id: Mapped[int] = _pk()
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    watchlist: Mapped[WatchlistRow] = relationship(back_populates="terms")
    __table_args__ = (Index("ix_watch_terms_watchlist_id", "watchlist_id"),)


class WatchTermVersionRow(Base):
    __tablename__ = "watch_term_versions"
    id: Mapped[int] = _pk()
    term_id: Mapped[int] = mapped_column(ForeignKey("watch_terms.id", ondelete="CASCADE"))
    version: Mapped[int]
    query: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    __table_args__ = (UniqueConstraint("term_id", "version"),)


class AliasSetRow(Base):
    __tablename__ = "alias_sets"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    members: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HitRow(Base):
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


class ReviewRow(Base):
    """Every review change is a row: the audit trail of verdicts, notes and assignments."""

    __tablename__ = "reviews"
    id: Mapped[int] = _pk()
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verdict: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = _pk()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
