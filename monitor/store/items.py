"""Items: store new ones exactly once per source, keep changed ones as versions, mark deletions.

A changed item (same external id, new content hash) becomes a new version: the ``items`` row holds
the latest content and ``item_versions`` every version; the raw payload of each version is kept
compressed with its hash as evidence. Nothing is ever erased: deletions are marks.

This module reads the stored rows of a batch (:func:`stored_items`) and writes what ingest
decided (:func:`write_items`); which copy is a new version is decided in
:mod:`monitor.ingest.versions`.
"""

from __future__ import annotations

import hashlib
import zlib
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, bindparam, literal_column, or_, select, table, update
from sqlalchemy.orm import Session

from monitor import types as t
from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.maintenance import tombstoned  # noqa: F401  (ingest reads it through here)
from monitor.store.models import ItemPayloadRow, ItemRow, ItemVersionRow
from monitor.store.values import ItemWrite, StoredItem

_ITEMS = ItemRow.__table__
# What a version decision needs to know of the stored row.
_STORED = (_ITEMS.c.id, _ITEMS.c.external_id, _ITEMS.c.content_hash, _ITEMS.c.version,
           _ITEMS.c.language, _ITEMS.c.published_at, _ITEMS.c.edited_at, _ITEMS.c.story_id,
           _ITEMS.c.views, _ITEMS.c.forwards)


def stored_items(s: Session, source_id: int, external_ids: Sequence[str]) -> dict[str, StoredItem]:
    """The stored rows of a source's ``external_ids``, by external id (one query per 500)."""
    ids = list(dict.fromkeys(external_ids))
    out: dict[str, StoredItem] = {}
    for i in range(0, len(ids), 500):
        q = select(*_STORED).where(_ITEMS.c.source_id == source_id,
                                   _ITEMS.c.external_id.in_(ids[i:i + 500]))
        for row in s.execute(q):
            out[row.external_id] = StoredItem(*row)
    return out


def new_ids(s: Session, n: int) -> list[int]:
    """Ids for ``n`` new items, taken before they are written (see :mod:`monitor.store.bulk`)."""
    return allocate_ids(s, _ITEMS, n)


def _content(value: t.Item) -> dict:
    fwd = value.forward
    return dict(
        url=value.url, title=value.title, text=value.text or "", html=value.html,
        author=value.author, published_at=value.published_at, published_raw=value.published_raw,
        date_flag=value.date_flag, edited_at=value.edited_at, channel_id=value.channel_id,
        channel_username=value.channel_username, views=value.views, forwards=value.forwards,
        reply_to_id=value.reply_to_id, grouped_id=value.grouped_id, media_type=value.media_type,
        fwd_channel_id=fwd.origin_channel_id if fwd else None,
        fwd_post_id=fwd.origin_post_id if fwd else None, fwd_date=fwd.origin_date if fwd else None,
        fwd_from_name=fwd.from_name if fwd else None, fwd_url=fwd.origin_url if fwd else None,
        fwd_username=fwd.origin_username if fwd else None,
        fwd_title=fwd.origin_title if fwd else None, fwd_signature=fwd.signature if fwd else None,
        extra=dict(value.extra or {}),
    )


def _version_columns(w: ItemWrite) -> dict:
    """The columns a new version rewrites (never identity, story or dedup columns)."""
    cols = _content(w.value)
    if w.keep_date:
        for name in ("published_at", "published_raw", "date_flag"):
            del cols[name]
    cols.update(content_hash=w.value.content_hash, version=w.version, norm_text=w.norm_text,
                fetched_at=w.value.fetched_at, edited_at=w.value.edited_at or w.value.fetched_at)
    if w.language is not None:
        cols["language"] = w.language
    return cols


def write_items(s: Session, source_id: int, writes: Sequence[ItemWrite]) -> None:
    """Store what ingest decided for a batch: new rows, new versions, counters; every version's
    content and raw payload. One bulk insert per table (:mod:`monitor.store.bulk`), one
    executemany per shape of update; a value repeated in the batch lands in its row's insert."""
    fresh: dict[int, dict] = {}
    changed: dict[int, dict] = {}
    for w in writes:
        if w.kind == "new":
            fresh[w.id] = dict(
                id=w.id, source_id=source_id, external_id=w.value.external_id,
                fetched_at=w.value.fetched_at, content_hash=w.value.content_hash, version=1,
                collector=w.collector, norm_text=w.norm_text, language=w.language,
                deleted_at=w.value.deleted_at, story_id=w.story_id, dedup_kind=w.dedup_kind,
                dedup_reason=w.dedup_reason,
                minhash=w.minhash, **_content(w.value))
            continue
        cols = (_version_columns(w) if w.kind == "version"
                else {k: v for k in ("views", "forwards")
                      if (v := getattr(w.value, k)) is not None})
        target = fresh.get(w.id)
        if target is None:
            target = changed.setdefault(w.id, {})
        target.update(cols)
    insert_rows(s, _ITEMS, list(fresh.values()))
    _update_rows(s, changed)
    versions = [w for w in writes if w.kind != "counters"]
    insert_rows(s, ItemVersionRow.__table__, [
        {"item_id": w.id, "version": w.version, "title": w.value.title, "text": w.value.text or "",
         "html": w.value.html, "url": w.value.url, "content_hash": w.value.content_hash,
         "edited_at": w.value.edited_at, "fetched_at": w.value.fetched_at} for w in versions])
    insert_rows(s, ItemPayloadRow.__table__, [
        {"item_id": w.id, "version": w.version, "format": w.value.raw_format or "raw",
         "sha256": hashlib.sha256(w.value.raw).hexdigest(), "data": zlib.compress(w.value.raw, 6),
         "created_at": w.value.fetched_at} for w in versions if w.value.raw is not None])


def _update_rows(s: Session, rows: dict[int, dict]) -> None:
    """Write changed stored rows back, one executemany per set of columns."""
    by_shape: dict[tuple[str, ...], list[dict]] = {}
    for item_id, cols in rows.items():
        if cols:
            by_shape.setdefault(tuple(cols), []).append({"_id": item_id, **cols})
    for params in by_shape.values():
        # the SET clause comes from the parameters' keys
        s.execute(update(_ITEMS).where(_ITEMS.c.id == bindparam("_id")), params)


def mark_deleted(s: Session, source_id: int, external_ids: Iterable[str],
                 deleted_at: datetime) -> int:
    """Mark items deleted (never erase them); returns how many were newly marked."""
    ids = list(external_ids)
    if not ids:
        return 0
    result = s.execute(update(ItemRow).where(
        ItemRow.source_id == source_id, ItemRow.external_id.in_(ids),
        ItemRow.deleted_at.is_(None)).values(deleted_at=deleted_at))
    return result.rowcount or 0


def payload(s: Session, item_id: int, version: int | None = None) -> tuple[str, bytes, str] | None:
    """The raw evidence of an item version: (format, bytes, sha256)."""
    q = select(ItemPayloadRow).where(ItemPayloadRow.item_id == item_id)
    q = (q.where(ItemPayloadRow.version == version) if version
         else q.order_by(ItemPayloadRow.version.desc()))
    row = s.scalars(q.limit(1)).first()
    return (row.format, zlib.decompress(row.data), row.sha256) if row else None


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
    table of migration 0004, and the items still queued for it (migration 0070) read directly,
    so an item is found the moment its batch committed)."""
    if s.get_bind().dialect.name == "sqlite":
        fts = table("items_fts", literal_column("rowid"), literal_column("norm_text"))
        likes = [_contains(literal_column("items_fts.norm_text"), p) for p in pieces]
        queued = table("items_fts_pending", literal_column("id"))
        return or_(
            ItemRow.id.in_(select(literal_column("items_fts.rowid")).select_from(fts)
                           .where(or_(*likes))),
            and_(ItemRow.id.in_(select(literal_column("items_fts_pending.id"))
                                .select_from(queued)),
                 or_(*(_contains(ItemRow.norm_text, p) for p in pieces))))
    return or_(*(_contains(ItemRow.norm_text, p) for p in pieces))


def recent_texts(s: Session, source_id: int, *, limit: int) -> list[str]:
    """The texts of a source's latest stored items (newest first)."""
    if limit <= 0:
        return []
    return list(s.scalars(select(_ITEMS.c.text).where(_ITEMS.c.source_id == source_id)
                          .order_by(_ITEMS.c.id.desc()).limit(limit)))


def recent_dates_of(s: Session, source_ids: Sequence[int], *,
                    since: datetime) -> dict[int, list[datetime]]:
    """:func:`recent_dates` of many sources in one query (per 500 ids)."""
    out: dict[int, list[datetime]] = {i: [] for i in source_ids}
    ids = list(source_ids)
    for i in range(0, len(ids), 500):
        q = select(_ITEMS.c.source_id, _ITEMS.c.published_at).where(
            _ITEMS.c.source_id.in_(ids[i:i + 500]), _ITEMS.c.published_at >= since,
            _ITEMS.c.date_flag.is_(None))
        for source_id, published in s.execute(q):
            out[source_id].append(published)
    return out


def recent_dates(s: Session, source_id: int, *, since: datetime) -> list[datetime]:
    """Published times (good dates only) of a source's items since ``since``: its pace."""
    return list(s.scalars(select(_ITEMS.c.published_at).where(
        _ITEMS.c.source_id == source_id, _ITEMS.c.published_at >= since,
        _ITEMS.c.date_flag.is_(None))))
