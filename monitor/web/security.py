"""Sessions, CSRF tokens, login rate limiting and the sanitizers every page relies on.

The session cookie is signed (HMAC-SHA256 over a JSON body with an issue time): it holds the CSRF
token and, once logged in, a session token whose hash is a row of ``web_sessions``
(:mod:`monitor.store.sessions`). Logout deletes that row; a password or role change, or disabling
the user, deletes all of the user's rows, so every copy of an old cookie is refused. The signing key
is ``settings.web.secret_key``; without one a random key is made per process, so sessions end on
restart (and two processes do not share sessions) — set one when running more than one.

Every state change (any non-GET request) must carry the session's CSRF token, as the
``csrf_token`` form field or the ``X-CSRF-Token`` header (the page's JavaScript sends the header).
Anonymous visitors get a session too, so the login form is protected the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from datetime import datetime, timedelta

from markupsafe import Markup

from monitor.store import sessions as session_repo
from monitor.types import utcnow

from monitor.sources.urls import safe_url  # noqa: F401  (also re-exported for the templates)

SESSION_COOKIE = "monitor_session"
SESSION_MAX_AGE = 12 * 3600


class SessionSigner:
    """Signs and verifies the session cookie."""

    def __init__(self, key: str | None):
        raw = key.encode() if key else secrets.token_bytes(32)
        self._key = hashlib.sha256(b"monitor-session\0" + raw).digest()

    def _mac(self, body: bytes) -> str:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def dumps(self, data: dict) -> str:
        raw = json.dumps({**data, "iat": int(time.time())}).encode()
        body = base64.urlsafe_b64encode(raw).decode()
        return f"{body}.{self._mac(body.encode())}"

    def loads(self, value: str | None) -> dict | None:
        """The session data, or None when missing, tampered with or expired."""
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or time.time() - data.get("iat", 0) > SESSION_MAX_AGE:
            return None
        return data


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(expected, given)


class LoginLimiter:
    """Failed logins counted in the database, so every process serving the UI shares the counts.

    Two limits over ``window`` seconds: ``per_account`` failures for one account name from one
    address (a user's own typos lock out only that name from that address, never the whole
    address), and ``per_address`` failures from one address across all names (one address cannot
    guess through many names). A successful login clears its account-and-address count only: one
    good account must not unlock guessing at others.
    """

    def __init__(self, store, per_account: int = 5, per_address: int = 100,
                 window: float = 300.0):
        self.store = store
        self.per_account, self.per_address, self.window = per_account, per_address, window

    @staticmethod
    def _keys(name: str, ip: str) -> tuple[str, str]:
        # the name hashed: any text (NUL, megabytes) makes a short, storable key
        digest = hashlib.sha256(name.casefold().encode("utf-8", "replace")).hexdigest()[:32]
        return f"a:{ip[:200]}|{digest}", f"ip:{ip[:200]}"

    def _since(self) -> datetime:
        return utcnow() - timedelta(seconds=self.window)

    def blocked(self, name: str, ip: str) -> bool:
        account, address = self._keys(name, ip)
        with self.store.unit() as s:
            counts = session_repo.login_failures(s, [account, address], self._since())
        return counts[account] >= self.per_account or counts[address] >= self.per_address

    def failed(self, name: str, ip: str) -> None:
        with self.store.unit() as s:
            session_repo.record_login_failure(s, list(self._keys(name, ip)),
                                              forget_before=self._since())

    def succeeded(self, name: str, ip: str) -> None:
        with self.store.unit() as s:
            session_repo.clear_login_failures(s, self._keys(name, ip)[0])


# ---------------------------------------------------------------- hostile text


_MARK = re.compile(r"(</?mark>)", re.IGNORECASE)


def sanitize_marks(snippet_html: str | None) -> Markup:
    """Stored snippet HTML reduced to text plus ``<mark>``/``</mark>``: anything else is escaped.

    The matcher already escapes, but the database is not trusted: each piece between mark tags is
    unescaped once and escaped again, so a raw ``<script>`` becomes text, and marks are rebalanced.
    """
    out, open_ = [], False
    for piece in _MARK.split(snippet_html or ""):
        low = piece.lower()
        if low == "<mark>":
            if not open_:
                out.append("<mark>")
                open_ = True
        elif low == "</mark>":
            if open_:
                out.append("</mark>")
                open_ = False
        else:
            out.append(html.escape(html.unescape(piece), quote=True))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def highlight(text: str | None, spans: list | None) -> Markup:
    """``text`` escaped, with ``[start, end)`` spans wrapped in ``<mark>`` (overlaps merged)."""
    text = text or ""
    clamped = ((max(0, a), min(len(text), b)) for a, b in (spans or [])
               if isinstance(a, int) and isinstance(b, int))
    clean = sorted((a, b) for a, b in clamped if b > a)
    merged: list[list[int]] = []
    for a, b in clean:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, pos = [], 0
    for a, b in merged:
        out.append(html.escape(text[pos:a]))
        out.append("<mark>" + html.escape(text[a:b]) + "</mark>")
        pos = b
    out.append(html.escape(text[pos:]))
    return Markup("".join(out))


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin: forms get back to their page after an error; links out send no referrer.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
