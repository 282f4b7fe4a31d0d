"""Test data for the alert tests, built through the repositories and the ORM in the test database.

A "world" is a source, a desk with targets, a watchlist with one term routed to the desk. ``hit()``
stores an item, its story and a hit, and calls the pipeline's hook ``route_new_hits`` in the SAME
transaction, as the pipeline does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import select

from monitor.alerts.outbox import route_new_hits
from monitor.alerts.routes import route_settings
from monitor.settings import Settings
from monitor.store import desks as desk_repo
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.models import AlertRow, DeliveryRow, DeliveryAttemptRow, HitRow, ItemRow, StoryRow, WatchlistRow
from monitor.types import content_hash

UTC = timezone.utc
T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
_seq = itertools.count(1)


@dataclass
class World:
    desk_id: int
    watchlist_id: int
    term_id: int
    route_id: int
    source_id: int
    desk: str = "kyiv"


def make_world(store, *, targets: Sequence[str] = ("json://127.0.0.1:9/hook",), desk: str = "kyiv",
               watchlist: str = "dprk", tz: str = "UTC", quiet: tuple[str, str] | None = None,
               created_at: datetime | None = None, source: str = "src-a", **route) -> World:
    """A desk, a source and a routed watchlist with one term; ``route`` goes to ``add_route``."""
    with store.unit() as s:
        d = desk_repo.add_desk(s, desk, targets=list(targets), timezone=tz,
                               quiet_start=quiet[0] if quiet else None, quiet_end=quiet[1] if quiet else None)
        src = source_repo.get_source(s, source) if _has_source(s, source) else source_repo.add_source(
            s, type="rss", locator=f"https://{source}.example/feed.xml", name=source, language="ru")
        wl = watch_repo.add_watchlist(s, watchlist, desk=d)
        if created_at is not None:  # the store returns frozen records: age the row itself
            from monitor.store.models import WatchlistRow

            s.get(WatchlistRow, wl.id).created_at = created_at
        term = watch_repo.add_term(s, wl, "северокорейские военные")
        r = desk_repo.add_route(s, wl, d, route_settings(**({"max_age": 48 * 3600} | route)))
        return World(d.id, wl.id, term.id, r.id, src.id, desk)


def _has_source(s, name: str) -> bool:
    from monitor.store.models import SourceRow

    return s.scalar(select(SourceRow.id).where(SourceRow.name == name)) is not None


def add_source(store, name: str, language: str | None = "ru") -> int:
    with store.unit() as s:
        return source_repo.add_source(s, type="rss", locator=f"https://{name}.example/feed.xml", name=name,
                                      language=language).id


def hit(store, w: World, *, now: datetime, title: str | None = None, story_id: int | None | bool = True,
        published_at: datetime | None = None, source_id: int | None = None, language: str | None = None,
        text: str | None = None, settings: Settings | None = None, term_id: int | None = None,
        watchlist_id: int | None = None) -> tuple[int, int | None, int]:
    """Store an item (in a new story unless ``story_id`` names one; ``False`` = no story yet) and a
    hit on it, then call ``route_new_hits`` in the same transaction: (hit id, story id, alerts made)."""
    n = next(_seq)
    title = title or f"Новость {n}: северокорейские военные"
    text = text or f"Текст {n}: в Курской области замечены «северокорейские военные» <script>x</script>"
    with store.unit() as s:
        item = ItemRow(source_id=source_id or w.source_id, external_id=f"e{n}", url=f"https://a.example/p/{n}",
                    title=title, text=text, language=language, published_at=published_at or now,
                    fetched_at=now, content_hash=content_hash(text))
        s.add(item)
        s.flush()
        if story_id is True:
            story = StoryRow(first_item_id=item.id, first_source_id=item.source_id, first_seen_at=now,
                          last_seen_at=now, title=title)
            s.add(story)
            s.flush()
            story_id = story.id
        elif isinstance(story_id, int) and story_id is not False:
            story = s.get(StoryRow, story_id)
            story.item_count += 1
            sources = {x for x in s.scalars(select(ItemRow.source_id).where(ItemRow.story_id == story_id))}
            story.source_count = len(sources | {item.source_id})
        else:
            story_id = None
        item.story_id = story_id
        h = HitRow(item_id=item.id, term_id=term_id or w.term_id, watchlist_id=watchlist_id or w.watchlist_id,
                term_version=1, item_version=1, story_id=story_id, field="text", spans=[[10, 20]],
                snippet=f"Текст {n}: замечены «северокорейские военные» <b>", snippet_html="",
                matched_hash="0" * 64, created_at=now)
        s.add(h)
        s.flush()
        made = route_new_hits(s, [h.id], now=now)
        return h.id, story_id, made


def alerts(store, **where) -> list[AlertRow]:
    with store.unit() as s:
        q = select(AlertRow).order_by(AlertRow.id)
        for k, v in where.items():
            q = q.where(getattr(AlertRow, k) == v)
        return list(s.scalars(q))


def deliveries(store) -> list[DeliveryRow]:
    with store.unit() as s:
        return list(s.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def attempts(store) -> list[DeliveryAttemptRow]:
    with store.unit() as s:
        return list(s.scalars(select(DeliveryAttemptRow).order_by(DeliveryAttemptRow.id)))


def test_world_builds_a_routed_hit(store):
    w = make_world(store)
    hid, story, made = hit(store, w, now=T0)
    assert made == 1
    (a,) = alerts(store)
    assert (a.key, a.hit_id, a.status, a.due_at) == (f"story:{w.desk_id}:{story}", hid, "pending", T0)
    with store.unit() as s:
        assert s.get(WatchlistRow, w.watchlist_id).desk_id == w.desk_id
    assert [d.alert_id for d in deliveries(store)] == [a.id]
