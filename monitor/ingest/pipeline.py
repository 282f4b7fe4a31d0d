"""The one orchestrator: run a source end to end.

    fetch + adapt (the source's collector) → normalize → store new items / versions → dedup /
    cluster into stories → match → store hits → hand new hits to alerting

Each :class:`~monitor.sources.base.Batch` a collector yields is ingested in ONE transaction
together with the cursor, validators and state it carries, so a crash at any point loses nothing
(the batch is fetched again) and a re-run doubles nothing (items are unique per source and
external id, hits per item and term, alerts per desk and story). After the run, the outcome
(status, error streak, next check) is recorded on the source row in a second small transaction.

The matcher is compiled once per change of the watch terms (checked before every batch, so
watchlist edits are picked up without a restart), never per item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from monitor import metrics
from monitor.ingest import prepare
from monitor.errors import RateLimited, SourceError, SourceGone
from monitor.faults import crashpoint
from monitor.ingest.matchers import MatcherCache
from monitor.schedule import backoff, next_interval
from monitor.settings import Settings
from monitor.sources import Batch, CollectContext, sanitize, source_class
from monitor.store import hits as hit_repo
from monitor.store import items as item_repo
from monitor.store import sources as source_repo
from monitor.store.db import Store
from monitor.store.models import SourceRow
from monitor.store.stories import assign_stories, link_stories
from monitor.types import utcnow

log = logging.getLogger("monitor.ingest.pipeline")

# Source types collected on a schedule; an export is imported once, on demand.
SCHEDULED_TYPES = ("rss", "telegram", "telegram-web")
FOOTER_SAMPLE = 30  # posts a footer is looked for in


@dataclass
class BatchResult:
    new: int = 0
    versions: int = 0
    unchanged: int = 0
    deleted: int = 0
    hits: int = 0
    alerts: int = 0
    stories_joined: int = 0
    new_hit_ids: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage (read, enrich, ...)


@dataclass
class RunResult:
    source: str
    status: str = "ok"  # ok | not_modified | error
    error: str | None = None
    new: int = 0
    versions: int = 0
    deleted: int = 0
    hits: int = 0
    alerts: int = 0
    batches: int = 0


@dataclass
class PassSummary:
    fetched: int = 0
    not_modified: int = 0
    new_items: int = 0
    versions: int = 0
    hits: int = 0
    errors: int = 0
    results: list[RunResult] = field(default_factory=list)


class Pipeline:
    """Runs sources end to end against one store. Safe to share between tasks of one event loop."""

    def __init__(self, store: Store, settings: Settings, *, executor=None, fetcher=None,
                 alerts_hook: Callable | bool = True):
        self.store = store
        self.settings = settings
        self.executor = executor
        self.fetcher = fetcher
        self.matchers = MatcherCache(settings)
        self._write_lock = threading.Lock()  # one writer at a time (SQLite has one anyway)
        # True: the outbox hook when alerting is installed; False: no alerting (tools, tests).
        self._alerts_hook = _default_alerts_hook() if alerts_hook is True else (alerts_hook or None)
        self._running: set[int] = set()
        # Called (from the ingesting thread) after a batch committed, e.g. to wake the alert worker.
        self.on_commit: Callable[[BatchResult], None] | None = None

    @contextlib.contextmanager
    def writing(self):
        """Hold the writer lock: no batch is ingested meanwhile (retention uses it)."""
        with self._write_lock:
            yield

    # ------------------------------------------------------------------ ingest (sync, one transaction)

    def ingest(self, source_id: int, batch: Batch, *, collector: str | None = None,
               now: datetime | None = None) -> BatchResult:
        """Store one batch and everything it leads to, atomically."""
        now = now or utcnow()
        batch = sanitize.clean_batch(batch, self.settings.limits)  # every source passes here
        result = BatchResult()
        watch = metrics.Stopwatch(result.seconds)
        with self._write_lock, self.store.unit() as s:
            watch.lap("wait")  # for the other writers of this process
            source = s.get(SourceRow, source_id)
            if source is None:
                raise SourceError(f"source {source_id} vanished")
            language, dedup = source.language, self.settings.dedup
            enrich = watch.timed("enrich", lambda value: prepare.enrich(value, language))
            stored = item_repo.prepare_items(s, source, batch.items, collector=collector or source.type,
                                             enrich=enrich)
            watch.lap("read", less=result.seconds.get("enrich", 0.0))
            changed = [st for st in stored if st.status != "unchanged"]
            fresh = [st for st in stored if st.status == "new"]
            result.new, result.versions = len(fresh), len(changed) - len(fresh)
            result.unchanged = len(stored) - len(changed)
            if fresh and source.footer is None:
                self._learn_footer(s, source, [st.value.text for st in fresh])
            clusters = [prepare.cluster(st.value, source.footer, dedup) for st in fresh]
            watch.lap("dedup")
            # stories first: the items are written with theirs, keys and bands after them
            hows, links = assign_stories(s, list(zip(fresh, clusters)), window=timedelta(days=dedup.window_days),
                                         similarity=dedup.similarity, similarity_fn=prepare.similarity)
            watch.lap("stories")
            item_repo.write_items(s, stored)
            link_stories(s, links)
            crashpoint("after_items")
            for deletion in batch.deletions:
                result.deleted += item_repo.mark_deleted(s, source, deletion.external_ids, deletion.deleted_at)
            result.stories_joined = sum(how != "new" for how in hows)
            watch.lap("write")
            if changed:
                result.new_hit_ids = self._match(s, source, changed, now, watch)
                result.hits = len(result.new_hit_ids)
                if result.new_hit_ids:
                    if self._alerts_hook is not None:
                        result.alerts = self._alerts_hook(s, result.new_hit_ids, settings=self.settings, now=now) or 0
                    watch.lap("alerts")
            crashpoint("before_cursor")
            _apply_batch_state(source, batch, now, had_new=result.new > 0)
            source_type = source.type
            watch.lap("write")
        watch.lap("commit")
        crashpoint("after_commit")
        for stage, seconds in result.seconds.items():
            metrics.INGEST_SECONDS.labels(stage).inc(seconds)
        metrics.ITEMS.labels(source_type, "new").inc(result.new)
        metrics.ITEMS.labels(source_type, "version").inc(result.versions)
        metrics.HITS.inc(result.hits)
        metrics.DROPPED.labels(source_type).inc(batch.dropped)
        metrics.TRUNCATED.labels(source_type).inc(sanitize.truncated_count(batch))
        if self.on_commit is not None:
            self.on_commit(result)
        return result

    def _learn_footer(self, s, source: SourceRow, texts: list[str]) -> None:
        """Look for the source's signature footer in its latest posts: first after 5 new posts,
        then after every 25 more until one is found (live sources bring one post per batch)."""
        from monitor.dedup import detect_footer

        state = dict(source.state or {})
        pending = int(state.get("footer_pending", 0)) + len(texts)
        if pending >= 5:
            sample = texts[-FOOTER_SAMPLE:]
            sample += item_repo.recent_texts(s, source.id, limit=FOOTER_SAMPLE - len(sample))
            footer = detect_footer(sample)
            if footer:
                source.footer = footer
                state.pop("footer_pending", None)
                source.state = state
                return
            pending = -20  # not yet: try again 25 posts on
        state["footer_pending"] = pending
        source.state = state

    def _match(self, s, source: SourceRow, changed: Sequence[item_repo.StoredItem], now: datetime,
               watch: metrics.Stopwatch) -> list[int]:
        """Match new and changed items; store their new hits. Returns the new hits' ids."""
        from monitor.match import MatchDoc

        matcher, meta = self.matchers.get(s)
        if matcher is None or not meta:
            return []
        # only a changed item can have hits already (the new ones were inserted in this batch)
        existing = hit_repo.existing_pairs(s, [st.id for st in changed if st.status == "version"])
        crashpoint("during_matching")
        rows = []
        for st in changed:
            value = st.value
            text = value.text or ""
            doc = MatchDoc(text=text, title=value.title, source=source.name, lang=st.language,
                           channel=value.channel_username)
            for th in matcher.match(doc):
                info = meta.get(th.term_id)
                if info is None or (st.id, th.term_id) in existing:
                    continue
                existing.add((st.id, th.term_id))
                rows.append(hit_repo.hit_row(
                    item_id=st.id, item_version=st.version, story_id=st.story_id, meta=info, field=th.field,
                    spans=th.spans, snippet=th.snippet, snippet_html=th.snippet_html,
                    field_text=value.title if th.field == "title" else text, now=now))
        watch.lap("match")
        ids = hit_repo.add_hits(s, rows)
        watch.lap("hits")
        return ids

    # ------------------------------------------------------------------ runs (async)

    async def run_source(self, source_id: int, *, progress: Callable[[int], None] | None = None) -> RunResult:
        """Collect one source: ingest each batch it yields, then record the outcome."""
        with self.store.unit() as s:
            row = s.get(SourceRow, source_id)
            if row is None:
                raise SourceError(f"no source with id {source_id}")
            config = source_repo.to_config(row)
        result = RunResult(source=config.name)
        if source_id in self._running:  # one run per source at a time
            result.status = "skipped"
            return result
        self._running.add(source_id)
        started = utcnow()
        error: BaseException | None = None
        not_modified = False
        min_interval = None
        http_status = None
        try:
            collector = source_class(config.type)()
            ctx = CollectContext(settings=self.settings, fetcher=self.fetcher, executor=self.executor,
                                 progress=progress)
            async for batch in collector.collect(config, ctx):
                res = await asyncio.to_thread(self.ingest, source_id, batch)
                result.batches += 1
                result.new += res.new
                result.versions += res.versions
                result.deleted += res.deleted
                result.hits += res.hits
                result.alerts += res.alerts
                not_modified = not_modified or batch.not_modified
                min_interval = batch.min_interval or min_interval
                http_status = batch.http_status or http_status
        except asyncio.CancelledError:
            raise
        except SourceError as exc:
            error = exc
        except Exception as exc:  # a bug in a collector must not stop the pass: record it loudly
            log.exception("collector for source %s failed unexpectedly", config.name)
            error = exc
        finally:
            self._running.discard(source_id)
        result.status = "error" if error else ("not_modified" if not_modified and not result.new else "ok")
        metrics.FETCHES.labels(config.type, result.status).inc()
        metrics.RUN_SECONDS.labels(config.type).observe((utcnow() - started).total_seconds())
        result.error = f"{type(error).__name__}: {error}" if error else None
        try:  # inside the source's own error handling: a failure here is this source's alone
            await asyncio.to_thread(self.record_outcome, source_id, error=error,
                                    not_modified=not_modified, min_interval=min_interval,
                                    http_status=http_status)
        except Exception as exc:  # noqa: BLE001 - recorded on the result, logged loudly
            log.exception("recording the outcome of source %s failed", config.name)
            result.status, result.error = "error", f"{type(exc).__name__}: {exc}"
        return result

    def record_outcome(self, source_id: int, *, error: BaseException | None,
                       not_modified: bool = False, min_interval: float | None = None,
                       http_status: int | None = None, now: datetime | None = None) -> None:
        """Write the run's outcome and the next check time on the source row."""
        now = now or utcnow()
        fs = self.settings.fetch
        with self._write_lock, self.store.unit() as s:
            src = s.get(SourceRow, source_id)
            if src is None:
                return
            src.last_checked_at = now
            if error is None:
                src.error_count, src.last_error = 0, None
                src.last_success_at = now
                src.last_status = "not modified" if not_modified else (str(http_status) if http_status else "ok")
                src.paused_until = None
                if src.type in ("telegram",):
                    interval = float(src.pinned_interval or self.settings.telegram.gap_fill_interval)
                else:
                    dates = item_repo.recent_dates(s, src.id, since=now - timedelta(days=7))
                    interval = next_interval(dates, now=now, min_seconds=fs.min_interval,
                                             max_seconds=fs.max_interval,
                                             feed_min_interval=min_interval or src.state.get("min_interval"),
                                             pinned=src.pinned_interval)
                src.interval = int(interval)
                src.next_check_at = now + timedelta(seconds=interval)
                return
            src.error_count += 1
            status = getattr(error, "status", None)
            src.last_error = f"{type(error).__name__}: {error}"[:2000]
            base = float(src.pinned_interval or src.interval or fs.default_interval)
            if isinstance(error, SourceGone):
                src.retired, src.last_status = True, f"gone ({status or 'permanent'})"
                src.next_check_at = None
                log.warning("source %s is gone: retired", src.name)
                return
            if isinstance(error, RateLimited):
                src.last_status = "flood_wait" if src.type == "telegram" else f"rate limited ({status or '-'})"
                if error.retry_after:  # capped: a hostile header must not park it for years
                    pause = min(float(error.retry_after), float(fs.max_retry_after))
                    src.paused_until = now + timedelta(seconds=max(pause, 0.0))
            else:
                src.last_status = f"error ({status})" if status else "error"
            delay = backoff(src.error_count, error, min(base, fs.max_interval), max_seconds=fs.max_interval,
                            max_retry_after=fs.max_retry_after)
            src.next_check_at = now + timedelta(seconds=delay)
            if src.error_count >= fs.error_limit:
                src.enabled = False
                src.last_status = f"stopped after {src.error_count} errors (enable to resume)"
                log.warning("source %s stopped after %d consecutive errors", src.name, src.error_count)

    async def collect(self, *, names: Sequence[str] | None = None, everything: bool = False,
                      types: Sequence[str] | None = SCHEDULED_TYPES,
                      progress: Callable[[RunResult], None] | None = None,
                      item_progress: Callable[[int], None] | None = None) -> PassSummary:
        """One pass over the due sources (or the named ones, or all), concurrently within limits."""
        with self.store.unit() as s:
            ids = [src.id for src in source_repo.due_sources(s, names=names, everything=everything,
                                                             types=None if names else types)]
        summary = PassSummary()
        limit = asyncio.Semaphore(max(1, self.settings.fetch.concurrency))

        async def one(source_id: int) -> RunResult:
            # Nothing one source does may cancel the others' fetches: whatever escapes
            # run_source (a vanished row, a broken database connection) becomes its result.
            try:
                async with limit:
                    res = await self.run_source(source_id, progress=item_progress)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged, and counted as this source's error
                log.exception("run of source %s failed", source_id)
                res = RunResult(source=str(source_id), status="error",
                                error=f"{type(exc).__name__}: {exc}")
            if progress:
                try:
                    progress(res)
                except Exception:  # noqa: BLE001 - a display callback must not stop the pass
                    log.exception("progress callback failed")
            return res

        for res in await asyncio.gather(*(one(i) for i in ids)):
            summary.results.append(res)
            summary.fetched += res.status != "error"
            summary.not_modified += res.status == "not_modified"
            summary.new_items += res.new
            summary.versions += res.versions
            summary.hits += res.hits
            summary.errors += res.status == "error"
        return summary


# ---------------------------------------------------------------------- helpers


def _apply_batch_state(source: SourceRow, batch: Batch, now: datetime, *, had_new: bool) -> None:
    """The cursor, validators and state a batch brings, committed with its items."""
    if batch.cursor is not None:
        source.cursor = batch.cursor
    for attr in ("etag", "last_modified", "body_hash"):
        value = getattr(batch, attr)
        if value is not None:
            setattr(source, attr, value)
    state: dict[str, Any] = dict(source.state or {})
    if batch.state:
        state.update(batch.state)
    if batch.min_interval:
        state["min_interval"] = batch.min_interval
    if state != (source.state or {}):
        source.state = state
    for key, attr in (("channel_id", "remote_id"), ("access_hash", "access_hash")):
        if batch.state and batch.state.get(key) is not None:
            setattr(source, attr, int(batch.state[key]))
    if batch.new_locator and batch.new_locator != source.locator:
        log.info("source %s moved permanently: %s -> %s", source.name, source.locator, batch.new_locator)
        source.locator = batch.new_locator
    if had_new:
        source.last_new_item_at = now


def _default_alerts_hook():
    try:
        from monitor.store.alerts import on_new_hits
    except ImportError:
        return None
    return on_new_hits


