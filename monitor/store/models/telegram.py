"""Telegram accounts as the unit of capacity: each account's health, learned channel cap, stored
session, and which channel it joined (one membership row per ``telegram`` source)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base
from monitor.types import utcnow


class TelegramAccountRow(Base):
    """One Telegram account (``""``: the default account) as the service last saw it.

    ``status`` is ``ok`` or ``down`` (logged out, revoked, banned: ``reason`` says which, since
    ``down_since``); ``channel_cap`` is the number of channels at which Telegram answered
    CHANNELS_TOO_MUCH (None: not reached); ``stats`` holds the budget use and FloodWait seconds
    of the last hour; ``session`` the session (SQLite file bytes, with its entity cache and update
    state) kept so that the next node owning the account resumes it."""

    __tablename__ = "telegram_accounts"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    reason: Mapped[str | None] = mapped_column(Text)
    down_since: Mapped[datetime | None]
    channel_cap: Mapped[int | None]
    dialogs: Mapped[int | None]  # channels the account is in (its dialogs), at the last sync
    synced_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    session: Mapped[bytes | None] = mapped_column(LargeBinary)
    session_saved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TelegramMemberRow(Base):
    """Whether the account collecting a ``telegram`` source joined its channel.

    ``status``: ``joined`` (live updates flow), ``refused`` (the account cannot join it:
    CHANNELS_TOO_MUCH, private; ``reason``), ``left`` (no longer in its dialogs)."""

    __tablename__ = "telegram_members"
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"),
                                           primary_key=True)
    account: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
