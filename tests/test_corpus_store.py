"""Every real feed in the shared corpus, stored: each entry feedparser yields becomes exactly one
item of its source (none lost, none doubled), and storing the same feed again adds nothing.

Runs on SQLite only (one migrated database for the whole corpus): the store-level uniqueness it
checks is the same constraint on both backends, which the pipeline tests cover on PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.sources.rss import parse_feed
from monitor.store import sources as source_repo
from monitor.store.db import Store
from monitor.store.migrate import upgrade
from monitor.store.models import ItemRow
from tests.sources.test_corpus_feeds import BASE, CORPUS, FEED_SETS, FETCHED, _files, _headers

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory):
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'corpus.db'}")
    upgrade(store)
    yield store
    store.dispose()


@pytest.mark.parametrize("set_name", FEED_SETS)
def test_every_entry_of_every_corpus_feed_is_stored_once(corpus_store, set_name):
    pipeline = Pipeline(corpus_store, Settings(database_url=corpus_store.url), alerts_hook=False)
    headers_for = _headers() if set_name == "feedparser" else {}
    problems, stored_total = [], 0
    for path in _files(set_name):
        rel = path.relative_to(CORPUS / set_name).as_posix()
        headers = headers_for.get(rel, {})
        parsed = parse_feed(path.read_bytes(), headers, BASE + rel, fetched_at=FETCHED)
        if not parsed.is_feed:
            continue
        with corpus_store.unit() as s:
            source_id = source_repo.add_source(s, type="rss", locator=f"{BASE}{set_name}/{rel}",
                                               name=f"{set_name}/{rel}").id
        batch = Batch(items=parsed.items, state={"key_policy": parsed.key_policy})
        try:
            first = pipeline.ingest(source_id, batch)
            again = pipeline.ingest(source_id, batch)
        except Exception as exc:  # noqa: BLE001 - collect them all, report together
            problems.append(f"{rel}: {type(exc).__name__}: {exc}")
            continue
        with corpus_store.unit() as s:
            stored = s.scalar(select(func.count()).select_from(ItemRow).where(ItemRow.source_id == source_id))
        if stored != len(parsed.items) or first.new != len(parsed.items):
            problems.append(f"{rel}: {len(parsed.items)} entries, {first.new} new, {stored} stored")
        if again.new or again.versions:
            problems.append(f"{rel}: storing again added {again.new} items and {again.versions} versions")
        stored_total += stored
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:30])
    assert stored_total > 0
