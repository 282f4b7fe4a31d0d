"""Every string a source brings is cleaned and bounded here, once, before anything stores it.

The pipeline passes each :class:`~monitor.sources.base.Batch` through :func:`clean_batch` as it
receives it (collected or imported alike), so no source can forget and no later stage sees:

* NUL and the other C0/C1 control characters (tab and newline stay; a carriage return becomes a
  newline): PostgreSQL refuses NUL in text and JSON, terminals and XML choke on the rest;
* lone surrogates (``&#xd800;``, ``"\\ud800"``), which no UTF-8 encoder accepts: one of them
  made the whole batch fail on every poll;
* unbounded sizes: an item's text (and HTML) beyond ``limits.item_chars`` is cut, the original
  length recorded in ``extra["truncated"]``; over-long titles, authors and raw payloads are cut
  the same way; an absurdly long URL is dropped (a cut URL would point elsewhere); the
  collector-private ``extra`` and ``state`` mappings are cleaned and bounded in depth and size.

The functions are pure and cheap on clean input (one regular-expression search per string).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

from monitor.settings import LimitSettings
from monitor.sources.base import Batch
from monitor.types import Deletion, Item

__all__ = ["clean_batch", "clean_item", "clean_text", "clean_value"]

# C0 controls except tab and newline (CR is turned into a newline first), DEL, C1 controls,
# and every surrogate code point (in a Python str they can only be lone ones).
_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
TITLE_CHARS = 2000
SHORT_CHARS = 500  # author, language, date flags, names
URL_CHARS = 8192
ID_CHARS = 512
MAX_DEPTH = 8  # nesting kept in extra / state
MAX_ENTRIES = 1000  # keys or elements kept per mapping / list in extra / state


def clean_text(value: str) -> str:
    """``value`` without control characters (tab and newline kept) and lone surrogates."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _BAD.sub("", value) if _BAD.search(value) else value


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else clean_text(value[:limit * 2])[:limit]


def clean_value(value: Any, *, limit: int = 100_000, depth: int = 0) -> Any:
    """A JSON-like value with every string cleaned (keys too) and every level bounded."""
    if isinstance(value, str):
        return clean_text(value[:limit * 2])[:limit]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {clean_text(str(k))[:SHORT_CHARS]: clean_value(v, limit=limit, depth=depth + 1)
                for k, v in list(value.items())[:MAX_ENTRIES]}
    if isinstance(value, (list, tuple)):
        return [clean_value(v, limit=limit, depth=depth + 1) for v in value[:MAX_ENTRIES]]
    return clean_text(str(value))[:limit]


def clean_item(item: Item, limits: LimitSettings) -> Item:
    """The item with every string cleaned and bounded (the same object when nothing changed)."""
    cap = limits.item_chars
    changes: dict[str, Any] = {}
    truncated: dict[str, int] = {}
    source = item.text or ""
    text = clean_text(source[:cap * 2])  # cleaning only ever shortens
    if len(text) > cap or len(source) > cap * 2:
        truncated["text"] = len(source)
        text = text[:cap]
    if text != item.text:
        changes["text"] = text
    if item.html is not None:
        if len(item.html) > cap:  # a cut could end inside a tag: keep the (cut) text instead
            truncated["html"] = len(item.html)
            changes["html"] = None
        elif (html := clean_text(item.html)) is not item.html:
            changes["html"] = html
    for name, limit in (("title", TITLE_CHARS), ("author", SHORT_CHARS),
                        ("language", SHORT_CHARS), ("published_raw", SHORT_CHARS),
                        ("date_flag", SHORT_CHARS), ("channel_username", SHORT_CHARS),
                        ("media_type", SHORT_CHARS), ("raw_format", SHORT_CHARS)):
        value = getattr(item, name)
        if value is None:
            continue
        if len(value) > limit:
            truncated[name] = len(value)
        cleaned = _cut(value, limit)
        if cleaned != value:
            changes[name] = cleaned or None
    if item.url is not None:
        url = clean_text(item.url) if len(item.url) <= URL_CHARS else None
        if url is None:
            truncated["url"] = len(item.url)
        if url != item.url:
            changes["url"] = url or None
    external_id = clean_text(item.external_id)
    if len(external_id) > ID_CHARS:
        external_id = "h:" + hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:40]
    if external_id != item.external_id:
        changes["external_id"] = external_id
    if item.forward is not None:
        fwd = item.forward
        name, origin = _cut(fwd.from_name, SHORT_CHARS), _cut(fwd.origin_url, URL_CHARS)
        if (name, origin) != (fwd.from_name, fwd.origin_url):
            changes["forward"] = dataclasses.replace(fwd, from_name=name, origin_url=origin)
    raw_cap = cap * 8
    if item.raw is not None and len(item.raw) > raw_cap:
        truncated["raw"] = len(item.raw)
        changes["raw"] = item.raw[:raw_cap]
    extra = item.extra
    if extra:
        cleaned_extra = clean_value(dict(extra), limit=cap)
        if cleaned_extra != extra:
            extra = cleaned_extra
    if truncated:
        extra = {**(extra or {}), "truncated": truncated}
    if extra is not item.extra:
        changes["extra"] = extra
    return dataclasses.replace(item, **changes) if changes else item


def clean_batch(batch: Batch, limits: LimitSettings) -> Batch:
    """The batch with every item and every stored string of its state cleaned and bounded."""
    items = [clean_item(it, limits) for it in batch.items]
    changes: dict[str, Any] = {}
    if any(a is not b for a, b in zip(items, batch.items)):
        changes["items"] = items
    if batch.state:
        state = clean_value(dict(batch.state), limit=limits.item_chars)
        if state != batch.state:
            changes["state"] = state
    for name in ("cursor", "etag", "last_modified", "body_hash", "new_locator"):
        value = getattr(batch, name)
        if value is not None and (cleaned := _cut(value, URL_CHARS)) != value:
            changes[name] = cleaned
    if batch.deletions:
        deletions = [Deletion(tuple(clean_text(i)[:ID_CHARS] for i in d.external_ids),
                              d.deleted_at) for d in batch.deletions]
        if deletions != list(batch.deletions):
            changes["deletions"] = deletions
    return dataclasses.replace(batch, **changes) if changes else batch


def truncated_count(batch: Batch) -> int:
    """How many items of a cleaned batch had their text cut."""
    return sum(1 for it in batch.items if "text" in (it.extra or {}).get("truncated", {}))

