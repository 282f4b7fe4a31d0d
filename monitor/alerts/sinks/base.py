"""The Sink port: where a rendered alert goes, and how a failure is classified.

A sink sends one rendered alert to one target URL and raises
:class:`~monitor.errors.DeliveryError` with ``transient`` set (retry with backoff) or cleared (an
operator must fix the target). Retries, throttling and digests are the outbox's, never a sink's.
Implementations: :mod:`.webhook` (JSON webhooks, own HTTP client, so the status can be
classified) and :mod:`.apprise_sink` (every other service, through Apprise). Adding one is a
module with a :class:`Sink` subclass and its place in :data:`monitor.alerts.sinks.SINKS`.

Target URLs hold secrets (bot tokens, passwords, webhook paths): messages only ever show
:func:`redact_target`.
"""

from __future__ import annotations

import abc
import re
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

from monitor.alerts.render import AlertContent, Rendered, render

# Schemes whose host part is a real network host (shown by redact_target); for the others
# (tgram://<bot token>/…, discord://<webhook id>/<token>, …) the host itself is a secret.
HOST_SCHEMES = frozenset((
    "json", "jsons", "http", "https", "xml", "xmls", "form", "forms", "mailto", "mailtos",
    "ntfy", "ntfys", "matrix", "matrixs", "gotify", "gotifys", "apprise", "apprises", "mqtt",
    "mqtts", "rocket", "rockets", "mmost", "mmosts", "nctalk", "nctalks",
))


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def redact_target(url: str) -> str:
    """The target without its secrets: scheme and network host (+ port), the rest masked.

    ``tgram://123:ABC/456`` → ``tgram://****``; ``json://u:p@127.0.0.1:8080/hook?x=1`` →
    ``json://127.0.0.1:8080/****``. Anything unparsable → ``****``.
    """
    scheme = scheme_of(url)
    if not scheme or not re.fullmatch(r"[a-z][a-z0-9+.-]{0,31}", scheme):
        return "****"
    if scheme not in HOST_SCHEMES:
        return f"{scheme}://****"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return f"{scheme}://****"
    if not host:
        return f"{scheme}://****"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    rest = parts.path.strip("/") or parts.query or parts.username
    return f"{scheme}://{netloc}/****" if rest else f"{scheme}://{netloc}"


def scrub(message: str, url: str) -> str:
    """Remove every secret-looking part of ``url`` from a message (a library's log line)."""
    try:
        parts = urlsplit(url)
        secrets = [parts.username, parts.password, parts.netloc]
        if scheme_of(url) not in HOST_SCHEMES:
            secrets.append(parts.hostname)
        secrets += [seg for seg in parts.path.split("/") if len(seg) >= 4]
        secrets += [v for _, v in parse_qsl(parts.query) if len(v) >= 4]
    except ValueError:
        return "(details withheld: unparsable target)"
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        message = message.replace(secret, "****")
    return message


class Sink(abc.ABC):
    """One way of delivering alerts, chosen by the target URL's scheme."""

    #: Schemes this sink takes; empty: every scheme no other sink takes.
    schemes: ClassVar[frozenset[str]] = frozenset()
    #: Body format by scheme (default ``text``) and length limit by scheme (default: the format's).
    formats: ClassVar[dict[str, str]] = {}
    limits: ClassVar[dict[str, int]] = {}

    def format(self, url: str) -> str:
        """The body format a target gets (``text``, ``html``, ``markdown`` or ``telegram``)."""
        return self.formats.get(scheme_of(url), "text")

    def render(self, content: AlertContent, url: str, *, tz: str = "UTC") -> Rendered:
        """``content`` in the format and within the length the target accepts."""
        return render(content, self.format(url), tz=tz, max_length=self.limits.get(scheme_of(url)))

    @abc.abstractmethod
    def check(self, url: str) -> None:
        """Validate a target URL without sending anything; ``ValueError`` says what is wrong."""

    @abc.abstractmethod
    async def send(self, url: str, rendered: Rendered, *, alert_id: int, timeout: float,
                   kind: str = "story") -> None:
        """Deliver; raise :class:`~monitor.errors.DeliveryError` (``transient`` set) on failure.
        The alert id travels with the message so a receiver can drop a repeat."""
