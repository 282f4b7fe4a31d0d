"""Delivering a rendered alert to one target URL, with failures classified for the outbox.

Two paths:

- **JSON webhooks** (``json://``, ``jsons://`` and plain ``http(s)://`` targets) are POSTed with
  httpx by this module, because only then can the HTTP status be classified: connection refused,
  timeouts, 5xx, 408 and 429 are *transient* (retry with backoff); other 4xx and redirects are
  *permanent* (an operator must fix the target). The payload is
  ``{"alert_id", "title", "body", "format", "kind"}`` with an ``Idempotency-Key:
  monitor-alert-<id>`` header, so a receiver can drop a repeat after a retry.
- **Everything else goes through Apprise.** An URL Apprise cannot load is permanent. Apprise only
  answers true/false, so a false answer is transient unless what it logged (captured with
  ``apprise.LogCapture``) carries a 4xx status other than 408/429.

Target URLs hold secrets (bot tokens, passwords, webhook paths): messages only ever show
:func:`redact_target`. Retries, throttling and digests are the outbox's, not this module's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import re
import ssl
from datetime import datetime, timezone
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import httpx

from monitor.alerts.render import AlertContent, Rendered, render
from monitor.errors import DeliveryError
from monitor.schedule import parse_retry_after

log = logging.getLogger(__name__)

_WEBHOOK_SCHEMES = {"json": "http", "jsons": "https", "http": "http", "https": "https"}
# Schemes whose host part is a real network host (shown by redact_target); for the others
# (tgram://<bot token>/…, discord://<webhook id>/<token>, …) the host itself is a secret.
_HOST_SCHEMES = frozenset((
    "json", "jsons", "http", "https", "xml", "xmls", "form", "forms", "mailto", "mailtos",
    "ntfy", "ntfys", "matrix", "matrixs", "gotify", "gotifys", "apprise", "apprises", "mqtt",
    "mqtts", "rocket", "rockets", "mmost", "mmosts", "nctalk", "nctalks",
))
# What each known chat service gets, and the format its Apprise plugin is told to speak (an
# operator's ``?format=`` is overridden: the wrong pairing is how hostile text turns into markup).
#  - tgram: Telegram HTML as it is (with format=text Apprise would send plain text with
#    parse_mode HTML, so a post's <a href> would become a live link);
#  - slack: our HTML, which Apprise converts to mrkdwn with <, >, & entity-escaped (given
#    Markdown or text, Apprise's Slack plugin rebuilds <url|label> and <!channel> from
#    escaped text);
#  - discord: our escaped Markdown as plain text (Discord renders Markdown itself; in Markdown
#    mode Apprise would turn every @name / @123 of the body into a real mention);
#  - matrix: our HTML as the formatted body;  mailto: our HTML.
_FORMAT_BY_SCHEME = {
    "mailto": "html", "mailtos": "html",
    "tgram": "telegram",
    "slack": "chat", "matrix": "chat", "matrixs": "chat",
    "discord": "markdown",
}
_APPRISE_NOTIFY_FORMAT = {"tgram": "html", "slack": "markdown", "discord": "text",
                          "matrix": "html", "matrixs": "html", "mailto": "html",
                          "mailtos": "html"}
_BODY_FORMAT_BY_SCHEME = {"discord": "text"}
# What each target accepts in one message (Apprise would truncate longer bodies blindly).
_LIMIT_BY_SCHEME = {"tgram": 4096, "discord": 2000, "slack": 4000, "mailto": 16000,
                    "mailtos": 16000}
_APPRISE_FORMAT = {"text": "text", "html": "html", "markdown": "markdown", "telegram": "html",
                   "chat": "html"}
_PERMANENT_IN_LOG = re.compile(r"\b(?:error|status|code)[=: ]+(4(?!08|29)\d\d)\b", re.IGNORECASE)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def target_format(url: str) -> str:
    """The body format a target gets: mailto → html, tgram → telegram, slack/matrix → chat,
    discord → markdown, JSON webhooks → text; any other Apprise service the format its plugin
    speaks (Markdown services get escaped Markdown, HTML ones HTML, the rest text)."""
    scheme = _scheme(url)
    if scheme in _FORMAT_BY_SCHEME:
        return _FORMAT_BY_SCHEME[scheme]
    if scheme in _WEBHOOK_SCHEMES or not scheme:
        return "text"
    return _plugin_format(url)


@functools.lru_cache(maxsize=512)
def _plugin_format(url: str) -> str:
    """``markdown``, ``html`` or ``text``: what Apprise's plugin for ``url`` expects."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    value = str(getattr(plugin, "notify_format", "text") or "text").lower()
    return value if value in ("markdown", "html") else "text"


def render_for(url: str, content: AlertContent, *, tz: str = "UTC") -> Rendered:
    """Render ``content`` in the format and within the length the target ``url`` accepts."""
    return render(content, target_format(url), tz=tz, max_length=_LIMIT_BY_SCHEME.get(_scheme(url)))


def redact_target(url: str) -> str:
    """The target without its secrets: scheme and network host (+ port), the rest masked.

    ``tgram://123:ABC/456`` → ``tgram://****``; ``json://u:p@127.0.0.1:8080/hook?x=1`` →
    ``json://127.0.0.1:8080/****``. Anything unparsable → ``****``.
    """
    scheme = _scheme(url)
    if not scheme or not re.fullmatch(r"[a-z][a-z0-9+.-]{0,31}", scheme):
        return "****"
    if scheme not in _HOST_SCHEMES:
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


def check_target(url: str) -> None:
    """Validate a target URL without sending anything; ValueError says what is wrong."""
    scheme = _scheme(url)
    if not scheme:
        raise ValueError("not a target URL: expected scheme://…, e.g. tgram://, mailto://, json://")
    if scheme in _WEBHOOK_SCHEMES:
        try:
            parts = urlsplit(url)
            ok = bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{redact_target(url)}: not a valid webhook URL (host missing or bad port)")
        return
    import apprise

    if apprise.Apprise.instantiate(url) is None:
        raise ValueError(f"{redact_target(url)}: Apprise cannot load this URL "
                         f"(unknown service {scheme}:// or missing/invalid parts)")


async def deliver(url: str, rendered: Rendered, *, alert_id: int, timeout: float,
                  kind: str = "story") -> None:
    """Send ``rendered`` to ``url``; raise :class:`DeliveryError` (``transient`` set) on failure."""
    if _scheme(url) in _WEBHOOK_SCHEMES:
        await _post_json(url, rendered, alert_id=alert_id, timeout=timeout, kind=kind)
    else:
        await _notify_apprise(url, rendered, timeout=timeout)


# --- JSON webhooks -----------------------------------------------------------------------------

def _webhook_request(url: str) -> tuple[str, dict[str, str], httpx.BasicAuth | None]:
    """The http(s) URL, extra headers and auth a json:// / http(s):// target stands for.

    Follows Apprise's json:// conventions where they matter: ``+Name=value`` query parameters
    are headers, ``user:pass@`` is basic auth; Apprise's own options (``-key``, ``:key``) are
    dropped; other query parameters stay in the URL.
    """
    parts = urlsplit(url)
    scheme = _WEBHOOK_SCHEMES[parts.scheme.lower()]
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
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


async def _post_json(url: str, rendered: Rendered, *, alert_id: int, timeout: float,
                     kind: str) -> None:
    where = redact_target(url)
    try:
        target, headers, auth = _webhook_request(url)
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
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                                         verify=_ssl_context()) as client:
                response = await client.post(target, json=payload, headers=headers, auth=auth)
    except (TimeoutError, httpx.TimeoutException):
        raise DeliveryError(f"{where}: timed out after {timeout:g} s", transient=True) from None
    except httpx.TransportError as exc:
        # refused, reset, DNS failure, protocol error: the receiver may be back later
        raise DeliveryError(f"{where}: {type(exc).__name__}: {_scrub(str(exc), url)}",
                            transient=True) from None
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"{where}: HTTP {status}"
    if status in (408, 429) or status >= 500:
        if retry_after := response.headers.get("Retry-After"):
            raise DeliveryError(f"{reason} (Retry-After: {retry_after[:40]})", transient=True,
                                retry_after=_retry_after_seconds(retry_after))
        raise DeliveryError(reason, transient=True)
    # 3xx (a moved webhook) and other 4xx need an operator: retrying will not help
    raise DeliveryError(reason, transient=False)


def _retry_after_seconds(value: str) -> float | None:
    """Retry-After as seconds from now (at most a day; the worker caps it further)."""
    return parse_retry_after(value, now=datetime.now(timezone.utc), cap=86400.0)


# --- Apprise -----------------------------------------------------------------------------------

def _scrub(message: str, url: str) -> str:
    """Remove every secret-looking part of ``url`` from a log message."""
    try:
        parts = urlsplit(url)
        secrets = [parts.username, parts.password, parts.netloc]
        if _scheme(url) not in _HOST_SCHEMES:
            secrets.append(parts.hostname)
        secrets += [seg for seg in parts.path.split("/") if len(seg) >= 4]
        secrets += [v for _, v in parse_qsl(parts.query) if len(v) >= 4]
    except ValueError:
        return "(details withheld: unparsable target)"
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        message = message.replace(secret, "****")
    return message


class _ThreadLog(logging.Handler):
    """Collects the warnings Apprise logs from one thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(record.getMessage())


def _notify_in_thread(ap, kwargs: dict) -> tuple[bool, list[str]]:
    # One URL per Apprise object: Apprise sends it in the calling thread (no pool of its own).
    handler = _ThreadLog()
    apprise_log = logging.getLogger("apprise")
    apprise_log.addHandler(handler)
    try:
        return bool(ap.notify(**kwargs)), handler.lines
    finally:
        apprise_log.removeHandler(handler)


async def _notify_apprise(url: str, rendered: Rendered, *, timeout: float) -> None:
    import apprise

    where = redact_target(url)
    ap = apprise.Apprise()
    if not ap.add(url):
        raise DeliveryError(f"{where}: Apprise cannot load this URL", transient=False)
    scheme = _scheme(url)
    for server in ap:
        # Apprise's own defaults are 4 s connect / 4 s read and, for SMTP, 15 s
        server.socket_connect_timeout = server.socket_read_timeout = timeout
        if scheme in _APPRISE_NOTIFY_FORMAT:  # see _FORMAT_BY_SCHEME: never the URL's choice
            server.notify_format = apprise.NotifyFormat(_APPRISE_NOTIFY_FORMAT[scheme])
    # Only e-mail keeps a separate subject; elsewhere the body already starts with the escaped
    # title, and Apprise would prepend this plain one without escaping it for the target.
    title = rendered.title if _scheme(url) in ("mailto", "mailtos") else ""
    body_format = _BODY_FORMAT_BY_SCHEME.get(scheme) or _APPRISE_FORMAT[rendered.format]
    kwargs = {"body": rendered.body, "title": title, "body_format": body_format}
    try:
        # The send runs in a thread of its own, so what Apprise logs there is this delivery's
        # alone (deliveries to other targets run at the same time).
        async with asyncio.timeout(timeout * 2 + 1):
            ok, logged = await asyncio.to_thread(_notify_in_thread, ap, kwargs)
    except TimeoutError:
        raise DeliveryError(f"{where}: timed out after {timeout:g} s", transient=True) from None
    if ok:
        return
    detail = " | ".join(ln.strip() for ln in logged if ln.strip())
    detail = _scrub(detail, url)[-500:] or "no details logged"
    permanent = _PERMANENT_IN_LOG.search(detail) is not None
    raise DeliveryError(f"{where}: delivery failed: {detail}", transient=not permanent)
