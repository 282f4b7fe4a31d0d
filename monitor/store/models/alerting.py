"""Alerting: routes, the alert outbox, deliveries and their attempts, mutes, service state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base, _created, _pk
from monitor.types import utcnow


# ---------------------------------------------------------------- alerting


class RouteRow(Base):
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
    # seconds; None = no limit. No column default: the ORM would put it in place of an explicit
    # None on insert (a new route asked for "no limit" would get 48 h); add_route sets it.
    max_age: Mapped[int | None]
    source_filter: Mapped[list[Any]] = mapped_column(default=list)  # source names; empty = all
    language_filter: Mapped[list[Any]] = mapped_column(default=list)
    spread_threshold: Mapped[int | None]  # one update message when a story reaches N sources
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = _created()
    __table_args__ = (
        UniqueConstraint("watchlist_id", "desk_id"),
        CheckConstraint("mode IN ('realtime', 'digest')", name="mode"),
    )


class AlertRow(Base):
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


class DeliveryRow(Base):
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


class DeliveryAttemptRow(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = _pk()
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))  # sent | transient | permanent
    error: Mapped[str | None] = mapped_column(Text)


class MuteRow(Base):
    __tablename__ = "mutes"
    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(String(10))  # story | term
    ref_id: Mapped[int]
    until: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    __table_args__ = (Index("ix_mutes_kind_ref", "kind", "ref_id"),)
