"""Items: store new ones exactly once per source, keep changed ones as versions, mark deletions.

A changed item (same external id, new content hash) becomes a new version: the ``items`` row holds
the latest content and ``item_versions`` every version; the raw payload of each version is kept
compressed with its hash as evidence. Nothing is ever erased: deletions are marks.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Literal, Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from monitor import types as t
from monitor.store.models import Item, ItemPayload, ItemVersion, Source


@dataclass(slots=True)
class StoredItem:
    row: Item
    value: t.Item
    status: Literal["new", "version", "unchanged"]


def _fields(value: t.Item) -> dict:
    fwd = value.forward
    return dict(
        url=value.url, title=value.title, text=value.text or "", html=value.html, author=value.author,
        published_at=value.published_at, published_raw=value.published_raw, date_flag=value.date_flag,
        edited_at=value.edited_at, channel_id=value.channel_id, channel_username=value.channel_username,
        views=value.views, forwards=value.forwards, reply_to_id=value.reply_to_id,
        grouped_id=value.grouped_id, media_type=value.media_type,
        fwd_channel_id=fwd.origin_channel_id if fwd else None, fwd_post_id=fwd.origin_post_id if fwd else None,
        fwd_date=fwd.origin_date if fwd else None, fwd_from_name=fwd.from_name if fwd else None,
        fwd_url=fwd.origin_url if fwd else None, extra=dict(value.extra or {}),
    )


# Fields that change without making a new version (counters, not content).
_COUNTERS = ("views", "forwards")


def upsert_items(
    s: Session, source: Source, values: Sequence[t.Item], *, collector: str,
    enrich: Callable[[t.Item], tuple[str, str | None]],
) -> list[StoredItem]:
    """Store a batch of adapted items for one source.

    ``enrich(value) -> (norm_text, language)`` gives the matching form and the language of a new
    or changed item. Returns one entry per input value, in order. New rows are inserted with one
    flush; versions and payloads with one bulk insert each.
    """
    ids = list(dict.fromkeys(v.external_id for v in values))
    existing: dict[str, Item] = {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        for row in s.scalars(select(Item).where(Item.source_id == source.id, Item.external_id.in_(chunk))):
            existing[row.external_id] = row
    out: list[StoredItem] = []
    versions: list[tuple[Item, t.Item]] = []
    fresh: list[Item] = []
    for value in values:
        row = existing.get(value.external_id)
        chash = value.content_hash
        if row is None:
            norm, lang = enrich(value)
            row = Item(source_id=source.id, external_id=value.external_id, fetched_at=value.fetched_at,
                       content_hash=chash, version=1, collector=collector, norm_text=norm, language=lang,
                       deleted_at=value.deleted_at, **_fields(value))
            existing[value.external_id] = row
            fresh.append(row)
            versions.append((row, value))
            out.append(StoredItem(row, value, "new"))
        elif row.content_hash != chash:
            norm, lang = enrich(value)
            fields = _fields(value)
            if value.published_at is None or value.date_flag:
                # keep the first-seen date of an item whose source gives no good date
                fields.pop("published_at"), fields.pop("published_raw"), fields.pop("date_flag")
            for key, v in fields.items():
                setattr(row, key, v)
            row.content_hash, row.version, row.norm_text = chash, row.version + 1, norm
            row.language = lang or row.language
            row.fetched_at = value.fetched_at
            if row.edited_at is None:
                row.edited_at = value.edited_at or value.fetched_at
            versions.append((row, value))
            out.append(StoredItem(row, value, "version"))
        else:
            for key in _COUNTERS:
                new = getattr(value, key)
                if new is not None and new != getattr(row, key):
                    setattr(row, key, new)
            out.append(StoredItem(row, value, "unchanged"))
    s.add_all(fresh)
    s.flush()  # one INSERT ... RETURNING for the new rows: their ids for the rows below
    if versions:
        s.execute(insert(ItemVersion), [
            {"item_id": row.id, "version": row.version, "title": v.title, "text": v.text or "", "html": v.html,
             "url": v.url, "content_hash": row.content_hash, "edited_at": v.edited_at, "fetched_at": v.fetched_at}
            for row, v in versions])
        payloads = [{"item_id": row.id, "version": row.version, "format": v.raw_format or "raw",
                     "sha256": hashlib.sha256(v.raw).hexdigest(), "data": zlib.compress(v.raw, 6),
                     "created_at": v.fetched_at}
                    for row, v in versions if v.raw is not None]
        if payloads:
            s.execute(insert(ItemPayload), payloads)
    return out


def mark_deleted(s: Session, source: Source, external_ids: Iterable[str], deleted_at: datetime) -> int:
    """Mark items deleted (never erase them); returns how many were newly marked."""
    ids = list(external_ids)
    if not ids:
        return 0
    result = s.execute(update(Item).where(Item.source_id == source.id, Item.external_id.in_(ids),
                                          Item.deleted_at.is_(None)).values(deleted_at=deleted_at))
    return result.rowcount or 0


def payload(s: Session, item_id: int, version: int | None = None) -> tuple[str, bytes, str] | None:
    """The raw evidence of an item version: (format, bytes, sha256)."""
    q = select(ItemPayload).where(ItemPayload.item_id == item_id)
    q = q.where(ItemPayload.version == version) if version else q.order_by(ItemPayload.version.desc())
    row = s.scalars(q.limit(1)).first()
    return (row.format, zlib.decompress(row.data), row.sha256) if row else None


def list_items(
    s: Session, *, source: str | None = None, since: datetime | None = None, limit: int | None = None,
) -> Iterable[tuple[Item, str]]:
    """Items with their source name, oldest fetched first (streamed)."""
    q = select(Item, Source.name).join(Source, Item.source_id == Source.id)
    if source:
        q = q.where(Source.name == source)
    if since:
        q = q.where(Item.fetched_at >= since)
    q = q.order_by(Item.fetched_at, Item.id)
    if limit:
        q = q.limit(limit)
    yield from s.execute(q.execution_options(yield_per=500))


def _contains(column, piece: str):
    """``column LIKE '%piece%'``; an ESCAPE clause only when the piece needs one (SQLite's FTS5
    trigram index serves LIKE patterns without ESCAPE only)."""
    if any(ch in piece for ch in "%_\\"):
        escaped = piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(f"%{escaped}%", escape="\\")
    return column.like(f"%{piece}%")


def contains_any_clause(s: Session, pieces: Sequence[str]):
    """WHERE clause: the item's matching form contains one of ``pieces`` — served by an index on
    both backends (PostgreSQL: the pg_trgm GIN index of migration 0002; SQLite: the FTS5 trigram
    table of migration 0004)."""
    from sqlalchemy import literal_column, or_, table

    if s.get_bind().dialect.name == "sqlite":
        fts = table("items_fts", literal_column("rowid"), literal_column("norm_text"))
        likes = [_contains(literal_column("items_fts.norm_text"), p) for p in pieces]
        return Item.id.in_(select(literal_column("items_fts.rowid")).select_from(fts).where(or_(*likes)))
    return or_(*(_contains(Item.norm_text, p) for p in pieces))


def stream_for_backtest(
    s: Session, *, since: datetime | None = None, source: str | None = None,
    contains_any: Sequence[str] | None = None, batch: int = 1000,
) -> Iterable[tuple[Item, str]]:
    """Items to run a term over, newest first, optionally prefiltered in SQL on the matching form
    (``contains_any``: the item's norm_text must contain one of these substrings)."""

    q = select(Item, Source.name).join(Source, Item.source_id == Source.id)
    if since:
        q = q.where(Item.fetched_at >= since)
    if source:
        q = q.where(Source.name == source)
    if contains_any:
        q = q.where(contains_any_clause(s, contains_any))
    q = q.order_by(Item.id.desc())
    yield from s.execute(q.execution_options(yield_per=batch))


def count_items(s: Session, *, since: datetime | None = None, source: str | None = None) -> int:
    q = select(func.count(Item.id)).join(Source, Item.source_id == Source.id)
    if since:
        q = q.where(Item.fetched_at >= since)
    if source:
        q = q.where(Source.name == source)
    return s.scalar(q) or 0
