"""The README's main job: the offline demo runs the whole pipeline on the bundled sources."""

from sqlalchemy import select

from monitor.demo import run_demo
from monitor.store.db import Store
from monitor.store.models import HitRow, ItemRow, SourceRow, StoryRow


def test_demo_collects_matches_and_folds_stories(fresh_db_url):
    lines: list[str] = []
    result = run_demo(fresh_db_url, echo=lines.append)
    first, second = result.passes
    assert first.errors == 0, [r.error for r in first.results if r.error]
    assert first.new_items >= 14 and first.hits >= 6
    assert second.new_items == 0 and second.hits == 0 and second.not_modified >= 4
    store = Store(fresh_db_url)
    try:
        with store.unit() as s:
            hit_sources = set(s.scalars(select(SourceRow.name).join(ItemRow, ItemRow.source_id == SourceRow.id)
                                        .join(HitRow, HitRow.item_id == ItemRow.id)))
            # Russian (with a Latin-o evasion), its Ukrainian forward, Ukrainian, English, Korean, RDF
            assert {"t.me/frontline_ru", "t.me/svodka_ua", "Ukr-Novyny", "Kyiv Wire", "Hanbando News",
                    "Russian Digest"} <= hit_sources
            claim = s.scalar(select(ItemRow).where(ItemRow.external_id == "4512"))
            forward = s.scalar(select(ItemRow).where(ItemRow.external_id == "9902"))
            # the sources are collected concurrently: whichever came first, the other joined by key
            assert forward.story_id == claim.story_id
            # one joined the other by key; the other started the story or joined it as coverage
            # (the Russian outlet's rewrite of the claim, when that was collected first)
            kinds = {forward.dedup_kind, claim.dedup_kind}
            assert len(kinds & {"forward", "tg"}) == 1 and len(kinds - {"forward", "tg"}) == 1
            assert kinds - {"forward", "tg"} <= {"new", "rewrite", "abridged"}
            story = s.get(StoryRow, claim.story_id)
            assert s.get(SourceRow, story.first_source_id).name == "t.me/frontline_ru"
            # whichever was collected first, the timeline tells the origin from its forward
            from monitor.store.feed import timeline

            line = timeline(s, claim.story_id)
            assert (line[0].source, line[0].joined) == ("t.me/frontline_ru", "first seen")
            # the Russian outlet's rewrite of the claim is the same event: the three fold into
            # one story in any collection order; the forward's link is a copy (by key), the
            # rewrite's is coverage, with its reason
            assert sorted(e.source for e in line) == [
                "Russian Digest", "t.me/frontline_ru", "t.me/svodka_ua"]
            levels = sorted(e.level for e in line)
            assert levels == ["copy", "coverage", "first"], levels
            joined = next(e for e in line if e.level == "coverage")
            assert "Донецк" in joined.reason
            unrelated = s.scalar(select(ItemRow).where(ItemRow.external_id.like("%weather")))
            assert unrelated is not None and unrelated.story_id != claim.story_id
    finally:
        store.dispose()
    assert any("stories with hits" in line for line in lines)
