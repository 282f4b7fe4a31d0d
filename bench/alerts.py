"""Alert latency: from an item stored (hit + outbox row committed) to the alert received by a local
webhook, over N items in real-time mode, with the worker loop running.

    python bench/alerts.py [--items 1000] [--rate 50] [--db URL] [--no-notify] [--cache-ssl]

A producer thread stores one item, its story and a hit, and calls ``on_new_hits`` in the same
transaction (as the pipeline does), then notes the commit time. ``worker.run_forever`` runs in the
event loop; the producer wakes it after each commit (``--no-notify``: the 1-second poll only). A
threaded HTTP server records when each alert id arrives. Prints p50 / p95 / max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from monitor.alerts.worker import run_forever
from monitor.settings import Settings
from monitor.alerts.outbox import route_new_hits
from monitor.store import desks as desk_repo
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.db import Store
from monitor.store.migrate import upgrade
from monitor.store.models import HitRow, ItemRow, StoryRow
from monitor.types import content_hash, utcnow


def start_sink(received: dict[int, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.setdefault(json.loads(body)["alert_id"], time.perf_counter())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def setup(store: Store, url: str) -> tuple[int, int, int]:
    with store.unit() as s:
        desk = desk_repo.add_desk(s, "bench", targets=[url])
        src = source_repo.add_source(s, type="rss", locator="https://bench.example/feed", name="bench")
        wl = watch_repo.add_watchlist(s, "bench", desk=desk)
        term = watch_repo.add_term(s, wl, "bench")
        return src.id, wl.id, term.id


def store_item(store: Store, ids: tuple[int, int, int], n: int) -> int:
    """One item + story + hit + outbox row in one transaction; returns the alert id."""
    source_id, watchlist_id, term_id = ids
    now = utcnow()
    with store.unit() as s:
        item = ItemRow(source_id=source_id, external_id=f"b{n}", url=f"https://bench.example/{n}", title=f"bench {n}",
                    text=f"bench item {n}", published_at=now, fetched_at=now, content_hash=content_hash(str(n)))
        s.add(item)
        s.flush()
        story = StoryRow(first_item_id=item.id, first_source_id=source_id, first_seen_at=now, last_seen_at=now)
        s.add(story)
        s.flush()
        item.story_id = story.id
        hit = HitRow(item_id=item.id, term_id=term_id, watchlist_id=watchlist_id, term_version=1, item_version=1,
                  story_id=story.id, field="text", snippet=f"«bench» item {n}", matched_hash="0" * 64, created_at=now)
        s.add(hit)
        s.flush()
        route_new_hits(s, [hit.id], now=now)
        from sqlalchemy import select
        from monitor.store.models import AlertRow

        return s.scalar(select(AlertRow.id).where(AlertRow.hit_id == hit.id))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50.0, help="items per second")
    ap.add_argument("--db", default=None, help="an EMPTY database URL (it is migrated and filled); "
                                                 "default: a temporary SQLite file")
    ap.add_argument("--no-notify", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    store = Store(args.db or f"sqlite:///{Path(tmp.name) / 'bench.db'}")
    upgrade(store)
    received: dict[int, float] = {}
    server = start_sink(received)
    ids = setup(store, f"json://127.0.0.1:{server.server_address[1]}/hook")
    settings = Settings()
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    committed: dict[int, float] = {}

    def produce() -> None:
        for n in range(args.items):
            alert_id = store_item(store, ids, n)
            committed[alert_id] = time.perf_counter()
            if not args.no_notify:
                loop.call_soon_threadsafe(wake.set)
            time.sleep(1 / args.rate)

    worker = asyncio.create_task(run_forever(store, settings, stop, wake=None if args.no_notify else wake,
                                             health_every=3600))
    started = time.perf_counter()
    await asyncio.to_thread(produce)
    while len(received) < args.items and time.perf_counter() - started < args.items / args.rate + 120:
        await asyncio.sleep(0.1)
    stop.set()
    await worker
    server.shutdown()
    lat = sorted(received[a] - committed[a] for a in committed if a in received)
    if not lat:
        raise SystemExit("nothing arrived")
    q = statistics.quantiles(lat, n=100)
    print(f"backend={store.dialect} items={args.items} rate={args.rate}/s notify={not args.no_notify} "
          f"received={len(lat)}/{args.items}")
    print(f"latency p50={q[49] * 1000:.0f} ms p95={q[94] * 1000:.0f} ms max={lat[-1] * 1000:.0f} ms")
    store.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
