"""A collection pass over many sources (``monitor collect``), and its outcomes written together.

A pass runs its sources concurrently within the fetch limits; each run's outcome (and a last
batch that brings nothing but "not modified") is written with up to ``RECORD_EVERY`` others in
one transaction: their sources read in one query, their recent dates in another, their new health
in one executemany. A pass of 304s is mostly this write. A crash loses at most those outcomes:
the sources stay due and are looked at again, nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Sequence

from monitor.ingest import batch as steps
from monitor.schedule import Outcome, next_state
from monitor.errors import InvalidInput
from monitor.ingest.results import PassSummary, RunResult
from monitor.sources import Batch, sanitize, source_class
from monitor.sources.base import SourceConfig
from monitor.store import items as item_repo
from monitor.store import sources as source_repo
from monitor.types import utcnow

if TYPE_CHECKING:
    from monitor.ingest.pipeline import Pipeline

log = logging.getLogger("monitor.ingest.pipeline")

RECORD_EVERY = 200  # runs whose outcomes a pass writes in one transaction


@dataclass(frozen=True, slots=True)
class Deferred:
    """A run's outcome waiting for :func:`record_many`, with its quiet last batch."""

    source_id: int
    outcome: Outcome
    quiet: Batch | None = None


def quiet(batch: Batch) -> bool:
    """Nothing but "not modified": no items, no deletions, no move, no cursor."""
    return (batch.not_modified and not batch.items and not batch.deletions
            and not batch.new_locator and batch.cursor is None and batch.check_again_in is None)


def record_many(pipeline: Pipeline, runs: Sequence[Deferred], *,
                now: datetime | None = None) -> None:
    """:meth:`Pipeline.record` for many runs in one transaction: their sources read in one query,
    their recent dates in another, the new health (and quiet batches' validators and state)
    written in one executemany."""
    if not runs:
        return
    now = now or utcnow()
    since = now - timedelta(days=7)
    with pipeline._write_lock, pipeline.store.unit() as s:
        known = source_repo.healths_and_states(s, [r.source_id for r in runs])
        rules, wanted = {}, []
        for run in runs:
            if run.source_id not in known:
                continue
            health = known[run.source_id][0]
            rules[run.source_id] = source_class(health.type).schedule_rules(pipeline.settings,
                                                                            health)
            if run.outcome.error is None and rules[run.source_id].fixed_interval is None:
                wanted.append(run.source_id)
        dates = item_repo.recent_dates_of(s, wanted, since=since) if wanted else {}
        states, resumes, changes = [], {}, []
        for run in runs:
            if run.source_id not in known:
                continue
            health, source = known[run.source_id]
            new = next_state(health, run.outcome, now=now, rules=rules[run.source_id],
                             recent_dates=dates.get(run.source_id, ()))
            states.append(new)
            changes.append((health, new))
            if run.quiet is not None:
                batch = sanitize.clean_batch(run.quiet, pipeline.settings.limits)
                resumes[run.source_id] = steps.resume_state(
                    source, batch, source.state, now=now, had_new=False, footer=None)
        source_repo.write_outcomes(s, states, resumes)
    for health, new in changes:
        if new.retired and not health.retired:
            log.warning("source %s is gone: retired", new.name)
        elif health.enabled and not new.enabled:
            log.warning("source %s stopped after %d consecutive errors", new.name,
                        new.error_count)


def _scheduled(types: set[str]) -> set[str]:
    """Which of ``types`` are collected on a schedule, importing only their modules."""
    out = set()
    for name in types:
        try:
            if source_class(name).scheduled:
                out.add(name)
        except InvalidInput:  # an unknown type in the table: not ours to collect
            continue
    return out


async def collect(pipeline: Pipeline, *, names: Sequence[str] | None = None,
                  everything: bool = False,
                  types: Sequence[str] | None = None,
                  progress: Callable[[RunResult], None] | None = None,
                  item_progress: Callable[[int], None] | None = None) -> PassSummary:
    """One pass over the due sources (or the named ones, or all), concurrently within limits.

    Without ``names``, only sources of ``types`` (default: the types collected on a
    schedule)."""
    with pipeline.store.unit() as s:
        configs = source_repo.due_sources(s, names=names, everything=everything,
                                          types=None if names else types)
    if not names and types is None:  # the scheduled types among those due: only they are loaded
        configs = [c for c in configs if c.type in _scheduled({c.type for c in configs})]
    summary = PassSummary()
    limit = asyncio.Semaphore(max(1, pipeline.settings.fetch.concurrency))
    # The runs' outcomes are written together, RECORD_EVERY at a time, not one transaction
    # per source: a pass of 304s is mostly this write.
    pending: list[Deferred] = []

    async def flush() -> None:
        runs = pending[:]
        del pending[:]
        try:
            await asyncio.to_thread(record_many, pipeline, runs)
        except Exception:  # noqa: BLE001 - the sources stay due: the next pass looks again
            log.exception("recording the outcome of %d sources failed", len(runs))

    async def one(config: SourceConfig) -> RunResult:
        # Nothing one source does may cancel the others' fetches: whatever escapes
        # run_source (a vanished row, a broken database connection) becomes its result.
        source_id = config.id
        try:
            async with limit:
                res = await pipeline.run_source(source_id, progress=item_progress, config=config,
                                    deferred=pending)
            if len(pending) >= RECORD_EVERY:
                await flush()
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

    try:
        done = await asyncio.gather(*(one(c) for c in configs))
    finally:
        await flush()
        if pipeline._queued:
            try:
                await asyncio.to_thread(pipeline.catch_up_index, everything=True)
            except Exception:  # noqa: BLE001 - the queue stays; readers read it directly
                log.exception("the text index could not catch up")
    for res in done:
        summary.results.append(res)
        summary.fetched += res.status != "error"
        summary.not_modified += res.status == "not_modified"
        summary.new_items += res.new
        summary.versions += res.versions
        summary.hits += res.hits
        summary.errors += res.status == "error"
    return summary
