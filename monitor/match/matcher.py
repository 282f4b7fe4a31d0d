"""The compiled matcher: one Aho-Corasick automaton for every literal form of every term.

Per document field: normalize (:func:`.normalize.fold`), build the scan string (tokens joined by
single spaces), run the automaton once, turn key hits into literal occurrences (most keys carry their
own token boundaries, so they need no Python check), then evaluate only the terms whose guard
literals fired (plus the few without guards). Token indices, original offsets and snippets are
computed lazily, only for what a match needs.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate, count
from operator import add

import ahocorasick

from ..errors import QuerySyntaxError
from ..types import Span, TermHit
from .compiler import (
    Check,
    CompiledTerm,
    LiteralTable,
    compile_term,
    normalize_channel,
    variant_key,
)
from .lang import detect_language
from .normalize import fold_for_scan
from .preds import TEXT, TITLE, AllOf, AnyOf, Lit, MetaIs, Negated, Pred, Seq, Within
from .snippet import Snippets

log = logging.getLogger(__name__)
_SPAN = re.Match.span


class _FieldScan:
    """One field of one document, scanned."""

    __slots__ = (
        "_nspans",
        "_spans",
        "_starts",
        "bit",
        "form",
        "name",
        "occ",
        "omap",
        "original",
        "scan",
        "token_re",
        "toks",
    )

    def __init__(self, name: str, bit: int, original: str) -> None:
        self.name, self.bit, self.original = name, bit, original
        self.form, self.omap, self.token_re = fold_for_scan(original)
        self.toks: list[str] = self.token_re.findall(self.form)
        self.scan = " " + " ".join(self.toks) + " "
        self.occ: dict[int, list[tuple[int, int]]] = {}
        self._starts: list[int] | None = None
        self._nspans: list[tuple[int, int]] | None = None
        self._spans: dict[tuple[int, int], Span] = {}

    def starts(self) -> list[int]:
        """Scan-string start of every token."""
        if self._starts is None:  # 1 + (lengths of the tokens before) + (spaces before)
            self._starts = list(map(add, accumulate(map(len, self.toks), initial=1), count()))
        return self._starts

    def tok_index(self, scan_pos: int) -> int:
        return bisect_right(self.starts(), scan_pos) - 1

    def original_span(self, s: int, e: int) -> Span:
        key = (s, e)
        sp = self._spans.get(key)
        if sp is None:
            sp = self._spans[key] = self._original_span(s, e)
        return sp

    def _original_span(self, s: int, e: int) -> Span:
        if self._nspans is None:
            self._nspans = list(map(_SPAN, self.token_re.finditer(self.form)))
        a, b = self._nspans[self.tok_index(s)], self._nspans[self.tok_index(e - 1)]
        if self.omap is None:
            return Span(a[0], b[1])
        return Span(self.omap.start(a[0]), self.omap.end(b[1]))


def _verify(scan: str, end: int, check: Check) -> int:
    """Check the rest of a variant after its key ended at ``end`` (inclusive); return the
    exclusive scan end of the match or -1."""
    pos = end + 1
    if check.first is not None:
        tok_end = scan.index(" ", end)
        stem_start = end + 1 - len(check.first.text)
        if not check.first.accepts(scan[stem_start:tok_end]):
            return -1
        pos = tok_end
    else:
        pos = end  # the key ended with the space before the next token
    for pat in check.rest:
        nxt = scan.find(" ", pos + 1)
        if nxt < 0 or not pat.accepts(scan[pos + 1:nxt]):
            return -1
        pos = nxt
    return pos


class Matcher:
    """Matches documents against every compiled term. Build with :func:`compile_matcher`."""

    def __init__(self, terms: Iterable, aliases: Mapping[str, Sequence[str]] = {}, *,
                 min_prefix: int = 3) -> None:
        self.errors: dict[int, QuerySyntaxError] = {}
        self.table = LiteralTable()
        self.terms: dict[int, CompiledTerm] = {}
        for spec in terms:
            try:
                ct = compile_term(spec.term_id, spec.query, self.table, aliases, min_prefix)
            except QuerySyntaxError as exc:
                self.errors[spec.term_id] = exc
                continue
            except Exception as exc:  # a bug must not take the other terms down
                log.exception("term %s failed to compile", spec.term_id)
                self.errors[spec.term_id] = QuerySyntaxError(
                    f"internal error while compiling: {exc!r}", query=str(spec.query),
                    position=0, expected="a query the matcher can compile")
                continue
            self.terms[spec.term_id] = ct
        self._build()

    def _build(self) -> None:
        entries: dict[str, list] = {}
        for lit, variants in enumerate(self.table.variants):
            for v in variants:
                key, check = variant_key(v)
                entries.setdefault(key, []).append((lit, len(key), check))
        self.keys = len(entries)
        auto = ahocorasick.Automaton()
        for key, ents in entries.items():
            auto.add_word(key, tuple(ents))
        if entries:
            auto.make_automaton()
        self._auto = auto if entries else None
        lit_terms: dict[int, list[int]] = {}
        self._always: list[int] = []
        self._simple_lits: dict[int, tuple[int, ...]] = {}
        for tid, ct in self.terms.items():
            if ct.guards is None:
                self._always.append(tid)
                continue
            if ct.simple:
                self._simple_lits[tid] = tuple(sorted(ct.positive_lits))
            for lit in ct.guards:
                lit_terms.setdefault(lit, []).append(tid)
        self._lit_terms = {lit: tuple(t) for lit, t in lit_terms.items()}
        # necessary conditions checked before evaluating a complex term: literals that must all
        # have fired, and literal sets each of which must have fired in part
        self._precheck = {
            tid: (frozenset(next(iter(r)) for r in ct.required if len(r) == 1),
                  tuple(r for r in ct.required if len(r) > 1), ct.pred)
            for tid, ct in self.terms.items() if not ct.simple or ct.guards is None}

    # -- scanning ---------------------------------------------------------------------------
    def _scan(self, fs: _FieldScan) -> None:
        scan = fs.scan
        occ = fs.occ
        if self._auto is None or len(scan) <= 2:
            return
        for end, ents in self._auto.iter(scan):
            for lit, klen, check in ents:
                if check is None:
                    span = (end - klen + 2, end)
                else:
                    e = _verify(scan, end, check)
                    if e < 0:
                        continue
                    span = (end - klen + 2, e)
                lst = occ.get(lit)
                if lst is None:
                    occ[lit] = [span]
                else:
                    lst.append(span)

    def match(self, doc, *, snippets: bool = True) -> list[TermHit]:
        """One :class:`TermHit` per matching term, ordered by term id.

        ``snippets=False`` leaves the hits' snippets empty (spans are still exact): for callers
        that only count or locate matches, such as a backtest past its first examples."""
        fields = []
        if doc.title:
            fields.append(_FieldScan("title", TITLE, doc.title))
        fields.append(_FieldScan("text", TEXT, doc.text or ""))
        for fs in fields:
            self._scan(fs)
        lit_terms = self._lit_terms
        cand: set[int] = set(self._always)
        fired: set[int] = set()
        for fs in fields:
            fired.update(fs.occ)
        for lit in fired:
            t = lit_terms.get(lit)
            if t is not None:
                cand.update(t)
        if not cand:
            return []
        ctx = _Context(doc, fields, snippets=snippets)
        simple = self._simple_lits
        hits = []
        simple_done: dict = {}
        precheck = self._precheck
        for tid in sorted(cand):
            lits = simple.get(tid)
            if lits is not None:  # an OR of literals in any field: the fired ones are the evidence
                for fs in fields:
                    occ = fs.occ
                    if len(lits) == 1:
                        if lits[0] in occ:
                            fl = lits
                            break
                        continue
                    fl = tuple(lit for lit in lits if lit in occ)
                    if fl:
                        break
                key = (fs.bit, fl)
                done = simple_done.get(key)  # terms naming the same literals share the result
                if done is None:
                    parts = occ[fl[0]] if len(fl) == 1 else [p for lit in fl for p in occ[lit]]
                    done = simple_done[key] = ctx.rendered(fs, parts)
                hits.append(TermHit(tid, fs.name, done[0], done[1], done[2]))
                continue
            singles, sets, pred = precheck[tid]
            if singles and not fired.issuperset(singles):
                continue
            if sets and any(fired.isdisjoint(r) for r in sets):
                continue
            ev = ctx.evaluate(pred)
            if ev is not None:
                hits.append(ctx.hit(tid, ev))
        return hits


class _Context:
    """Evaluation of predicates against one scanned document."""

    def __init__(self, doc, fields: list[_FieldScan], *, snippets: bool = True) -> None:
        self.doc = doc
        self.fields = fields
        self.snippets = snippets
        self._lang: str | None | bool = False
        self._snips: dict = {}
        self._makers: dict[int, Snippets] = {}
        self._done: dict = {}

    def _occ(self, lit: int, bits: int) -> list:
        out = []
        for fs in self.fields:
            if fs.bit & bits:
                lst = fs.occ.get(lit)
                if lst:
                    out.extend((fs, s, e, ((s, e),)) for s, e in lst)
        return out

    def evaluate(self, pred: Pred):
        """Evidence list (field, start, end, parts) when ``pred`` holds, else None."""
        return _EVALUATE[type(pred)](self, pred)

    def _lit(self, pred: Lit):
        return self._occ(pred.lit, pred.fields) or None

    def _any(self, pred: AnyOf):
        acc = None
        for p in pred.items:
            r = self.evaluate(p)
            if r is not None:
                acc = r if acc is None else acc + r
        return acc

    def _all(self, pred: AllOf):
        acc = []
        for p in pred.items:
            r = self.evaluate(p)
            if r is None:
                return None
            acc += r
        return acc

    def _not(self, pred: Negated):
        return None if self.evaluate(pred.item) is not None else []

    def _meta_pred(self, pred: MetaIs):
        return [] if self._meta(pred.name, pred.values) else None

    def _near(self, pred: Within):
        a = self.evaluate(pred.left)
        if a is None:
            return None
        b = self.evaluate(pred.right)
        if b is None:
            return None
        n, ordered = pred.distance, pred.ordered
        b_by_field: dict = {}
        for occ in b:
            b_by_field.setdefault(occ[0], []).append(occ)
        out = []
        for fs, bl in b_by_field.items():
            ti = fs.tok_index
            # (first token, last token, scan start, scan end, parts), by first and by last token
            by_start = sorted((ti(sb), ti(eb - 1), sb, eb, pb) for _f, sb, eb, pb in bl)
            starts = [x[0] for x in by_start]
            by_end = sorted(by_start, key=lambda x: x[1])
            ends = [x[1] for x in by_end]
            for fa, sa, ea, pa in a:
                if fa is not fs:
                    continue
                first, last = ti(sa), ti(ea - 1)
                # b after a, at most n tokens between: first(b) in [last + 1, last + 1 + n]
                for x in by_start[bisect_left(starts, last + 1):bisect_right(starts, last + 1 + n)]:
                    out.append((fs, sa, x[3], pa + x[4]))
                if not ordered:  # b before a: last(b) in [first - 1 - n, first - 1]
                    for x in by_end[bisect_left(ends, first - 1 - n):bisect_right(ends, first - 1)]:
                        out.append((fs, x[2], ea, x[4] + pa))
        return out or None

    def _seq(self, pred: Seq):
        lits, slop, bits = pred.lits, pred.slop, pred.fields
        out = []
        for fs in self.fields:
            if not fs.bit & bits:
                continue
            lists = [sorted(fs.occ.get(lit, ())) for lit in lits]
            if not all(lists):
                continue
            starts = [[x[0] for x in lst] for lst in lists]
            for s0, e0 in lists[0]:
                parts = [(s0, e0)]
                pos = e0
                for lst, st in zip(lists[1:], starts[1:]):
                    k = bisect_right(st, pos)  # the earliest occurrence after the previous word
                    if k == len(lst):
                        break
                    parts.append(lst[k])
                    pos = lst[k][1]
                else:
                    span_toks = fs.tok_index(pos - 1) - fs.tok_index(s0) + 1
                    inside = sum(fs.tok_index(e - 1) - fs.tok_index(s) + 1 for s, e in parts)
                    if span_toks - inside <= slop:
                        out.append((fs, s0, pos, tuple(parts)))
        return out or None

    def _meta(self, name: str, values: tuple[str, ...]) -> bool:
        if name == "lang":
            actual = self.doc.lang
            if not actual:
                if self._lang is False:
                    self._lang = detect_language(self.doc.text or "")
                actual = self._lang
        else:
            actual = getattr(self.doc, name, None)
        if not actual:
            return False
        actual = normalize_channel(actual) if name == "channel" else str(actual).strip().casefold()
        for v in values:
            if v.endswith("*"):
                if actual.startswith(v.rstrip("*")):
                    return True
            elif actual == v:
                return True
        return False

    def hit(self, term_id: int, evidence: list) -> TermHit:
        fs = None
        parts: list = []
        for f, _s, _e, ps in evidence:
            if fs is None or f.bit < fs.bit:
                fs, parts = f, list(ps)
            elif f is fs:
                parts += ps
        if fs is None:
            fs = self.fields[-1]
        return self._make(term_id, fs, parts)

    def _make(self, term_id: int, fs: _FieldScan, parts: list) -> TermHit:
        done = self.rendered(fs, parts)
        return TermHit(term_id, fs.name, done[0], done[1], done[2])

    def rendered(self, fs: _FieldScan, parts: list) -> tuple[tuple[Span, ...], str, str]:
        """(spans, plain snippet, html snippet) for scan-string ``parts`` of field ``fs``."""
        pkey = (fs.bit, tuple(parts))
        done = self._done.get(pkey)  # terms sharing literals share spans and snippets
        if done is None:
            osp = fs.original_span
            spans = tuple(sorted({osp(s, e) for s, e in parts}, key=_span_key)) if parts else ()
            key = (fs.bit, spans)
            snip = self._snips.get(key) if self.snippets else ("", "")
            if snip is None:
                maker = self._makers.get(fs.bit)
                if maker is None:
                    maker = self._makers[fs.bit] = Snippets(fs.original)
                snip = self._snips[key] = maker.make(spans)
            done = self._done[pkey] = (spans, snip[0], snip[1])
        return done


# One evaluation function per predicate type (see :mod:`.preds`).
_EVALUATE = {Lit: _Context._lit, Seq: _Context._seq, AnyOf: _Context._any, AllOf: _Context._all,
             Negated: _Context._not, Within: _Context._near, MetaIs: _Context._meta_pred}


def _span_key(sp: Span) -> tuple[int, int]:
    return sp.start, sp.end
