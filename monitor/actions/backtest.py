"""Run a term over stored history without saving it: the one backtest of ``monitor term
backtest`` and the web's term editor.

The database narrows the items first (each must contain one of the query's normalized anchor
pieces in its stored matching form, so evasions repaired at ingest are found here too; an index
serves it on both backends); the matcher then verifies every candidate with the full semantics,
so the counts are the matcher's, not the index's. With ``saved`` (the stored version of a term
being edited) both queries run over the same candidates and the report says what the edit gains
and loses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from monitor.store import candidates
from monitor.store.db import Session

NEW, SAVED = 1, 2
KINDS = ("only_new", "both", "only_saved")


@dataclass
class BacktestReport:
    """Items matched by the query (and the saved one), over the scanned window."""

    total: int = 0  # items in the window
    scanned: int = 0  # candidates the matcher checked
    truncated: bool = False  # stopped at the scan cap: counts are lower bounds
    prefilter: list[str] | None = None  # the substrings the database searched for; None: none
    both: int = 0
    only_new: int = 0
    only_saved: int = 0
    examples: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {k: [] for k in KINDS}
    )

    @property
    def prefiltered(self) -> bool:
        return self.prefilter is not None

    @property
    def new_total(self) -> int:
        return self.both + self.only_new

    matched = new_total

    @property
    def saved_total(self) -> int:
        return self.both + self.only_saved


def backtest(
    s: Session,
    query: str,
    *,
    aliases: Mapping[str, Sequence[str]],
    saved: str | None = None,
    since: datetime | None = None,
    source: str | None = None,
    max_scan: int = 50_000,
    examples: int = 20,
    min_prefix: int = 3,
    progress: Callable[[int], None] | None = None,
) -> BacktestReport:
    """Run ``query`` (and ``saved``, when given) over the items fetched since ``since`` (from
    ``source`` only, when given); QuerySyntaxError when a query does not compile."""
    from monitor.match import MatchDoc, TermSpec, compile_matcher, prefilter

    specs = [TermSpec(NEW, query)] + ([TermSpec(SAVED, saved)] if saved else [])
    matcher = compile_matcher(specs, dict(aliases), min_prefix=min_prefix)
    subs: list[str] | None = []
    for spec in specs:
        pieces = prefilter(spec.query, dict(aliases), min_prefix=min_prefix)
        if pieces is None:  # one query cannot be narrowed: every item is a candidate
            subs = None
            break
        subs.extend(pieces)
    report = BacktestReport(
        total=candidates.count_items(s, since=since, source=source),
        prefilter=sorted(set(subs)) if subs is not None else None,
    )
    # One row past the cap tells whether the scan was cut short.
    for cand in candidates.backtest_candidates(
        s, report.prefilter, since=since, source=source, limit=max_scan + 1
    ):
        if report.scanned == max_scan:
            report.truncated = True
            break
        report.scanned += 1
        if progress and report.scanned % 500 == 0:
            progress(report.scanned)
        doc = MatchDoc(
            text=cand.text or "",
            title=cand.title or "",
            source=cand.source,
            lang=cand.language or "",
            channel=cand.channel_username or "",
        )
        ids = {h.term_id for h in matcher.match(doc, snippets=False)}  # snippets only for examples
        kind = (
            "both"
            if NEW in ids and SAVED in ids
            else "only_new"
            if NEW in ids
            else "only_saved"
            if SAVED in ids
            else None
        )
        if kind is None:
            continue
        setattr(report, kind, getattr(report, kind) + 1)
        if len(report.examples[kind]) < examples:
            want = SAVED if kind == "only_saved" else NEW
            hit = next((h for h in matcher.match(doc) if h.term_id == want), None)
            report.examples[kind].append(
                {
                    "id": cand.id,
                    "source": cand.source,
                    "external_id": cand.external_id,
                    "url": cand.url,
                    "title": cand.title,
                    "published_at": cand.published_at,
                    "field": hit.field if hit else None,
                    "snippet": hit.snippet if hit else "",
                    "snippet_html": hit.snippet_html if hit else "",
                }
            )
    return report
