"""Sources: add, find, list, enable; the schedule and health state the pipeline records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, NotFound
from monitor.sources.base import SourceConfig
from monitor.store.models import SourceRow
from monitor.types import utcnow


def add_source(
    s: Session,
    *,
    type: str,
    locator: str,
    name: str,
    options: dict[str, Any] | None = None,
    account: str | None = None,
    language: str | None = None,
    pinned_interval: int | None = None,
    enabled: bool = True,
    unique_locator: bool = True,
) -> SourceRow:
    """Create a source, due at once. Names are unique, and so is (type, locator) unless
    ``unique_locator`` is off (several chats of one Telegram export share its path)."""
    if s.scalar(select(SourceRow.id).where(SourceRow.name == name)) is not None:
        raise AlreadyExists(f"a source named {name!r} already exists")
    clash = s.scalar(select(SourceRow).where(SourceRow.type == type, SourceRow.locator == locator)) if unique_locator else None
    if clash is not None:
        raise AlreadyExists(f"{type} source {locator!r} already exists as {clash.name!r}")
    src = SourceRow(
        name=name, type=type, locator=locator, options=dict(options or {}), account=account,
        language=language, pinned_interval=pinned_interval, enabled=enabled, next_check_at=utcnow(),
        state={},
    )
    s.add(src)
    s.flush()
    return src


def get_source(s: Session, name: str) -> SourceRow:
    src = s.scalar(select(SourceRow).where(SourceRow.name == name))
    if src is None:
        raise NotFound(f"no source named {name!r}")
    return src


def find_source(s: Session, *, type: str, locator: str) -> SourceRow | None:
    return s.scalar(select(SourceRow).where(SourceRow.type == type, SourceRow.locator == locator))


def remove_source(s: Session, name: str) -> None:
    s.delete(get_source(s, name))
    s.flush()


def set_enabled(s: Session, name: str, enabled: bool) -> SourceRow:
    """Enable (clears the error streak and makes it due now) or disable a source."""
    src = get_source(s, name)
    src.enabled = enabled
    if enabled:
        src.error_count = 0
        src.retired = False
        src.paused_until = None
        src.next_check_at = utcnow()
    return src


def due_sources(
    s: Session, *, now: datetime | None = None, types: Sequence[str] | None = None,
    names: Sequence[str] | None = None, everything: bool = False,
) -> Sequence[SourceRow]:
    """Sources to collect now, earliest due first (all enabled ones when ``everything``)."""
    now = now or utcnow()
    q = select(SourceRow).where(SourceRow.enabled.is_(True), SourceRow.retired.is_(False))
    if names:
        q = q.where(SourceRow.name.in_(names))
    elif not everything:
        q = q.where(or_(SourceRow.next_check_at.is_(None), SourceRow.next_check_at <= now))
        q = q.where(or_(SourceRow.paused_until.is_(None), SourceRow.paused_until <= now))
    if types:
        q = q.where(SourceRow.type.in_(types))
    return s.scalars(q.order_by(SourceRow.next_check_at.nulls_first(), SourceRow.id)).all()


def find_channel_source(s: Session, *, channel_id: int | None, name: str | None) -> SourceRow | None:
    """The source that collects a Telegram channel: by its stored id, else by its name."""
    if channel_id is not None:
        found = s.scalar(select(SourceRow).where(SourceRow.remote_id == channel_id).order_by(SourceRow.id).limit(1))
        if found is not None:
            return found
        for src in s.scalars(select(SourceRow).where(SourceRow.type == "telegram-export")):
            if str((src.options or {}).get("chat_id")) == str(channel_id):
                return src
    if name:
        return s.scalar(select(SourceRow).where(SourceRow.name == name))
    return None


def live_telegram_sources(s: Session) -> dict[str | None, list[SourceRow]]:
    """Enabled Telethon sources by account (None: the default account)."""
    out: dict[str | None, list[SourceRow]] = {}
    for row in s.scalars(select(SourceRow).where(SourceRow.type == "telegram", SourceRow.enabled.is_(True),
                                              SourceRow.retired.is_(False)).order_by(SourceRow.id)):
        out.setdefault(row.account, []).append(row)
    return out


def mark_account(s: Session, account: str | None, *, status: str, error: str) -> None:
    """Record an account-wide condition (e.g. logged out) on all its Telethon sources."""
    s.execute(update(SourceRow).where(SourceRow.type == "telegram",
                                   SourceRow.account.is_(None) if account is None else SourceRow.account == account)
              .values(last_status=status, last_error=error))


def to_config(src: SourceRow) -> SourceConfig:
    """The read-only snapshot a collector gets."""
    return SourceConfig(
        id=src.id, name=src.name, type=src.type, locator=src.locator, options=dict(src.options or {}),
        account=src.account, language=src.language, etag=src.etag, last_modified=src.last_modified,
        body_hash=src.body_hash, cursor=src.cursor, state=dict(src.state or {}),
        last_checked_at=src.last_checked_at,
    )


_EDITABLE = ("name", "locator", "language", "pinned_interval", "options", "account")


def update_source(s: Session, ref: str | int, **fields: Any) -> None:
    """Change a source's name, locator, language, pinned interval, options or account (the
    operator's edit; names and (type, locator) stay unique)."""
    src = get_source(s, ref) if isinstance(ref, str) else s.get(SourceRow, ref)
    if src is None:
        raise NotFound(f"no source {ref}")
    unknown = set(fields) - set(_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if fields.get("name", src.name) != src.name and s.scalar(
            select(SourceRow.id).where(SourceRow.name == fields["name"])) is not None:
        raise AlreadyExists(f"a source named {fields['name']!r} already exists")
    locator = fields.get("locator", src.locator)
    if locator != src.locator:
        clash = find_source(s, type=src.type, locator=locator)
        if clash is not None and clash.id != src.id:
            raise AlreadyExists(f"{src.type} source {locator!r} already exists as {clash.name!r}")
    for key, value in fields.items():
        setattr(src, key, value)
    s.flush()
