"""The text index behind ingest (migration 0070, store/textindex.py): a backtest finds an item
the moment its batch committed, the index catches up in bulk, and deletes and edits keep it exact
whether the item was indexed yet or not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, text, update

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.store import sources as source_repo
from monitor.store import textindex
from monitor.store.candidates import backtest_candidates
from monitor.store.models import ItemRow
from monitor.types import Item, utcnow


def items(start: int, n: int, word: str) -> list[Item]:
    now = utcnow()
    return [Item(external_id=str(i), fetched_at=now, published_at=now - timedelta(minutes=i),
                 text=f"Сообщение номер {i}: {word} у моста, подробности позже. Ещё {i * 7}.")
            for i in range(start, start + n)]


def found(store, piece: str) -> set[str]:
    with store.unit() as s:
        return {c.external_id for c in backtest_candidates(s, [piece])}


def check_index(store) -> None:
    with store.unit() as s:
        if s.get_bind().dialect.name == "sqlite":  # FTS5 compares the index with the items
            s.execute(text("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)"))


def test_found_before_and_after_the_index_catches_up(store):
    with store.unit() as s:
        sid = source_repo.add_source(s, type="rss", locator="http://x.example/f", name="x").id
    pipeline = Pipeline(store, Settings(database_url=store.url), alerts_hook=False)
    pipeline.ingest(sid, Batch(items=items(0, 30, "колонна")))
    pipeline.ingest(sid, Batch(items=items(30, 30, "переправа")))
    assert found(store, "колонна") == {str(i) for i in range(30)}  # read from the queue
    with store.unit() as s:
        queued = textindex.pending(s)
    assert queued in (0, 60)  # PostgreSQL has no queue: its index is the database's own
    assert pipeline.catch_up_index(everything=True) == queued
    with store.unit() as s:
        assert textindex.pending(s) == 0
    check_index(store)
    assert found(store, "колонна") == {str(i) for i in range(30)}  # now from the index
    assert found(store, "переправа") == {str(i) for i in range(30, 60)}

    # more items, queued; then deletes and edits of indexed and of queued items
    pipeline.ingest(sid, Batch(items=items(60, 10, "колонна")))
    with store.unit() as s:
        ids = {r.external_id: r.id for r in s.scalars(select(ItemRow))}
        s.execute(delete(ItemRow).where(ItemRow.id.in_([ids["0"], ids["60"]])))
        s.execute(update(ItemRow).where(ItemRow.id.in_([ids["1"], ids["61"]]))
                  .values(norm_text="переправа взорвана"))
    assert found(store, "колонна") == {str(i) for i in range(2, 30)} | {
        str(i) for i in range(62, 70)}
    assert {"1", "61"} <= found(store, "переправа")
    pipeline.catch_up_index(everything=True)
    check_index(store)
    assert found(store, "колонна") == {str(i) for i in range(2, 30)} | {
        str(i) for i in range(62, 70)}
    assert {"1", "61"} <= found(store, "переправа")
