"""Benchmark the stories clusterer: quality on the labelled dev set, cost at 50,000 items in window.

    python bench/stories.py [--window-items 50000] [--measure 2000] [--skip-cost]

Quality: every corpus post of telegram-news-classifier from 19 Nov 2024 on (РИА Новости 26 Nov –
4 Dec, Naked Science) goes through both levels in time order (copies: text key and MinHash
near-duplicates as the store does; coverage: :mod:`monitor.dedup.events`), and the labelled posts
(``tests/dedup/data/stories_devset.tsv``) are scored: B-cubed precision and recall; pairwise
recall per kind (near-copy, abridged copy, rewrite: see ``tests/dedup/devset.py``); wrong joins
(within a storyline / unrelated); decoys joined (posts of one template, different events), by
the level that joined them. Figures for all events, the tuning part (events first posted before
1 Dec) and the held-out part (from 1 Dec, not looked at while tuning).

Cost: the window is loaded with ``--window-items`` synthetic items spread evenly over 72 h, built
from the corpus posts' representations: each replica keeps the terms that are common in the corpus
(held by more than 20 posts: shared by all, like "Россия" or "заявить") and renames the rarer ones
per replica, so stories do not collapse into copies of each other while term frequencies and
posting lengths stay realistic. They go through the real clusterer (setup, not timed). Then
``--measure`` real posts (renamed as one more replica) are timed: representation from the text
(pymorphy3 memo warm, as in steady state), the decision (lookups, weights, candidates, decide)
and the index update, in µs of CPU time per item on one core.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.dedup.eventindex import MemoryIndex
from monitor.dedup.eventrep import Representation, represent, term_id
from monitor.dedup.events import DEFAULT, Clusterer
from tests.dedup import devset as D

START = datetime(2024, 11, 19, tzinfo=UTC)


def quality() -> None:
    posts = D.load_posts(START)
    if posts is None:
        print(f"corpus absent: {D.CORPUS}")
        return
    by_key = {p.key: p for p in posts}
    labels = D.load_labels()
    held = D.held_out_events(labels, by_key)
    every = {lab.event for lab in labels.values()}
    t0 = time.perf_counter()
    story, how = D.run(posts, DEFAULT)
    took = time.perf_counter() - t0
    print(f"dev set: {len(labels)} labelled posts, {len(every)} events; stream of {len(posts)} "
          f"posts clustered in {took:.1f} s")
    for name, events in (("all", every), ("tuning (before 1 Dec)", every - held),
                         ("held-out (from 1 Dec)", held)):
        s = D.score(story, labels, by_key, events)
        kinds = ", ".join(f"{k} {j}/{n} ({j / n:.0%})" for k, (j, n) in s["kinds"].items() if n)
        levels = Counter()
        for a, b in s["decoys"]:
            levels[_level(a, b, labels, story, how)] += 1
        print(f"\n{name}: {s['posts']} posts, {s['events']} events ({s['multi']} with 2+ posts)")
        print(f"  B-cubed precision {s['precision']:.3f}  recall {s['recall']:.3f}")
        print(f"  pairs joined: {kinds}")
        print(f"  wrong joins (pairs): within a storyline {s['wrong'].get('storyline', 0)}, "
              f"unrelated {s['wrong'].get('unrelated', 0)}")
        print(f"  decoys joined: {len(s['decoys'])} "
              f"({', '.join(f'{k} level {v}' for k, v in levels.items()) or 'none'})"
              + (f": {sorted(set(s['decoys']))}" if s["decoys"] else ""))


def _level(a: str, b: str, labels, story, how) -> str:
    """Which level put the later post of a decoy pair in the story (copy or coverage)."""
    keys = [k for k, lab in labels.items() if lab.event in (a, b)]
    joined = [k for k in keys if any(story[k] == story[o] and labels[o].event != labels[k].event
                                     for o in keys)]
    last = max(joined, key=lambda k: k[1])
    return "copy" if isinstance(how[last], tuple) else "coverage"


def _renamed(rep: Representation, replica: int, common: set[int], at: float) -> Representation:
    def m(t: int) -> int:
        return t if t in common else term_id("r", f"{t}:{replica}")
    return replace(rep, published=at, terms=tuple(sorted((m(t), c) for t, c in rep.terms)),
                   lead=frozenset(m(t) for t in rep.lead),
                   names=tuple((m(t), k, s, sp) for t, k, s, sp in rep.names))


def cost(window_items: int, measure: int) -> None:
    posts = D.load_posts()
    if posts is None:
        print(f"corpus absent: {D.CORPUS}")
        return
    reps = [represent(p.text, p.published, tz=D.MSK) for p in posts]  # warms the lemma memo
    df = Counter(t for r in reps for t, _ in r.terms)
    common = {t for t, n in df.items() if n > 20}
    window = DEFAULT.window_hours * 3600
    step = window / window_items
    t0 = datetime(2024, 12, 10, tzinfo=UTC).timestamp()
    clusterer = Clusterer(MemoryIndex(window), DEFAULT)
    started = time.perf_counter()
    n = len(reps)
    for i in range(window_items):
        clusterer.add(i, _renamed(reps[i % n], 10_000 + i // n, common, t0 + i * step))
    setup = time.perf_counter() - started
    index = clusterer.index
    # The in-memory window is ~10^7 Python objects; without this, each full collection walks
    # them all (ms pauses a store-backed index would not have). New objects are still collected.
    gc.collect()
    gc.freeze()
    print(f"\ncost: window of {window_items} synthetic items over {DEFAULT.window_hours:.0f} h "
          f"({len(index)} stories, {len(index._postings)} distinct terms); loaded in {setup:.0f} s")
    # CPU time of this thread (time.thread_time): the machine is shared, and wall-clock
    # figures carry other processes' preemptions (ms stalls); the wall total is printed too.
    clock = time.thread_time
    rep_us, decide_us, add_us = [], [], []
    wall = time.perf_counter()
    for j in range(measure):
        post = posts[j % n]
        a = clock()
        rep = represent(post.text, post.published, tz=D.MSK)
        b = clock()
        rep = _renamed(rep, 99_999, common, t0 + (window_items + j) * step)
        c = clock()
        decision = clusterer.decide(rep)
        d = clock()
        sid = decision.story_id if decision.story_id is not None else clusterer.new_id()
        index.add(sid, window_items + j, decision.item)
        e = clock()
        rep_us.append((b - a) * 1e6)
        decide_us.append((d - c) * 1e6)
        add_us.append((e - d) * 1e6)
    wall = time.perf_counter() - wall
    total = [x + y + z for x, y, z in zip(rep_us, decide_us, add_us)]
    for name, xs in (("representation", rep_us), ("decision", decide_us),
                     ("index update", add_us), ("total", total)):
        xs = sorted(xs)
        print(f"  {name:15s} mean {statistics.fmean(xs):7.1f} µs   median {xs[len(xs) // 2]:7.1f}"
              f"   p95 {xs[int(len(xs) * 0.95)]:7.1f}")
    print(f"  => {1e6 / statistics.fmean(total):,.0f} items/s for the event step alone (one core, "
          f"CPU time); wall clock {wall / measure * 1e6:.0f} µs per item including the renaming")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--window-items", type=int, default=50_000)
    ap.add_argument("--measure", type=int, default=2000)
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    if not args.skip_quality:
        quality()
    if not args.skip_cost:
        cost(args.window_items, args.measure)


if __name__ == "__main__":
    main()
