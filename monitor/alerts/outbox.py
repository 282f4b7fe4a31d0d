"""From an outbox row to a message: the content of an alert, rendered for one target.

The SQL that reads an alert's facts is :func:`monitor.store.alerts.alert_content`; this module turns
those facts into :class:`~monitor.alerts.render.AlertContent` and picks the format a target
understands. Content is read at send time, so "how many sources carry it" is current when the
message leaves, and a retry after an outage reports the story as it now stands.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from monitor.alerts.render import AlertContent, Rendered, render

# Apprise schemes by what their receivers display. Telegram takes its own HTML subset; e-mail
# takes HTML; chat tools that speak Markdown get Markdown; everything else (webhooks, ntfy,
# SMS, ...) gets plain text, which is always safe.
_FORMAT_BY_SCHEME = {
    "tgram": "telegram", "mailto": "html", "mailtos": "html",
    "discord": "markdown", "slack": "markdown", "matrix": "markdown", "matrixs": "markdown",
    "mmost": "markdown", "mmosts": "markdown", "rocket": "markdown", "rockets": "markdown",
    "msteams": "markdown", "zulip": "markdown",
}


def format_for(url: str) -> str:
    """The render format for an Apprise URL (``text`` when the scheme is unknown)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return "text"
    return _FORMAT_BY_SCHEME.get(scheme, "text")


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
    """The message for one target: the alert's content in the format the target displays."""
    return render(content_from(data), format_for(url), tz=data.get("tz") or "UTC")
