"""From an outbox row to a message: the content of an alert, rendered for one target.

The SQL that reads an alert's facts is :func:`monitor.store.deliveries.alert_content`; this module turns
those facts into :class:`~monitor.alerts.render.AlertContent`, rendered per target by
:func:`monitor.alerts.transport.render_for`. Content is read at send time, so "how many sources
carry it" is current when the message leaves, and a retry after an outage reports the story as it
now stands.
"""

from __future__ import annotations

from typing import Any

from monitor.alerts.render import AlertContent, Rendered
from monitor.alerts.transport import render_for


def _entry(row: dict[str, Any], **extra: Any) -> AlertContent:
    return AlertContent(
        alert_id=row["alert_id"], kind="story", desk=row.get("desk", ""), watchlist=row.get("watchlist"),
        term=row.get("term"), title=row.get("title"), snippet=row.get("snippet") or None,
        text=None if row.get("snippet") else row.get("text"), source=row.get("source"),
        permalink=row.get("permalink"), posted_at=row.get("posted_at"), first_source=row.get("first_source"),
        first_seen_at=row.get("first_seen_at"), source_count=row.get("source_count") or 1,
        item_count=row.get("item_count") or 1, **extra)


def content_from(data: dict[str, Any]) -> AlertContent:
    """The :class:`AlertContent` of an alert's facts (as read by ``alert_content``)."""
    kind = data["kind"]
    if kind in ("story", "update") and "source" in data:
        if kind == "update":
            # Ours, not the post's: a plain prefix saying why the story pages the desk again.
            title = f"Update, now in {data.get('source_count', 1)} sources: {data.get('title') or ''}"
            return _entry({**data, "title": title})
        return _entry(data)
    if kind == "digest":
        entries = tuple(_entry({**row, "desk": data["desk"]}) for row in data.get("items", ()))
        return AlertContent(alert_id=data["alert_id"], kind="digest", desk=data["desk"], entries=entries,
                            item_count=len(entries))
    # test, spike, operator (and a story whose hit was deleted): our own title and text
    return AlertContent(alert_id=data["alert_id"], kind=kind if kind in ("spike", "operator", "test") else "story",
                        desk=data["desk"], title=data.get("title") or f"alert {data['alert_id']}",
                        text=data.get("text"), watchlist=data.get("watchlist"))


def rendered_for(url: str, data: dict[str, Any]) -> Rendered:
    """The message for one target: the alert's content in the format and length it accepts."""
    return render_for(url, content_from(data), tz=data.get("tz") or "UTC")
