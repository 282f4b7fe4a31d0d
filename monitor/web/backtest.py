"""Query tools behind the term editor: validate, test against pasted text, backtest over history.

A backtest runs an edited query — and the saved version of the same term, to compare — over stored
items. The database narrows the items first with the matcher's prefilter (substrings every match
must contain, searched in ``items.norm_text``: trigram index on PostgreSQL, a scan on SQLite); the
matcher then checks each candidate exactly, so the counts are the matcher's, not the index's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from monitor.errors import QuerySyntaxError
from monitor.settings import MatchSettings
from monitor.store import views

NEW, SAVED = 1, 2


def validate(query: str, aliases: dict[str, list[str]], m: MatchSettings) -> dict[str, Any]:
    """``{"ok": True}`` or the parse error with its position, for the editor's live check."""
    from monitor.match import validate as check

    try:
        check(query, aliases, min_prefix=m.min_prefix, max_length=m.max_query_length,
              max_nesting=m.max_nesting)
    except QuerySyntaxError as exc:
        return {"ok": False, "message": str(exc), "position": exc.position, "expected": exc.expected}
    return {"ok": True}


def _doc(title: str | None, text: str | None, source: str | None = None, lang: str | None = None,
         channel: str | None = None):
    from monitor.match import MatchDoc

    return MatchDoc(text=text or "", title=title or "", source=source or "", lang=lang or "",
                    channel=channel or "")


def try_text(query: str, aliases: dict[str, list[str]], title: str, text: str) -> list[Any]:
    """The matcher's hits for ``query`` on pasted text (raises QuerySyntaxError when invalid)."""
    from monitor.match import TermSpec, compile_matcher

    return list(compile_matcher([TermSpec(NEW, query)], aliases).match(_doc(title, text)))


@dataclass
class Backtest:
    """Items matched by the edited query and by the saved one, over the scanned window."""

    scanned: int = 0  # candidates the matcher checked
    truncated: bool = False  # stopped at the scan cap: counts are lower bounds
    prefiltered: bool = True
    both: int = 0
    only_new: int = 0
    only_saved: int = 0
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {
        "both": [], "only_new": [], "only_saved": []})

    @property
    def new_total(self) -> int:
        return self.both + self.only_new

    @property
    def saved_total(self) -> int:
        return self.both + self.only_saved


def backtest(s: Session, query: str, aliases: dict[str, list[str]], *, saved: str | None = None,
             days: int | None = 30, max_scan: int = 50_000, examples: int = 20,
             min_prefix: int = 3, now: datetime | None = None) -> Backtest:
    """Run ``query`` (and ``saved``, when given) over items fetched in the last ``days`` days."""
    from monitor.match import TermSpec, compile_matcher, prefilter

    specs = [TermSpec(NEW, query)] + ([TermSpec(SAVED, saved)] if saved else [])
    matcher = compile_matcher(specs, aliases, min_prefix=min_prefix)
    subs: list[str] | None = []
    for spec in specs:
        p = prefilter(spec.query, aliases, min_prefix=min_prefix)
        if p is None:  # one query cannot be narrowed: every item is a candidate
            subs = None
            break
        subs.extend(p)
    if subs is not None:
        subs = sorted(set(subs))
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days) if days else None
    result = Backtest(prefiltered=subs is not None)
    # One row past the cap tells whether the scan was cut short.
    for row in views.backtest_candidates(s, subs, since=since, limit=max_scan + 1):
        if result.scanned == max_scan:
            result.truncated = True
            break
        result.scanned += 1
        doc = _doc(row.title, row.text, row.source, row.language, row.channel_username)
        hits = matcher.match(doc, snippets=False)  # snippets only for the few examples, below
        ids = {h.term_id for h in hits}
        kind = ("both" if NEW in ids and SAVED in ids else "only_new" if NEW in ids
                else "only_saved" if SAVED in ids else None)
        if kind is None:
            continue
        setattr(result, kind, getattr(result, kind) + 1)
        if len(result.examples[kind]) < examples:
            hits = matcher.match(doc)
            first = next((h for h in hits if h.term_id == (SAVED if kind == "only_saved" else NEW)), None)
            result.examples[kind].append({
                "id": row.id, "title": row.title, "source": row.source, "published_at": row.published_at,
                "snippet_html": first.snippet_html if first else ""})
    return result
