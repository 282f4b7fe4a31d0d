"""Refresh benchmark: one concurrent pass over N local feeds through Fetcher + RssSource.

    python bench/refresh.py [--feeds 2000] [--new 0.10] [--not-modified 0.45] [--workers 2]

N realistic feeds (RSS 2.0 and Atom, 20-50 entries of Russian/English HTML) are served by a
loopback server in its own process. The sources start with the state a previous pass would have
stored (ETag, body hash, key policy), so the measured pass meets the mix a real refresh meets:
``--new`` feeds changed (two new entries on top: fetched and parsed), ``--not-modified`` feeds
answer 304 to the conditional GET, the rest send the same bytes again without validators (caught
by the body hash). Parsing runs in a process pool, as in the pipeline.

Printed, in one run: wall time, CPU time (this process and the parse workers), peak memory,
items/s, and beside them feedparser's own parse time on the same changed bodies versus our
``parse_feed`` on them (single process), per entry.

The ``store`` step is pluggable: pass ``--store module:factory`` returning an object with
``async commit(source, batch) -> SourceConfig``; the default keeps the state in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import importlib
import io
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser  # noqa: E402

from monitor.settings import FetchSettings, Settings  # noqa: E402
from monitor.sources.base import Batch, CollectContext, SourceConfig  # noqa: E402
from monitor.sources.http import Fetcher  # noqa: E402
from monitor.sources.rss import RssSource, parse_feed  # noqa: E402
from monitor.types import utcnow  # noqa: E402

WORDS_RU = ("правительство заявило сегодня что новые меры поддержки экономики вступят в силу "
            "после обсуждения в парламенте эксперты считают решение своевременным").split()
WORDS_EN = ("the ministry said on monday that the new rules would take effect next month after "
            "a long debate in parliament analysts called the move overdue").split()


# ---- the feeds ---------------------------------------------------------------------------------

def kind_of(i: int, new: float, not_modified: float) -> str:
    r = random.Random(i).random()
    return "new" if r < new else "304" if r < new + not_modified else "same"


def feed_body(i: int, generation: int) -> bytes:
    """Feed ``i`` at ``generation`` (each generation adds two entries on top, drops two)."""
    n = random.Random(i * 7919 + 17).randint(20, 50)
    words = WORDS_RU if i % 2 else WORDS_EN
    first = 2 * generation
    entries = []
    for k in range(first + n - 1, first - 1, -1):  # newest first
        er = random.Random(i * 100003 + k)
        title = " ".join(er.choice(words) for _ in range(8)).capitalize()
        paras = "".join("<p>" + " ".join(er.choice(words) for _ in range(40)) + ".</p>"
                        for _ in range(er.randint(1, 4)))
        stamp = 1719800000 - (first + n - k) * 3600 * er.randint(1, 6)
        entries.append((k, title, paras, stamp))
    host = f"site{i}.example"
    if i % 3 == 0:  # Atom
        parts = [f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                 f"<title>Site {i}</title><id>urn:site:{i}</id><updated>2024-07-01T00:00:00Z"
                 f'</updated><link href="https://{host}/"/>']
        for k, title, paras, stamp in entries:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
            parts.append(f"<entry><id>urn:site:{i}:{k}</id><title>{title}</title>"
                         f'<link href="https://{host}/news/{k}?utm_source=rss"/>'
                         f"<updated>{when}</updated><author><name>Desk {i}</name></author>"
                         f'<content type="html"><![CDATA[{paras}]]></content></entry>')
        parts.append("</feed>")
    else:  # RSS 2.0
        parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                 f"<title>Site {i}</title><link>https://{host}/</link><ttl>15</ttl>"
                 f"<language>{'ru' if i % 2 else 'en'}</language>"]
        for k, title, paras, stamp in entries:
            when = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(stamp))
            parts.append(f"<item><title>{title}</title><link>https://{host}/news/{k}</link>"
                         f'<guid isPermaLink="false">{host}-{k}</guid><pubDate>{when}</pubDate>'
                         f"<description><![CDATA[{paras}]]></description></item>")
        parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def serve(conn, feeds: int, new: float, not_modified: float) -> None:
    """Server process: generation 0 for the stored state, 1 for the "new" feeds."""
    from tests.sources.feedserver import FeedServer, Route, conditional

    server = FeedServer()
    for i in range(feeds):
        kind = kind_of(i, new, not_modified)
        body = feed_body(i, 1 if kind == "new" else 0)
        if kind == "304":
            server.route(f"/feed/{i}", conditional(body, etag=f'"v0-{i}"'))
        else:
            server.route(f"/feed/{i}", Route(body=body, headers={
                "Content-Type": "application/rss+xml; charset=utf-8"}))
    server.start()
    conn.send(server.base)
    conn.recv()  # wait for "stop"
    server.stop()


# ---- the pass ----------------------------------------------------------------------------------

class MemoryStore:
    """Keeps what a real store would persist: validators, body hash, merged state."""

    async def commit(self, source: SourceConfig, batch: Batch) -> SourceConfig:
        changes = {k: getattr(batch, k) for k in ("etag", "last_modified", "body_hash")
                   if getattr(batch, k) is not None}
        if batch.new_locator:
            changes["locator"] = batch.new_locator
        if batch.state:
            changes["state"] = {**source.state, **batch.state}
        return dataclasses.replace(source, **changes)


async def run_pass(sources, settings: Settings, pool, store) -> dict:
    counts = {"items": 0, "batches": 0, "not_modified": 0, "errors": 0}
    ctx = CollectContext(settings=settings, executor=pool)
    rss = RssSource()

    async def one(src: SourceConfig):
        try:
            async for batch in rss.collect(src, ctx):
                counts["batches"] += 1
                counts["not_modified"] += batch.not_modified
                counts["items"] += len(batch.items)
                await store.commit(src, batch)
        except Exception as exc:  # noqa: BLE001 - a bench counts failures, it does not stop
            counts["errors"] += 1
            if counts["errors"] <= 3:
                print(f"  error on {src.locator}: {type(exc).__name__}: {exc}", file=sys.stderr)

    async with Fetcher(settings.fetch, trust_env=False) as fetcher:
        ctx.fetcher = fetcher
        await asyncio.gather(*(one(s) for s in sources))
    return counts


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def baseline(bodies: list[bytes]) -> tuple[int, float, float, float]:
    """(entries, feedparser bare, feedparser as parse_feed calls it, parse_feed) CPU seconds on
    the same bytes, one process. "As called" adds the Content-Location parse_feed passes so that
    relative links resolve, which makes feedparser rewrite URIs inside content too."""
    url = "https://site.example/feed"
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    t0 = time.process_time()
    entries = sum(len(feedparser.parse(io.BytesIO(b), response_headers=dict(headers)).entries)
                  for b in bodies)
    t1 = time.process_time()
    for b in bodies:
        feedparser.parse(io.BytesIO(b), response_headers={**headers, "content-location": url})
    t2 = time.process_time()
    now = utcnow()
    for b in bodies:
        parse_feed(b, headers, url, fetched_at=now)
    t3 = time.process_time()
    return entries, t1 - t0, t2 - t1, t3 - t2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--new", type=float, default=0.10, help="share of changed feeds")
    ap.add_argument("--not-modified", type=float, default=0.45, help="share answering 304")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--store", default=None, help="module:factory for a store with commit()")
    args = ap.parse_args()

    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(child, args.feeds, args.new, args.not_modified),
                        daemon=True)
    server.start()
    base = parent.recv()

    # The state a previous pass would have stored: generation 0's validators and hashes.
    sources, changed = [], []
    for i in range(args.feeds):
        kind = kind_of(i, args.new, args.not_modified)
        old = feed_body(i, 0)
        sources.append(SourceConfig(
            id=i, name=f"feed{i}", type="rss", locator=f"{base}/feed/{i}",
            etag=f'"v0-{i}"' if kind == "304" else None,
            body_hash=hashlib.sha256(old).hexdigest(), state={"key_policy": "guid"}))
        if kind == "new":
            changed.append(feed_body(i, 1))
    if args.store:
        module, _, factory = args.store.partition(":")
        store = getattr(importlib.import_module(module), factory)()
    else:
        store = MemoryStore()
    # Per-host limit = global: every feed lives on 127.0.0.1 here, unlike the real world.
    settings = Settings(fetch=FetchSettings(concurrency=args.concurrency,
                                            per_host_concurrency=args.concurrency, timeout=60,
                                            allowed_private_networks=["127.0.0.1/32"]))

    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(abs, range(args.workers * 4)))  # start the workers before the clock
        workers = list(pool._processes)  # noqa: SLF001 - CPU accounting of the pool's processes
        cpu0 = time.process_time() + sum(_proc_cpu(p) for p in workers)
        wall0 = time.perf_counter()
        counts = asyncio.run(run_pass(sources, settings, pool, store))
        wall = time.perf_counter() - wall0
        worker_cpu = sum(_proc_cpu(p) for p in workers)
        cpu = time.process_time() + worker_cpu - cpu0
        worker_peak = max(_proc_peak_kb(p) for p in workers)
    parent.send("stop")
    server.join(timeout=10)

    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    entries, fp_s, fp_called_s, ours_s = baseline(changed)
    print(f"feeds {args.feeds}: {len(changed)} changed, {counts['not_modified']} not modified, "
          f"{counts['errors']} errors, {args.workers} parse workers, {os.cpu_count()} cores")
    print(f"pass wall time      {wall:8.2f} s")
    print(f"pass CPU time       {cpu:8.2f} s (parse workers {worker_cpu:.2f} s)")
    print(f"peak memory         {main_peak / 1024:8.1f} MiB main, {worker_peak / 1024:.1f} MiB "
          f"per worker")
    print(f"items               {counts['items']:8d} ({counts['items'] / wall:,.0f} items/s)")
    if entries:
        fp_ms, ours_ms = fp_s / entries * 1000, ours_s / entries * 1000
        print(f"feedparser alone    {fp_s:8.2f} s for {entries} entries ({fp_ms:.3f} ms/entry)")
        print(f"feedparser as used  {fp_called_s:8.2f} s (with Content-Location: "
              f"{fp_called_s / entries * 1000:.3f} ms/entry)")
        print(f"our parse_feed      {ours_s:8.2f} s ({ours_ms:.3f} ms/entry, "
              f"{ours_ms / fp_ms:.2f}x feedparser bare, {ours_s / fp_called_s:.2f}x as used)")
        print(f"pass CPU per entry  {cpu / entries * 1000:8.3f} ms "
              f"({cpu / entries * 1000 / fp_ms:.2f}x feedparser, fetching included)")


if __name__ == "__main__":
    main()
