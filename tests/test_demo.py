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
            assert {forward.dedup_kind, claim.dedup_kind} in ({"forward", "new"}, {"tg", "new"})
            story = s.get(StoryRow, claim.story_id)
            assert s.get(SourceRow, story.first_source_id).name == "t.me/frontline_ru"
            # whichever was collected first, the timeline tells the origin from its forward
            from monitor.store.feed import timeline

            line = timeline(s, claim.story_id)
            assert [(e.source, e.joined) for e in line] == [("t.me/frontline_ru", "first seen"),
                                                            ("t.me/svodka_ua", "forward")]
            unrelated = s.scalar(select(ItemRow).where(ItemRow.external_id.like("%weather")))
            assert unrelated is not None and unrelated.story_id != claim.story_id
    finally:
        store.dispose()
    assert any("stories with hits" in line for line in lines)
