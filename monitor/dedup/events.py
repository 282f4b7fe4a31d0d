"""Event clustering: fold rewritten coverage of one event into one story, and say why (pure).

Two levels decide that a new item belongs to an existing story:

1. **copy** — a forward, a shared URL, the same text, or a near-duplicate (MinHash ≥ 0.75 with the
   fact guard): :mod:`monitor.dedup.keys` and :mod:`monitor.dedup.minhash`, unchanged. The store
   applies them first; :func:`copy_decision` wraps their verdict in the same :class:`Decision`.
2. **coverage** — the same event in other words. This module. Each new item is compared with the
   stories active in a time window (``EventParams.window_hours``, default 72 h: a story is active
   while its latest item is that recent).

How an item is judged (the order matters):

a. **Representation** (:func:`monitor.dedup.eventrep.represent`, before any transaction): lemmas,
   names as transliteration keys, numbers, dates, the lead, flags.
b. **Weights** (:func:`weigh`): each term's rarity in the window, ``idf = ln(1 + N / (df + 0.5))``
   over the N active stories (``df`` = stories holding the term), times ``1 + ln(count)``.
c. **Candidates** (:func:`candidates`): the item's ``lookup_terms`` rarest terms held by at most
   ``max_df_share`` of the active stories are looked up in the index (the ``postings_per_term``
   most recent stories each); stories are ranked by the summed weight of the terms they share,
   and the best ``candidates`` go on. Never a scan of the window.
d. **Comparison** (:func:`compare`) with each candidate's first and latest members (up to
   ``members``): weighted cosine similarity; *containment* of the shorter text's weight in the
   longer one's lead (an abridged copy quotes the first sentences); shared names, numbers, dates.
e. **Guards** — the same template with other facts is another event, however similar the words.
   An item is kept apart from a member when (only where the two are alike, similarity ≥
   ``guard_similarity`` or containment ≥ ``containment``):
   dates differ on both sides; numbers differ on both sides and neither post reports a change
   («выросло до», «число погибших», «ещё»); both are periodic reports («за сутки», «за ночь») of
   different calendar days; rare names differ on both sides (a share of at least
   ``name_conflict``: another village, another minister); or the two are worded alike
   (similarity ≥ ``repeat_similarity``) but posted on different days with no rare name or
   number in common (the same alert, a day later). A guarded member vetoes its whole story.
f. **Join** — the best story whose best unguarded member reaches ``similarity`` (kind
   ``rewrite``) or whose short/long pair reaches ``containment`` with at least
   ``min_containment_terms`` terms on the short side (kind ``abridged``); ties go to the newer
   story. A digest (three or more bulleted lines) is represented by its first line only, so it
   joins only a story its headline belongs to. Otherwise the item starts a new story.

Every join returns a :class:`Reason` (level, kind, the matched item, similarity, containment,
shared names/numbers/dates) that a timeline can show; a new story that was kept apart from a
close one carries the :class:`Veto` that did it.

Integration (the store's side): compute the representation before the transaction; in it, call
``index.lookup`` with the terms :func:`lookup_terms` picks, :func:`weigh`, :func:`candidates`,
``index.stories``, :func:`decide`; then ``index.add`` with the decision's story. Items of one batch
must see each other (decide them in order, adding as you go). :class:`Clusterer` does exactly
that over any :class:`~monitor.dedup.eventindex.StoryIndex`.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from itertools import count

from monitor.dedup.eventindex import Lookup, StoryIndex, StoryView, Weighted
from monitor.dedup.eventrep import Representation


@dataclass(frozen=True, slots=True)
class EventParams:
    """The clusterer's knobs (defaults measured on the development set; see bench/stories.py)."""

    window_hours: float = 72.0
    lookup_terms: int = 8
    postings_per_term: int = 20
    max_df_share: float = 0.05
    candidates: int = 4
    members: int = 4
    similarity: float = 0.3
    containment: float = 0.8
    min_containment_terms: int = 4
    guard_similarity: float = 0.3
    template_similarity: float = 0.5
    name_conflict: float = 0.4
    gap_penalty: float = 0.15  # similarity (and containment) needed more per day of silence
    unanchored_similarity: float = 0.5  # a rewrite sharing no rare name, number or date
    repeat_similarity: float = 0.8
    rare_share: float = 0.03  # a name held by at most this share of stories is "rare"


DEFAULT = EventParams()


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an item joined a story: what a timeline shows next to it."""

    level: str  # "copy" | "coverage"
    kind: str  # copy: forward | tg | url | text | near-duplicate; coverage: rewrite | abridged
    item_id: int | None  # the story member it matched
    similarity: float | None = None
    containment: float | None = None
    names: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()

    def explain(self) -> str:
        """One line for a reader, e.g. ``coverage (rewrite) of #12: similarity 0.52; names:
        Рёнхап, Сеул; numbers: 250``."""
        parts = [f"{self.level} ({self.kind})" + (f" of #{self.item_id}" if self.item_id else "")]
        facts = []
        if self.similarity is not None:
            facts.append(f"similarity {self.similarity:.2f}")
        if self.containment is not None and self.kind == "abridged":
            facts.append(f"containment {self.containment:.2f}")
        for label, values in (("names", self.names), ("numbers", self.numbers),
                              ("dates", self.dates)):
            if values:
                facts.append(f"{label}: {', '.join(values)}")
        return parts[0] + (": " + "; ".join(facts) if facts else "")


@dataclass(frozen=True, slots=True)
class Veto:
    """Why an item was kept apart from a similar story."""

    story_id: int
    item_id: int
    why: str  # e.g. "numbers differ: 250 / 300"
    similarity: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Join ``story_id`` for ``reason``, or (``story_id`` None) start a new story."""

    story_id: int | None
    reason: Reason | None
    vetoes: tuple[Veto, ...] = ()
    item: Weighted | None = None  # the weighted item, to persist and to add to the index


def copy_decision(story_id: int, kind: str, item_id: int | None = None,
                  similarity: float | None = None) -> Decision:
    """A copy-level join (exact key or near-duplicate) as a :class:`Decision`."""
    return Decision(story_id, Reason("copy", kind, item_id, similarity))


def idf(df: int, stories: int) -> float:
    return math.log1p(stories / (df + 0.5))


def lookup_terms(rep: Representation, df: dict[int, int], stories: int,
                 params: EventParams = DEFAULT) -> list[int]:
    """The rarest terms of ``rep`` worth looking up (held by at most ``max_df_share`` of the
    stories and at least one). With the store: first ask ``df`` for all terms, then postings for
    these; :meth:`~monitor.dedup.eventindex.StoryIndex.lookup` may do both at once."""
    cap = max(1.0, params.max_df_share * stories)
    rare = [t for t, _ in rep.terms if 0 < df.get(t, 0) <= cap]
    rare.sort(key=lambda t: (df[t], t))
    return rare[:params.lookup_terms]


def weigh(rep: Representation, df: dict[int, int], stories: int) -> Weighted:
    """``rep`` with each term's weight in the window (see the module docstring, b)."""
    return Weighted(rep, tuple(idf(df.get(t, 0), stories) for t, _ in rep.terms), stories)


def candidates(item: Weighted, lookup: Lookup, params: EventParams = DEFAULT) -> list[int]:
    """Story ids worth comparing, best first (module docstring, c)."""
    weights = item.vector
    score: dict[int, float] = {}
    for t, ids in lookup.postings.items():
        w = weights.get(t, 0.0)
        for sid in ids:
            score[sid] = score.get(sid, 0.0) + w
    return heapq.nlargest(params.candidates, score, key=score.__getitem__)


@dataclass(frozen=True, slots=True)
class Comparison:
    """How a new item relates to one story member (:func:`compare`)."""

    similarity: float
    containment: float  # the shorter text's weight found in the longer one's lead
    short_terms: int  # terms on the shorter side
    names: tuple[str, ...]
    numbers: tuple[str, ...]
    dates: tuple[str, ...]
    conflict: str | None  # why the guard keeps them apart, or None
    anchored: bool = True  # they share a rare specific name, a number or a date


def compare(new: Weighted, old: Weighted, params: EventParams = DEFAULT) -> Comparison:
    """Similarity, containment, shared facts and the guard between two items."""
    a, b = new.vector, old.vector
    if len(b) < len(a):
        shared = [t for t in b if t in a]
    else:
        shared = [t for t in a if t in b]
    sim = sum(a[t] * b[t] for t in shared) / (new.norm * old.norm)
    # containment: the shorter of the two inside the longer one's lead
    short, short_item, long_rep = (a, new, old.rep) if len(a) <= len(b) else (b, old, new.rep)
    lead = long_rep.lead
    cont = sum(short[t] for t in shared if t in lead) / short_item.total
    if sim < min(params.similarity, params.guard_similarity) and cont < params.containment:
        return Comparison(sim, cont, len(short), (), (), (), None, False)  # not alike: done
    rn, ro = new.rep, old.rep
    names_old = {t for t, *_ in ro.names}
    shared_names = tuple(s for t, _, s, _ in rn.names if t in names_old)
    numbers = tuple(n for n in rn.numbers if n in ro.numbers)
    dates = tuple(d for d in rn.dates if d in ro.dates)
    conflict = None
    if sim >= params.guard_similarity or cont >= params.containment:
        conflict = _guard(new, old, a, b, sim, params)
    floor = _rare_weight(new, params)
    anchored = bool(numbers or dates) or any(
        sp and a.get(t, 0.0) >= floor for t, _, _, sp in rn.names if t in names_old)
    return Comparison(sim, cont, len(short), shared_names, numbers, dates, conflict, anchored)


def _guard(new: Weighted, old: Weighted, a: dict[int, float], b: dict[int, float], sim: float,
           params: EventParams) -> str | None:
    rn, ro = new.rep, old.rep
    d1, d2 = set(rn.dates) - set(ro.dates), set(ro.dates) - set(rn.dates)
    if d1 and d2:
        return f"dates differ: {', '.join(sorted(d1))} / {', '.join(sorted(d2))}"
    if rn.daily and ro.daily and rn.day != ro.day:
        return "periodic reports of different days"
    floor = _rare_weight(new, params)
    if sim >= params.template_similarity:
        # alike words: the facts decide
        n1, n2 = set(rn.numbers) - set(ro.numbers), set(ro.numbers) - set(rn.numbers)
        if n1 and n2 and not (rn.update or ro.update):
            return f"numbers differ: {', '.join(sorted(n1))} / {', '.join(sorted(n2))}"
        # names that say which place or person: specific, and rarer than the everyday ones
        only_new = _unmatched(rn.names, ro.names, a, floor)
        only_old = _unmatched(ro.names, rn.names, b, floor)
        if only_new and only_old:
            union = len({k for _, k, _, sp in rn.names + ro.names if sp})
            if (len(only_new) + len(only_old)) / union >= params.name_conflict:
                return f"names differ: {', '.join(only_new)} / {', '.join(only_old)}"
    if sim >= params.repeat_similarity and rn.day != ro.day:
        shared = [t for t in a if t in b and a[t] >= floor]
        if not shared:
            return "the same words on another day"
    return None


def _unmatched(names, others, weights: dict[int, float], floor: float) -> list[str]:
    """Specific rare names of ``names`` that no name of ``others`` matches (same key, or one key
    the other's 4-letter prefix: «Алтай» / «Алтайский»)."""
    keys = [k for _, k, *_ in others]
    out = []
    for t, key, shown, specific in names:
        if not specific or weights.get(t, 0.0) < floor:
            continue
        if any(k == key or k.startswith(key[:4]) or key.startswith(k[:4]) for k in keys):
            continue
        out.append(shown)
    return out


def _rare_weight(item: Weighted, params: EventParams) -> float:
    """The weight of a term held by ``rare_share`` of the stories (rarer terms weigh more)."""
    return idf(max(1, round(params.rare_share * item.stories)), item.stories)


def decide(item: Weighted, stories: list[StoryView], params: EventParams = DEFAULT) -> Decision:
    """Join the best candidate story or start a new one (module docstring, d–f)."""
    best: tuple | None = None
    vetoes: list[Veto] = []
    for story in stories:
        story_best = None
        vetoed = None
        gap_days = max(0.0, item.rep.published - story.last_seen) / 86400
        extra = params.gap_penalty * gap_days
        for item_id, member in story.members:
            c = compare(item, member, params)
            if c.conflict:
                vetoed = Veto(story.story_id, item_id, c.conflict, round(c.similarity, 3))
                break
            kind = None
            if (c.containment >= params.containment + extra
                    and c.short_terms >= params.min_containment_terms):
                kind = "abridged"
            needed = params.similarity if c.anchored else params.unanchored_similarity
            if c.similarity >= needed + extra and (kind is None or c.similarity >= c.containment):
                kind = "rewrite"
            if kind is None:
                continue
            score = max(c.similarity, c.containment if kind == "abridged" else 0.0)
            if story_best is None or score > story_best[0]:
                story_best = (score, kind, item_id, c)
        if vetoed is not None:
            vetoes.append(vetoed)
            continue
        if story_best is not None:
            key = (story_best[0], story.last_seen)
            if best is None or key > best[0]:
                best = (key, story.story_id, story_best)
    if best is None:
        return Decision(None, None, tuple(vetoes), item)
    _, story_id, (score, kind, item_id, c) = best
    reason = Reason("coverage", kind, item_id, round(c.similarity, 3), round(c.containment, 3),
                    c.names[:6], c.numbers[:6], c.dates[:4])
    return Decision(story_id, reason, tuple(vetoes), item)


class Clusterer:
    """The whole coverage step over a :class:`~monitor.dedup.eventindex.StoryIndex`: look up,
    weigh, find candidates, decide, record. New stories get ids from ``new_id``."""

    def __init__(self, index: StoryIndex, params: EventParams = DEFAULT, *, new_id=None):
        self.index = index
        self.params = params
        self._ids = count(1)
        self.new_id = new_id or (lambda: next(self._ids))

    def decide(self, rep: Representation) -> Decision:
        """The decision for ``rep`` against the index as it is (nothing recorded)."""
        p = self.params
        since = rep.published - p.window_hours * 3600
        terms = [t for t, _ in rep.terms]
        first = self.index.lookup(terms, (), since, 0)
        rare = lookup_terms(rep, first.df, first.stories, p)
        found = self.index.lookup((), rare, since, p.postings_per_term) if rare else first
        item = weigh(rep, first.df, first.stories)
        ids = candidates(item, Lookup(first.stories, first.df, found.postings), p)
        views = [v for v in self.index.stories(ids, p.members) if v.last_seen >= since]
        return decide(item, views, p)

    def add(self, item_id: int, rep: Representation) -> tuple[int, Decision]:
        """Decide on ``rep`` and record it: (its story id, the decision)."""
        decision = self.decide(rep)
        story_id = decision.story_id if decision.story_id is not None else self.new_id()
        self.index.add(story_id, item_id, decision.item)
        return story_id, decision

    def join(self, story_id: int, item_id: int, rep: Representation) -> None:
        """Record an item the copy level put in ``story_id`` (weighed like any other)."""
        since = rep.published - self.params.window_hours * 3600
        first = self.index.lookup([t for t, _ in rep.terms], (), since, 0)
        self.index.add(story_id, item_id, weigh(rep, first.df, first.stories))
