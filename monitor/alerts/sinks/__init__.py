"""Sinks: where alerts go. :mod:`.base` declares the port; one module per implementation.

The first sink whose ``schemes`` name a target's scheme takes it; the last (Apprise, no schemes
of its own) takes every other target.
"""

from __future__ import annotations

from monitor.alerts.render import AlertContent, Rendered
from monitor.alerts.sinks.apprise_sink import AppriseSink
from monitor.alerts.sinks.base import Sink, redact_target, scheme_of
from monitor.alerts.sinks.webhook import WebhookSink

SINKS: tuple[Sink, ...] = (WebhookSink(), AppriseSink())


def sink_for(url: str) -> Sink:
    """The sink that delivers to ``url``."""
    scheme = scheme_of(url)
    for sink in SINKS:
        if scheme in sink.schemes or not sink.schemes:
            return sink
    raise AssertionError("the last sink takes every scheme")  # pragma: no cover


def target_format(url: str) -> str:
    """The body format a target gets: mailto → html, tgram → telegram, slack/discord/matrix →
    markdown, JSON webhooks and everything else → text."""
    return sink_for(url).format(url)


def render_for(url: str, content: AlertContent, *, tz: str = "UTC") -> Rendered:
    """Render ``content`` in the format and within the length the target ``url`` accepts."""
    return sink_for(url).render(content, url, tz=tz)


def check_target(url: str) -> None:
    """Validate a target URL without sending anything; ValueError says what is wrong."""
    if not scheme_of(url):
        raise ValueError("not a target URL: expected scheme://…, e.g. tgram://, mailto://, json://")
    sink_for(url).check(url)


async def deliver(url: str, rendered: Rendered, *, alert_id: int, timeout: float,
                  kind: str = "story") -> None:
    """Send ``rendered`` to ``url`` through its sink (see :meth:`Sink.send`)."""
    await sink_for(url).send(url, rendered, alert_id=alert_id, timeout=timeout, kind=kind)


__all__ = ["SINKS", "Sink", "check_target", "deliver", "redact_target", "render_for", "sink_for",
           "target_format"]
