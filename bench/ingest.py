"""End-to-end ingest throughput: parsed entries → committed items, versions, stories, hits.

Builds N items from real Russian Telegram posts (the shared corpus; a tenth are reposts of
another post with an emoji prefix and a footer, so dedup has work), 1,000 watch terms, and
ingests them through ``Pipeline.ingest`` in batches of 100 — one transaction each, exactly as a
collector's batches are, one after another, each in a worker thread as ``run_source`` runs it —
on SQLite and/or PostgreSQL, with the pipeline built by ``runtime.pipeline_for`` as ``monitor run``
builds it. The matcher is compiled before the clock starts; the first batch's one-off costs
(imports, language profiles) are inside the figure. Prints items/s, wall and CPU time of this
process (on PostgreSQL the server works in its own process), hits and near-duplicate joins, and
the wall time per item of each stage of ``ingest`` (``BatchResult.seconds``; stages under 1 µs
per item are left out): read (stored rows), enrich (matching form, language), dedup (footer,
exact keys, MinHash), stories, write (items, versions, payloads, keys, bands, cursor), match,
hits, alerts, commit. With ``--ahead`` (the default) the per-item work (matching form,
language, keys, MinHash) is done in the process pool a few batches ahead of the writer, as the
feed collector does it in its parse workers; ``--no-ahead`` does it all in the writer.

    python bench/ingest.py --items 5000 --backend sqlite --backend postgresql

With ``--window N`` it measures the coverage level (``dedup.coverage``) at N items in its window:
N distinct items spread over the 72 hours before now are ingested first (setup: timed and
printed, not the figure), each a *replica* of a corpus post whose words held by at most 20 posts
get a per-replica prefix (so replicas are distinct events, not copies, while the common words and
their frequencies stay real). Then a restarted pipeline (its index rebuilt from the stored window
in its first batch: timed apart) ingests ``--items`` new replicas with coverage on, and another
``--items`` with coverage off, so the two per-item costs compare at the same window.

    python bench/ingest.py --window 50000 --items 2000 --backend sqlite --backend postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import re
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.ingest import prepare  # noqa: E402
from monitor.ingest.runtime import pipeline_for  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from monitor.sources.base import Batch  # noqa: E402
from monitor.store import sources as source_repo  # noqa: E402
from monitor.store import watch as watch_repo  # noqa: E402
from monitor.store.db import Store, normalize_url  # noqa: E402
from monitor.store.migrate import upgrade  # noqa: E402
from monitor.types import Item  # noqa: E402

AHEAD = 4  # batches prepared ahead of the writer
POSTS = ROOT.parent / "shared" / "corpus" / "telegram-news-classifier" / "data" / "raw"


def load_posts() -> list[str]:
    posts = []
    for f in sorted(POSTS.glob("*.json")):
        posts += [m["text"] for m in json.loads(f.read_text("utf-8")) if m.get("text")]
    if not posts:
        sys.exit(f"no posts under {POSTS}")
    return posts


def make_terms(posts: list[str], n: int, rng: random.Random) -> list[str]:
    words = sorted({w.strip(".,:;!?«»()\"'").lower() for p in posts for w in p.split()
                    if len(w) > 6 and w.isalpha()})
    terms = set()
    while len(terms) < n:
        kind = rng.random()
        a, b = rng.sample(words, 2)
        if kind < 0.4:
            terms.add(a)
        elif kind < 0.7:
            terms.add(f'"{a} {b}"')
        elif kind < 0.85:
            terms.add(f"{a} AND {b}")
        else:
            terms.add(f"{a} NEAR/5 {b}")
    return sorted(terms)


def make_items(posts: list[str], n: int, rng: random.Random) -> list[Item]:
    base = datetime.now(timezone.utc) - timedelta(days=2)
    items = []
    for i in range(n):
        text = rng.choice(posts)
        if i % 10 == 9:
            text = f"⚡️ {text}\n\nПодписаться | @channel{i % 7}"
        items.append(Item(external_id=str(i), fetched_at=datetime.now(timezone.utc),
                          published_at=base + timedelta(seconds=20 * i), text=text,
                          url=f"https://t.me/channel{i % 7}/{i}", channel_username=f"channel{i % 7}",
                          raw=json.dumps({"id": i, "text": text}, ensure_ascii=False).encode()))
    return items


_SUFFIX = "бвгджзклмнпрстфхцчшщ"
_WORD = re.compile(r"[^\W\d_]{4,}")


def replicas(posts: list[str], n: int, start: int, until: datetime, span: timedelta,
             rng: random.Random) -> list[Item]:
    """``n`` distinct replicas (numbered from ``start``) spread over ``span`` before ``until``."""
    counts: dict[str, int] = {}
    for p in posts:
        for w in set(_WORD.findall(p.lower())):
            counts[w] = counts.get(w, 0) + 1
    items = []
    for i in range(start, start + n):
        r, code = i // len(posts) + 1, ""
        while r:
            r, d = divmod(r, len(_SUFFIX))
            code += _SUFFIX[d]
        post = posts[(i * 7919) % len(posts)]  # each post once per replica, in mixed order
        text = _WORD.sub(lambda m: _renamed(m[0], code) if counts.get(m[0].lower(), 0) <= 20
                         else m[0], post)
        at = until - span + span * ((i - start + 1) / n)
        items.append(Item(external_id=f"r{i}", fetched_at=at, published_at=at, text=text,
                          url=f"https://t.me/channel{i % 7}/r{i}",
                          channel_username=f"channel{i % 7}"))
    return items


def _renamed(word: str, code: str) -> str:
    """The word with a replica's prefix (stems and name keys differ; capitals stay)."""
    return code.capitalize() + word[0].lower() + word[1:] if word[0].isupper() else code + word


async def ingest_all(pipeline, sources, items, stages, *, first: dict | None = None):
    """Batches of 100 per source in time order; returns (wall, cpu, stories joined)."""
    joined = 0
    by_source: dict[int, list[Item]] = {}
    for i, item in enumerate(items):
        by_source.setdefault(sources[i % 7], []).append(item)
    batches = sorted(((sid, chunk[j:j + 100]) for sid, chunk in by_source.items()
                      for j in range(0, len(chunk), 100)), key=lambda b: b[1][0].published_at)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for n, (sid, chunk) in enumerate(batches):
        b0 = time.perf_counter()
        res = await asyncio.to_thread(pipeline.ingest, sid, Batch(items=chunk))
        joined += res.stories_joined
        if n == 0 and first is not None:  # one-off costs (the index built): reported apart
            first.update(seconds=time.perf_counter() - b0, stages=res.seconds, items=len(chunk))
            cpu0, t0 = time.process_time(), time.perf_counter()
            continue
        for stage, seconds in res.seconds.items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    return time.perf_counter() - t0, time.process_time() - cpu0, joined


def _per_item(stages: dict[str, float], n: int) -> str:
    return ", ".join(f"{stage} {seconds / n * 1e6:,.0f} µs" for stage, seconds in
                     sorted(stages.items(), key=lambda kv: -kv[1]) if seconds / n * 1e6 >= 1)


async def run_window(backend: str, args, posts) -> None:
    url, drop = database(backend, args.pg_url)
    store = Store(url)
    rng = random.Random(3)
    now = datetime.now(timezone.utc)
    try:
        upgrade(store)
        with store.unit() as s:
            sources = [source_repo.add_source(s, type="telegram-web", locator=f"channel{k}",
                                              name=f"channel{k}").id for k in range(7)]
        window = replicas(posts, args.window, 0, now - timedelta(minutes=30), timedelta(hours=71),
                          rng)
        settings = Settings(database_url=url)
        async with pipeline_for(store, settings) as pipeline:
            wall, cpu, joined = await ingest_all(pipeline, sources, window, {})
        print(f"{backend:>10}: window of {len(window):,} items ingested in {wall:.0f} s "
              f"({len(window) / wall:,.0f} items/s, {joined:,} joined a story)")
        for coverage in (True, False):
            items = replicas(posts, args.items, args.window + (0 if coverage else args.items),
                             now, timedelta(minutes=30), rng)
            settings = Settings(database_url=url, dedup={"coverage": coverage})
            stages: dict[str, float] = {}
            first: dict = {}
            async with pipeline_for(store, settings) as pipeline:  # a restart: index rebuilt
                wall, cpu, joined = await ingest_all(pipeline, sources, items, stages,
                                                     first=first)
            label = "coverage on " if coverage else "coverage off"
            n = len(items) - first["items"]
            print(f"{'':>12}{label}: {n:,} items at {args.window:,} in the window: "
                  f"{wall / n * 1e6:,.0f} µs/item wall, {cpu / n * 1e6:,.0f} "
                  f"µs/item CPU here ({n / wall:,.0f} items/s), {joined:,} joined")
            print(" " * 14 + "per item: " + _per_item(stages, n))
            print(" " * 14 + f"first batch after the restart ({first['items']} items): "
                  f"{first['seconds']:.2f} s: " + ", ".join(
                      f"{k} {v:.2f} s" for k, v in sorted(first["stages"].items(),
                                                         key=lambda kv: -kv[1]) if v >= 0.01))
    finally:
        store.dispose()
        drop()


def database(backend: str, pg_url: str) -> tuple[str, callable]:
    if backend == "sqlite":
        path = Path(tempfile.mkdtemp()) / "ingest.db"
        return f"sqlite:///{path}", lambda: None
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return pg_url.rsplit("/", 1)[0] + "/" + name, drop


async def run(backend: str, args, posts, terms, items) -> None:
    url, drop = database(backend, args.pg_url)
    store = Store(url)
    try:
        upgrade(store)
        with store.unit() as s:
            sources = [source_repo.add_source(s, type="telegram-web", locator=f"channel{k}", name=f"channel{k}").id
                       for k in range(7)]
            wl = watch_repo.add_watchlist(s, "bench")
            for q in terms:
                watch_repo.add_term(s, wl, q)
        settings = Settings(database_url=url)
        # built as `monitor run` builds it (runtime.pipeline_for)
        async with pipeline_for(store, settings) as pipeline:
            with store.unit() as s:
                t0 = time.perf_counter()
                pipeline.matchers.get(s)
                compile_s = time.perf_counter() - t0
            by_source: dict[int, list[Item]] = {}
            for i, item in enumerate(items):
                by_source.setdefault(sources[i % 7], []).append(item)
            batches = [(sid, chunk[j:j + 100]) for sid, chunk in by_source.items()
                       for j in range(0, len(chunk), 100)]
            rng = random.Random(2)
            rng.shuffle(batches)
            hits = stories_joined = 0
            stages: dict[str, float] = {}
            cpu0, t0 = time.process_time(), time.perf_counter()
            ahead = None
            if args.ahead and pipeline.executor is not None:
                # as a feed collector does: the per-item work in the parse workers, a few batches
                # ahead of the writer (back-pressure: at most AHEAD batches in flight)
                work = functools.partial(prepare.ahead, source_language=None, footer=None,
                                         dedup=settings.dedup, limits=settings.limits)
                loop = asyncio.get_running_loop()
                ahead = [None] * len(batches)

                def submit(k):
                    if k < len(batches):
                        ahead[k] = loop.run_in_executor(pipeline.executor, work, batches[k][1])

                # the workers start (spawn, imports, first MinHash) before the clock, as a
                # running service's have
                await asyncio.gather(*(loop.run_in_executor(pipeline.executor, work,
                                                            batches[0][1][:2])
                                       for _ in range(4)))
                cpu0, t0 = time.process_time(), time.perf_counter()
                for k in range(AHEAD):
                    submit(k)
            for k, (sid, chunk) in enumerate(batches):  # one batch at a time, in a thread
                done = None
                if ahead is not None:
                    done = await ahead[k]
                    ahead[k] = None
                    submit(k + AHEAD)
                res = await asyncio.to_thread(pipeline.ingest, sid, Batch(
                    items=chunk, cursor=chunk[-1].external_id, prepared=done))
                hits += res.hits
                stories_joined += res.stories_joined
                for stage, seconds in res.seconds.items():
                    stages[stage] = stages.get(stage, 0.0) + seconds
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        print(f"{backend:>10}: {len(items):,} items in {wall:.1f} s wall ({cpu:.1f} s CPU in this process): "
              f"{len(items) / wall:,.0f} items/s; {hits:,} hits, {stories_joined:,} items joined a story; "
              f"matcher compile {compile_s:.1f} s for {len(terms):,} terms")
        print(" " * 12 + "per item: " + ", ".join(
            f"{stage} {seconds / len(items) * 1e6:,.0f} µs" for stage, seconds in
            sorted(stages.items(), key=lambda kv: -kv[1]) if seconds / len(items) * 1e6 >= 1))
    finally:
        store.dispose()
        drop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--terms", type=int, default=1000)
    ap.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--window", type=int, default=0,
                    help="measure the coverage level at this many items in its window")
    ap.add_argument("--ahead", action=argparse.BooleanOptionalAction, default=True,
                    help="per-item work in the process pool ahead of the writer, as feeds do")
    args = ap.parse_args()
    rng = random.Random(1)
    posts = load_posts()
    if args.window:
        for backend in args.backend or ["sqlite", "postgresql"]:
            asyncio.run(run_window(backend, args, list(dict.fromkeys(posts))))
        return
    terms = make_terms(posts, args.terms, rng)
    items = make_items(posts, args.items, rng)
    for backend in args.backend or ["sqlite", "postgresql"]:
        asyncio.run(run(backend, args, posts, terms, items))


if __name__ == "__main__":
    main()
