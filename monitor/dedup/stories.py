"""The story decision: which story each new item of a batch joins, or which it starts.

Pure: the store reads the candidates (:class:`Candidates`: the stored owners of the batch's exact
keys, the stored items sharing an LSH band within the window, with their signatures), this module
decides, the store writes the outcome (:class:`~monitor.store.values.StoryDecision`).

Items are decided in order, so a copy later in the same batch joins an earlier one. Each item
tries the *ways to join* in turn, surest first, and takes the first that finds a story:

1. **exact keys** (strongest key first): the story that owns the key. A ``text`` key (the same
   words) joins only within the window: the same notice a month later starts a new story, which
   then owns the key ("renewed"); URLs and Telegram posts join however late a copy comes;
2. **near-duplicates**: the best candidate sharing a band, within the window, whose similarity
   (MinHash with the fact guard) reaches the threshold.

Another way to join (e.g. an event clustering engine) is one more function of the same shape in
:data:`JOINERS` (or passed as ``joiners``): given an item and the decision so far, a
:class:`Join` or None. Every join carries a ``reason`` a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Protocol, Sequence

from monitor.store.values import (
    BandCandidate,
    KeyOwner,
    NewStory,
    Placement,
    StoryDecision,
)


@dataclass(frozen=True, slots=True)
class Cluster:
    """What the dedup stage computed for one item (see :mod:`monitor.ingest.prepare`)."""

    keys: Sequence[tuple[str, str]]  # (kind, value), strongest first
    signature: bytes | None  # MinHash signature bytes
    bands: Sequence[str]  # LSH band keys


@dataclass(frozen=True, slots=True)
class Entry:
    """A new item to place."""

    item_id: int
    source_id: int
    seen_at: datetime  # its published time, else when it was fetched
    title: str | None  # the story title it would give (see :func:`story_title`)
    cluster: Cluster


@dataclass(frozen=True, slots=True)
class Candidates:
    """What the store read for a batch: owners of its exact keys, band neighbours in the window."""

    owners: Sequence[KeyOwner] = ()
    bands: Sequence[BandCandidate] = ()


@dataclass(frozen=True, slots=True)
class Join:
    """A way to join found a story: an existing one (int) or one this batch started (ref)."""

    story: int | NewStory
    how: str
    reason: str


@dataclass(slots=True)
class State:
    """The decision so far: who owns which key, which items sit in which band (stored ones and
    the batch's own), text keys whose story is over for the item being placed."""

    owners: dict[str, int | NewStory]
    text_since: dict[str, datetime]
    bands: dict[str, list[tuple[int | NewStory, datetime, bytes | None]]]
    window: timedelta
    similarity: float
    score: Callable[[bytes, bytes], float]
    stale: list[str] = field(default_factory=list)


class Joiner(Protocol):
    def __call__(self, entry: Entry, state: State) -> Join | None: ...


def by_exact_key(entry: Entry, state: State) -> Join | None:
    """The story owning the item's strongest key (a text key only within the window)."""
    for kind, value in entry.cluster.keys:
        story = state.owners.get(value)
        if story is None:
            continue
        since = state.text_since.get(value)
        if kind == "text" and since is not None and abs(entry.seen_at - since) > state.window:
            state.stale.append(value)  # the same words again after the window: a new story
            continue
        return Join(story, kind, f"same {kind} key {value}")
    return None


def by_near_duplicate(entry: Entry, state: State) -> Join | None:
    """The most similar item sharing a band within the window, if similar enough."""
    cluster = entry.cluster
    if not cluster.signature or not cluster.bands:
        return None
    best, found, scored = 0.0, None, set()
    for band in cluster.bands:
        for story, when, sig in state.bands.get(band, ()):
            if sig is None or abs(when - entry.seen_at) > state.window or id(sig) in scored:
                continue
            scored.add(id(sig))
            score = state.score(cluster.signature, sig)
            if score >= state.similarity and score > best:
                best, found = score, story
    if found is None:
        return None
    return Join(found, "near", f"near-duplicate, similarity {best:.2f}")


JOINERS: tuple[Joiner, ...] = (by_exact_key, by_near_duplicate)


def story_title(title: str | None, text: str | None) -> str | None:
    """A story's title: the item's title, else its text's first line."""
    if title:
        return title[:300]
    first = (text or "").strip().split("\n", 1)[0]
    return first[:300] or None


def decide(entries: Sequence[Entry], candidates: Candidates, *, window: timedelta,
           similarity: float, score: Callable[[bytes, bytes], float],
           joiners: Iterable[Joiner] = JOINERS,
           placed: Callable[[Entry, int | NewStory], None] | None = None) -> StoryDecision:
    """Place every new item of a batch (see the module docstring). ``placed`` hears of each
    placement in turn (the coverage level records it in its index)."""
    state = State(owners={}, text_since={}, bands={}, window=window, similarity=similarity,
                  score=score)
    for owner in candidates.owners:
        state.owners.setdefault(owner.value, owner.story_id)
        if owner.kind == "text":
            state.text_since[owner.value] = owner.seen_at
    for cand in candidates.bands:
        state.bands.setdefault(cand.band, []).append((cand.story_id, cand.seen_at, cand.signature))
    joiners = tuple(joiners)
    placements: list[Placement] = []
    created: list[NewStory] = []
    for entry in entries:
        state.stale = []
        found = (joiner(entry, state) for joiner in joiners)
        join = next((j for j in found if j is not None), None)
        if join is None:
            story = NewStory(ref=len(created), first_item_id=entry.item_id,
                             first_source_id=entry.source_id, first_seen_at=entry.seen_at,
                             title=entry.title)
            created.append(story)
            join = Join(story, "new", "no earlier copy")
        cluster, stale = entry.cluster, tuple(state.stale)
        for value in stale:  # later copies join the new owner
            state.owners[value] = join.story
            state.text_since[value] = entry.seen_at
        for _, value in cluster.keys:
            state.owners.setdefault(value, join.story)
        for band in cluster.bands:
            state.bands.setdefault(band, []).append((join.story, entry.seen_at, cluster.signature))
        if placed is not None:
            placed(entry, join.story)
        existing = join.story if isinstance(join.story, int) else None
        placements.append(Placement(
            item_id=entry.item_id, source_id=entry.source_id, seen_at=entry.seen_at,
            title=entry.title, how=join.how, reason=join.reason, story_id=existing,
            new_ref=None if existing is not None else join.story.ref, keys=tuple(cluster.keys),
            bands=tuple(cluster.bands), signature=cluster.signature, renewed=stale))
    return StoryDecision(tuple(placements), tuple(created))
