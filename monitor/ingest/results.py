"""What a run of the pipeline reports: per batch, per source run, per pass (plain counters)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage (read, ...)


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
