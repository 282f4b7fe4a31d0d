"""The matching engine: watch-term queries over posts, pure (no I/O).

Queries are validated when saved (:func:`validate`), compiled once per change of the watchlists
(:func:`compile_matcher`) and never re-parsed per item. The query language, its semantics and the
evaluation order are documented in :mod:`monitor.match.parser`; normalization in
:mod:`monitor.match.normalize`; morphology in :mod:`monitor.match.morph`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import QuerySyntaxError
from .compiler import LiteralTable, compile_term, prefilter_of
from .lang import detect_language
from .matcher import Matcher
from .normalize import Normalized, Token, matching_form, normalize
from .parser import parse
from .query import Query
from .snippet import snippet

__all__ = [
    "MatchDoc", "Matcher", "Normalized", "Query", "TermSpec", "Token", "compile_matcher",
    "detect_language", "matching_form", "normalize", "parse", "prefilter", "snippet", "validate",
]

log = logging.getLogger(__name__)
_NO_ALIASES: Mapping[str, Sequence[str]] = {}


@dataclass(frozen=True)
class TermSpec:
    """A watch term to compile: its id (reported back in hits and errors) and its query."""

    term_id: int
    query: str


@dataclass(frozen=True)
class MatchDoc:
    """What the matcher reads of an item."""

    text: str
    title: str | None = None
    source: str | None = None
    lang: str | None = None
    channel: str | None = None


def validate(query: str, aliases: Mapping[str, Sequence[str]] = _NO_ALIASES, *,
             min_prefix: int = 3, max_length: int = 2000, max_nesting: int = 20) -> None:
    """Raise :class:`~monitor.errors.QuerySyntaxError` unless ``query`` compiles (with ``aliases``)."""
    _guarded(lambda: compile_term(0, query, LiteralTable(), aliases, min_prefix,
                                  max_length=max_length, max_nesting=max_nesting), query)


def _guarded(fn, query):
    """Run ``fn``; a bug inside (anything but QuerySyntaxError) is logged and reported as one, so
    callers that validate operator input only ever see the documented error."""
    try:
        return fn()
    except QuerySyntaxError:
        raise
    except Exception as exc:
        log.exception("internal error while compiling %r", query)
        raise QuerySyntaxError(f"internal error while compiling: {exc!r}", query=str(query),
                               position=0, expected="a query the matcher can compile") from exc


def compile_matcher(terms: Iterable[TermSpec],
                    aliases: Mapping[str, Sequence[str]] = _NO_ALIASES, *,
                    min_prefix: int = 3) -> Matcher:
    """Compile every term into one :class:`Matcher`; terms that fail are in ``matcher.errors``."""
    return Matcher(terms, aliases, min_prefix=min_prefix)


def prefilter(query: str, aliases: Mapping[str, Sequence[str]] = _NO_ALIASES, *,
              min_prefix: int = 3) -> list[str] | None:
    """Normalized substrings, one of which occurs in ``matching_form`` of the title or text of every
    document the query matches; None when no such guarantee exists (e.g. only metadata scopes).
    Raises QuerySyntaxError for an invalid query."""
    table = LiteralTable()
    ct = _guarded(lambda: compile_term(0, query, table, aliases, min_prefix), query)
    return prefilter_of(ct.pred, table)
