"""Sessions, CSRF tokens, login rate limiting and the sanitizers every page relies on.

The session is a signed cookie (HMAC-SHA256 over a JSON body with an issue time): it holds the user
id and the CSRF token, nothing secret. The key is ``settings.web.secret_key``; without one a random
key is made per process, so sessions end on restart — acceptable for a single intranet server.

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
import threading
import time
from collections import deque

from markupsafe import Markup

from monitor.sources.urls import safe_url  # noqa: F401  (also re-exported for the templates)

SESSION_COOKIE = "monitor_session"
SESSION_MAX_AGE = 12 * 3600


class SessionSigner:
    """Signs and verifies the session cookie."""

    def __init__(self, key: str | None):
        raw = key.encode() if key else secrets.token_bytes(32)
        self._key = hashlib.sha256(b"monitor-session\0" + raw).digest()

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()).decode().rstrip("=")

    def dumps(self, data: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps({**data, "iat": int(time.time())}).encode()).decode()
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
    """At most ``attempts`` failed logins per user name and per client address in ``window`` s.

    In memory, per process: enough to stop password guessing against one server; a successful
    login does not clear the address's count (one good account must not unlock guessing others).
    """

    def __init__(self, attempts: int = 5, window: float = 300.0):
        self.attempts, self.window = attempts, window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, name: str, ip: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.attempts for k in (f"u:{name.lower()}", f"ip:{ip}"))

    def failed(self, name: str, ip: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"u:{name.lower()}", f"ip:{ip}"):
                self._recent(key, now).append(now)
            if len(self._fails) > 10_000:  # bound memory under a spray of names
                for key in [k for k, q in self._fails.items() if not q]:
                    del self._fails[key]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._fails.pop(f"u:{name.lower()}", None)


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
