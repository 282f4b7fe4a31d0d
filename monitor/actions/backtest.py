"""Run one term over stored history without saving it.

The database narrows the items first (each must contain one of the query's normalized anchor
pieces in its stored matching form, so evasions repaired at ingest are found here too); the
matcher then verifies every candidate with the full semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from monitor.match import MatchDoc, prefilter
from monitor.store import items as item_repo
from monitor.store.db import Session


@dataclass
class BacktestReport:
    total: int = 0
    scanned: int = 0
    matched: int = 0
    prefilter: list[str] | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)


def backtest(s: Session, query: str, matcher, *, aliases: dict, since: datetime | None = None,
             source: str | None = None, keep: int = 20, progress: Callable[[int], None] | None = None,
             keep_ids: int = 10000) -> BacktestReport:
    report = BacktestReport(total=item_repo.count_items(s, since=since, source=source))
    try:
        report.prefilter = prefilter(query, aliases)
    except Exception:  # no guarantee available: scan everything
        report.prefilter = None
    for item in item_repo.stream_for_backtest(s, since=since, source=source,
                                              contains_any=report.prefilter):
        source_name = item.source
        report.scanned += 1
        if progress and report.scanned % 500 == 0:
            progress(report.scanned)
        doc = MatchDoc(text=item.text or "", title=item.title, source=source_name, lang=item.language,
                       channel=item.channel_username)
        # snippets cost a third of the matching: only the listed examples need them
        hits = matcher.match(doc, snippets=len(report.examples) < keep)
        if not hits:
            continue
        report.matched += 1
        if len(report.item_ids) < keep_ids:
            report.item_ids.append(item.id)
        if len(report.examples) < keep:
            hit = hits[0]
            report.examples.append({"source": source_name, "external_id": item.external_id, "url": item.url,
                                    "published_at": item.published_at, "field": hit.field, "snippet": hit.snippet,
                                    "item_id": item.id})
    return report
