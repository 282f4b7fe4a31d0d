"""The desk's story-first view in real headless Chromium, over items the real pipeline stored.

A post in one channel, its forward and an edited repost (a near-duplicate) in another channel are
one story: the feed shows one card saying "2 sources", the story page's timeline lists the three
items in the order the story spread (first seen, forward, near-duplicate), and a page filtered to
the desk shows times in the desk's time zone while the browser runs in another one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.store import desks as desk_repo
from monitor.store import sources as source_repo
from monitor.store.models import ItemRow
from monitor.types import Forward, Item
from tests.web.test_browser import login, pwned, shot

pytestmark = pytest.mark.browser
NOW = datetime.now(timezone.utc).replace(microsecond=0)
DESK_ZONE = "Europe/Kyiv"
POST = (
    "A powerful blast hit the grain terminal in the port of Izmail overnight, the regional "
    "administration said; firefighters worked until morning and the damage is being assessed."
)
REPOST = POST.replace(
    "firefighters worked until morning", "firefighters were working until the morning"
)


@pytest.fixture
def story(store, ids):
    """Three items through the pipeline: the post, its forward, a near-duplicate repost."""
    with store.unit() as s:
        chan_a = source_repo.add_source(
            s, type="telegram-web", locator="izmail_news", name="t.me/izmail_news"
        ).id
        chan_b = source_repo.add_source(
            s, type="telegram-web", locator="odesa_live", name="t.me/odesa_live"
        ).id
        desk_repo.update_desk(s, "news", timezone=DESK_ZONE)
    pipeline = Pipeline(store, Settings(database_url=store.url), alerts_hook=False)

    def post(source_id: int, channel: str, eid: str, text: str, minutes: int, **kw) -> None:
        value = Item(
            external_id=eid,
            fetched_at=NOW,
            published_at=NOW - timedelta(minutes=minutes),
            text=text,
            url=f"https://t.me/{channel}/{eid}",
            channel_username=channel,
            **kw,
        )
        assert pipeline.ingest(source_id, Batch(items=[value])).hits == 1

    post(chan_a, "izmail_news", "77", POST, 90, channel_id=111)
    post(
        chan_b,
        "odesa_live",
        "5",
        POST,
        80,
        channel_id=222,
        forward=Forward(origin_channel_id=111, origin_post_id=77),
    )
    post(chan_b, "odesa_live", "6", REPOST, 70, channel_id=222)
    with store.unit() as s:
        rows = s.execute(
            select(ItemRow.external_id, ItemRow.story_id, ItemRow.dedup_kind).where(
                ItemRow.source_id.in_((chan_a, chan_b))
            )
        ).all()
    kinds = {eid: kind for eid, _, kind in rows}
    assert len({sid for _, sid, _ in rows}) == 1, rows  # the pipeline folded them into one story
    assert kinds == {"77": "new", "5": "forward", "6": "near"}
    return rows[0][1]


def test_a_forward_and_a_near_duplicate_are_one_card_and_one_timeline(
    browser, live_server, ids, story, backend
):
    context = browser.new_context(
        base_url=live_server, timezone_id="Asia/Seoul", viewport={"width": 1280, "height": 900}
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, "admin")

        # The feed: one card for the story, however many hits and sources it has.
        card = page.locator(f"#story-{story}")
        card.wait_for()
        assert page.locator("article.story").count() == 2  # this story and the seeded one
        assert page.locator("article.hit").count() == 0
        assert card.locator(".spread").inner_text() == "2 sources"
        assert "t.me/izmail_news" in card.locator(".first").inner_text()
        assert (
            card.locator(".meta code.term").count() == 1
        )  # the term once, though it hit three items
        assert card.locator("mark").count() >= 1
        card.locator("summary").click()
        items = card.locator("li.story-item")
        assert items.count() == 3
        assert [items.nth(i).locator(".how").inner_text() for i in range(3)] == [
            "first seen",
            "forward",
            "near-duplicate",
        ]
        assert items.nth(2).locator(".item-snippet mark").count() >= 1  # each item has its snippet
        shot(page, "feed-stories", backend)

        # The story page, opened from the desk's feed: its timeline in order, in the desk's zone.
        page.goto(f"/stories/{story}?desk={ids['news']}")
        line = page.locator("#timeline li")
        assert line.count() == 3
        assert [line.nth(i).locator(".src").inner_text() for i in range(3)] == [
            "t.me/izmail_news",
            "t.me/odesa_live",
            "t.me/odesa_live",
        ]
        assert "first seen" in line.nth(0).inner_text()
        assert (
            "forward" in line.nth(1).inner_text() and "near-duplicate" in line.nth(2).inner_text()
        )
        stamp = line.nth(0).locator("time")
        utc = datetime.fromisoformat(stamp.get_attribute("datetime"))
        assert utc == NOW - timedelta(minutes=90)
        local = utc.astimezone(ZoneInfo(DESK_ZONE))
        assert (
            stamp.inner_text() == f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
        )  # the desk's, not Seoul's
        assert stamp.get_attribute("title") == utc.strftime("%Y-%m-%d %H:%M UTC")
        assert "Europe/Kyiv" in page.locator("#page-zone").inner_text()
        shot(page, "story-timeline", backend)

        # The desk's feed shows its times in the desk's zone too; unfiltered, in the browser's.
        page.goto(f"/?desk={ids['news']}")
        first = page.locator(f"#story-{story} .first time")
        assert first.get_attribute("data-tz") == DESK_ZONE and first.inner_text().endswith(
            local.tzname()
        )
        page.goto("/")
        first = page.locator(f"#story-{story} .first time")
        first.wait_for()
        seoul = utc.astimezone(ZoneInfo("Asia/Seoul"))
        assert first.inner_text() == f"{seoul:%Y-%m-%d %H:%M} UTC+09"

        # One verdict for the whole story.
        page.click(f"#story-{story} button[value=relevant]")
        page.wait_for_selector(f"#story-{story}.state-relevant")
        assert pwned(page) is None and errors == []
    finally:
        context.close()
