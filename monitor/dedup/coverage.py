"""The coverage level in ingest: an item no copy placed is compared with the stories active in the
window (:mod:`monitor.dedup.events`) and joins the best one, or starts its own (pure, no I/O).

* :class:`CoverageIndex` — one process's in-memory story index
  (:class:`~monitor.dedup.eventindex.MemoryIndex`) kept in step with the stored rows
  (``event_items``: item, story, sequence number, weighted representation). :meth:`load` builds it
  from the window's rows; :meth:`catch_up` applies rows with a larger sequence number that other
  writers (other nodes) committed since, and asks for a rebuild when a row moves an item it
  already holds (a desk split or merge). A batch whose transaction fails :meth:`invalidate`\\ s it.
* :class:`Placer` — for one batch: the joiner :func:`monitor.dedup.stories.decide` calls after
  the copy level (:meth:`Placer.join`) and the hook that records every placed item in the index
  (:meth:`Placer.placed`), so the batch's items see each other; :attr:`Placer.rows` are the rows
  to store. New stories of the batch get the ids taken up front (``story_ids``, by ``ref``).
* :class:`Representations` — the items' representations, worked out before the transaction and
  kept by content and time, so a re-polled entry is represented once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from monitor.dedup.eventindex import MemoryIndex, Weighted
from monitor.dedup.eventrep import Representation, represent
from monitor.dedup.events import DEFAULT, Clusterer, Decision, EventParams, weigh
from monitor.dedup.stories import Entry, Join, State
from monitor.store.values import EventRow, NewStory
from monitor.types import Item

COVERAGE_KINDS = frozenset({"rewrite", "abridged"})


class CoverageIndex:
    """See the module docstring."""

    def __init__(self, window: float, params: EventParams = DEFAULT):
        self.window = window
        self.params = params
        self.loaded = False
        self.seq = 0
        self.index = MemoryIndex(window)
        self.items: dict[int, int] = {}  # item id -> story id

    def invalidate(self) -> None:
        self.loaded = False

    def load(self, rows: Iterable[EventRow]) -> int:
        """Rebuild from the window's rows (any order); returns how many were added."""
        self.index, self.items, self.seq = MemoryIndex(self.window), {}, 0
        decoded = []
        for row in rows:
            self.seq = max(self.seq, row.seq)
            try:
                decoded.append((Weighted.from_bytes(row.rep), row))
            except ValueError:
                continue  # a row this version cannot read: left out of the index
        decoded.sort(key=lambda pair: (pair[0].rep.published, pair[1].seq))
        for weighted, row in decoded:
            self.index.add(row.story_id, row.item_id, weighted)
            self.items[row.item_id] = row.story_id
        self.loaded = True
        return len(decoded)

    def catch_up(self, rows: Sequence[EventRow]) -> bool:
        """Apply rows committed since (sequence above :attr:`seq`). False when a rebuild is
        needed (a row re-places an item the index holds)."""
        if any(row.item_id in self.items for row in rows):
            return False
        for row in sorted(rows, key=lambda r: r.seq):
            self.seq = max(self.seq, row.seq)
            try:
                weighted = Weighted.from_bytes(row.rep)
            except ValueError:
                continue
            self.index.add(row.story_id, row.item_id, weighted)
            self.items[row.item_id] = row.story_id
        return True


@dataclass
class Placer:
    """The coverage step of one batch (see the module docstring)."""

    coverage: CoverageIndex
    reps: Mapping[int, Representation]  # item id -> its representation
    story_ids: Sequence[int]  # the ids new stories of this batch take, by ref
    seq: int  # the next sequence number to give
    rows: list[tuple[int, int, float, int, bytes]] = field(default_factory=list)
    # (item id, story id, published UTC seconds, seq, weighted bytes)
    _decided: dict[int, Decision] = field(default_factory=dict)
    _new: dict[int, NewStory] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clusterer = Clusterer(self.coverage.index, self.coverage.params)

    def join(self, entry: Entry, state: State) -> Join | None:
        """A :data:`monitor.dedup.stories.Joiner`: the best story of the same event, if any."""
        rep = self.reps.get(entry.item_id)
        if rep is None:
            return None
        decision = self.clusterer.decide(rep)
        self._decided[entry.item_id] = decision
        if decision.story_id is None or decision.reason is None:
            return None
        story = self._new.get(decision.story_id, decision.story_id)
        return Join(story, decision.reason.kind, decision.reason.explain())

    def placed(self, entry: Entry, story: int | NewStory) -> None:
        """Record a placed item in the index (and as a row to store)."""
        rep = self.reps.get(entry.item_id)
        if rep is None:
            return
        if isinstance(story, NewStory):
            story_id = self.story_ids[story.ref]
            self._new[story_id] = story
        else:
            story_id = story
        decision = self._decided.pop(entry.item_id, None)
        if decision is not None:
            weighted = decision.item
        else:  # placed by the copy level: weighed like any other
            p = self.coverage.params
            since = rep.published - p.window_hours * 3600
            first = self.coverage.index.lookup([t for t, _ in rep.terms], (), since, 0)
            weighted = weigh(rep, first.df, first.stories)
        self.coverage.index.add(story_id, entry.item_id, weighted)
        self.coverage.items[entry.item_id] = story_id
        self.rows.append((entry.item_id, story_id, rep.published, self.seq,
                          weighted.to_bytes()))
        self.coverage.seq = self.seq
        self.seq += 1


def event_text(value: Item) -> str:
    """What the coverage level reads of an item: its title (when the text does not start with
    it), then its text."""
    text, title = value.text or "", (value.title or "").strip()
    return f"{title}\n{text}" if title and not text.startswith(title) else text


class Representations:
    """Items' event representations, worked out before the batch's transaction (:meth:`prepare`)
    and kept by content and time (a feed polled again brings the same entries: each is
    represented once), as bytes (~1 KB each), the least recently used forgotten past ``size``.
    Thread-safe."""

    def __init__(self, size: int = 20_000,
                 work: Callable[[Item], Representation] | None = None):
        self.size = size
        self.work = work or (lambda v: represent(event_text(v), v.published_at or v.fetched_at))
        self._reps: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(value: Item) -> tuple:
        return value.content_hash, value.published_at or value.fetched_at

    def prepare(self, values: Iterable[Item]) -> None:
        for value in values:
            self.get(value)

    def get(self, value: Item) -> Representation:
        key = self.key(value)
        with self._lock:
            data = self._reps.get(key)
            if data is not None:
                self._reps.move_to_end(key)
        if data is not None:
            return Representation.from_bytes(data)
        rep = self.work(value)
        data = rep.to_bytes()
        with self._lock:
            self._reps[key] = data
            while len(self._reps) > self.size:
                self._reps.popitem(last=False)
        return rep


def level(how: str | None) -> str:
    """The level an item joined its story at: ``first``, ``copy``, ``coverage`` or ``desk``."""
    if how in (None, "new"):
        return "first"
    if how in COVERAGE_KINDS:
        return "coverage"
    if how == "desk":
        return "desk"
    return "copy"
