"""Item versioning: which copy of an item is new, which is a new version, which changes nothing.

Pure: the stored rows come in as :class:`~monitor.store.values.StoredItem` values, the decision
goes out as :class:`Change` values; the store reads the one and writes the other. The rules:

- an external id the source has not stored is ``new`` (unless retention pruned it: it stays gone);
- a copy whose content hash (title, text, URL) differs is a ``version``: the version number goes
  up, the content is the copy's, the language the copy's (else the stored one), and an item whose
  source gives no good date keeps its first-seen date;
- a copy that is **older** than what is stored (both carry an edit time and the copy's is earlier,
  e.g. an archive imported after the live edit arrived) never replaces it: ``stale``;
- otherwise the copy is ``unchanged``, though counters (views, forwards) that moved are written
  (``counters``), without a new version.

A value repeated in one batch is compared with its earlier copy, as if they came in two batches.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

from monitor.store.values import StoredItem
from monitor.types import Item

Status = Literal["new", "version", "unchanged", "counters", "stale"]
COUNTERS = ("views", "forwards")


@dataclass(frozen=True, slots=True)
class Change:
    """One input value and what it does to its item.

    ``stored`` is the row before the value (None for a new item; for a value repeated in the
    batch, the state its earlier copy left). ``keep_date``: a version whose value has no good
    date keeps the stored published time."""

    value: Item
    status: Status
    stored: StoredItem | None
    version: int = 1
    keep_date: bool = False

    @property
    def writes_version(self) -> bool:
        return self.status in ("new", "version")


def is_older(value: Item, stored: StoredItem) -> bool:
    """Whether ``value`` is an earlier state of the stored item than the one stored: both carry
    an edit time and the value's is before the stored one."""
    return (value.edited_at is not None and stored.edited_at is not None
            and value.edited_at < stored.edited_at)


def decide(values: Sequence[Item], stored: Mapping[str, StoredItem],
           pruned: frozenset[str] | set[str] = frozenset()) -> list[Change]:
    """What each value of a batch does, in order (values in ``pruned`` are left out).

    New items get a placeholder ``stored`` of None; their later copies in the batch are compared
    with a state whose ``id`` is 0 (the caller gives new items their ids)."""
    current: dict[str, StoredItem] = dict(stored)
    out: list[Change] = []
    for value in values:
        ext = value.external_id
        row = current.get(ext)
        if row is None:
            if ext in pruned:
                continue
            out.append(Change(value, "new", None))
            current[ext] = StoredItem(
                id=0, external_id=ext, content_hash=value.content_hash, version=1,
                language=value.language, published_at=value.published_at,
                edited_at=value.edited_at, story_id=None, views=value.views,
                forwards=value.forwards)
            continue
        if row.content_hash != value.content_hash:
            if is_older(value, row):
                out.append(Change(value, "stale", row, row.version))
                continue
            keep = value.published_at is None or value.date_flag is not None
            change = Change(value, "version", row, row.version + 1, keep_date=keep)
            out.append(change)
            current[ext] = dataclasses.replace(
                row, content_hash=value.content_hash, version=change.version,
                published_at=row.published_at if keep else value.published_at,
                edited_at=value.edited_at or value.fetched_at,
                language=value.language or row.language,
                views=value.views, forwards=value.forwards)
            continue
        moved = {k: v for k in COUNTERS
                 if (v := getattr(value, k)) is not None and v != getattr(row, k)}
        out.append(Change(value, "counters" if moved else "unchanged", row, row.version))
        if moved:
            current[ext] = dataclasses.replace(row, **moved)
    return out
