"""From an alert's facts to a message: its content, rendered for one target.

The store reads an alert's facts at send time (:func:`monitor.store.deliveries.alert_content`, a
typed value per kind); this module turns them into :class:`~monitor.alerts.render.AlertContent`,
rendered by the target's sink. Content is read when the message leaves, so "how many sources
carry it" is current, and a retry after an outage reports the story as it now stands.
"""

from __future__ import annotations

from monitor.alerts.render import AlertContent, Rendered
from monitor.alerts.sinks import render_for
from monitor.store.values import AlertMessage, DigestMessage, StoryEntry, StoryMessage


def _entry(e: StoryEntry, desk: str, *, title: str | None = None) -> AlertContent:
    return AlertContent(
        alert_id=e.alert_id, kind="story", desk=desk, watchlist=e.watchlist, term=e.term,
        title=e.title if title is None else title, snippet=e.snippet, text=e.text,
        source=e.source, permalink=e.permalink, posted_at=e.posted_at,
        first_source=e.first_source, first_seen_at=e.first_seen_at, source_count=e.source_count,
        item_count=e.item_count)


def content_from(message: AlertMessage) -> AlertContent:
    """The :class:`AlertContent` of an alert's facts (as read by ``alert_content``)."""
    if isinstance(message, StoryMessage):
        e = message.entry
        if message.kind == "update":
            # Ours, not the post's: a plain prefix saying why the story pages the desk again.
            return _entry(e, message.desk,
                          title=f"Update, now in {e.source_count} sources: {e.title or ''}")
        return _entry(e, message.desk)
    if isinstance(message, DigestMessage):
        entries = tuple(_entry(e, message.desk) for e in message.entries)
        return AlertContent(alert_id=message.alert_id, kind="digest", desk=message.desk,
                            entries=entries, item_count=len(entries))
    # test, spike, operator (and a story whose hit was deleted): our own title and text
    kind = message.kind if message.kind in ("spike", "operator", "test") else "story"
    return AlertContent(alert_id=message.alert_id, kind=kind, desk=message.desk,
                        title=message.title, text=message.text, watchlist=message.watchlist)


def rendered_for(url: str, message: AlertMessage) -> Rendered:
    """The message for one target: the alert's content in the format and length it accepts."""
    return render_for(url, content_from(message), tz=message.tz or "UTC")
