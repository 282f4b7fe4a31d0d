"""People and desks: users, desks, their members and delivery targets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from monitor.store.models.base import Base, _created, _pk


# ---------------------------------------------------------------- people and desks


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # viewer | operator | admin
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = _created()
    last_login_at: Mapped[datetime | None]
    __table_args__ = (CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role"),)


class DeskRow(Base):
    __tablename__ = "desks"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "23:00"
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "07:00"
    is_operators: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = _created()
    targets: Mapped[list[DeskTargetRow]] = relationship(
        back_populates="desk", cascade="all, delete-orphan", order_by="DeskTargetRow.id"
    )


class DeskMemberRow(Base):
    __tablename__ = "desk_members"
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)


class DeskTargetRow(Base):
    """A delivery target: an Apprise URL (a secret) or a reference to an environment variable."""

    __tablename__ = "desk_targets"
    id: Mapped[int] = _pk()
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"), index=True)
    url: Mapped[str | None] = mapped_column(Text)  # secret value; never rendered in full
    url_env: Mapped[str | None] = mapped_column(String(200))  # name of an env var holding it
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = _created()
    desk: Mapped[DeskRow] = relationship(back_populates="targets")
    __table_args__ = (
        CheckConstraint("url IS NOT NULL OR url_env IS NOT NULL", name="url_or_env"),
    )


class WebSessionRow(Base):
    """A logged-in web session: the cookie holds the token, the database its SHA-256 only.

    Logout deletes the row; a password or role change, disabling or removing the user deletes all
    of the user's rows, so every cookie issued before is worthless at its next request."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailureRow(Base):
    """One failed login, under each limiter key it counts against (shared by every process)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = _pk()
    key: Mapped[str] = mapped_column(String(400), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
