"""The story index the event clusterer looks candidates up in: the port and its in-memory form.

What a store must serve (:class:`StoryIndex`), per new item, for the stories active in the window
(last item at or after ``since``):

* :meth:`~StoryIndex.lookup` — for the item's terms: how many active stories there are, in how many
  of them each term occurs (its story frequency: the rarity weight), and, for the rarest terms,
  the ids of the most recent stories holding them (the candidates; never a scan of the window);
* :meth:`~StoryIndex.stories` — for a few candidate ids: their first and last times, size and the
  weighted representations of their first item and latest items (:class:`StoryView`);
* :meth:`~StoryIndex.add` — after the decision: the item joins a story (a new one or an old one);
  its terms are posted for that story once each.

Persisted, per story: one posting row per distinct term (term id, story id), plus the story's
first/last time (the store has those); per item: its weighted representation bytes
(:meth:`monitor.dedup.events.Weighted.to_bytes`). :class:`MemoryIndex` is the same in dicts, for
tests, the bench and one-off runs.
"""

from __future__ import annotations

import heapq
import math
import struct
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from typing import Protocol

from monitor.dedup.eventrep import Representation


@dataclass(frozen=True)
class Weighted:
    """A representation with the rarity weight (idf) of each of its terms, fixed when the item
    was decided on (the window moves; a stored member keeps the weights it had)."""

    rep: Representation
    idf: tuple[float, ...]  # aligned with rep.terms
    stories: int = 0  # active stories when it was weighed

    @cached_property
    def vector(self) -> dict[int, float]:
        """Term id -> weight: ``(1 + ln count) × idf`` (computed once per object)."""
        return {t: (1.0 + math.log(c)) * w for (t, c), w in zip(self.rep.terms, self.idf)}

    @cached_property
    def norm(self) -> float:
        return math.sqrt(sum(w * w for w in self.vector.values())) or 1.0

    @cached_property
    def total(self) -> float:
        return sum(self.vector.values()) or 1.0

    def to_bytes(self) -> bytes:
        """The representation's bytes, one byte per term (idf × 16, capped at 255), then the
        story count and the term count (uint32, uint16)."""
        n = len(self.idf)
        return (self.rep.to_bytes() + bytes(min(255, round(w * 16)) for w in self.idf)
                + struct.pack("<IH", min(self.stories, 2**32 - 1), n))

    @classmethod
    def from_bytes(cls, data: bytes) -> Weighted:
        """Inverse of :meth:`to_bytes`; ValueError on anything else."""
        if len(data) < 6:
            raise ValueError("not a weighted representation: too short")
        stories, n = struct.unpack("<IH", data[-6:])
        if len(data) < n + 6:
            raise ValueError("not a weighted representation: length mismatch")
        rep = Representation.from_bytes(data[:-(n + 6)])
        if len(rep.terms) != n:
            raise ValueError("not a weighted representation: term count mismatch")
        return cls(rep, tuple(b / 16 for b in data[-(n + 6):-6]), stories)


@dataclass(frozen=True, slots=True)
class StoryView:
    """What the decision needs of one candidate story."""

    story_id: int
    first_seen: float  # UTC seconds
    last_seen: float
    size: int  # items in the story
    members: tuple[tuple[int, Weighted], ...]  # (item id, weighted rep): the first, then latest


@dataclass(frozen=True, slots=True)
class Lookup:
    """The index's answer for one item's terms (see :meth:`StoryIndex.lookup`)."""

    stories: int  # active stories in the window
    df: dict[int, int]  # term -> active stories holding it (absent: none)
    postings: dict[int, tuple[int, ...]]  # rare term -> most recent story ids holding it


class StoryIndex(Protocol):
    """The port a store implements (see the module docstring)."""

    def lookup(self, terms: Sequence[int], rare: Sequence[int], since: float,
               limit: int) -> Lookup:
        """Story frequencies of ``terms`` and up to ``limit`` most recent story ids for each
        of ``rare`` (a subset of ``terms``), over stories whose last item is at or after
        ``since``."""

    def stories(self, ids: Iterable[int], members: int) -> list[StoryView]:
        """The stories ``ids`` with their first item and up to ``members - 1`` latest ones."""

    def add(self, story_id: int, item_id: int, item: Weighted) -> None:
        """Record that ``item_id`` joined ``story_id`` (created on first use)."""


@dataclass(slots=True)
class _Story:
    first_seen: float
    last_seen: float
    size: int = 0
    first: tuple[int, Weighted] | None = None
    latest: deque = field(default_factory=lambda: deque(maxlen=16))
    terms: set[int] = field(default_factory=set)


class MemoryIndex:
    """:class:`StoryIndex` in memory. Stories that leave the window are pruned as time moves
    (every ``prune_every`` seconds of item time), so frequencies count active stories."""

    def __init__(self, window: float, *, prune_every: float = 3600.0):
        self.window = window
        self.prune_every = prune_every
        self._postings: dict[int, dict[int, None]] = {}  # term -> story ids, oldest first
        self._stories: dict[int, _Story] = {}
        self._pruned_at = float("-inf")
        self._expiry: list[tuple[float, int]] = []  # heap of (last time when pushed, story id)

    def __len__(self) -> int:
        return len(self._stories)

    def lookup(self, terms: Sequence[int], rare: Sequence[int], since: float,
               limit: int) -> Lookup:
        postings = self._postings
        df = {t: len(postings[t]) for t in terms if t in postings}
        # newest first; stories past the window linger until the next prune (at most
        # ``prune_every``): the caller drops them by their last time
        found = {t: tuple(islice(reversed(postings[t]), limit)) for t in rare if t in postings}
        return Lookup(stories=len(self._stories), df=df, postings=found)

    def stories(self, ids: Iterable[int], members: int) -> list[StoryView]:
        out = []
        for sid in ids:
            s = self._stories.get(sid)
            if s is None:
                continue
            latest = list(s.latest)[-(members - 1):] if members > 1 else []
            if s.first is not None and latest and latest[0][0] == s.first[0]:
                latest = latest[1:]
            out.append(StoryView(sid, s.first_seen, s.last_seen, s.size,
                                 tuple([s.first] + latest if s.first else latest)))
        return out

    def add(self, story_id: int, item_id: int, item: Weighted) -> None:
        at = item.rep.published
        s = self._stories.get(story_id)
        if s is None:
            s = self._stories[story_id] = _Story(first_seen=at, last_seen=at)
            s.first = (item_id, item)
            heapq.heappush(self._expiry, (at, story_id))
        s.size += 1
        s.last_seen = max(s.last_seen, at)
        s.latest.append((item_id, item))
        for t, _ in item.rep.terms:
            if t not in s.terms:
                s.terms.add(t)
                self._postings.setdefault(t, {})[story_id] = None
            else:  # keep the posting lists newest-last: a story that grows moves to the end
                ids = self._postings[t]
                del ids[story_id]
                ids[story_id] = None
        if at - self._pruned_at >= self.prune_every:
            self.prune(at - self.window)
            self._pruned_at = at

    def prune(self, before: float) -> int:
        """Forget stories whose last item is older than ``before``; returns how many. (A heap
        of expiry times: only the stories that may be stale are looked at.)"""
        expiry, stories, pruned = self._expiry, self._stories, 0
        while expiry and expiry[0][0] < before:
            _, sid = heapq.heappop(expiry)
            s = stories.get(sid)
            if s is None:
                continue
            if s.last_seen >= before:  # it grew since: look again when it may expire
                heapq.heappush(expiry, (s.last_seen, sid))
                continue
            del stories[sid]
            pruned += 1
            for t in s.terms:
                ids = self._postings[t]
                del ids[sid]
                if not ids:
                    del self._postings[t]
        return pruned
