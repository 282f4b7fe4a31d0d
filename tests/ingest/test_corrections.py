"""Desk corrections of stories (split, merge) on SQLite and PostgreSQL: audited, and never undone
by later ingest."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from monitor.actions.stories import merge_stories, split_item
from monitor.errors import InvalidInput, NotFound
from monitor.sources.base import Batch
from monitor.store import feed
from monitor.store.models import AuditEventRow, DedupKeyRow, StoryRow
from tests.ingest.test_coverage import (
    FIRE,
    FIRE_REWRITE,
    NIGHT1,
    background,
    chans,  # noqa: F401 - a fixture
    items,
    make,
    post,
)


def test_a_split_item_stays_out_and_its_copies_follow_it(store, chans):  # noqa: F811
    p = make(store)
    background(p, chans["chan-c"])
    p.ingest(chans["chan-a"], Batch(items=[post("f1", FIRE, 0)]))
    p.ingest(chans["chan-b"], Batch(items=[post("f2", FIRE_REWRITE, 0.7)]))
    by = items(store)
    story = by["f1"].story_id
    assert by["f2"].story_id == story
    with store.unit() as s:
        done = split_item(s, by["f2"].id, by="editor ann")
    assert done.old_story == story and done.new_story != story
    # the next ingest: the index sees the move; a copy of the split item (the same words,
    # another channel) joins its new story, never the one it was split from
    p.ingest(chans["chan-c"], Batch(items=[post("f2copy", "⚡️ " + FIRE_REWRITE, 1.0)]))
    p.ingest(chans["chan-a"], Batch(items=[post("f2again", FIRE_REWRITE + ".", 1.2)]))
    by = items(store)
    assert by["f2"].story_id == done.new_story and by["f2"].dedup_kind == "desk"
    assert by["f2"].dedup_reason == f"split out of story {story} by editor ann"
    assert by["f2copy"].story_id == done.new_story
    assert by["f2again"].story_id == done.new_story
    assert p.coverage.items[by["f2"].id] == done.new_story
    with store.unit() as s:
        old = s.get(StoryRow, story)
        assert (old.item_count, old.first_item_id) == (1, by["f1"].id)
        keys = set(s.scalars(select(DedupKeyRow.story_id).where(
            DedupKeyRow.item_id == by["f2"].id)))
        assert keys == {done.new_story}
        audit = s.scalars(select(AuditEventRow).where(AuditEventRow.action == "story.split")).one()
        assert audit.target == f"item:{by['f2'].id}"
        assert audit.details["from_story"] == story and audit.details["to_story"] == done.new_story
        line = feed.timeline(s, done.new_story)
        assert line[0].item_id == by["f2"].id
        assert [e.level for e in feed.timeline(s, story)] == ["first"]


def test_merged_stories_stay_merged(store, chans):  # noqa: F811
    p = make(store)
    background(p, chans["chan-c"])
    p.ingest(chans["chan-a"], Batch(items=[post("f1", FIRE, 0)]))
    p.ingest(chans["chan-b"], Batch(items=[post("n1", NIGHT1, 0.5)]))
    by = items(store)
    a, b = by["f1"].story_id, by["n1"].story_id
    assert a != b
    with store.unit() as s:
        done = merge_stories(s, a, b, by="editor ann")
    assert done.items == 1
    # later copies of either story's items join the merged story
    p.ingest(chans["chan-c"], Batch(items=[post("n1copy", "⚡️ " + NIGHT1, 1.0)]))
    p.ingest(chans["chan-c"], Batch(items=[post("f1copy", "⚡️ " + FIRE, 1.1)]))
    by = items(store)
    assert by["n1"].story_id == a and by["n1copy"].story_id == a and by["f1copy"].story_id == a
    assert by["n1"].dedup_kind == "desk"
    with store.unit() as s:
        merged = feed.get_story(s, b)
        assert merged.merged_into == a and merged.item_count == 0
        assert b not in {st.id for st in feed.list_stories(s)}
        assert feed.get_story(s, a).item_count == 4
        audit = s.scalars(select(AuditEventRow).where(AuditEventRow.action == "story.merge")).one()
        assert (audit.target, audit.details["merged"]) == (f"story:{a}", b)
        with pytest.raises(InvalidInput):
            merge_stories(s, a, b)  # already merged
        with pytest.raises(InvalidInput):
            merge_stories(s, a, a)
        with pytest.raises(NotFound):
            merge_stories(s, a, 10**9)
        with pytest.raises(InvalidInput):  # alone in its story now? no: four items. A lone one:
            split_item(s, by["bg0"].id)


def test_cli_shows_levels_and_reasons_splits_and_merges(store, chans, cli):  # noqa: F811
    p = make(store)
    background(p, chans["chan-c"])
    p.ingest(chans["chan-a"], Batch(items=[post("f1", FIRE, 0)]))
    p.ingest(chans["chan-b"], Batch(items=[post("f2", FIRE_REWRITE, 0.7)]))
    by = items(store)
    story = by["f1"].story_id
    code, out, _ = cli("story", str(story))
    assert code == 0
    assert "[coverage: rewrite]" in out and "coverage (rewrite) of #" in out
    code, out, _ = cli("story-split", str(by["f2"].id))
    assert code == 0 and f"out of story {story}" in out
    new = items(store)["f2"].story_id
    code, out, _ = cli("story-merge", str(story), str(new))
    assert code == 0 and f"story {new} merged into story {story}" in out
    code, out, _ = cli("story", str(new))
    assert code == 0 and f"merged into story {story}" in out
    code, _, err = cli("story-merge", str(story), str(story))
    assert code != 0 and "itself" in err
