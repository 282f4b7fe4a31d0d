"""Desk corrections in real headless Chromium: an operator sees how each item joined its story
(level and reason), splits a rewrite out of a story and merges another story in; the next ingest
keeps both corrections."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.store import sources as source_repo
from monitor.store.models import AuditEventRow, ItemRow
from monitor.types import Item
from tests.ingest.test_coverage import BACKGROUND, FIRE, FIRE_REWRITE, NIGHT1
from tests.web.test_browser import login, pwned, shot

pytestmark = pytest.mark.browser
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def by_eid(store) -> dict[str, ItemRow]:
    with store.unit() as s:
        return {it.external_id: it for it in s.scalars(select(ItemRow))}


def test_an_operator_splits_and_merges_and_ingest_keeps_both(browser, live_server, store, ids,
                                                             backend):
    with store.unit() as s:
        chans = [source_repo.add_source(s, type="telegram-web", locator=f"chan{i}",
                                        name=f"t.me/chan{i}").id for i in range(3)]
    pipeline = Pipeline(store, Settings(database_url=store.url), alerts_hook=False)

    def post(source: int, eid: str, text: str, minutes: int) -> None:
        at = NOW - timedelta(minutes=minutes)
        pipeline.ingest(source, Batch(items=[Item(external_id=eid, fetched_at=at,
                                                  published_at=at, text=text)]))

    for i, text in enumerate(BACKGROUND):
        post(chans[2], f"bg{i}", text, 300 - i)
    post(chans[0], "f1", FIRE, 120)
    post(chans[1], "f2", FIRE_REWRITE, 100)
    post(chans[1], "n1", NIGHT1, 90)
    items = by_eid(store)
    story, night = items["f1"].story_id, items["n1"].story_id
    assert items["f2"].story_id == story and items["f2"].dedup_kind == "rewrite"

    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, "oper")
        page.goto(f"/stories/{story}")
        line = page.locator("#timeline li")
        assert line.count() == 2
        assert line.nth(1).get_attribute("data-level") == "coverage"
        assert "rewrite" in line.nth(1).locator(".how").inner_text()
        assert line.nth(1).locator(".reason").inner_text().startswith(
            f"coverage (rewrite) of #{items['f1'].id}: similarity")
        shot(page, "story-coverage", backend)

        # split the rewrite out
        line.nth(1).locator("button.split").click()
        page.wait_for_load_state()
        assert f"split out of story {story}" in page.content()
        assert page.locator("#timeline li").count() == 1
        # merge the night report's story into this one
        page.fill("#merge-form input[name=other]", str(night))
        page.click("#merge-form button")
        page.wait_for_load_state()
        line = page.locator("#timeline li")
        assert line.count() == 2
        assert line.nth(1).get_attribute("data-level") == "desk"
        assert f"story {night} merged in by oper" in line.nth(1).inner_text()
        shot(page, "story-merged", backend)

        # the next ingest: copies of the split rewrite and of the merged report
        post(chans[2], "f2copy", "⚡️ " + FIRE_REWRITE, 30)
        post(chans[2], "n1copy", "⚡️ " + NIGHT1, 20)
        items = by_eid(store)
        split_story = items["f2"].story_id
        assert split_story != story and items["f2copy"].story_id == split_story
        assert items["n1"].story_id == story and items["n1copy"].story_id == story
        page.goto(f"/stories/{story}")
        assert page.locator("#timeline li").count() == 3
        page.goto(f"/stories/{night}")  # the merged story leads to the one it joined
        assert page.url.endswith(f"/stories/{story}")
        page.goto(f"/stories/{split_story}")
        assert page.locator("#timeline li").count() == 2
        assert pwned(page) is None and errors == []
    finally:
        context.close()
    with store.unit() as s:
        actions = sorted(s.scalars(select(AuditEventRow.action).where(
            AuditEventRow.action.like("story.%"))))
    assert actions == ["story.merge", "story.split"]
