"""The one orchestrator: run a source end to end.

    fetch + adapt (the source's collector) → normalize → store new items / versions → dedup /
    cluster into stories → match → store hits → hand new hits to alerting

Each :class:`~monitor.sources.base.Batch` a collector yields is ingested in ONE transaction
together with the cursor, validators and state it carries, so a crash at any point loses nothing
(the batch is fetched again) and a re-run doubles nothing (items are unique per source and
external id, hits per item and term, alerts per desk and story). Inside it the batch goes one way:
the store reads what the batch touches, pure functions decide (versions, matching forms, exact
keys and signatures, stories, hits), the store writes the outcome; then alerting routes the new
hits (its own read → decide → write, :mod:`monitor.alerts.outbox`). After the run, the outcome
(status, error streak, next check: :func:`monitor.schedule.next_state`) is recorded on the
source row in a second small transaction.

The matcher is compiled once per change of the watch terms (checked before every batch, so
watchlist edits are picked up without a restart), never per item.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from datetime import datetime, timedelta
from typing import Callable, Sequence

from monitor import metrics
from monitor.alerts.outbox import route_new_hits
from monitor.dedup import coverage, stories
from monitor.dedup.events import EventParams
from monitor.durations import duration_value
from monitor.errors import SourceError
from monitor.faults import crashpoint
from monitor.ingest import batch as steps
from monitor.ingest import coverage as coverage_index
from monitor.ingest import passes, prepare, versions
from monitor.ingest.passes import Deferred
from monitor.ingest.results import BatchResult, PassSummary, RunResult
from monitor.ingest.matchers import MatcherCache
from monitor.match import MatchDoc
from monitor.schedule import Outcome, next_state
from monitor.settings import Settings
from monitor.sources import Batch, CollectContext, sanitize, source_class
from monitor.sources.base import SourceConfig
from monitor.store import events as event_repo
from monitor.store import hits as hit_repo
from monitor.store import items as item_repo
from monitor.store import sources as source_repo
from monitor.store import stories as story_repo
from monitor.store import textindex
from monitor.store.db import Session, Store
from monitor.store.locks import COVERAGE, RETENTION, lock_keys, story_keys
from monitor.store.values import SourceState, StoryDecision
from monitor.types import utcnow

log = logging.getLogger("monitor.ingest.pipeline")

AlertsHook = Callable[..., int]
class Pipeline:
    """Runs sources end to end against one store. Safe to share between tasks of one event loop."""

    def __init__(self, store: Store, settings: Settings, *, executor=None, fetcher=None,
                 alerts_hook: AlertsHook | bool = True):
        self.store = store
        self.settings = settings
        self.executor = executor
        self.fetcher = fetcher
        self.matchers = MatcherCache(settings)
        self._write_lock = threading.Lock()  # one writer at a time (SQLite has one anyway)
        # True: route new hits into the outbox; False: no alerting (tools, tests); or a hook
        # with route_new_hits's signature.
        self._alerts_hook = route_new_hits if alerts_hook is True else (alerts_hook or None)
        self._running: set[int] = set()
        self._queued: int | None = None  # items waiting for the text index, as far as we know
        # Called (from the ingesting thread) after a batch committed, e.g. to wake the alert worker.
        self.on_commit: Callable[[BatchResult], None] | None = None
        # the coverage level's index of stories in the window (built on first use, kept in step
        # with what every writer stored: see monitor.dedup.coverage)
        window = float(duration_value(settings.dedup.coverage_window))
        self.coverage = coverage.CoverageIndex(window, EventParams(window_hours=window / 3600))
        self.representations = coverage.Representations()

    @contextlib.contextmanager
    def writing(self):
        """Hold the writer lock: no batch is ingested meanwhile (retention uses it)."""
        with self._write_lock:
            yield

    # ------------------------------------------------------------ ingest (sync, one transaction)

    def ingest(self, source_id: int, batch: Batch, *, collector: str | None = None,
               now: datetime | None = None) -> BatchResult:
        """Store one batch and everything it leads to, atomically."""
        now = now or utcnow()
        batch = sanitize.clean_batch(batch, self.settings.limits)  # every source passes here
        result = BatchResult()
        watch = metrics.Stopwatch(result.seconds)
        if self.settings.dedup.coverage:  # pure work, before the transaction
            self.representations.prepare(v for v in batch.items if not v.deleted_at)
            watch.lap("represent")
        with self._write_lock:
            if self.settings.dedup.coverage and not self.coverage.loaded and batch.items:
                coverage_index.load(self.store, self.coverage,
                                    min(v.published_at or v.fetched_at for v in batch.items))
                watch.lap("index")
            try:
                with self.store.unit() as s:
                    # several nodes: ingest shares the retention lock, so a prune never runs
                    # beside it
                    lock_keys(s, [RETENTION], shared=True)
                    watch.lap("wait")  # for the other writers of this process (and retention)
                    source = source_repo.source_state(s, source_id)
                    if source is None:
                        raise SourceError(f"source {source_id} vanished")
                    self._ingest(s, source, batch, collector or source.type, now, result, watch)
            except BaseException:
                self.coverage.invalidate()  # it may hold this batch's items: rebuild next time
                raise
        watch.lap("commit")
        crashpoint("after_commit")
        for stage, seconds in result.seconds.items():
            metrics.INGEST_SECONDS.labels(stage).inc(seconds)
        metrics.ITEMS.labels(source.type, "new").inc(result.new)
        metrics.ITEMS.labels(source.type, "version").inc(result.versions)
        metrics.HITS.inc(result.hits)
        metrics.DROPPED.labels(source.type).inc(batch.dropped)
        metrics.TRUNCATED.labels(source.type).inc(sanitize.truncated_count(batch))
        if self.on_commit is not None:
            self.on_commit(result)
        if result.new:
            self._index_behind(result.new)
        return result

    def _index_behind(self, new: int) -> None:
        """Let the text index catch up once enough new items wait (store/textindex.py)."""
        if self._queued is None:
            with self.store.unit() as s:
                self._queued = textindex.pending(s)
        else:
            self._queued += new
        if self._queued >= textindex.CHUNK:
            self.catch_up_index()

    def catch_up_index(self, *, everything: bool = False) -> int:
        """Index the items queued for the text index (a chunk, or ``everything``)."""
        done = 0
        while True:
            with self._write_lock, self.store.unit() as s:
                n = textindex.catch_up(s)
            done += n
            if not everything or n < textindex.CHUNK:
                break
        self._queued = 0
        return done

    def _ingest(self, s: Session, source: SourceState, batch: Batch, collector: str, now: datetime,
                result: BatchResult, watch: metrics.Stopwatch) -> None:
        dedup = self.settings.dedup
        # read: the stored rows the batch touches; decide: new, version, unchanged (pure)
        external_ids = [v.external_id for v in batch.items]
        stored = item_repo.stored_items(s, source.id, external_ids)
        missing = [e for e in dict.fromkeys(external_ids) if e not in stored]
        pruned = item_repo.tombstoned(s, source.id, missing) if missing else set()
        changes = versions.decide(batch.items, stored, pruned)
        ids = item_repo.new_ids(s, sum(c.status == "new" for c in changes))
        watch.lap("read")
        ready = batch.prepared if isinstance(batch.prepared, dict) else {}

        def enrich_one(value):
            done = ready.get(prepare.key(value)) if ready else None
            if done is not None and done.source_language == source.language:
                return done.norm, done.language
            return prepare.enrich(value, source.language)

        def cluster_one(value, footer):
            done = ready.get(prepare.key(value)) if ready else None
            if done is not None and done.footer == footer:
                return done.cluster
            return prepare.cluster(value, footer, dedup)

        enrich = watch.timed("enrich", enrich_one)
        prepared = steps.work_out(changes, ids, enrich)
        watch.lap("read", less=result.seconds.get("enrich", 0.0))
        fresh = prepared.fresh
        result.new, result.versions = len(fresh), len(prepared.changed) - len(fresh)
        result.unchanged = prepared.unchanged
        footer, state = source.footer, dict(source.state)
        if fresh and footer is None:
            texts = [c.value.text for c in fresh]
            recent = (item_repo.recent_texts(s, source.id, limit=steps.FOOTER_SAMPLE - len(texts))
                      if steps.footer_due(state, len(texts)) else [])
            footer, state = steps.learn_footer(state, texts, recent)
        clusters = [cluster_one(c.value, footer or source.footer) for c in fresh]
        watch.lap("dedup")
        reps = ({c.item_id: self.representations.get(c.value) for c in fresh}
                if dedup.coverage and fresh else {})
        decision, placer = self._stories(s, steps.story_entries(fresh, source.id, clusters), reps)
        result.stories_joined = sum(p.how != "new" for p in decision.placements)
        watch.lap("stories")
        # write: stories first (items name theirs), items, then their keys and bands
        story_of = story_repo.write_new_stories(
            s, decision, now=now, ids=placer.story_ids if placer else None)
        item_repo.write_items(s, source.id, steps.item_writes(prepared, decision, story_of,
                                                              collector=collector))
        story_repo.link_stories(s, decision, story_of)
        if placer is not None:
            event_repo.write_rows(s, placer.rows)
        crashpoint("after_items")
        for deletion in batch.deletions:
            result.deleted += item_repo.mark_deleted(s, source.id, deletion.external_ids,
                                                     deletion.deleted_at)
        watch.lap("write")
        if prepared.changed:
            result.new_hit_ids = self._match(s, source, prepared.changed, story_of, now, watch)
            result.hits = len(result.new_hit_ids)
            if result.new_hit_ids and self._alerts_hook is not None:
                result.alerts = self._alerts_hook(s, result.new_hit_ids, now=now) or 0
                watch.lap("alerts")
        crashpoint("before_cursor")
        learned = footer if footer != source.footer else None
        resume = steps.resume_state(source, batch, state, now=now, had_new=result.new > 0,
                                    footer=learned)
        if resume.locator:
            log.info("source %s moved permanently: %s -> %s", source.name, source.locator,
                     resume.locator)
        source_repo.write_resume_state(s, source.id, resume)
        watch.lap("write")

    def _stories(self, s: Session, entries: Sequence[stories.Entry],
                 reps: dict) -> tuple[StoryDecision, coverage.Placer | None]:
        """Read the story candidates of the new items, decide their stories (pure): copies
        first, then (``reps``: the items' event representations) coverage of the same event."""
        dedup = self.settings.dedup
        # several nodes: batches sharing a key or a band decide their stories one at a time; any
        # story may be a candidate for coverage, so batches compared with them take turns
        keys = story_keys([k for e in entries for k in e.cluster.keys],
                          [b for e in entries for b in e.cluster.bands])
        lock_keys(s, keys + [COVERAGE] if reps else keys)
        owners = story_repo.key_owners(s, [v for e in entries for _, v in e.cluster.keys])
        owned = {o.value for o in owners}
        # an item with a stored exact key joins that key's story: its bands need no candidates
        bands = [b for e in entries if not any(v in owned for _, v in e.cluster.keys)
                 for b in e.cluster.bands]
        window = timedelta(days=dedup.window_days)
        near = (story_repo.band_candidates(s, bands, min(e.seen_at for e in entries) - window,
                                           max(e.seen_at for e in entries) + window)
                if bands else [])
        for attempt in (1, 2):
            placer = (coverage_index.placer(s, self.coverage, reps, len(entries))
                      if reps else None)
            joiners = stories.JOINERS + (placer.join,) if placer else stories.JOINERS
            decision = stories.decide(entries, stories.Candidates(owners, near), window=window,
                                      similarity=dedup.similarity, score=prepare.similarity,
                                      joiners=joiners, placed=placer.placed if placer else None)
            joined = {p.story_id for p in decision.placements  # stored stories it joined
                      if p.how in coverage.COVERAGE_KINDS and p.story_id is not None}
            if attempt == 2 or not story_repo.missing_stories(s, joined):
                break
            self.coverage.invalidate()  # retention pruned a story the index held: rebuild
        return decision, placer

    def _match(self, s: Session, source: SourceState, changed: Sequence[steps.Changed],
               story_of: dict[int, int], now: datetime, watch: metrics.Stopwatch) -> list[int]:
        """Match new items and new versions; store their new hits. Returns the new hits' ids."""
        matcher, meta = self.matchers.get(s)
        if matcher is None or not meta:
            return []
        # only a version can have hits already (the new items were inserted in this batch)
        existing = hit_repo.existing_pairs(s, [c.item_id for c in changed if not c.is_new])
        crashpoint("during_matching")
        rows = []
        for c in changed:
            value = c.value
            text = value.text or ""
            doc = MatchDoc(text=text, title=value.title, source=source.name, lang=c.language,
                           channel=value.channel_username)
            for th in matcher.match(doc):
                info = meta.get(th.term_id)
                if info is None or (c.item_id, th.term_id) in existing:
                    continue
                existing.add((c.item_id, th.term_id))
                rows.append(hit_repo.hit_row(
                    item_id=c.item_id, item_version=c.version,
                    story_id=steps.story_of_changed(c, story_of), meta=info, field=th.field,
                    spans=th.spans, snippet=th.snippet, snippet_html=th.snippet_html,
                    field_text=value.title if th.field == "title" else text, now=now))
        watch.lap("match")
        ids = hit_repo.add_hits(s, rows)
        watch.lap("hits")
        return ids

    # ------------------------------------------------------------------ runs (async)

    async def run_source(self, source_id: int, *,
                         progress: Callable[[int], None] | None = None,
                         config: SourceConfig | None = None,
                         deferred: list[Deferred] | None = None) -> RunResult:
        """Collect one source: ingest each batch it yields, then record the outcome.

        With ``deferred`` (a pass: :meth:`collect`), the outcome is not written here but
        appended there for :meth:`record_many`, and so is a last batch that brings nothing but
        "not modified" (no items, no deletions: its validators and state go with the outcome, in
        one statement for many sources; lost in a crash, they only cost a refetch)."""
        if config is None:
            with self.store.unit() as s:
                config = source_repo.source_config(s, source_id)
        if config is None:
            raise SourceError(f"no source with id {source_id}")
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
        again = None
        held: Batch | None = None  # a quiet batch, written with the outcome unless one follows
        try:
            collector = source_class(config.type)()
            ctx = CollectContext(settings=self.settings, fetcher=self.fetcher,
                                 executor=self.executor, progress=progress,
                                 recent_posts=self._recent_reader(source_id),
                                 prepare=self._ahead(config))
            async for batch in collector.collect(config, ctx):
                if held is not None:
                    await asyncio.to_thread(self.ingest, source_id, held)
                    held = None
                if deferred is not None and passes.quiet(batch):
                    held = batch
                    result.batches += 1
                    not_modified = True
                    min_interval = batch.min_interval or min_interval
                    http_status = batch.http_status or http_status
                    continue
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
                if batch.check_again_in is not None:  # the soonest any batch asked for
                    again = min(again, batch.check_again_in) if again is not None else \
                        batch.check_again_in
        except asyncio.CancelledError:
            raise
        except SourceError as exc:
            error = exc
        except Exception as exc:  # a bug in a collector must not stop the pass: record it loudly
            log.exception("collector for source %s failed unexpectedly", config.name)
            error = exc
        finally:
            self._running.discard(source_id)
        quiet = not_modified and not result.new
        result.status = "error" if error else ("not_modified" if quiet else "ok")
        metrics.FETCHES.labels(config.type, result.status).inc()
        metrics.RUN_SECONDS.labels(config.type).observe((utcnow() - started).total_seconds())
        result.error = f"{type(error).__name__}: {error}" if error else None
        if deferred is not None:
            outcome = (Outcome.from_error(error) if error is not None else
                       Outcome(not_modified=not_modified, status=http_status,
                               min_interval=min_interval, check_again_in=again))
            deferred.append(Deferred(source_id, outcome, None if error else held))
            return result
        try:  # inside the source's own error handling: a failure here is this source's alone
            await asyncio.to_thread(self.record_outcome, source_id, error=error,
                                    not_modified=not_modified, min_interval=min_interval,
                                    http_status=http_status, check_again_in=again)
        except Exception as exc:  # noqa: BLE001 - recorded on the result, logged loudly
            log.exception("recording the outcome of source %s failed", config.name)
            result.status, result.error = "error", f"{type(exc).__name__}: {exc}"
        return result

    def record_outcome(self, source_id: int, *, error: BaseException | None,
                       not_modified: bool = False, min_interval: float | None = None,
                       http_status: int | None = None, now: datetime | None = None,
                       check_again_in: float | None = None) -> None:
        """Write the run's outcome and the next check time on the source row."""
        if error is not None:
            outcome = Outcome.from_error(error)
        else:
            outcome = Outcome(not_modified=not_modified, status=http_status,
                              min_interval=min_interval, check_again_in=check_again_in)
        self.record(source_id, outcome, now=now)

    def _ahead(self, config: SourceConfig):
        """The per-item work a collector parsing in the pool may do there (prepare.ahead)."""
        if self.executor is None:
            return None
        return functools.partial(prepare.ahead, source_language=config.language, footer=None,
                                 dedup=self.settings.dedup, limits=self.settings.limits)

    def _recent_reader(self, source_id: int):
        """What a collector may read of its source's stored posts (a recheck's ids)."""
        from monitor.store import telegram as tg_repo

        def read(since: datetime):
            with self.store.unit() as s:
                return tg_repo.recent_posts(s, source_id, since)

        return lambda since: asyncio.to_thread(read, since)

    def record(self, source_id: int, outcome: Outcome, *, now: datetime | None = None) -> None:
        """Read the source's health, work out the next (:func:`monitor.schedule.next_state`),
        write it."""
        now = now or utcnow()
        with self._write_lock, self.store.unit() as s:
            health = source_repo.health(s, source_id)
            if health is None:
                return
            rules = source_class(health.type).schedule_rules(self.settings, health)
            dates = (item_repo.recent_dates(s, source_id, since=now - timedelta(days=7))
                     if outcome.error is None and rules.fixed_interval is None else ())
            new = next_state(health, outcome, now=now, rules=rules, recent_dates=dates)
            source_repo.write_health(s, new)
        if new.retired and not health.retired:
            log.warning("source %s is gone: retired", new.name)
        elif health.enabled and not new.enabled:
            log.warning("source %s stopped after %d consecutive errors", new.name, new.error_count)

    def record_many(self, runs: Sequence[Deferred], *, now: datetime | None = None) -> None:
        """:meth:`record` for many runs in one transaction (:func:`passes.record_many`)."""
        passes.record_many(self, runs, now=now)

    async def collect(self, *, names: Sequence[str] | None = None, everything: bool = False,
                      types: Sequence[str] | None = None,
                      progress: Callable[[RunResult], None] | None = None,
                      item_progress: Callable[[int], None] | None = None) -> PassSummary:
        """One pass over the due sources (or the named ones, or all), concurrently within limits
        (:func:`passes.collect`). Without ``names``, only sources of ``types`` (default: the
        types collected on a schedule)."""
        return await passes.collect(self, names=names, everything=everything, types=types,
                                    progress=progress, item_progress=item_progress)
