"""Telegram accounts and memberships: health, learned caps, stored sessions, which channel each
account joined, and the assignment of ``telegram`` sources to accounts (the planner decides in
:mod:`monitor.service.telegram_plan`; this module reads and writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from monitor.store.models import ItemRow, SourceRow, TelegramAccountRow, TelegramMemberRow
from monitor.types import utcnow

TYPE = "telegram"


def _name(account: str | None) -> str:
    return account or ""  # "" is the default account (None in sources.account)


def _column(account: str) -> str | None:
    return account or None


# ---------------------------------------------------------------- recheck window

def recent_posts(s: Session, source_id: int, since: datetime) -> list[tuple[str, datetime]]:
    """(external id, published at) of the source's posts published since ``since`` and not
    marked deleted, oldest first."""
    q = (select(ItemRow.external_id, ItemRow.published_at)
         .where(ItemRow.source_id == source_id, ItemRow.published_at >= since,
                ItemRow.deleted_at.is_(None))
         .order_by(ItemRow.published_at))
    return [(ext, published) for ext, published in s.execute(q)]


# ---------------------------------------------------------------- accounts

@dataclass(frozen=True, slots=True)
class AccountState:
    name: str
    status: str
    reason: str | None
    down_since: datetime | None
    channel_cap: int | None
    dialogs: int | None
    stats: dict[str, Any]


def _account(s: Session, name: str) -> TelegramAccountRow:
    row = s.get(TelegramAccountRow, name)
    if row is None:
        row = TelegramAccountRow(name=name, status="ok", stats={})
        s.add(row)
        s.flush()
    return row


def accounts(s: Session) -> dict[str, AccountState]:
    return {r.name: AccountState(r.name, r.status, r.reason, r.down_since, r.channel_cap,
                                 r.dialogs, dict(r.stats or {}))
            for r in s.scalars(select(TelegramAccountRow))}


def mark_down(s: Session, account: str | None, reason: str, *, now: datetime | None = None
              ) -> bool:
    """Record the account as down; True when it was not down already (one alert per outage)."""
    row = _account(s, _name(account))
    if row.status == "down":
        return False
    row.status, row.reason, row.down_since = "down", reason[:2000], now or utcnow()
    return True


def mark_up(s: Session, account: str | None) -> bool:
    """The account works again; True when it was down."""
    row = _account(s, _name(account))
    was = row.status == "down"
    row.status, row.reason, row.down_since = "ok", None, None
    return was


def write_stats(s: Session, account: str | None, stats: dict[str, Any], *,
                dialogs: int | None = None, synced: bool = False) -> None:
    row = _account(s, _name(account))
    row.stats = stats
    if dialogs is not None:
        row.dialogs = dialogs
    if synced:
        row.synced_at = utcnow()


def set_cap(s: Session, account: str | None, cap: int | None) -> None:
    """Telegram refused a channel past ``cap`` channels (CHANNELS_TOO_MUCH)."""
    _account(s, _name(account)).channel_cap = cap


def save_session(s: Session, account: str | None, blob: bytes) -> None:
    row = _account(s, _name(account))
    row.session, row.session_saved_at = blob, utcnow()


def load_session(s: Session, account: str | None) -> bytes | None:
    row = s.get(TelegramAccountRow, _name(account))
    return row.session if row is not None else None


# ---------------------------------------------------------------- memberships and assignment

@dataclass(frozen=True, slots=True)
class Channel:
    """A ``telegram`` source as the planner and the membership keeper see it."""

    source_id: int
    name: str
    account: str  # "" = the default account
    pinned: bool
    interval: int | None  # its adaptive interval: lower = busier
    channel_id: int | None
    resolved: bool  # channel id and access hash stored for its current account
    member: str | None  # joined | refused | left (for its current account), None: never tried
    refused_by: tuple[str, ...]


def channels(s: Session) -> list[Channel]:
    """Every enabled ``telegram`` source with its membership."""
    members = {m.source_id: m for m in s.scalars(select(TelegramMemberRow))}
    out = []
    for row in s.scalars(select(SourceRow).where(SourceRow.type == TYPE,
                                                 SourceRow.enabled.is_(True),
                                                 SourceRow.retired.is_(False))
                         .order_by(SourceRow.id)):
        state = row.state or {}
        m = members.get(row.id)
        current = m is not None and m.account == _name(row.account)
        out.append(Channel(row.id, row.name, _name(row.account), bool(row.account_pinned),
                           row.interval, state.get("channel_id"),
                           bool(state.get("channel_id") and state.get("access_hash") is not None),
                           m.status if current else None,
                           tuple(state.get("refused_by") or ())))
    return out


def assign(s: Session, moves: Iterable[tuple[int, str]]) -> int:
    """Move sources to accounts. The stored entity is reset (an access hash belongs to one
    account: the new account resolves the channel again) and its membership forgotten."""
    n = 0
    for source_id, account in moves:
        row = s.get(SourceRow, source_id)
        if row is None or _name(row.account) == account:
            continue
        state = dict(row.state or {})
        state.pop("access_hash", None)
        row.state, row.access_hash, row.account = state, None, _column(account)
        row.next_check_at = utcnow()
        if row.last_status == "account down":
            row.paused_until, row.last_status = None, "moved"
        s.execute(delete(TelegramMemberRow).where(TelegramMemberRow.source_id == source_id))
        n += 1
    return n


def set_member(s: Session, source_id: int, account: str | None, status: str,
               reason: str | None = None) -> None:
    row = s.get(TelegramMemberRow, source_id)
    if row is None:
        row = TelegramMemberRow(source_id=source_id, account=_name(account), status=status)
        s.add(row)
    row.account, row.status, row.reason, row.at = _name(account), status, reason, utcnow()
    if status == "refused":  # the planner moves it elsewhere and never back to this account
        src = s.get(SourceRow, source_id)
        if src is not None:
            state = dict(src.state or {})
            state["refused_by"] = sorted({*state.get("refused_by", []), _name(account)})
            src.state = state


def sync_members(s: Session, account: str | None, joined_ids: set[int]) -> tuple[int, int]:
    """Membership from the account's dialogs: its sources whose channel is among
    ``joined_ids`` (bare ids) are joined, the others that were are ``left``. Returns
    (joined, left)."""
    name = _name(account)
    mine = SourceRow.account.is_(None) if not name else SourceRow.account == name
    members = {m.source_id: m for m in s.scalars(
        select(TelegramMemberRow).where(TelegramMemberRow.account == name))}
    joined = left = 0
    for row in s.scalars(select(SourceRow).where(SourceRow.type == TYPE, mine)):
        channel_id = (row.state or {}).get("channel_id")
        m = members.get(row.id)
        if channel_id is not None and int(channel_id) in joined_ids:
            joined += 1
            if m is None or m.status != "joined":
                set_member(s, row.id, name, "joined")
        elif m is not None and m.status == "joined":
            set_member(s, row.id, name, "left", "not among the account's dialogs")
            left += 1
    return joined, left


def is_joined(s: Session, source_id: int) -> bool:
    """Whether the source's current account joined its channel (its posts arrive live)."""
    row = s.get(SourceRow, source_id)
    m = s.get(TelegramMemberRow, source_id)
    return bool(row is not None and m is not None and m.status == "joined"
                and m.account == _name(row.account))


def mark_sources(s: Session, account: str | None, *, status: str, error: str | None) -> int:
    """Show an account-wide condition on its enabled sources (not an error of theirs)."""
    name = _name(account)
    mine = SourceRow.account.is_(None) if not name else SourceRow.account == name
    return s.execute(update(SourceRow).where(SourceRow.type == TYPE, mine,
                                             SourceRow.enabled.is_(True))
                     .values(last_status=status, last_error=error)).rowcount or 0


def resume_sources(s: Session, account: str | None) -> int:
    """The account is back: its sources paused as "account down" are due now."""
    name = _name(account)
    mine = SourceRow.account.is_(None) if not name else SourceRow.account == name
    return s.execute(update(SourceRow).where(SourceRow.type == TYPE, mine,
                                             SourceRow.last_status == "account down")
                     .values(paused_until=None, next_check_at=utcnow(), last_status="resumed",
                             last_error=None)).rowcount or 0


def join_candidates(s: Session, account: str | None) -> list[tuple[int, int, int]]:
    """(source id, channel id, access hash) of the account's resolved channels it has not
    joined nor been refused, busiest first (they gain most from arriving live)."""
    name = _name(account)
    out = [(c.interval or 10 ** 9, c.source_id) for c in channels(s)
           if c.account == name and c.resolved and c.member not in ("joined", "refused")]
    rows = {r.id: r for r in s.scalars(select(SourceRow).where(
        SourceRow.id.in_([i for _, i in out])))} if out else {}
    return [(i, int(rows[i].state["channel_id"]), int(rows[i].state["access_hash"]))
            for _, i in sorted(out)]


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One line of ``monitor telegram accounts``."""

    name: str
    status: str
    reason: str | None
    down_since: datetime | None
    assigned: int
    joined: int
    cap: int
    dialogs: int | None
    stats: dict[str, Any]


def overview(s: Session, names: Sequence[str], max_channels: int) -> list[AccountRecord]:
    """Each account named in the settings (and any other seen in the database)."""
    known = accounts(s)
    assigned = dict(s.execute(select(func.coalesce(SourceRow.account, ""), func.count())
                              .where(SourceRow.type == TYPE, SourceRow.enabled.is_(True))
                              .group_by(func.coalesce(SourceRow.account, ""))).all())
    joined = dict(s.execute(select(TelegramMemberRow.account, func.count())
                            .where(TelegramMemberRow.status == "joined")
                            .group_by(TelegramMemberRow.account)).all())
    out = []
    for name in dict.fromkeys([*names, *known]):
        a = known.get(name)
        cap = min(max_channels, a.channel_cap) if a and a.channel_cap else max_channels
        out.append(AccountRecord(name, a.status if a else "unknown", a.reason if a else None,
                                 a.down_since if a else None, int(assigned.get(name, 0)),
                                 int(joined.get(name, 0)), cap, a.dialogs if a else None,
                                 a.stats if a else {}))
    return out
