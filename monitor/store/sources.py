"""Sources: add, find, list, enable; the schedule and health state the pipeline records."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, NotFound
from monitor.store.models import SourceRow
from monitor.store.values import ResumeState, SourceHealth, SourceState
from monitor.types import SourceConfig, utcnow


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
    clash = (s.scalar(select(SourceRow).where(SourceRow.type == type,
                                              SourceRow.locator == locator))
             if unique_locator else None)
    if clash is not None:
        raise AlreadyExists(f"{type} source {locator!r} already exists as {clash.name!r}")
    src = SourceRow(
        name=name, type=type, locator=locator, options=dict(options or {}), account=account,
        account_pinned=account is not None,
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
) -> list[SourceConfig]:
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
    order = (SourceRow.next_check_at.nulls_first(), SourceRow.id)
    return [to_config(row) for row in s.scalars(q.order_by(*order))]


def source_config(s: Session, source_id: int) -> SourceConfig | None:
    row = s.get(SourceRow, source_id)
    return to_config(row) if row is not None else None


def source_state(s: Session, source_id: int) -> SourceState | None:
    """What ingest needs of a source for one batch."""
    row = s.get(SourceRow, source_id)
    if row is None:
        return None
    return SourceState(id=row.id, name=row.name, type=row.type, language=row.language,
                       footer=row.footer, state=dict(row.state or {}), locator=row.locator)


def write_resume_state(s: Session, source_id: int, resume: ResumeState) -> None:
    """Store what a batch brought (cursor, validators, state, ...): only the fields that are set."""
    values = {name: getattr(resume, name) for name in ResumeState.__slots__
              if getattr(resume, name) is not None}
    if values:
        s.execute(update(SourceRow).where(SourceRow.id == source_id).values(**values))


_HEALTH = ("enabled", "retired", "pinned_interval", "interval", "next_check_at", "paused_until",
           "last_checked_at", "last_success_at", "last_new_item_at", "last_status", "last_error",
           "error_count")


def _health(row: SourceRow) -> SourceHealth:
    return SourceHealth(id=row.id, name=row.name, type=row.type, created_at=row.created_at,
                        account=row.account,
                        feed_min_interval=(row.state or {}).get("min_interval"),
                        **{name: getattr(row, name) for name in _HEALTH})


def health(s: Session, source_id: int) -> SourceHealth | None:
    """A source's schedule and health (:func:`monitor.schedule.next_state` computes the next)."""
    row = s.get(SourceRow, source_id)
    if row is None:
        return None
    health = _health(row)
    if row.type == "telegram":
        from monitor.store.telegram import is_joined

        health = replace(health, live=is_joined(s, source_id))
    return health


def write_health(s: Session, state: SourceHealth) -> None:
    """Store a source's new schedule and health."""
    s.execute(update(SourceRow).where(SourceRow.id == state.id)
              .values(**{name: getattr(state, name) for name in _HEALTH}))


def healths_and_states(s: Session, source_ids: Sequence[int]
                       ) -> dict[int, tuple[SourceHealth, SourceState]]:
    """:func:`health` and :func:`source_state` of many sources, read in one query (per 500)."""
    out: dict[int, tuple[SourceHealth, SourceState]] = {}
    ids = list(source_ids)
    for i in range(0, len(ids), 500):
        for row in s.scalars(select(SourceRow).where(SourceRow.id.in_(ids[i:i + 500]))):
            health_ = _health(row)
            if row.type == "telegram":
                from monitor.store.telegram import is_joined

                health_ = replace(health_, live=is_joined(s, row.id))
            out[row.id] = (health_, SourceState(
                id=row.id, name=row.name, type=row.type, language=row.language, footer=row.footer,
                state=dict(row.state or {}), locator=row.locator))
    return out


def write_outcomes(s: Session, states: Sequence[SourceHealth],
                   resumes: dict[int, ResumeState] | None = None) -> None:
    """Store many sources' new schedule and health (and what a batch with no items brought:
    validators, state) in one executemany per shape of row, not a statement per source."""
    resumes = resumes or {}
    rows: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for state in states:
        values = {name: getattr(state, name) for name in _HEALTH}
        resume = resumes.get(state.id)
        if resume is not None:
            values.update({name: getattr(resume, name) for name in ResumeState.__slots__
                           if getattr(resume, name) is not None})
        values["id"] = state.id
        rows.setdefault(tuple(sorted(values)), []).append(values)
    for group in rows.values():
        s.execute(update(SourceRow), group)  # ORM bulk UPDATE by primary key: one executemany


def watched_health(s: Session, *, types: Sequence[str] | None = None) -> list[SourceHealth]:
    """Health of the sources an operator expects to be collected (enabled, not retired)."""
    q = select(SourceRow).where(SourceRow.enabled.is_(True), SourceRow.retired.is_(False))
    if types is not None:
        q = q.where(SourceRow.type.in_(types))
    return [_health(row) for row in s.scalars(q.order_by(SourceRow.name))]


def find_channel_source(s: Session, *, channel_id: int | None, name: str | None,
                        export_type: str) -> SourceConfig | None:
    """The source that collects a Telegram channel: by its stored id (or, for sources of
    ``export_type``, the chat id in their options), else by its name."""
    if channel_id is not None:
        found = s.scalar(select(SourceRow).where(SourceRow.remote_id == channel_id)
                         .order_by(SourceRow.id).limit(1))
        if found is not None:
            return to_config(found)
        for src in s.scalars(select(SourceRow).where(SourceRow.type == export_type)):
            if str((src.options or {}).get("chat_id")) == str(channel_id):
                return to_config(src)
    if name:
        found = s.scalar(select(SourceRow).where(SourceRow.name == name))
        return to_config(found) if found is not None else None
    return None


def live_sources(s: Session, type: str) -> dict[str | None, list[SourceConfig]]:
    """Enabled sources of a type by account (None: the default account)."""
    out: dict[str | None, list[SourceConfig]] = {}
    for row in s.scalars(select(SourceRow).where(
            SourceRow.type == type, SourceRow.enabled.is_(True),
            SourceRow.retired.is_(False)).order_by(SourceRow.id)):
        out.setdefault(row.account, []).append(to_config(row))
    return out


def mark_account(s: Session, type: str, account: str | None, *, status: str, error: str) -> None:
    """Record an account-wide condition (e.g. logged out) on all its sources of a type."""
    mine = SourceRow.account.is_(None) if account is None else SourceRow.account == account
    s.execute(update(SourceRow).where(SourceRow.type == type, mine)
              .values(last_status=status, last_error=error))


def to_config(src: SourceRow) -> SourceConfig:
    """The read-only snapshot a collector gets."""
    return SourceConfig(
        id=src.id, name=src.name, type=src.type, locator=src.locator,
        options=dict(src.options or {}),
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
    moved = locator != src.locator
    rebound = "account" in fields and fields["account"] != src.account
    for key, value in fields.items():
        setattr(src, key, value)
    if "account" in fields:
        src.account_pinned = fields["account"] is not None
    if (moved or rebound) and src.type in ("telegram", "telegram-web"):
        _reset_entity(s, src, other_channel=moved)
    s.flush()


def _reset_entity(s: Session, src: SourceRow, *, other_channel: bool) -> None:
    """A new locator names another channel (its id, access hash, names and cursor go); a new
    account must resolve it again (an access hash belongs to one account)."""
    from monitor.store.models import TelegramMemberRow

    state = dict(src.state or {})
    if other_channel:
        for key in ("channel_id", "username", "title", "former_usernames", "former_titles",
                    "recheck", "refused_by"):
            state.pop(key, None)
        src.remote_id, src.cursor = None, None
    state.pop("access_hash", None)
    src.state, src.access_hash = state, None
    s.query(TelegramMemberRow).filter(TelegramMemberRow.source_id == src.id).delete()
