"""Items: store new ones exactly once per source, keep changed ones as versions, mark deletions.

A changed item (same external id, new content hash) becomes a new version: the ``items`` row holds
the latest content and ``item_versions`` every version; the raw payload of each version is kept
compressed with its hash as evidence. Nothing is ever erased: deletions are marks.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Literal, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from monitor import types as t
from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.maintenance import tombstoned
from monitor.store.models import ItemRow, ItemPayloadRow, ItemVersionRow, SourceRow


@dataclass(slots=True)
class StoredItem:
    """One input value and the stored row it became, as plain values (no ORM object).

    ``id``, ``version``, ``language`` and ``published_at`` are the row's after this value (a
    version keeps the first-seen date of an item whose source gives no good date); the content
    columns are the value's. ``story_id`` is the row's, shared by repeats of the value in a batch.
    """

    value: t.Item
    status: Literal["new", "version", "unchanged"]
    source_id: int
    row: dict = field(repr=False)  # the row's columns after the batch
    id: int | None = None
    version: int = 1
    language: str | None = None
    published_at: datetime | None = None

    @property
    def story_id(self) -> int | None:
        return self.row["story_id"]

    @story_id.setter
    def story_id(self, story_id: int) -> None:
        self.row["story_id"] = story_id

    @property
    def seen_at(self) -> datetime:
        """When the item appeared: its published time, else when it was fetched."""
        return self.published_at or self.value.fetched_at


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
_ITEMS = ItemRow.__table__
# What a version update needs to know of the stored row.
_STORED = (_ITEMS.c.id, _ITEMS.c.external_id, _ITEMS.c.content_hash, _ITEMS.c.version, _ITEMS.c.language,
           _ITEMS.c.published_at, _ITEMS.c.edited_at, _ITEMS.c.story_id, _ITEMS.c.views, _ITEMS.c.forwards)


def prepare_items(
    s: Session, source: SourceRow, values: Sequence[t.Item], *, collector: str,
    enrich: Callable[[t.Item], tuple[str, str | None]],
) -> list[StoredItem]:
    """Work out what a batch of adapted items for one source changes; writes nothing yet.

    ``enrich(value) -> (norm_text, language)`` gives the matching form and the language of a new
    or changed item. Returns one entry per input value, in order (a value repeated in the batch
    is compared with its earlier copy, as if they came in two batches; a value retention pruned
    is left out: see :mod:`monitor.store.maintenance`); new rows already have
    their ids. One query reads the stored rows of the batch's external ids. The story columns
    of new rows are set by :func:`monitor.store.stories.assign_stories`, then
    :func:`write_items` stores everything.
    """
    ids = list(dict.fromkeys(v.external_id for v in values))
    rows: dict[str, dict] = {}  # external id -> the row's columns as they are after the batch
    for i in range(0, len(ids), 500):
        for row in s.execute(select(*_STORED).where(_ITEMS.c.source_id == source.id,
                                                     _ITEMS.c.external_id.in_(ids[i:i + 500]))).mappings():
            rows[row["external_id"]] = dict(row, _stored=True)
    # entries retention removed stay removed, though the feed still lists them
    pruned = tombstoned(s, source.id, [i for i in ids if i not in rows]) if len(rows) < len(ids) else set()
    entries: list[StoredItem] = []
    fresh: list[dict] = []
    for value in values:
        row = rows.get(value.external_id)
        chash = value.content_hash
        if row is None and value.external_id in pruned:
            continue
        if row is None:
            norm, lang = enrich(value)
            row = rows[value.external_id] = dict(
                source_id=source.id, external_id=value.external_id, fetched_at=value.fetched_at,
                content_hash=chash, version=1, collector=collector, norm_text=norm, language=lang,
                deleted_at=value.deleted_at, story_id=None, dedup_kind=None, minhash=None, **_fields(value))
            fresh.append(row)
            status = "new"
        elif row["content_hash"] != chash:
            norm, lang = enrich(value)
            fields = _fields(value)
            if value.published_at is None or value.date_flag:
                # keep the first-seen date of an item whose source gives no good date
                fields.pop("published_at"), fields.pop("published_raw"), fields.pop("date_flag")
            row.update(fields, content_hash=chash, version=row["version"] + 1, norm_text=norm,
                       language=lang or row["language"], fetched_at=value.fetched_at,
                       edited_at=value.edited_at or value.fetched_at, _changed=True)
            status = "version"
        else:
            status = "unchanged"
            for key in _COUNTERS:
                new = getattr(value, key)
                if new is not None and new != row[key]:
                    row[key], row["_changed"] = new, True
        entries.append(StoredItem(value, status, source.id, row, version=row["version"]))
    for row, item_id in zip(fresh, allocate_ids(s, _ITEMS, len(fresh))):
        row["id"] = item_id
    for st in entries:
        st.id, st.language, st.published_at = st.row["id"], st.row["language"], st.row["published_at"]
    return entries


def write_items(s: Session, entries: Sequence[StoredItem]) -> None:
    """Store what :func:`prepare_items` worked out: new rows, changed rows, versions and payloads.

    One bulk insert per table (see :mod:`monitor.store.bulk`), one executemany for the changed
    rows.
    """
    fresh, changed, seen = [], [], set()
    for st in entries:
        row = st.row
        if id(row) in seen:
            continue
        seen.add(id(row))
        if not row.get("_stored"):
            fresh.append(row)
        elif row.get("_changed"):
            changed.append(row)
    insert_rows(s, _ITEMS, [{k: v for k, v in row.items() if k[0] != "_"} for row in fresh])
    if changed:
        _update_rows(s, changed)
    versions = [st for st in entries if st.status != "unchanged"]
    insert_rows(s, ItemVersionRow.__table__, [
        {"item_id": st.id, "version": st.version, "title": st.value.title, "text": st.value.text or "",
         "html": st.value.html, "url": st.value.url, "content_hash": st.value.content_hash,
         "edited_at": st.value.edited_at, "fetched_at": st.value.fetched_at} for st in versions])
    insert_rows(s, ItemPayloadRow.__table__, [
        {"item_id": st.id, "version": st.version, "format": st.value.raw_format or "raw",
         "sha256": hashlib.sha256(st.value.raw).hexdigest(), "data": zlib.compress(st.value.raw, 6),
         "created_at": st.value.fetched_at} for st in versions if st.value.raw is not None])


# Columns a version or a counter change may rewrite (never identity, story or dedup columns).
_UPDATABLE = tuple(c.name for c in _ITEMS.c if c.name not in (
    "id", "source_id", "external_id", "story_id", "dedup_kind", "minhash", "collector", "deleted_at"))


def _update_rows(s: Session, rows: list[dict]) -> None:
    """Write changed stored rows back, one executemany per set of columns."""
    by_shape: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        cols = tuple(c for c in _UPDATABLE if c in row)
        by_shape.setdefault(cols, []).append({"_id": row["id"], **{c: row[c] for c in cols}})
    for params in by_shape.values():
        # the SET clause comes from the parameters' keys
        s.execute(update(_ITEMS).where(_ITEMS.c.id == bindparam("_id")), params)


def mark_deleted(s: Session, source: SourceRow, external_ids: Iterable[str], deleted_at: datetime) -> int:
    """Mark items deleted (never erase them); returns how many were newly marked."""
    ids = list(external_ids)
    if not ids:
        return 0
    result = s.execute(update(ItemRow).where(ItemRow.source_id == source.id, ItemRow.external_id.in_(ids),
                                          ItemRow.deleted_at.is_(None)).values(deleted_at=deleted_at))
    return result.rowcount or 0


def payload(s: Session, item_id: int, version: int | None = None) -> tuple[str, bytes, str] | None:
    """The raw evidence of an item version: (format, bytes, sha256)."""
    q = select(ItemPayloadRow).where(ItemPayloadRow.item_id == item_id)
    q = q.where(ItemPayloadRow.version == version) if version else q.order_by(ItemPayloadRow.version.desc())
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
    table of migration 0004)."""
    from sqlalchemy import literal_column, or_, table

    if s.get_bind().dialect.name == "sqlite":
        fts = table("items_fts", literal_column("rowid"), literal_column("norm_text"))
        likes = [_contains(literal_column("items_fts.norm_text"), p) for p in pieces]
        return ItemRow.id.in_(select(literal_column("items_fts.rowid")).select_from(fts).where(or_(*likes)))
    return or_(*(_contains(ItemRow.norm_text, p) for p in pieces))


def recent_texts(s: Session, source_id: int, *, limit: int) -> list[str]:
    """The texts of a source's latest stored items (newest first)."""
    if limit <= 0:
        return []
    return list(s.scalars(select(_ITEMS.c.text).where(_ITEMS.c.source_id == source_id)
                          .order_by(_ITEMS.c.id.desc()).limit(limit)))


def recent_dates(s: Session, source_id: int, *, since: datetime) -> list[datetime]:
    """Published times (good dates only) of a source's items since ``since``: its pace."""
    return list(s.scalars(select(_ITEMS.c.published_at).where(
        _ITEMS.c.source_id == source_id, _ITEMS.c.published_at >= since, _ITEMS.c.date_flag.is_(None))))
