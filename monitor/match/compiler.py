"""Compile parsed queries into predicates over *literals*, and literals into automaton keys.

A *literal* is a word or phrase after morphology: a set of variants (token-pattern tuples, see
:mod:`.morph`). Identical literals are shared between terms. Each variant yields one automaton key
over the matcher's scan string (tokens joined by single spaces, a space at both ends):

* the leading run of single-form EXACT tokens, joined by spaces, with a space before;
* if that run is the whole variant, a space after too — then the automaton alone proves the match;
* otherwise the key stops inside (``PREFIX``/``TOLERANT``/``KOREAN`` stem) or after the run, and the
  rest of the variant is checked in Python from the key's end (:class:`Check`).

A compiled query is a tree of typed predicates (:mod:`.preds`), evaluated by :mod:`.matcher`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import QuerySyntaxError
from . import morph
from .morph import EXACT, TokPat, Variant
from .normalize import matching_form, tokens_of
from .parser import parse
from .preds import (
    ANY,
    TEXT,
    TITLE,
    AllOf,
    AnyOf,
    Lit,
    MetaIs,
    Negated,
    Pred,
    Seq,
    Within,
    literal_prefixes,
)
from .query import AliasRef, And, Field, Meta, Near, Node, Not, Or, Phrase, Term

__all__ = ["ANY", "TEXT", "TITLE", "AllOf", "AnyOf", "Check", "CompiledTerm", "LiteralTable", "Lit",
           "MetaIs", "Negated", "Pred", "Seq", "Within", "compile_term", "literal_prefixes",
           "normalize_channel", "prefilter_of", "variant_key"]

_FIELD_BITS = {"title": TITLE, "text": TEXT}


@dataclass(frozen=True, slots=True)
class Check:
    """What the Python side verifies after a key fired.

    ``partial``: the key ended inside a token whose rest ``first`` must accept; ``rest``: the patterns
    of the following tokens.
    """

    first: TokPat | None
    rest: tuple[TokPat, ...]


def variant_key(v: Variant) -> tuple[str, Check | None]:
    words: list[str] = []
    k = 0
    while k < len(v) and v[k].kind == EXACT and not v[k].forms:
        words.append(v[k].text)
        k += 1
    if k == len(v):
        return " " + " ".join(words) + " ", None
    nxt = v[k]
    if nxt.kind != EXACT:
        return " " + " ".join(words + [nxt.text]), Check(nxt, v[k + 1:])
    if not words:  # pragma: no cover - morph expands the first pattern
        raise ValueError("variant starts with a multi-form pattern")
    return " " + " ".join(words) + " ", Check(None, v[k:])


def _expand_first(v: Variant) -> list[Variant]:
    """Split leading multi-form EXACT patterns into single forms (so keys can hold them)."""
    out = [v]
    for k in range(len(v)):
        if v[k].kind != EXACT:
            break
        if not v[k].forms:
            continue
        if k > 0 and len(out) * len(v[k].forms) > morph.MAX_VARIANTS:
            break
        out = [x[:k] + (TokPat(EXACT, f),) + x[k + 1:] for x in out for f in sorted(v[k].forms)]
    return out


class LiteralTable:
    """Literals shared by all terms of one matcher."""

    def __init__(self) -> None:
        self.ids: dict[tuple[Variant, ...], int] = {}
        self.variants: list[tuple[Variant, ...]] = []

    def add(self, variants: list[Variant]) -> int:
        expanded: dict[Variant, None] = {}
        for v in variants:
            for x in _expand_first(v):
                expanded.setdefault(x, None)
        key = tuple(expanded)
        lit = self.ids.get(key)
        if lit is None:
            lit = self.ids[key] = len(self.variants)
            self.variants.append(key)
        return lit


@dataclass
class CompiledTerm:
    term_id: int
    query: str
    pred: Pred
    guards: frozenset[int] | None  # one of these literals must fire; None: evaluate always
    simple: bool  # pred is a literal or an OR of literals in any field
    positive_lits: frozenset[int]
    required: tuple[frozenset[int], ...] = ()


class _Compiler:
    def __init__(self, table: LiteralTable, aliases: Mapping[str, Sequence[str]], min_prefix: int,
                 query: str):
        self.table = table
        self.aliases = {str(k).casefold(): v for k, v in aliases.items()}
        self.min_prefix = min_prefix
        self.query = query

    def error(self, msg: str, pos: int, expected: str) -> QuerySyntaxError:
        return QuerySyntaxError(msg, query=self.query, position=pos, expected=expected)

    def literal(self, text: str, pos: int, *, exact: bool, prefix: bool, slop: int | None,
                phrase: bool) -> Pred:
        chunks = text.split() if phrase else [text]
        toks: list[str] = []
        pres: list[bool] = []
        for c in chunks:
            is_pre = prefix or (phrase and c.endswith("*"))
            ctoks = tokens_of(matching_form(c.rstrip("*") if phrase else c))
            if not ctoks:
                continue
            toks += ctoks
            pres += [False] * (len(ctoks) - 1) + [is_pre]
            if is_pre and len(ctoks[-1]) < self.min_prefix:
                raise self.error(
                    f"prefix '{ctoks[-1]}*' is too short", pos,
                    f"at least {self.min_prefix} characters before '*'")
        if not toks:
            raise self.error("nothing to match", pos, "a word with letters or digits")
        if slop is not None and len(toks) > 1:
            per_word = [
                self.table.add(morph.phrase_variants([t], [p], exact=exact))
                for t, p in zip(toks, pres)
            ]
            return Seq(tuple(per_word), slop, ANY)
        variants = morph.phrase_variants(toks, pres, exact=exact)
        return Lit(self.table.add(variants), ANY)

    def compile(self, node: Node) -> Pred:
        if isinstance(node, Term):
            return self.literal(node.text, node.pos, exact=node.exact, prefix=node.prefix,
                                slop=None, phrase=False)
        if isinstance(node, Phrase):
            return self.literal(node.text, node.pos, exact=node.exact, prefix=False,
                                slop=node.slop, phrase=True)
        if isinstance(node, AliasRef):
            members = self.aliases.get(node.name.casefold())
            if members is None:
                raise self.error(f"unknown alias '@{node.name}'", node.pos, "a defined alias name")
            items = []
            for m in members:
                if isinstance(m, str) and tokens_of(matching_form(m)):
                    items.append(self.literal(m, node.pos, exact=False, prefix=False, slop=None,
                                              phrase=True))
            if not items:
                raise self.error(f"alias '@{node.name}' has no usable member", node.pos,
                                 "an alias with at least one name")
            return items[0] if len(items) == 1 else AnyOf(tuple(items))
        if isinstance(node, And):
            return AllOf(tuple(self.compile(c) for c in node.items))
        if isinstance(node, Or):
            return AnyOf(tuple(self.compile(c) for c in node.items))
        if isinstance(node, Not):
            return Negated(self.compile(node.item))
        if isinstance(node, Near):
            return Within(self.compile(node.left), self.compile(node.right), node.distance,
                          node.ordered)
        if isinstance(node, Field):
            return self.compile(node.item).scoped(_FIELD_BITS[node.name])
        if isinstance(node, Meta):
            return MetaIs(node.name, tuple(_meta_norm(node.name, v) for v in node.values))
        raise TypeError(f"unknown node {node!r}")  # pragma: no cover


def _meta_norm(name: str, value: str) -> str:
    v = value.strip().casefold()
    if name == "channel":
        v = normalize_channel(v)
    return v


def normalize_channel(v: str) -> str:
    v = v.strip().casefold()
    for p in ("https://", "http://"):
        v = v.removeprefix(p)
    for p in ("www.t.me/s/", "t.me/s/", "www.t.me/", "t.me/", "telegram.me/", "@"):
        v = v.removeprefix(p)
    return v.rstrip("/")


def _is_simple(pred: Pred) -> bool:
    """A literal or an OR of literals in any field: the fired literals are the evidence."""
    if isinstance(pred, Lit):
        return pred.fields == ANY
    if isinstance(pred, AnyOf):
        return all(_is_simple(p) for p in pred.items)
    return False


def compile_term(term_id: int, query: str, table: LiteralTable,
                 aliases: Mapping[str, Sequence[str]], min_prefix: int, *,
                 max_length: int = 2000, max_nesting: int = 20) -> CompiledTerm:
    ast = parse(query, max_length=max_length, max_nesting=max_nesting)
    pred = _Compiler(table, aliases, min_prefix, query).compile(ast)
    return CompiledTerm(term_id, query, pred, pred.guards(), _is_simple(pred),
                        frozenset(pred.positive()), tuple(set(pred.required())))


def prefilter_of(pred: Pred, table: LiteralTable) -> list[str] | None:
    """Substrings of the matching form one of which every matching item contains (None: no
    such guarantee): what a backtest narrows the stored items with in SQL."""
    return pred.prefilter(table)
