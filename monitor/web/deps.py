"""Request context: who is asking, what they may see, and the guard every state change passes.

Routes take ``Depends(need("viewer"))`` to read and ``Depends(act("operator"))`` to change
something. ``act`` refuses, in this order: no login (401, or a redirect to the login page for a
browser navigation), a role below the one needed (403), a missing or wrong CSRF token (403). The
JSON API under ``/api`` goes through the same dependencies, so it has the same rules.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Iterator

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from monitor.errors import InvalidInput
from monitor.store import sessions as session_repo
from monitor.store import users as user_repo
from monitor.store import views
from monitor.web.security import csrf_ok


MAX_ID = 2**63 - 1  # the largest id a BIGINT column holds
# An id in a URL path: a whole number 1..MAX_ID, else 400 (never a database overflow).
ID = Annotated[int, Path(ge=1, le=MAX_ID)]
_DIGITS = re.compile(r"[0-9]{1,19}")


def strict_int(value: Any, what: str, *, lo: int = 0, hi: int = MAX_ID) -> int | None:
    """A whole number typed in a query or a form: None when empty, else ASCII digits from ``lo``
    to ``hi`` — anything else (``²``, ``-1``, ``1_0``, 10**30) is an InvalidInput (400)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    if not _DIGITS.fullmatch(text) or not lo <= int(text) <= hi:
        raise InvalidInput(f"{what}: expected a whole number from {lo} to {hi}")
    return int(text)


class LoginRequired(Exception):
    """No valid session: browsers are sent to the login page, API calls get 401."""


class Forbidden(Exception):
    """Logged in, but not allowed (role, desk membership or CSRF token)."""

    def __init__(self, message: str = "not allowed"):
        super().__init__(message)
        self.message = message


@dataclass
class Ctx:
    """The current request's user (None when anonymous) and what they may see."""

    request: Request
    user_id: int | None = None
    name: str | None = None
    role: str | None = None
    desk_ids: list[int] | None = None  # None: every desk (operators and admins)
    allowed: tuple[int, ...] | None = None  # visible watchlist ids; None: all
    form: Any = field(default_factory=FormData)

    @property
    def csrf(self) -> str:
        return self.request.state.session["csrf"]

    def can(self, role: str) -> bool:
        return self.role is not None and user_repo.role_at_least(self.role, role)

    @contextlib.contextmanager
    def unit(self) -> Iterator[Session]:
        with self.request.app.state.web.store.unit() as s:
            yield s

    def flash(self, message: str, kind: str = "ok") -> None:
        self.request.state.session["flash"] = [kind, message[:500]]
        self.request.state.session_dirty = True

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name)
        if isinstance(value, str) and "\x00" in value:  # no database text column holds a NUL
            raise InvalidInput(f"{name}: a NUL character is not allowed")
        return value.strip() if isinstance(value, str) else default

    def int_field(self, name: str, *, lo: int = 0, hi: int = MAX_ID) -> int | None:
        """A form field holding a whole number (None when empty; 400 when not one in range)."""
        return strict_int(self.form.get(name), name, lo=lo, hi=hi)


def current(request: Request) -> Ctx:
    """Load the session's user (every request: an ended session, a disabled or removed user is
    out at once)."""
    ctx = Ctx(request=request)
    sid = request.state.session.get("sid")
    if not isinstance(sid, str):
        return ctx
    with request.app.state.web.store.unit() as s:
        uid = session_repo.session_user_id(s, sid)  # None once logged out or ended
        user = user_repo.active_user(s, uid) if uid is not None else None
        if user is None:
            return ctx
        ctx.user_id, ctx.name, ctx.role = user.id, user.name, user.role
        if not user_repo.role_at_least(user.role, "operator"):
            ctx.desk_ids = user_repo.desk_ids_of(s, user.id)
            ctx.allowed = views.visible_watchlist_ids(s, ctx.desk_ids)
    return ctx


def need(role: str) -> Callable[..., Ctx]:
    """A dependency for reading: logged in with at least ``role``."""

    def dep(ctx: Ctx = Depends(current)) -> Ctx:
        if ctx.user_id is None:
            raise LoginRequired()
        if not ctx.can(role):
            raise Forbidden(f"this needs the {role} role")
        return ctx

    return dep


async def _form(request: Request) -> FormData:
    if request.method in ("GET", "HEAD"):
        return FormData()
    return await request.form()


def act(role: str, *, login: bool = True) -> Callable[..., Any]:
    """A dependency for state changes: login (unless ``login=False``), role, then CSRF."""

    def dep(ctx: Ctx = Depends(current), form: FormData = Depends(_form)) -> Ctx:
        if login:
            if ctx.user_id is None:
                raise LoginRequired()
            if not ctx.can(role):
                raise Forbidden(f"this needs the {role} role")
        given = ctx.request.headers.get("x-csrf-token") or form.get("csrf_token")
        given = given if isinstance(given, str) else None
        if not csrf_ok(ctx.request.state.session.get("csrf"), given):
            raise Forbidden("missing or wrong CSRF token: reload the page and try again")
        ctx.form = form
        return ctx

    return dep
