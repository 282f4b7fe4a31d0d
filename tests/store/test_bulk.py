"""Bulk writes (store/bulk.py) store rows exactly as the ORM would, on both backends."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor.store import sources as source_repo
from monitor.store.bulk import allocate_ids, insert_rows
from monitor.store.models import ItemRow, LshBandRow, StoryRow

KYIV = timezone(timedelta(hours=2))
WHEN = datetime(2024, 10, 1, 12, 0, tzinfo=KYIV)


def test_bulk_rows_read_back_like_orm_rows(store):
    with store.unit() as s:
        src = source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="a")
        s.add(ItemRow(source_id=src.id, external_id="orm", fetched_at=WHEN, content_hash="h", extra={"k": [1]}))
        s.flush()
        ids = allocate_ids(s, ItemRow.__table__, 3)
        assert len(set(ids)) == 3 and min(ids) > s.scalar(select(ItemRow.id).where(ItemRow.external_id == "orm"))
        insert_rows(s, ItemRow.__table__, [
            dict(id=item_id, source_id=src.id, external_id=f"bulk{n}", fetched_at=WHEN, published_at=None,
                 content_hash="h", version=1, text="", extra={"k": [1]} if n else {"other": "x"},
                 minhash=b"\x00\x01" if n else None)
            for n, item_id in enumerate(ids)])
    with store.unit() as s:
        orm = s.scalar(select(ItemRow).where(ItemRow.external_id == "orm"))
        bulk = {i.external_id: i for i in s.scalars(select(ItemRow).where(ItemRow.external_id.like("bulk%")))}
        assert [bulk[f"bulk{n}"].id for n in range(3)] == ids
        for n in (1, 2):
            item = bulk[f"bulk{n}"]
            assert (item.fetched_at, item.extra, item.published_at) == (orm.fetched_at, orm.extra, None)
            assert item.fetched_at == datetime(2024, 10, 1, 10, 0, tzinfo=timezone.utc)
            assert item.minhash == b"\x00\x01"
        assert bulk["bulk0"].extra == {"other": "x"} and bulk["bulk0"].minhash is None
        # stored timestamps compare in SQL like the ORM's (band lookups filter on them)
        assert s.scalar(select(ItemRow.id).where(ItemRow.external_id == "bulk1", ItemRow.fetched_at >= WHEN)) == ids[1]
        assert s.scalar(select(ItemRow.id).where(ItemRow.external_id == "bulk1", ItemRow.fetched_at > WHEN)) is None


def test_allocated_ids_do_not_collide_with_later_inserts(store):
    with store.unit() as s:
        src = source_repo.add_source(s, type="rss", locator="https://a.example/feed", name="a")
        story_ids = allocate_ids(s, StoryRow.__table__, 2)
        insert_rows(s, StoryRow.__table__, [dict(id=i, first_seen_at=WHEN, last_seen_at=WHEN, item_count=1,
                                              source_count=1, created_at=WHEN) for i in story_ids])
        item = ItemRow(source_id=src.id, external_id="1", fetched_at=WHEN, content_hash="h")
        s.add(item)
        s.flush()
        insert_rows(s, LshBandRow.__table__, [dict(band_key=f"{b:02d}:x", item_id=item.id, story_id=story_ids[0],
                                                seen_at=WHEN) for b in range(18)])
        later = StoryRow(first_seen_at=WHEN, last_seen_at=WHEN)
        s.add(later)
        s.flush()
        assert later.id not in story_ids
        assert allocate_ids(s, StoryRow.__table__, 1)[0] > max(story_ids + [later.id])
    with store.unit() as s:
        assert len(s.scalars(select(LshBandRow).where(LshBandRow.seen_at == WHEN)).all()) == 18


def test_columns_with_model_defaults_must_be_given(store):
    with store.unit() as s:
        with pytest.raises(ValueError, match="created_at"):
            insert_rows(s, StoryRow.__table__, [dict(id=1, first_seen_at=WHEN, last_seen_at=WHEN, item_count=1,
                                                  source_count=1)])
