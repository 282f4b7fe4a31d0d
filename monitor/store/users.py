"""Users, roles and desk membership; review verdicts and audited operator actions.

Passwords are argon2id hashes (argon2-cffi's defaults, rehashed on login when the parameters
change). Roles are ordered: a viewer reads hits and reviews them, an operator also edits watchlists,
sources and desks, an admin also manages users. Viewers see only the desks they belong to.

Every review change (verdict, note, assignment) is a ``reviews`` row — the audit trail of who
decided what and when — and updates ``hits.review_state`` / ``hits.assignee_id``. Other operator
changes made through the web are recorded as ``audit_events``.
"""

from __future__ import annotations

from typing import Any, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound
from monitor.store.models import AuditEventRow, DeskRow, DeskMemberRow, HitRow, ReviewRow, UserRow
from monitor.types import utcnow

ROLES = ("viewer", "operator", "admin")
VERDICTS = ("new", "relevant", "not_relevant")
_hasher = PasswordHasher()  # argon2id
# Verifying against a dummy hash for unknown names keeps the login time the same either way.
_DUMMY_HASH = _hasher.hash("not a password")


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` includes the rights of ``needed`` (viewer < operator < admin)."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_password_strength(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput("a password needs at least 8 characters")
    return password


def add_user(s: Session, name: str, *, role: str, password: str) -> UserRow:
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
    return user


def get_user(s: Session, name: str) -> UserRow:
    user = s.scalar(select(UserRow).where(UserRow.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def list_users(s: Session) -> Sequence[UserRow]:
    return s.scalars(select(UserRow).order_by(UserRow.name)).all()


def user_names(s: Session) -> dict[int, str]:
    return dict(s.execute(select(UserRow.id, UserRow.name)).tuples().all())


def remove_user(s: Session, name: str) -> None:
    s.delete(get_user(s, name))
    s.flush()


def set_password(s: Session, user: UserRow, password: str) -> None:
    user.password_hash = _hasher.hash(check_password_strength(password))
    s.flush()


def set_role(s: Session, user: UserRow, role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: expected one of {', '.join(ROLES)}")
    user.role = role
    s.flush()


def authenticate(s: Session, name: str, password: str) -> UserRow | None:
    """The enabled user with this name and password, or None; records the login time."""
    user = s.scalar(select(UserRow).where(UserRow.name == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    s.flush()
    return user


def join_desk(s: Session, user: UserRow, desk: DeskRow) -> None:
    """Make a user a member of a desk (idempotent)."""
    if s.get(DeskMemberRow, (desk.id, user.id)) is None:
        s.add(DeskMemberRow(desk_id=desk.id, user_id=user.id))
        s.flush()


def leave_desk(s: Session, user: UserRow, desk: DeskRow) -> None:
    member = s.get(DeskMemberRow, (desk.id, user.id))
    if member is not None:
        s.delete(member)
        s.flush()


def desk_ids_of(s: Session, user_id: int) -> list[int]:
    return list(s.scalars(select(DeskMemberRow.desk_id).where(DeskMemberRow.user_id == user_id)))


def desk_names_of(s: Session, user_id: int) -> list[str]:
    q = (select(DeskRow.name).join(DeskMemberRow, DeskMemberRow.desk_id == DeskRow.id)
         .where(DeskMemberRow.user_id == user_id).order_by(DeskRow.name))
    return list(s.scalars(q))


# ---------------------------------------------------------------- reviews and audit


def review_hit(
    s: Session, hit: HitRow, *, reviewer_id: int | None, verdict: str | None = None,
    note: str | None = None, assignee_id: int | None = None, unassign: bool = False,
) -> ReviewRow:
    """Record one review change on a hit and apply it (verdict, note, assignment)."""
    if verdict is not None and verdict not in VERDICTS:
        raise InvalidInput(f"verdict {verdict!r}: expected one of {', '.join(VERDICTS)}")
    note = (note or "").strip() or None
    if assignee_id is not None and s.get(UserRow, assignee_id) is None:
        raise NotFound(f"no user with id {assignee_id}")
    if verdict is None and note is None and assignee_id is None and not unassign:
        raise InvalidInput("nothing to record: give a verdict, a note or an assignee")
    review = ReviewRow(hit_id=hit.id, reviewer_id=reviewer_id, verdict=verdict, note=note,
                    assignee_id=assignee_id)
    s.add(review)
    if verdict is not None:
        hit.review_state = verdict
    if assignee_id is not None or unassign:
        hit.assignee_id = assignee_id
    s.flush()
    return review


def audit(s: Session, user_id: int | None, action: str, target: str, **details: Any) -> AuditEventRow:
    """Record an operator action (what, on what, by whom; details never hold secrets)."""
    event = AuditEventRow(user_id=user_id, action=action, target=target[:200], details=details)
    s.add(event)
    s.flush()
    return event
