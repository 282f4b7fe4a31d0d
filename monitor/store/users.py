"""Users, roles and desk membership; review verdicts and audited operator actions.

Passwords are argon2id hashes (argon2-cffi's defaults, rehashed on login when the parameters
change). Roles are ordered: a viewer reads hits and reviews them, an operator also edits watchlists,
sources and desks, an admin also manages users. Viewers see only the desks they belong to.

Every review change (verdict, note, assignment) is a ``reviews`` row — the audit trail of who
decided what and when — and updates ``hits.review_state`` / ``hits.assignee_id``. Other operator
changes made through the web are recorded as ``audit_events``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound
from monitor.store.desks import desk_row
from monitor.store.models import AuditEventRow, DeskMemberRow, DeskRow, HitRow, ReviewRow, UserRow
from monitor.store.records import UserRecord, freeze
from monitor.store.sessions import end_user_sessions
from monitor.types import utcnow

ROLES = ("viewer", "operator", "admin")
VERDICTS = ("new", "relevant", "not_relevant")
_hasher = PasswordHasher()  # argon2id


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verifying against a dummy hash for unknown names keeps the login time the same either way.

    Computed on the first login attempt, not at import: hashing costs ~0.25 s, which every
    command would otherwise pay."""
    return _hasher.hash("not a password")


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` includes the rights of ``needed`` (viewer < operator < admin)."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_password_strength(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput("a password needs at least 8 characters")
    return password


def _record(s: Session, user: UserRow) -> UserRecord:
    return freeze(UserRecord, user, desks=tuple(desk_names_of(s, user.id)))


def _row(s: Session, ref: Any) -> UserRow:
    if isinstance(ref, str):
        user = s.scalar(select(UserRow).where(UserRow.name == ref))
        if user is None:
            raise NotFound(f"no user named {ref!r}")
        return user
    user = s.get(UserRow, ref if isinstance(ref, int) else ref.id)
    if user is None:
        raise NotFound(f"no user with id {ref if isinstance(ref, int) else ref.id}")
    return user


def add_user(s: Session, name: str, *, role: str, password: str) -> UserRecord:
    """Create a user with an argon2id password hash."""
    name = name.strip()
    if not name:
        raise InvalidInput("a user needs a name")
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: expected one of {', '.join(ROLES)}")
    check_password_strength(password)
    if s.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise AlreadyExists(f"a user named {name!r} already exists")
    user = UserRow(name=name, role=role, password_hash=_hasher.hash(password))
    s.add(user)
    s.flush()
    return _record(s, user)


def get_user(s: Session, ref: Any) -> UserRecord:
    """A user by name or id; NotFound otherwise."""
    return _record(s, _row(s, ref))


def active_user(s: Session, user_id: int) -> UserRecord | None:
    """The enabled user with this id, or None (a session of a removed or disabled user ends)."""
    user = s.get(UserRow, user_id)
    return None if user is None or user.disabled else _record(s, user)


def list_users(s: Session) -> list[UserRecord]:
    return [_record(s, u) for u in s.scalars(select(UserRow).order_by(UserRow.name))]


def user_count(s: Session) -> int:
    """How many users exist (the login page of an instance with none says how to add one)."""
    return s.scalar(select(func.count(UserRow.id))) or 0


def user_names(s: Session) -> dict[int, str]:
    return {uid: name for uid, name in s.execute(select(UserRow.id, UserRow.name))}


def remove_user(s: Session, ref: Any) -> None:
    user = _row(s, ref)
    end_user_sessions(s, user.id)  # the foreign key cascades too; SQLite may not enforce it
    s.delete(user)
    s.flush()


def set_password(s: Session, ref: Any, password: str) -> UserRecord:
    """Replace a user's password (the lifecycle's reset); every session of the user ends."""
    user = _row(s, ref)
    user.password_hash = _hasher.hash(check_password_strength(password))
    end_user_sessions(s, user.id)
    s.flush()
    return _record(s, user)


def set_role(s: Session, ref: Any, role: str) -> UserRecord:
    """Change a user's role; when it changes, every session of the user ends."""
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: expected one of {', '.join(ROLES)}")
    user = _row(s, ref)
    if user.role != role:
        end_user_sessions(s, user.id)
    user.role = role
    s.flush()
    return _record(s, user)


def set_disabled(s: Session, ref: Any, disabled: bool) -> UserRecord:
    """Disable a user (every session of theirs ends and they cannot log in) or enable them
    again."""
    user = _row(s, ref)
    if disabled:
        end_user_sessions(s, user.id)
    user.disabled = disabled
    s.flush()
    return _record(s, user)


def authenticate(s: Session, name: str, password: str) -> UserRecord | None:
    """The enabled user with this name and password, or None; records the login time."""
    # a NUL cannot be in a name (PostgreSQL text refuses it): no such user
    user = None if "\x00" in name else s.scalar(select(UserRow).where(UserRow.name == name))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    s.flush()
    return _record(s, user)


def join_desk(s: Session, user: Any, desk: Any) -> None:
    """Make a user a member of a desk (idempotent)."""
    u, d = _row(s, user), desk_row(s, desk)
    if s.get(DeskMemberRow, (d.id, u.id)) is None:
        s.add(DeskMemberRow(desk_id=d.id, user_id=u.id))
        s.flush()


def leave_desk(s: Session, user: Any, desk: Any) -> None:
    u, d = _row(s, user), desk_row(s, desk)
    member = s.get(DeskMemberRow, (d.id, u.id))
    if member is not None:
        s.delete(member)
        s.flush()


def desk_ids_of(s: Session, user_id: int) -> list[int]:
    return list(s.scalars(select(DeskMemberRow.desk_id).where(DeskMemberRow.user_id == user_id)))


def desk_names_of(s: Session, user_id: int) -> list[str]:
    q = (
        select(DeskRow.name)
        .join(DeskMemberRow, DeskMemberRow.desk_id == DeskRow.id)
        .where(DeskMemberRow.user_id == user_id)
        .order_by(DeskRow.name)
    )
    return list(s.scalars(q))


def desk_members(s: Session) -> dict[int, list[str]]:
    """Each desk's members' names, by desk id."""
    out: dict[int, list[str]] = {}
    for desk_id, name in s.execute(
        select(DeskMemberRow.desk_id, UserRow.name)
        .join(UserRow, UserRow.id == DeskMemberRow.user_id)
        .order_by(UserRow.name)
    ):
        out.setdefault(desk_id, []).append(name)
    return out


# ---------------------------------------------------------------- reviews and audit


def review_hit(
    s: Session,
    hit: Any,
    *,
    reviewer_id: int | None,
    verdict: str | None = None,
    note: str | None = None,
    assignee_id: int | None = None,
    unassign: bool = False,
) -> str:
    """Record one review change on a hit (by id) and apply it (verdict, note, assignment);
    returns the hit's review state after it."""
    if verdict is not None and verdict not in VERDICTS:
        raise InvalidInput(f"verdict {verdict!r}: expected one of {', '.join(VERDICTS)}")
    note = (note or "").strip() or None
    if assignee_id is not None and s.get(UserRow, assignee_id) is None:
        raise NotFound(f"no user with id {assignee_id}")
    if verdict is None and note is None and assignee_id is None and not unassign:
        raise InvalidInput("nothing to record: give a verdict, a note or an assignee")
    hit = s.get(HitRow, hit if isinstance(hit, int) else hit.id)
    if hit is None:
        raise NotFound("no such hit")
    review = ReviewRow(
        hit_id=hit.id, reviewer_id=reviewer_id, verdict=verdict, note=note, assignee_id=assignee_id
    )
    s.add(review)
    if verdict is not None:
        hit.review_state = verdict
    if assignee_id is not None or unassign:
        hit.assignee_id = assignee_id
    s.flush()
    return hit.review_state


def audit(s: Session, user_id: int | None, action: str, target: str, **details: Any) -> None:
    """Record an operator action (what, on what, by whom; details never hold secrets)."""
    s.add(AuditEventRow(user_id=user_id, action=action, target=target[:200], details=details))
    s.flush()
