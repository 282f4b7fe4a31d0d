"""Watch terms: queries are validated with the matcher, within the settings' limits, against the
alias sets stored at the time of the check; the term editor's live check and its test against
pasted text."""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

from monitor.errors import QuerySyntaxError
from monitor.settings import MatchSettings, Settings
from monitor.store import watch as watch_repo
from monitor.store.db import Session


def query_check(settings: Settings) -> watch_repo.QueryCheck:
    """``check(query, aliases)``: raises QuerySyntaxError when the query is invalid."""
    from monitor.match import validate

    m = settings.match
    return functools.partial(
        validate, min_prefix=m.min_prefix, max_length=m.max_query_length, max_nesting=m.max_nesting
    )


def validator(s: Session, settings: Settings):
    """``validate(query)`` against the alias sets stored now (for saving a term)."""
    check = query_check(settings)
    return lambda q: check(q, watch_repo.alias_map(s))


def check_result(
    query: str, aliases: Mapping[str, Sequence[str]], m: MatchSettings
) -> dict[str, Any]:
    """``{"ok": True}`` or the parse error with its position, for the editor's live check."""
    from monitor.match import validate

    try:
        validate(
            query,
            dict(aliases),
            min_prefix=m.min_prefix,
            max_length=m.max_query_length,
            max_nesting=m.max_nesting,
        )
    except QuerySyntaxError as exc:
        return {
            "ok": False,
            "message": str(exc),
            "position": exc.position,
            "expected": exc.expected,
        }
    return {"ok": True}


def test_text(
    query: str,
    aliases: Mapping[str, Sequence[str]],
    *,
    text: str,
    title: str | None = None,
    source: str | None = None,
    lang: str | None = None,
    channel: str | None = None,
    min_prefix: int = 3,
) -> list[Any]:
    """The matcher's hits for ``query`` on given text (QuerySyntaxError when invalid)."""
    from monitor.match import MatchDoc, TermSpec, compile_matcher

    matcher = compile_matcher([TermSpec(0, query)], dict(aliases), min_prefix=min_prefix)
    return list(
        matcher.match(
            MatchDoc(
                text=text or "",
                title=title or "",
                source=source or "",
                lang=lang or "",
                channel=channel or "",
            )
        )
    )
