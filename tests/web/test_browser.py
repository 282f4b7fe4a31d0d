"""End to end in real headless Chromium against a uvicorn server on the test database.

An operator logs in, adds a source, types a watch term with a syntax error (the editor shows where)
then fixes it, tests and backtests it, saves it; a new item and hit stored meanwhile appears in the
open feed without a reload; the operator reviews it and exports the feed as CSV. Hostile posts are
shown everywhere without any injected script running (``window.__pwned`` stays undefined).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.store.models import HitRow, ReviewRow, SourceRow, WatchTermRow
from tests.web.seed import PASSWORD, add_item, match_and_store

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    context.close()


def shot(page, name: str, backend: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{backend}.png"), full_page=True)


def pwned(page) -> object:
    return page.evaluate("() => window.__pwned")


def login(page, name: str) -> None:
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def test_operator_workflow_end_to_end(page, store, ids, backend):
    login(page, "admin")
    assert page.locator("article.story").count() == 1  # the desk's view: the seeded story, one card
    page.goto("/?view=hits")
    initial = page.locator("article.hit").count()
    assert initial == len(ids["hits"]) == 3
    assert page.locator("article.hit mark").count() >= 3
    shot(page, "feed", backend)

    # A source, added through the form.
    page.goto("/sources")
    page.select_option("#source-form select[name=type]", "rss")
    page.fill("#source-form input[name=locator]", "https://news.example/rss.xml")
    page.fill("#source-form input[name=name]", "news-example")
    page.fill("#source-form input[name=interval]", "15m")
    page.click("#source-form button[type=submit]")
    page.wait_for_selector("text=Source 'news-example' added")
    assert page.locator("#sources >> text=news-example").count() == 1
    with store.unit() as s:
        assert s.scalar(select(SourceRow.pinned_interval).where(SourceRow.name == "news-example")) == 900
    shot(page, "sources", backend)

    # A watch term: first with a syntax error, shown at its position as we type; then fixed.
    page.goto(f"/watchlists/{ids['watchlist']}")
    page.fill("#query", 'port AND (blast OR')
    page.wait_for_selector("#query-status.bad mark.error-at")
    status = page.locator("#query-status")
    position = int(status.get_attribute("data-position"))
    assert position >= len("port AND (blast ")
    shot(page, "term-error", backend)
    page.fill("#query", "port AND (blast OR explosion)")
    page.wait_for_selector("#query-status.ok")
    # Live test against pasted text.
    page.fill("#test-text", "Huge blast rocks the port of Odesa")
    page.click("#test-run")
    page.wait_for_selector("#test-result mark")
    assert "blast" in page.locator("#test-result mark").first.inner_text().lower()
    # Backtest over the stored items (both seeded stories mention a port and a blast).
    page.select_option("#backtest-days", "0")
    page.click("#backtest-run")
    page.wait_for_selector("#backtest-result .bt-new")
    assert int(page.locator("#backtest-result .bt-new").inner_text()) == 2
    assert pwned(page) is None
    page.click("#term-form button[type=submit]")
    page.wait_for_url("**/terms/*")
    term_id = int(page.url.rsplit("/", 1)[1])
    with store.unit() as s:
        assert s.get(WatchTermRow, term_id).query == "port AND (blast OR explosion)"

    # Editing: the backtest compares the edited query with the saved version.
    page.fill("#query", "port AND blast AND confirmed")
    page.wait_for_selector("#query-status.ok")
    page.click("#backtest-run")
    page.wait_for_selector("#backtest-result .bt-saved")
    assert int(page.locator("#backtest-result .bt-new").inner_text()) == 1
    assert int(page.locator("#backtest-result .bt-saved").inner_text()) == 2
    assert page.locator("#backtest-result .bt-only_saved li").count() == 1
    shot(page, "term-editor", backend)
    page.click("#term-save")
    page.wait_for_selector("text=Term saved (version 2)")
    assert page.locator("#history tbody tr").count() == 2

    # The live feed of single hits: a hit stored now shows up without a reload.
    page.goto("/?view=hits")
    page.wait_for_selector("#live-status")
    with store.unit() as s:
        src = s.get(SourceRow, ids["source2"])
        item = add_item(s, src, "Second blast at the port", "Another blast was heard at the port tonight.",
                        url="https://other.example/a/2")
        hits = match_and_store(s, item, [s.get(WatchTermRow, term_id), s.get(WatchTermRow, ids["term"])])
        new_hit = min(h.id for h in hits)
    page.wait_for_selector(f"#hit-{new_hit}", timeout=20_000)
    assert page.locator("article.hit").count() == initial + len(hits)
    shot(page, "feed-live", backend)

    # Review it from the feed.
    page.click(f"#hit-{new_hit} button[value=relevant]")
    page.wait_for_selector(f"#hit-{new_hit}.state-relevant")
    with store.unit() as s:
        assert s.get(HitRow, new_hit).review_state == "relevant"
        reviews = s.scalars(select(ReviewRow).where(ReviewRow.hit_id == new_hit)).all()
        assert [(r.verdict, r.reviewer_id) for r in reviews] == [("relevant", ids["admin"])]

    # Export the current view as CSV.
    with page.expect_download() as dl:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == initial + len(hits)
    assert rows[0]["title"] == "Second blast at the port"
    assert {r["review_state"] for r in rows if int(r["hit_id"]) == new_hit} == {"relevant"}
    assert page.errors == []


def test_hostile_posts_stay_inert_in_the_browser(page, ids, backend):
    login(page, "admin")
    assert pwned(page) is None
    assert page.locator("#stories").inner_text().count("<script>") >= 1  # shown as text
    page.goto("/?view=hits")
    assert page.locator("#hits").inner_text().count("<script>") >= 1
    assert pwned(page) is None
    page.goto(f"/items/{ids['hostile']}")
    page.wait_for_selector("#item-text mark")
    assert pwned(page) is None
    assert "window.__pwned=5" in page.locator("#item-text").inner_text()
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("#timeline li").count() == 2
    assert "first seen" in page.locator("#timeline li").first.inner_text()
    shot(page, "item", backend)
    # Review with a note and an assignment on the item page.
    form = page.locator(f"#review-{ids['hit']} form")
    form.locator("select[name=verdict]").select_option("not_relevant")
    form.locator("select[name=assignee]").select_option(label="viewer")
    form.locator("input[name=note]").fill('<img src=x onerror="window.__pwned=12"> duplicate')
    form.locator("button[type=submit]").click()
    page.wait_for_selector("table.trail")
    assert pwned(page) is None
    assert "duplicate" in page.locator("table.trail").inner_text()
    # The Atom feed, opened as a page.
    page.goto(f"/watchlists/{ids['watchlist']}")
    page.click("#atom-rotate")
    url = page.locator("#atom-url").inner_text()
    page.goto(url)
    assert pwned(page) is None
    for path in ("/desks", "/alerts", "/users"):
        page.goto(path)
        assert pwned(page) is None
        shot(page, path.strip("/"), backend)
    assert "SECRET-TOKEN-123" not in page.content()
    assert page.errors == []


def test_times_show_in_the_reader_s_time_zone(browser, live_server, ids, backend):
    from datetime import datetime, timedelta

    context = browser.new_context(base_url=live_server, timezone_id="Asia/Seoul")
    try:
        pg = context.new_page()
        login(pg, "admin")
        first = pg.locator("time[datetime]").first
        first.wait_for()
        stamp = first.get_attribute("datetime")
        shown, title = first.inner_text(), first.get_attribute("title")
        utc = datetime.fromisoformat(stamp)
        assert title == utc.strftime("%Y-%m-%d %H:%M UTC")  # the server's UTC stays in the tooltip
        assert shown == (utc + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M") + " UTC+09"
    finally:
        context.close()
