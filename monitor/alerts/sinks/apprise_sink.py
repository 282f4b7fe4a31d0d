"""Every target that is not a JSON webhook goes through Apprise (mail, Telegram bots, Slack, ...).

An URL Apprise cannot load is a permanent failure. Apprise only answers true/false, so a false
answer is transient unless what it logged (captured per sending thread) carries a 4xx status other
than 408/429.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading

import apprise

from monitor.alerts.render import Rendered
from monitor.alerts.sinks.base import Sink, redact_target, scheme_of, scrub
from monitor.errors import DeliveryError

_APPRISE_FORMAT = {"text": "text", "html": "html", "markdown": "markdown", "telegram": "html",
                   "chat": "html"}
# What each known chat service gets (``formats`` below), and the format its Apprise plugin is told
# to speak (an operator's ``?format=`` is overridden: the wrong pairing is how hostile text turns
# into markup):
#  - tgram: Telegram HTML as it is (with format=text Apprise would send plain text with
#    parse_mode HTML, so a post's <a href> would become a live link);
#  - slack: our HTML, which Apprise converts to mrkdwn with <, >, & entity-escaped (given
#    Markdown or text, Apprise's Slack plugin rebuilds <url|label> and <!channel> from
#    escaped text);
#  - discord: our escaped Markdown as plain text (Discord renders Markdown itself; in Markdown
#    mode Apprise would turn every @name / @123 of the body into a real mention);
#  - matrix: our HTML as the formatted body;  mailto: our HTML.
_NOTIFY_FORMAT = {"tgram": "html", "slack": "markdown", "discord": "text", "matrix": "html",
                  "matrixs": "html", "mailto": "html", "mailtos": "html"}
_BODY_FORMAT = {"discord": "text"}
_PERMANENT_IN_LOG = re.compile(r"\b(?:error|status|code)[=: ]+(4(?!08|29)\d\d)\b", re.IGNORECASE)


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


@functools.lru_cache(maxsize=512)
def _plugin_format(url: str) -> str:
    """``markdown``, ``html`` or ``text``: what Apprise's plugin for ``url`` expects."""
    plugin = apprise.Apprise.instantiate(url)
    value = str(getattr(plugin, "notify_format", "text") or "text").lower()
    return value if value in ("markdown", "html") else "text"


class AppriseSink(Sink):
    """Apprise's 100+ services; e-mail gets HTML, Telegram its HTML subset, chat apps Markdown."""

    formats = {"mailto": "html", "mailtos": "html", "tgram": "telegram", "slack": "chat",
               "matrix": "chat", "matrixs": "chat", "discord": "markdown"}
    # What each target accepts in one message (Apprise would truncate longer bodies blindly).
    limits = {"tgram": 4096, "discord": 2000, "slack": 4000, "mailto": 16000, "mailtos": 16000}

    def format(self, url: str) -> str:
        """Known chat services as above; any other service the format its plugin speaks (Markdown
        services get escaped Markdown, HTML ones HTML, the rest text)."""
        scheme = scheme_of(url)
        if scheme in self.formats:
            return self.formats[scheme]
        return _plugin_format(url)

    def check(self, url: str) -> None:
        if apprise.Apprise.instantiate(url) is None:
            raise ValueError(f"{redact_target(url)}: Apprise cannot load this URL "
                             f"(unknown service {scheme_of(url)}:// or missing/invalid parts)")

    async def send(self, url: str, rendered: Rendered, *, alert_id: int, timeout: float,
                   kind: str = "story") -> None:
        where = redact_target(url)
        ap = apprise.Apprise()
        if not ap.add(url):
            raise DeliveryError(f"{where}: Apprise cannot load this URL", transient=False)
        scheme = scheme_of(url)
        for server in ap:
            # Apprise's own defaults are 4 s connect / 4 s read and, for SMTP, 15 s
            server.socket_connect_timeout = server.socket_read_timeout = timeout
            if scheme in _NOTIFY_FORMAT:  # see _NOTIFY_FORMAT: never the URL's choice
                server.notify_format = apprise.NotifyFormat(_NOTIFY_FORMAT[scheme])
        # Only e-mail keeps a separate subject; elsewhere the body already starts with the escaped
        # title, and Apprise would prepend this plain one without escaping it for the target.
        title = rendered.title if scheme_of(url) in ("mailto", "mailtos") else ""
        body_format = _BODY_FORMAT.get(scheme) or _APPRISE_FORMAT[rendered.format]
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
        detail = scrub(detail, url)[-500:] or "no details logged"
        permanent = _PERMANENT_IN_LOG.search(detail) is not None
        raise DeliveryError(f"{where}: delivery failed: {detail}", transient=not permanent)
