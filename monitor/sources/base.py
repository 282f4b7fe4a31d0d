"""The Source port: what every collector (RSS, Telethon, t.me/s, Desktop export) implements.

A source reads its outside world and yields :class:`Batch` values of adapted :class:`Item` s. The
pipeline stores each batch in one transaction together with the cursor and validators it carries,
so a crash between batches loses nothing and a re-run doubles nothing. A collector never touches
the database: everything it needs to resume is in :class:`SourceConfig` and everything it learned
goes back in the batch.

Errors are raised as :class:`monitor.errors.SourceError` subclasses (transient, permanent, gone,
rate-limited); the pipeline records them on the source row and schedules the next check.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import (TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, ClassVar, Mapping,
                    Sequence)

from monitor.schedule import Rules, Silence
from monitor.types import Deletion, Item, SourceConfig

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Executor

    from monitor.settings import Settings
    from monitor.sources.http import Fetcher


@dataclass(frozen=True, slots=True)
class Batch:
    """Items (and deletions) to commit together with the source state they bring.

    Only fields that are not None update the source row; ``state`` is merged key by key.
    """

    items: Sequence[Item] = ()
    deletions: Sequence[Deletion] = ()
    cursor: str | None = None
    state: Mapping[str, Any] | None = None
    http_status: int | None = None
    not_modified: bool = False  # 304, or the body hash did not change
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    new_locator: str | None = None  # a permanent redirect moved the source
    min_interval: float | None = None  # seconds: the feed's TTL / Cache-Control / updatePeriod
    dropped: int = 0  # entries the collector left out (failing to parse, over a bound): counted
    check_again_in: float | None = None  # seconds: look again this soon (backfill, recheck due)
    # the per-item work the pipeline lent a collector to do ahead, in the parse worker
    # (CollectContext.prepare's result: opaque here, checked by the pipeline before use)
    prepared: Any = None


@dataclass(slots=True)
class CollectContext:
    """What the pipeline lends a collector for one run."""

    settings: "Settings"
    fetcher: "Fetcher | None" = None  # shared HTTP client with global and per-host limits
    executor: "Executor | None" = None  # process pool for CPU-bound parsing (feedparser)
    progress: Callable[[int], None] | None = None  # called with the number of items just read
    # the source's stored posts published since a time, not marked deleted: (external id,
    # published at), oldest first (what a recheck re-reads); lent by the pipeline, read-only
    recent_posts: "Callable[[datetime], Awaitable[Sequence[tuple[str, datetime]]]] | None" = None
    # a pure, picklable function of the batch's items that a collector parsing in the process
    # pool runs there too, right after parsing; its result goes out as ``Batch.prepared``
    prepare: Callable[[Sequence[Item]], Any] | None = None


class Source(abc.ABC):
    """One source type. Register implementations in :mod:`monitor.sources`.

    Besides collecting, a type declares on its class how the rest of the house treats it, so that
    adding a type is one module and its registration:

    - ``scheduled``: collected on a schedule (the scheduler and ``monitor collect`` pick it up);
      False for a type imported on demand (a Desktop export);
    - ``concurrency_class`` / ``concurrency``: runs of all types in one class share one limit
      (:meth:`concurrency_limit`, which may read the settings);
    - ``silence``: when it counts as silent (:func:`monitor.schedule.is_silent`): ``pace``
      against its adaptive interval, ``fixed`` against the configured longest silence only
      (its interval says nothing about how often it posts), ``never``;
    - :meth:`fixed_interval`: the pace it is polled at after a success (None: adaptive, from how
      often it publishes);
    - ``rate_limited_status``: how its status reads while it waits out a rate limit (None:
      ``rate limited (<HTTP status>)``).
    """

    type: ClassVar[str]
    scheduled: ClassVar[bool] = True
    concurrency_class: ClassVar[str] = "default"
    concurrency: ClassVar[int] = 4
    silence: ClassVar[Silence] = "pace"
    rate_limited_status: ClassVar[str | None] = None
    # True when the locator is a path on the server: only the CLI (run by whoever owns the
    # server) may add or change such a source; the web UI refuses, so no web user can make the
    # service read /etc/passwd or another file they could not read themselves.
    server_path: ClassVar[bool] = False

    @classmethod
    def concurrency_limit(cls, settings: "Settings") -> int:
        """Runs of this type's concurrency class at once."""
        return cls.concurrency

    @classmethod
    def fixed_interval(cls, settings: "Settings") -> float | None:
        """Seconds between checks after a success; None: adapt to how often it publishes."""
        return None

    @classmethod
    def schedule_rules(cls, settings: "Settings", health: Any) -> Rules:
        """The limits :func:`monitor.schedule.next_state` applies to one of its sources (by
        default the ``fetch.*`` bounds and :meth:`fixed_interval`; ``health`` is the source's
        :class:`~monitor.store.values.SourceHealth`)."""
        fetch = settings.fetch
        return Rules(min_interval=fetch.min_interval, max_interval=fetch.max_interval,
                     default_interval=fetch.default_interval, error_limit=fetch.error_limit,
                     max_retry_after=fetch.max_retry_after,
                     fixed_interval=cls.fixed_interval(settings),
                     rate_limited_status=cls.rate_limited_status)

    @classmethod
    def check_locator(cls, locator: str) -> str:
        """Validate and normalize what an operator typed; raise ``InvalidInput`` when unusable."""
        return locator.strip()

    @classmethod
    def default_name(cls, locator: str) -> str:
        """A readable unique-ish name for a source added without ``--name``."""
        return locator

    @abc.abstractmethod
    def collect(self, source: SourceConfig, ctx: CollectContext) -> AsyncIterator[Batch]:
        """Yield batches of new or changed items, oldest first where the source allows."""
