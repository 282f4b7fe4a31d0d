"""Benchmark the web pages and a backtest over a large store.

    python bench/backtest.py [--items 1000000] [--hits 100000] [--db URL] [--repeat 5]

Builds a fresh database (default: an SQLite file in a temporary directory; ``--db`` takes an empty
SQLite or PostgreSQL database) through the migrations, fills it with ``--items`` synthetic posts
(Russian / Ukrainian / English words, ~40 per post, over 90 days, 500 sources), ``--hits`` hits over
50 terms in 10 watchlists on 3 desks (10 % reviewed), a story per hit item pair and 5 000 alerts,
then prints for each page the median in-process request time (TestClient: the server's work plus a
little client overhead) as an admin and as a desk viewer, and one backtest over all history.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from monitor.match import matching_form  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from monitor.store import users as user_repo  # noqa: E402
from monitor.store.db import Store  # noqa: E402
from monitor.store.migrate import upgrade  # noqa: E402
from monitor.store.models import (  # noqa: E402
    Alert,
    DeliveryRow,
    DeliveryAttemptRow,
    DeskRow,
    DeskTargetRow,
    HitRow,
    ItemRow,
    SourceRow,
    StoryRow,
    WatchlistRow,
    WatchTermRow,
)

WORDS = ("взрыв порт одесса министр заявил сегодня россия украина войска атака удар ракета город "
         "власти область глава правительство президент выборы суд дело полиция задержали пожар "
         "вибух порт київ міністр заявив сьогодні влада область голова уряд суд поліція пожежа "
         "explosion port minister said today city officials court police fire election army attack "
         "drone strike energy grid border bridge train station airport harbour ship cargo grain").split()
RARE = ("детонация", "танкер", "dnipro")
PASSWORD = "bench password"


def build(store: Store, n_items: int, n_hits: int, rng: random.Random) -> dict:
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    with store.unit() as s:
        desks = [DeskRow(name=f"desk{i}") for i in range(3)]
        s.add_all(desks)
        s.flush()
        for d in desks:
            d.targets.append(DeskTargetRow(url=f"json://hooks.example/{d.name}?token=secret"))
        sources = [SourceRow(name=f"source{i:03d}", type="rss", locator=f"https://s{i}.example/feed",
                          options={}, state={}, next_check_at=now, last_checked_at=now - timedelta(minutes=i),
                          last_new_item_at=now - timedelta(hours=i % 72), last_status="200",
                          error_count=i % 7 == 0 and 3 or 0) for i in range(500)]
        s.add_all(sources)
        wls = [WatchlistRow(name=f"watchlist{i}", desk_id=desks[i % 3].id) for i in range(10)]
        s.add_all(wls)
        s.flush()
        terms = [WatchTermRow(watchlist_id=wls[i % 10].id, query=f"{WORDS[i]} AND {WORDS[i + 1]}") for i in range(50)]
        s.add_all(terms)
        s.flush()
        user_repo.add_user(s, "admin", role="admin", password=PASSWORD)
        viewer = user_repo.add_user(s, "viewer", role="viewer", password=PASSWORD)
        user_repo.join_desk(s, viewer, desks[0])
        src_ids, term_rows = [x.id for x in sources], [(t.id, t.watchlist_id) for t in terms]
        desk_ids = [d.id for d in desks]
        target_ids = [t.id for d in desks for t in d.targets]
    span = 90 * 86400
    batch = []
    with store.unit() as s:
        for i in range(n_items):
            words = rng.choices(WORDS, k=40)
            if rng.random() < 0.002:
                words[rng.randrange(40)] = rng.choice(RARE)
            title, text = " ".join(words[:6]).capitalize(), " ".join(words[6:])
            published = now - timedelta(seconds=span * (1 - i / n_items))
            batch.append({"source_id": src_ids[i % 500], "external_id": str(i), "title": title, "text": text,
                          "norm_text": matching_form(title + "\n" + text), "url": f"https://s.example/{i}",
                          "language": ("ru", "uk", "en")[i % 3], "published_at": published,
                          "fetched_at": published, "content_hash": f"{i:064d}", "version": 1, "extra": {}})
            if len(batch) == 10_000:
                s.execute(insert(ItemRow), batch)
                batch.clear()
        if batch:
            s.execute(insert(ItemRow), batch)
    t1 = time.perf_counter()
    with store.unit() as s:
        lo, hi = s.execute(select(func.min(ItemRow.id), func.max(ItemRow.id))).one()
        item_ids = sorted(rng.sample(range(lo, hi + 1), n_hits))
        stories = []
        for k in range(0, len(item_ids), 2):
            stories.append({"first_item_id": item_ids[k], "first_source_id": src_ids[0], "first_seen_at": now,
                            "last_seen_at": now, "item_count": 2, "source_count": 2})
        for k in range(0, len(stories), 10_000):
            s.execute(insert(StoryRow), stories[k:k + 10_000])
        first_story = s.scalar(select(func.min(StoryRow.id)))
        hits = []
        for k, item_id in enumerate(item_ids):
            term_id, wl_id = term_rows[k % 50]
            state = rng.choices(("new", "relevant", "not_relevant"), weights=(90, 6, 4))[0]
            hits.append({"item_id": item_id, "term_id": term_id, "watchlist_id": wl_id, "term_version": 1,
                         "item_version": 1, "story_id": first_story + k // 2, "field": "text",
                         "spans": [[0, 5]], "snippet": "snippet text", "snippet_html": "<mark>snipp</mark>et",
                         "matched_hash": "0" * 64, "review_state": state,
                         "created_at": now - timedelta(seconds=span * (1 - k / n_hits))})
        for k in range(0, len(hits), 10_000):
            s.execute(insert(HitRow), hits[k:k + 10_000])
        for k in range(0, len(item_ids), 2):  # both items of a pair join the pair's story
            story_id = first_story + k // 2
            s.query(ItemRow).filter(ItemRow.id.in_(item_ids[k:k + 2])).update({"story_id": story_id},
                                                                       synchronize_session=False)
        for a in range(5000):
            alert = Alert(key=f"bench:{a}", kind="story", desk_id=desk_ids[a % 3], status="sent", payload={})
            s.add(alert)
            if a % 100 == 0:
                s.flush()
        s.flush()
        alert_ids = s.scalars(select(Alert.id)).all()
        s.execute(insert(DeliveryRow), [{"alert_id": a, "target_id": target_ids[i % 3], "status": "sent",
                                      "attempts": 1, "next_attempt_at": now} for i, a in enumerate(alert_ids)])
        d_ids = s.scalars(select(DeliveryRow.id)).all()
        s.execute(insert(DeliveryAttemptRow), [{"delivery_id": d, "at": now, "outcome": "sent"} for d in d_ids])
        mid_hit = s.scalar(select(HitRow.id).order_by(HitRow.id).offset(n_hits // 2).limit(1))
        sample_item = item_ids[len(item_ids) // 2]
    # Fresh statistics (and, on PostgreSQL, the visibility map), as autovacuum would leave them.
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with store.unit() as s:
            s.connection().exec_driver_sql("ANALYZE")
    print(f"built {n_items:,} items in {t1 - t0:.0f} s, hits/stories/alerts in {time.perf_counter() - t1:.0f} s")
    return {"wl": term_rows[0][1], "term": term_rows[0][0], "source": src_ids[3], "mid_hit": mid_hit,
            "item": sample_item}


def timed(client, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, (url, r.status_code)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--hits", type=int, default=100_000)
    ap.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{tmp.name}/bench.db"
    store = Store(url)
    upgrade(store)
    ids = build(store, args.items, min(args.hits, args.items), random.Random(args.seed))

    from fastapi.testclient import TestClient

    from monitor.web.app import create_app
    from tests.web.conftest import csrf_of

    app = create_app(Settings(data_dir=Path(tmp.name)), store)
    pages = [("feed", "/"), ("feed, watchlist filter", f"/?watchlist={ids['wl']}"),
             ("feed, source filter", f"/?source={ids['source']}"), ("feed, relevant only", "/?state=relevant"),
             ("feed, language + 7d", "/?lang=uk&since=7d"), ("feed, page in the middle", f"/?before={ids['mid_hit']}"),
             ("live update poll", f"/api/hits?after={ids['mid_hit'] + args.hits}"),
             ("item + story page", f"/items/{ids['item']}"), ("watchlist (term stats)", f"/watchlists/{ids['wl']}"),
             ("term page", f"/terms/{ids['term']}"), ("sources (health)", "/sources"), ("alert log", "/alerts")]
    print(f"\n{store.dialect}: {args.items:,} items, {args.hits:,} hits — median of {args.repeat} requests (ms)")
    for who in ("admin", "viewer"):
        client = TestClient(app, follow_redirects=False)
        token = csrf_of(client.get("/login").text)
        assert client.post("/login", data={"name": who, "password": PASSWORD, "csrf_token": token}).status_code == 303
        print(f"  as {who}:")
        for label, page in pages:
            if who == "viewer" and page.startswith(("/items", "/watchlists", "/terms")):
                continue
            print(f"    {label:<28} {timed(client, page, args.repeat):8.1f}")
    from monitor.actions.backtest import backtest

    for query, days in (("детонация OR танкер", None), ('"взрыв порт" AND министр', 30)):
        with store.unit() as s:
            t = time.perf_counter()
            since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
            r = backtest(s, query, aliases={}, since=since, max_scan=200_000)
            elapsed = time.perf_counter() - t
        window = f"last {days} days" if days else "all history"
        print(f"\nbacktest {query!r} over {window}: {elapsed * 1000:.0f} ms — {r.scanned:,} candidates from the "
              f"prefilter, {r.new_total:,} matches{' (capped)' if r.truncated else ''}")
    store.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
