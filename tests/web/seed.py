"""Test data for the web tests: users, desks, a source, watchlists and items with hostile text.

Items and hits go in through the ORM with the real matcher computing each hit (spans, snippet,
escaped snippet HTML), the way the pipeline stores them.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from monitor.match import MatchDoc, TermSpec, compile_matcher, matching_form
from monitor.store import desks as desk_repo
from monitor.store import sources as source_repo
from monitor.store import users as user_repo
from monitor.store import watch as watch_repo
from monitor.store.hits import matched_hash
from monitor.store.models import HitRow, ItemRow, ItemVersionRow, SourceRow, StoryRow, WatchTermRow
from monitor.types import content_hash, utcnow

PASSWORD = "correct horse battery"

# Every way a post could try to run script in a page, a feed or a feed reader.
HOSTILE_TITLE = 'Blast <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'
HOSTILE_TEXT = (
    "Explosion reported near the port. <script>window.__pwned=3</script>\n"
    '<img src=x onerror="window.__pwned=4"> <a href="javascript:window.__pwned=5">click</a> '
    "[link](javascript:window.__pwned=6) <b>bold</b> **bold** __italic__ "
    '"><svg onload="window.__pwned=7"> &lt;script&gt;window.__pwned=8&lt;/script&gt;'
)
HOSTILE_URL = "javascript:window.__pwned=9"


def add_item(s: Session, source: SourceRow, title: str | None, text: str, *, url: str | None = None,
             ago: timedelta = timedelta(minutes=5), story: StoryRow | None = None, **extra) -> ItemRow:
    now = utcnow()
    item = ItemRow(source_id=source.id, external_id=f"x{now.timestamp()}-{id(text)}-{len(text)}",
                title=title, text=text, url=url, norm_text=matching_form((title or "") + "\n" + text),
                language=extra.pop("language", "en"), published_at=now - ago, fetched_at=now - ago / 2,
                content_hash=content_hash(title, text), story_id=story.id if story else None, **extra)
    s.add(item)
    s.flush()
    s.add(ItemVersionRow(item_id=item.id, version=1, title=title, text=text, url=url,
                      content_hash=item.content_hash, fetched_at=item.fetched_at))
    s.flush()
    return item


def new_story(s: Session, source: SourceRow) -> StoryRow:
    story = StoryRow(first_source_id=source.id, first_seen_at=utcnow(), last_seen_at=utcnow(), item_count=0,
                  source_count=0)
    s.add(story)
    s.flush()
    return story


def match_and_store(s: Session, item: ItemRow, terms: list[WatchTermRow], aliases=None) -> list[HitRow]:
    """Run the real matcher over an item and store a hit per matching term."""
    matcher = compile_matcher([TermSpec(t.id, t.query) for t in terms], aliases or {})
    source = s.get(SourceRow, item.source_id)
    by_id = {t.id: t for t in terms}
    hits = []
    for th in matcher.match(MatchDoc(text=item.text, title=item.title, source=source.name,
                                     lang=item.language, channel=item.channel_username)):
        term = by_id[th.term_id]
        hit = HitRow(item_id=item.id, term_id=term.id, watchlist_id=term.watchlist_id, term_version=term.version,
                  item_version=item.version, story_id=item.story_id, field=th.field,
                  spans=[[sp.start, sp.end] for sp in th.spans], snippet=th.snippet,
                  snippet_html=th.snippet_html,
                  matched_hash=matched_hash(item.title if th.field == "title" else item.text))
        s.add(hit)
        hits.append(hit)
    s.flush()
    return hits


def seed(store) -> dict:
    """Two desks; admin, operator, a viewer on desk 'news' and one on 'other'; hostile hits."""
    with store.unit() as s:
        news = desk_repo.add_desk(s, "news", targets=["json://alerts.example/hook?token=SECRET-TOKEN-123"])
        other = desk_repo.add_desk(s, "other")
        ids = {}
        for name, role in (("admin", "admin"), ("oper", "operator"), ("viewer", "viewer"), ("outsider", "viewer")):
            ids[name] = user_repo.add_user(s, name, role=role, password=PASSWORD).id
        user_repo.join_desk(s, user_repo.get_user(s, "viewer"), news)
        user_repo.join_desk(s, user_repo.get_user(s, "outsider"), other)
        src = source_repo.add_source(s, type="rss", locator="https://example.org/feed.xml", name="example-feed")
        src2 = source_repo.add_source(s, type="rss", locator="https://other.example/rss", name="second-feed")
        wl = watch_repo.add_watchlist(s, "ports", desk=news)
        wl_other = watch_repo.add_watchlist(s, "secret-other", desk=other)
        term = watch_repo.add_term(s, wl, "explosion OR blast")
        term_other = watch_repo.add_term(s, wl_other, "explosion")
        story = new_story(s, src)
        hostile = add_item(s, src, HOSTILE_TITLE, HOSTILE_TEXT, url=HOSTILE_URL, story=story,
                           ago=timedelta(hours=2), fwd_url="javascript:window.__pwned=10",
                           fwd_from_name='<script>window.__pwned=11</script>')
        echo = add_item(s, src2, "Port blast confirmed", "A blast at the port was confirmed by officials.",
                        url="https://other.example/a/1", story=story, ago=timedelta(hours=1))
        story.first_item_id, story.item_count, story.source_count = hostile.id, 2, 2
        add_item(s, src, "Weather", "Sunny all week, nothing to report.")
        hits = match_and_store(s, hostile, [term, term_other]) + match_and_store(s, echo, [term, term_other])
        ids.update(news=news.id, other=other.id, source=src.id, source2=src2.id, watchlist=wl.id,
                   watchlist_other=wl_other.id, term=term.id, term_other=term_other.id, hostile=hostile.id,
                   echo=echo.id, story=story.id,
                   hits=[h.id for h in hits], hit=next(h.id for h in hits if h.term_id == term.id))
        ids["hit_other"] = next(h.id for h in hits if h.term_id == term_other.id)
    return ids
