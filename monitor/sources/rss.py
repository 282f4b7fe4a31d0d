"""The press collector: RSS 0.9x/1.0/2.0, Atom and JSON Feed, fetched like Miniflux does.

One fetch, one :class:`Batch`. The fetch is conditional (stored ETag / Last-Modified) *and* the
body is hashed: a 304 or an unchanged SHA-256 gives ``Batch(not_modified=True)`` without parsing,
because parsing (feedparser, ~1.7 ms per entry) is the floor of the whole pipeline and some
servers answer 200 with the same bytes forever. Bodies are parsed by :func:`parse_feed`, a pure
top-level function that runs in the pipeline's process pool when one is lent.

External ids come from a per-feed key chain (:mod:`monitor.sources.feedkeys`); parsing,
with its bounds on hostile documents, is :mod:`monitor.sources.feedparse`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from concurrent.futures.process import BrokenProcessPool
from typing import AsyncIterator
from urllib.parse import urlsplit

from monitor.errors import InvalidInput, PermanentSourceError, SourceError, TransientSourceError
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig
from monitor.sources.feedkeys import KEY_POLICIES, assign_ids
from monitor.sources.feedparse import ParsedFeed, feed_min_interval, normalize_language, parse_feed
from monitor.sources.fulltext import decode_html, extract_article
from monitor.sources.http import Fetcher
from monitor.sources.urls import canonical_url, is_http_url
from monitor.types import Item, utcnow

__all__ = ["KEY_POLICIES", "ParsedFeed", "RssSource", "assign_ids", "feed_min_interval",
           "normalize_language", "parse_feed"]

log = logging.getLogger(__name__)


# ---- the Source ---------------------------------------------------------------------------------

class RssSource(Source):
    """Feeds over HTTP(S). Options: ``full_text`` (bool, fetch article pages),
    ``full_text_limit`` (pages per fetch, default 10)."""

    type = "rss"
    concurrency_class = "feeds"
    concurrency = 20  # feeds are cheap and many

    @classmethod
    def concurrency_limit(cls, settings) -> int:
        return max(1, settings.fetch.concurrency)

    @classmethod
    def check_locator(cls, locator: str) -> str:
        url = (locator or "").strip()
        if not is_http_url(url):
            raise InvalidInput(f"not an http(s) feed URL: {locator!r}")
        return canonical_url(url) or url

    @classmethod
    def default_name(cls, locator: str) -> str:
        parts = urlsplit(locator.strip())
        host = (parts.hostname or "").removeprefix("www.")
        path = parts.path.rstrip("/")
        return f"{host}{path}" or locator

    async def collect(self, source: SourceConfig, ctx: CollectContext) -> AsyncIterator[Batch]:
        if ctx.fetcher is not None:
            yield await self._collect(source, ctx, ctx.fetcher)
            return
        async with Fetcher(ctx.settings.fetch) as fetcher:
            batch = await self._collect(source, ctx, fetcher)
        yield batch

    async def _collect(self, source: SourceConfig, ctx: CollectContext, fetcher: Fetcher) -> Batch:
        settings = ctx.settings.fetch
        resp = await fetcher.fetch(source.locator, etag=source.etag,
                                   last_modified=source.last_modified)
        moved = resp.permanent_url if resp.permanent_url not in (None, source.locator) else None
        common = dict(http_status=resp.status, new_locator=moved,
                      etag=resp.etag or source.etag,
                      last_modified=resp.last_modified or source.last_modified)
        if resp.not_modified:
            return Batch(not_modified=True, min_interval=feed_min_interval({}, resp.headers),
                         **common)
        if not resp.body.strip():
            raise PermanentSourceError(f"not a feed: empty body from {resp.url}",
                                       status=resp.status)
        body_hash = hashlib.sha256(resp.body).hexdigest()
        if body_hash == source.body_hash:
            return Batch(not_modified=True, body_hash=body_hash,
                         min_interval=feed_min_interval({}, resp.headers), **common)
        policy = source.state.get("key_policy") or "guid"
        args = (resp.body, resp.headers, resp.url)
        kwargs = dict(fetched_at=utcnow(), key_policy=policy,
                      max_clock_skew=settings.max_clock_skew, language=source.language,
                      max_bytes=settings.max_bytes, max_entries=settings.max_entries)
        prepared = None
        if ctx.prepare is not None and ctx.executor is not None and \
                not source.options.get("full_text"):
            parsed, prepared = await _run(ctx, _parse_and_prepare, ctx.prepare, args, kwargs)
        else:
            parsed = await _run(ctx, parse_feed, *args, **kwargs)
        if not parsed.is_feed:
            kind = resp.headers.get("content-type", "unknown type").split(";")[0]
            raise PermanentSourceError(f"not a feed: {resp.url} returned {kind} with no feed "
                                       f"elements", status=resp.status)
        if parsed.dropped:
            log.warning("source %s: %d entries left out (over fetch.max_entries=%d or failing "
                        "to parse%s)", source.name, parsed.dropped, settings.max_entries,
                        f"; first failure: {parsed.drop_reason}" if parsed.drop_reason else "")
        items, state = list(parsed.items), {"key_policy": parsed.key_policy}
        if source.options.get("full_text"):
            items, state["full_text_done"] = await self._full_text(items, source, ctx, fetcher)
        if ctx.progress is not None:
            ctx.progress(len(items))
        return Batch(items=items, body_hash=body_hash, min_interval=parsed.min_interval,
                     state=state, dropped=parsed.dropped, prepared=prepared, **common)

    async def _full_text(self, items: list[Item], source: SourceConfig, ctx: CollectContext,
                         fetcher: Fetcher) -> tuple[list[Item], dict[str, str]]:
        """Replace summaries by article text for new or changed entries.

        ``state["full_text_done"]`` maps external id → hash of the summary version that was
        extracted. An entry found there unchanged is left out of the batch: it is stored already
        with its full text, and re-sending it with only the summary would look like an edit.
        """
        done: dict[str, str] = dict(source.state.get("full_text_done") or {})
        limit = int(source.options.get("full_text_limit", 10))
        keep, todo = [], []
        for item in items:
            if done.get(item.external_id) == item.content_hash:
                continue
            (todo if item.url and len(todo) < limit else keep).append(item)

        async def one(item: Item) -> Item:
            summary_hash = item.content_hash
            try:
                page = await fetcher.fetch(item.url, accept="text/html,*/*;q=0.8")
                html = decode_html(page.body, page.headers.get("content-type"))
                text = await _run(ctx, extract_article, html, page.url)
            except SourceError as exc:  # e.g. a link into a private network: never fetched
                log.info("source %s: no full text for %s: %s", source.name, item.url, exc)
                return item  # keep the summary; a later edit of the entry retries
            done[item.external_id] = summary_hash
            return dataclasses.replace(item, text=text) if text else item

        keep.extend(await asyncio.gather(*(one(i) for i in todo)))
        keep.sort(key=lambda i: i.published_at)
        ids = {i.external_id for i in items}
        done = {k: v for k, v in done.items() if k in ids}  # forget entries gone from the feed
        return keep, done


async def _run(ctx: CollectContext, fn, *args, **kwargs):
    """Run CPU-bound ``fn`` in the lent process pool, else inline."""
    if ctx.executor is None:
        return fn(*args, **kwargs)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(ctx.executor, _call, fn, args, kwargs)
    except BrokenProcessPool as exc:  # a worker died (OOM, a parser crash): try again later
        raise TransientSourceError(f"parse worker died: {exc}") from None


def _call(fn, args, kwargs):
    return fn(*args, **kwargs)


def _parse_and_prepare(prepare, args, kwargs):
    """In the worker: parse, then the per-item work the pipeline lent (both pure)."""
    parsed = parse_feed(*args, **kwargs)
    return parsed, (prepare(parsed.items) if parsed.is_feed and parsed.items else None)
