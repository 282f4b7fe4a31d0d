"""The stories development set: load it, run both dedup levels over the corpus, score the result.

Shared by ``tests/dedup/test_stories_corpus.py`` (floors) and ``bench/stories.py`` (figures). The
labels (``data/stories_devset.tsv``) reference posts of the telegram-news-classifier corpus; the
texts are read from ``../shared/corpus`` (:func:`load_posts` returns None when it is absent).

The run mirrors the store: the **copy** level first — the text key (same reduced text) and a
MinHash near-duplicate confirmed by the fact guard, both within 7 days of the matched item —
then the **coverage** level (:class:`monitor.dedup.events.Clusterer`) for what copies did not
join. Every corpus post from ``start`` on goes through, labelled or not, in time order.

Pair kinds (computed from the texts, not by the engine): **near-copy** when the exact Jaccard
of the reduced texts' character 5-grams is ≥ 0.5; **abridged** when ≥ 80 % of the shorter post's
words (lower-cased, 3+ letters) occur in a post at least 1.5× as long; else **rewrite**.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.dedup.eventindex import MemoryIndex
from monitor.dedup.eventrep import represent
from monitor.dedup.events import DEFAULT, Clusterer, EventParams
from monitor.dedup.keys import dedup_text, text_key
from monitor.dedup.minhash import band_keys, is_near_duplicate, shingles, signature

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "telegram-news-classifier" / "data" / "raw"
LABELS = Path(__file__).resolve().parent / "data" / "stories_devset.tsv"
MSK = ZoneInfo("Europe/Moscow")
HELD_OUT_FROM = datetime(2024, 12, 1, tzinfo=UTC)
COPY_WINDOW = timedelta(days=7)

Key = tuple[int, int]  # (channel id, message id)


@dataclass(frozen=True, slots=True)
class Post:
    key: Key
    text: str
    published: datetime


@dataclass(frozen=True, slots=True)
class Label:
    event: str
    storyline: str | None
    template: str | None


def load_posts(start: datetime | None = None) -> list[Post] | None:
    """Every non-empty corpus post (from ``start``), oldest first; None without the corpus."""
    files = sorted(CORPUS.glob("*_messages.json")) if CORPUS.is_dir() else []
    if not files:
        return None
    posts = []
    for path in files:
        for p in json.loads(path.read_text(encoding="utf-8")):
            text = (p.get("text") or "").strip()
            published = datetime.fromisoformat(p["date"])
            if text and (start is None or published >= start):
                posts.append(Post((int(p["sender_id"]), int(p["message_id"])), text, published))
    posts.sort(key=lambda p: (p.published, p.key))
    return posts


def load_labels() -> dict[Key, Label]:
    labels = {}
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(("#", "channel_id")):
            continue
        ch, mid, event, storyline, template = line.split("\t")
        labels[(int(ch), int(mid))] = Label(event, None if storyline == "-" else storyline,
                                            None if template == "-" else template)
    return labels


def held_out_events(labels: dict[Key, Label], posts: dict[Key, Post]) -> set[str]:
    """Events whose first labelled post is on or after 1 Dec 2024 (never looked at in tuning)."""
    first: dict[str, datetime] = {}
    for key, label in labels.items():
        at = posts[key].published
        first[label.event] = min(first.get(label.event, at), at)
    return {e for e, at in first.items() if at >= HELD_OUT_FROM}


def run(posts: list[Post], params: EventParams = DEFAULT) -> tuple[dict[Key, int], dict]:
    """Both levels over ``posts`` in order: (story id per post, decision or copy kind per post)."""
    clusterer = Clusterer(MemoryIndex(params.window_hours * 3600), params)
    story: dict[Key, int] = {}
    how: dict = {}
    text_owner: dict[str, tuple[int, datetime]] = {}
    bands: dict[str, list[tuple[Key, datetime]]] = defaultdict(list)
    sigs = {}
    for n, post in enumerate(posts):
        rep = represent(post.text, post.published, tz=MSK)
        tk = text_key(post.text)
        sig = signature(post.text)
        joined = None
        if tk and tk in text_owner and post.published - text_owner[tk][1] <= COPY_WINDOW:
            joined = (text_owner[tk][0], "text")
        elif sig is not None:
            for band in band_keys(sig):
                for other, at in bands[band]:
                    if post.published - at <= COPY_WINDOW and is_near_duplicate(sig, sigs[other]):
                        joined = (story[other], "near-duplicate")
                        break
                if joined:
                    break
        if joined:
            story[post.key] = joined[0]
            how[post.key] = ("copy", joined[1])
            clusterer.join(joined[0], n, rep)
        else:
            sid, decision = clusterer.add(n, rep)
            story[post.key] = sid
            how[post.key] = decision
        if tk and (tk not in text_owner or post.published - text_owner[tk][1] > COPY_WINDOW):
            text_owner[tk] = (story[post.key], post.published)
        if sig is not None:
            sigs[post.key] = sig
            for band in band_keys(sig):
                bands[band].append((post.key, post.published))
    return story, how


_WORDS = re.compile(r"[^\W\d_]{3,}")


def pair_kind(a: str, b: str) -> str:
    """near-copy, abridged or rewrite (see the module docstring)."""
    sa, sb = shingles(dedup_text(a)), shingles(dedup_text(b))
    if sa and sb and len(sa & sb) / len(sa | sb) >= 0.5:
        return "near-copy"
    wa, wb = (set(_WORDS.findall(t.casefold())) for t in (a, b))
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    if short and len(long_) >= 1.5 * len(short) and len(short & long_) / len(short) >= 0.8:
        return "abridged"
    return "rewrite"


def score(story: dict[Key, int], labels: dict[Key, Label], posts: dict[Key, Post],
          events: set[str] | None = None) -> dict:
    """B-cubed precision/recall, pairwise recall per kind, wrong joins and decoys joined over
    the labelled posts (of ``events`` only, when given; joins are counted within that subset)."""
    keys = [k for k, lab in labels.items() if events is None or lab.event in events]
    by_story: dict[int, list[Key]] = defaultdict(list)
    by_event: dict[str, list[Key]] = defaultdict(list)
    for k in keys:
        by_story[story[k]].append(k)
        by_event[labels[k].event].append(k)
    precision = recall = 0.0
    for k in keys:
        same_story = by_story[story[k]]
        same_event = by_event[labels[k].event]
        correct = sum(1 for o in same_story if labels[o].event == labels[k].event)
        precision += correct / len(same_story)
        recall += correct / len(same_event)
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for members in by_event.values():
        for a, b in itertools.combinations(members, 2):
            kind = pair_kind(posts[a].text, posts[b].text)
            kinds[kind][1] += 1
            kinds[kind][0] += story[a] == story[b]
    wrong, decoys = Counter(), []
    for members in by_story.values():
        for a, b in itertools.combinations(members, 2):
            la, lb = labels[a], labels[b]
            if la.event == lb.event:
                continue
            related = la.storyline is not None and la.storyline == lb.storyline
            wrong["storyline" if related else "unrelated"] += 1
            if la.template is not None and la.template == lb.template:
                decoys.append((la.event, lb.event))
    n = len(keys) or 1
    return {"posts": len(keys), "events": len(by_event),
            "multi": sum(1 for m in by_event.values() if len(m) > 1),
            "precision": precision / n, "recall": recall / n,
            "kinds": {k: (v[0], v[1]) for k, v in sorted(kinds.items())},
            "wrong": dict(wrong), "decoys": decoys}
