"""Mutes: a story or a watch term pages nobody until a time (hits are still stored).

Routing reads the active mutes (:mod:`monitor.store.alerts`); this module is the operator's side:
add one, list them, end one early.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from monitor.errors import InvalidInput, NotFound
from monitor.store.models import MuteRow, StoryRow, WatchTermRow
from monitor.store.records import MuteRecord

KINDS = ("story", "term")


def _label(s: Session, kind: str, ref_id: int) -> str | None:
    if kind == "story":
        return s.scalar(select(StoryRow.title).where(StoryRow.id == ref_id))
    return s.scalar(select(WatchTermRow.query).where(WatchTermRow.id == ref_id))


def _check(s: Session, kind: str, ref_id: int) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"mute kind {kind!r}: expected story or term")
    model = StoryRow if kind == "story" else WatchTermRow
    if s.get(model, ref_id) is None:
        raise NotFound(f"no {'story' if kind == 'story' else 'watch term'} with id {ref_id}")


def add_mute(
    s: Session, kind: str, ref_id: int, until: datetime, *, user_id: int | None = None
) -> MuteRecord:
    """Mute a story or a term until ``until`` (an earlier mute of it is replaced)."""
    _check(s, kind, ref_id)
    s.execute(delete(MuteRow).where(MuteRow.kind == kind, MuteRow.ref_id == ref_id))
    mute = MuteRow(kind=kind, ref_id=ref_id, until=until, created_by=user_id)
    s.add(mute)
    s.flush()
    return MuteRecord(mute.id, kind, ref_id, until, mute.created_at, _label(s, kind, ref_id))


def list_mutes(s: Session, *, now: datetime, include_expired: bool = False) -> list[MuteRecord]:
    """Mutes in force (all when ``include_expired``), ending soonest first."""
    q = select(MuteRow).order_by(MuteRow.until, MuteRow.id)
    if not include_expired:
        q = q.where(MuteRow.until > now)
    return [
        MuteRecord(m.id, m.kind, m.ref_id, m.until, m.created_at, _label(s, m.kind, m.ref_id))
        for m in s.scalars(q)
    ]


def remove_mute(s: Session, kind: str, ref_id: int, *, now: datetime) -> int:
    """End the mutes in force on a story or a term; how many there were (NotFound when none)."""
    _check(s, kind, ref_id)
    n = (
        s.execute(
            delete(MuteRow).where(
                MuteRow.kind == kind, MuteRow.ref_id == ref_id, MuteRow.until > now
            )
        ).rowcount
        or 0
    )
    if not n:
        raise NotFound(f"{kind} {ref_id} is not muted")
    return n
