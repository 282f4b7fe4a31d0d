"""JSON webhooks (``json://``, ``jsons://`` and plain ``http(s)://`` targets), POSTed with httpx.

Sent by our own client, because only then can the HTTP status be classified: connection refused,
timeouts, 5xx, 408 and 429 are *transient* (retry with backoff; a Retry-After is honoured); other
4xx and redirects are *permanent* (an operator must fix the target). The payload is
``{"alert_id", "title", "body", "format", "kind"}`` with an ``Idempotency-Key:
monitor-alert-<id>`` header, so a receiver can drop a repeat after a retry.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from datetime import datetime, timezone
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

import certifi
import httpx

from monitor.alerts.render import Rendered
from monitor.alerts.sinks.base import Sink, redact_target, scrub
from monitor.errors import DeliveryError
from monitor.schedule import parse_retry_after

SCHEMES = {"json": "http", "jsons": "https", "http": "http", "https": "https"}


def webhook_request(url: str) -> tuple[str, dict[str, str], httpx.BasicAuth | None]:
    """The http(s) URL, extra headers and auth a json:// / http(s):// target stands for.

    Follows Apprise's json:// conventions where they matter: ``+Name=value`` query parameters
    are headers, ``user:pass@`` is basic auth; Apprise's own options (``-key``, ``:key``) are
    dropped; other query parameters stay in the URL.
    """
    parts = urlsplit(url)
    scheme = SCHEMES[parts.scheme.lower()]
    headers: dict[str, str] = {}
    query = []
    # not parse_qsl: it reads "+" as a space, and "+Name" is how Apprise spells a header
    for pair in filter(None, parts.query.split("&")):
        key, _, value = (unquote(x) for x in pair.partition("="))
        if key.startswith("+") and len(key) > 1:
            headers[key[1:]] = value
        elif not key.startswith(("-", ":")):
            query.append((key, value))
    auth = None
    if parts.username:
        auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    target = urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))
    return target, headers, auth


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~25 ms), which capped the
    worker at ~40 deliveries a second when done per message."""
    return ssl.create_default_context(cafile=certifi.where())


def retry_after_seconds(value: str) -> float | None:
    """Retry-After as seconds from now (at most a day; the worker caps it further)."""
    return parse_retry_after(value, now=datetime.now(timezone.utc), cap=86400.0)


class WebhookSink(Sink):
    """A plain JSON POST per alert."""

    schemes = frozenset(SCHEMES)

    def check(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            ok = bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{redact_target(url)}: not a valid webhook URL "
                             "(host missing or bad port)")

    async def send(self, url: str, rendered: Rendered, *, alert_id: int, timeout: float,
                   kind: str = "story") -> None:
        where = redact_target(url)
        try:
            target, headers, auth = webhook_request(url)
        except ValueError as exc:
            raise DeliveryError(f"{where}: invalid webhook URL ({exc})", transient=False) from None
        payload = {"alert_id": alert_id, "title": rendered.title, "body": rendered.body,
                   "format": rendered.format, "kind": kind}
        headers = {**headers, "Idempotency-Key": f"monitor-alert-{alert_id}",
                   "User-Agent": "monitor-alerts/0.1"}
        try:
            # asyncio.timeout bounds the whole exchange: httpx's timeouts are per read, so a server
            # that drips one byte a second would otherwise hold the worker indefinitely.
            async with asyncio.timeout(timeout):
                async with httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                                             trust_env=False, verify=_ssl_context()) as client:
                    response = await client.post(target, json=payload, headers=headers, auth=auth)
        except (TimeoutError, httpx.TimeoutException):
            raise DeliveryError(f"{where}: timed out after {timeout:g} s", transient=True) from None
        except httpx.TransportError as exc:
            # refused, reset, DNS failure, protocol error: the receiver may be back later
            raise DeliveryError(f"{where}: {type(exc).__name__}: {scrub(str(exc), url)}",
                                transient=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"{where}: HTTP {status}"
        if status in (408, 429) or status >= 500:
            if retry_after := response.headers.get("Retry-After"):
                raise DeliveryError(f"{reason} (Retry-After: {retry_after[:40]})", transient=True,
                                    retry_after=retry_after_seconds(retry_after))
            raise DeliveryError(reason, transient=True)
        # 3xx (a moved webhook) and other 4xx need an operator: retrying will not help
        raise DeliveryError(reason, transient=False)
