"""Web sessions kept in the database, and the failed-login counts the login limiter reads.

A session is a random token: the browser's (signed) cookie carries it, the database keeps only its
SHA-256, so a copy of the table lets nobody in. Logout deletes the session's row; a password or
role change, disabling or removing a user deletes all of that user's rows (see
:mod:`monitor.store.users`), so a cookie issued before is refused at its next request, whichever
process serves it.

Failed logins are rows under limiter keys (one per account and address, one per address): every
process serving the web UI counts the same rows, so running two does not double the guesses allowed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from monitor.store.models import LoginFailureRow, WebSessionRow
from monitor.types import utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(s: Session, user_id: int, *, max_age: float) -> str:
    """A new session for the user; returns its token (only the browser keeps it)."""
    now = utcnow()
    s.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < now))  # keep the table small
    token = secrets.token_urlsafe(32)
    s.add(WebSessionRow(token_hash=_hash(token), user_id=user_id, created_at=now,
                        expires_at=now + timedelta(seconds=max_age)))
    s.flush()
    return token


def session_user_id(s: Session, token: str) -> int | None:
    """The user id of this live session, or None (unknown, ended or expired)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = s.get(WebSessionRow, _hash(token))
    if row is None or row.expires_at <= utcnow():
        return None
    return row.user_id


def end_session(s: Session, token: str) -> None:
    """Logout: this session ends (the user's other sessions go on)."""
    if isinstance(token, str) and token:
        s.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == _hash(token)))


def end_user_sessions(s: Session, user_id: int) -> int:
    """Every session of the user ends; returns how many there were."""
    result = s.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))
    return result.rowcount or 0


def session_count(s: Session, user_id: int) -> int:
    q = select(func.count()).select_from(WebSessionRow).where(
        WebSessionRow.user_id == user_id, WebSessionRow.expires_at > utcnow())
    return s.scalar(q) or 0


# ---------------------------------------------------------------- failed logins


def login_failures(s: Session, keys: list[str], since: datetime) -> dict[str, int]:
    """How many failures each key has had since ``since``."""
    counts = dict.fromkeys(keys, 0)
    q = (select(LoginFailureRow.key, func.count()).where(LoginFailureRow.key.in_(keys),
                                                          LoginFailureRow.at >= since)
         .group_by(LoginFailureRow.key))
    for key, n in s.execute(q):
        counts[key] = n
    return counts


def record_login_failure(s: Session, keys: list[str], *, forget_before: datetime) -> None:
    """One failure under each key; rows older than ``forget_before`` are dropped meanwhile."""
    s.execute(delete(LoginFailureRow).where(LoginFailureRow.at < forget_before))
    now = utcnow()
    s.add_all(LoginFailureRow(key=key, at=now) for key in keys)
    s.flush()


def clear_login_failures(s: Session, key: str) -> None:
    s.execute(delete(LoginFailureRow).where(LoginFailureRow.key == key))
