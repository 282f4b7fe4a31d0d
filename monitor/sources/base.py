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
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, ClassVar, Mapping, Sequence

from monitor.types import Deletion, Item

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Executor

    from monitor.settings import Settings
    from monitor.sources.http import Fetcher


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A read-only snapshot of a source row: what a collector needs to resume."""

    id: int
    name: str
    type: str
    locator: str  # feed URL, channel username / id, export path
    options: Mapping[str, Any] = field(default_factory=dict)
    account: str | None = None  # Telegram account that collects this source
    language: str | None = None  # declared language, if any
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    cursor: str | None = None  # e.g. the highest Telegram message id stored
    state: Mapping[str, Any] = field(default_factory=dict)  # collector-private persisted state
    last_checked_at: datetime | None = None


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


@dataclass(slots=True)
class CollectContext:
    """What the pipeline lends a collector for one run."""

    settings: "Settings"
    fetcher: "Fetcher | None" = None  # shared HTTP client with global and per-host limits
    executor: "Executor | None" = None  # process pool for CPU-bound parsing (feedparser)
    progress: Callable[[int], None] | None = None  # called with the number of items just read


class Source(abc.ABC):
    """One source type. Register implementations in :mod:`monitor.sources`."""

    type: ClassVar[str]

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
