"""The coverage level's index over the store, for the pipeline: build it from the stored window
before a batch's transaction (:func:`load`), catch it up inside the transaction and hand the batch
its :class:`~monitor.dedup.coverage.Placer` (:func:`placer`). See :mod:`monitor.dedup.coverage`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.dedup.coverage import CoverageIndex, Placer
from monitor.dedup.eventrep import Representation
from monitor.store import events as event_repo
from monitor.store import stories as story_repo
from monitor.store.db import Session, Store


def load(store: Store, index: CoverageIndex, earliest: datetime) -> None:
    """Build ``index`` from the window before ``earliest`` (read in a unit of its own, decoded
    after it): the batch's transaction then only catches up with what was committed meanwhile."""
    with store.unit() as s:
        seq = event_repo.last_seq(s)
        rows = event_repo.window_rows(s, earliest - timedelta(seconds=index.window))
    index.load([r for r in rows if r.seq <= seq])
    index.seq = max(index.seq, seq)


def placer(s: Session, index: CoverageIndex, reps: dict[int, Representation], n: int) -> Placer:
    """The coverage step of a batch of ``n`` new items, ``index`` caught up with every committed
    row (under the coverage lock: nothing commits rows meanwhile)."""
    if index.loaded and not index.catch_up(event_repo.rows_after(s, index.seq)):
        index.invalidate()  # a desk correction moved an item: rebuild
    if not index.loaded:
        since = min(r.published for r in reps.values()) - index.window
        index.load(event_repo.window_rows(s, datetime.fromtimestamp(since, UTC)))
        index.seq = max(index.seq, event_repo.last_seq(s))
    # new stories of the batch take their ids now, so the index can name them
    story_ids = story_repo.take_story_ids(s, n)
    return Placer(index, reps, story_ids, seq=index.seq + 1)
