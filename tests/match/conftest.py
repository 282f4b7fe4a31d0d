from __future__ import annotations

import pytest

from monitor.match import MatchDoc, TermSpec, compile_matcher

ALIASES = {
    "kim_jong_un": ["Ким Чен Ын", "Кім Чен Ин", "Kim Jong Un", "Kim Jong-un", "김정은"],
    "empty": ["", "—"],
}


def hits_for(queries, text="", title=None, aliases=ALIASES, **meta):
    """{query: TermHit} for the queries that match the document."""
    qs = [queries] if isinstance(queries, str) else list(queries)
    m = compile_matcher([TermSpec(i, q) for i, q in enumerate(qs)], aliases)
    assert not m.errors, {qs[k]: str(v) for k, v in m.errors.items()}
    return {qs[h.term_id]: h for h in m.match(MatchDoc(text=text, title=title, **meta))}


def matches(query, text="", title=None, **meta) -> bool:
    return query in hits_for(query, text, title, **meta)


def marked(hit, text) -> list[str]:
    return [text[s.start:s.end] for s in hit.spans]


@pytest.fixture
def kim_aliases():
    return ALIASES
