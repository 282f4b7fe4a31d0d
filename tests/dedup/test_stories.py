"""The story decision (monitor.dedup.stories.decide), over candidates given as values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.dedup.stories import JOINERS, Candidates, Cluster, Entry, Join, decide, story_title
from monitor.store.values import BandCandidate, KeyOwner

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(days=7)


def score(a: bytes, b: bytes) -> float:
    """Similarity of two toy signatures: the share of equal bytes."""
    return sum(x == y for x, y in zip(a, b)) / max(len(a), len(b))


def entry(item_id: int, keys=(), sig: bytes | None = None, bands=(), *, at=T0, source=1) -> Entry:
    return Entry(item_id, source, at, f"item {item_id}", Cluster(tuple(keys), sig, tuple(bands)))


def run(entries, owners=(), bands=(), **kw):
    return decide(entries, Candidates(tuple(owners), tuple(bands)), window=WINDOW,
                  similarity=kw.pop("similarity", 0.75), score=score, **kw)


def test_the_strongest_stored_key_wins_with_its_reason():
    owners = [KeyOwner("tg:1/2", "forward", 10, T0), KeyOwner("abc", "text", 11, T0)]
    (p,) = run([entry(1, [("forward", "tg:1/2"), ("text", "abc")])], owners).placements
    assert (p.story_id, p.how, p.new_ref) == (10, "forward", None)
    assert p.reason == "same forward key tg:1/2"


def test_a_text_key_joins_only_within_the_window_and_is_renewed_after_it():
    owners = [KeyOwner("abc", "text", 11, T0 - timedelta(days=30))]
    d = run([entry(1, [("text", "abc")]), entry(2, [("text", "abc")], source=2)], owners)
    first, second = d.placements
    assert (first.how, first.new_ref, first.renewed) == ("new", 0, ("abc",))
    assert (second.how, second.new_ref) == ("text", 0)  # the later copy joins the new owner
    assert [s.first_item_id for s in d.new_stories] == [1]
    # a URL key joins however late
    (late,) = run([entry(3, [("url", "u")])], [KeyOwner("u", "url", 12, T0 - timedelta(days=90))]
                  ).placements
    assert late.story_id == 12


def test_near_duplicates_join_the_best_candidate_above_the_threshold_within_the_window():
    near = [BandCandidate("b1", 5, 20, T0, b"abcdefgh"),
            BandCandidate("b1", 6, 21, T0, b"abcdefgx"),
            BandCandidate("b2", 7, 22, T0 - timedelta(days=9), b"abcdefgh")]
    (p,) = run([entry(1, sig=b"abcdefgh", bands=["b1", "b2"])], bands=near).placements
    assert (p.story_id, p.how, p.reason) == (20, "near", "near-duplicate, similarity 1.00")
    (q,) = run([entry(1, sig=b"abxxxxxx", bands=["b1"])], bands=near).placements
    assert q.how == "new"  # 0.25 is below the threshold


def test_a_copy_later_in_the_batch_joins_an_earlier_one():
    d = run([entry(1, [("url", "u")], b"abcdefgh", ["b"]), entry(2, [("url", "u")]),
             entry(3, sig=b"abcdefgh", bands=["b"])])
    assert [(p.how, p.new_ref) for p in d.placements] == [("new", 0), ("url", 0), ("near", 0)]
    assert len(d.new_stories) == 1 and d.new_stories[0].title == "item 1"


def test_another_way_to_join_plugs_in_after_the_others():
    def same_event(e: Entry, state) -> Join | None:
        return Join(99, "event", "same event 42") if e.item_id == 2 else None

    d = run([entry(1), entry(2)], joiners=(*JOINERS, same_event))
    assert [(p.how, p.story_id, p.reason) for p in d.placements] == [
        ("new", None, "no earlier copy"), ("event", 99, "same event 42")]


def test_story_title_is_the_title_else_the_first_line():
    assert story_title("Заголовок", "текст") == "Заголовок"
    assert story_title(None, "\n Первая строка\nвторая") == "Первая строка"
    assert story_title(None, "  ") is None
