"""The compiled form of a query: a tree of typed predicates over literals.

:class:`Lit` (a literal in some fields), :class:`Seq` (literals in order with at most ``slop``
other tokens between), :class:`AllOf`, :class:`AnyOf`, :class:`Negated`, :class:`Within` (NEAR),
:class:`MetaIs` (source, channel, language). ``fields`` is a bitmask: 1 = title, 2 = text. Each
predicate answers for itself what the compiler needs to know of it (its field scope, its guard
literals, the literals it requires, its positive literals, its SQL prefilter): an operator is
added in one place here, one place in :mod:`.compiler` (from the query AST) and one evaluation
function in :mod:`.matcher`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .morph import EXACT, Variant

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .compiler import LiteralTable

TITLE, TEXT, ANY = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Lit:
    """A literal occurs in one of ``fields``."""

    lit: int
    fields: int = 3

    def scoped(self, bits: int) -> Pred:
        return Lit(self.lit, bits)

    def guards(self) -> frozenset[int] | None:
        return frozenset((self.lit,))

    def required(self) -> list[frozenset[int]]:
        return [frozenset((self.lit,))]

    def positive(self, negated: bool = False) -> set[int]:
        return set() if negated else {self.lit}

    def prefilter(self, table: LiteralTable) -> list[str] | None:
        return literal_prefixes(table.variants[self.lit]) or None


@dataclass(frozen=True, slots=True)
class Seq:
    """Literals in order, at most ``slop`` other tokens between them, in one of ``fields``."""

    lits: tuple[int, ...]
    slop: int
    fields: int = 3

    def scoped(self, bits: int) -> Pred:
        return Seq(self.lits, self.slop, bits)

    def guards(self) -> frozenset[int] | None:
        return frozenset((self.lits[0],))

    def required(self) -> list[frozenset[int]]:
        return [frozenset((lit,)) for lit in self.lits]

    def positive(self, negated: bool = False) -> set[int]:
        return set() if negated else set(self.lits)

    def prefilter(self, table: LiteralTable) -> list[str] | None:
        return literal_prefixes(table.variants[self.lits[0]]) or None


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Pred, ...]

    def scoped(self, bits: int) -> Pred:
        return AllOf(tuple(p.scoped(bits) for p in self.items))

    def guards(self) -> frozenset[int] | None:
        cands = [g for g in (p.guards() for p in self.items) if g is not None]
        return min(cands, key=len) if cands else None

    def required(self) -> list[frozenset[int]]:
        return [r for p in self.items for r in p.required()]

    def positive(self, negated: bool = False) -> set[int]:
        return set().union(*(p.positive(negated) for p in self.items))

    def prefilter(self, table: LiteralTable) -> list[str] | None:
        return _narrowest([p.prefilter(table) for p in self.items])


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Pred, ...]

    def scoped(self, bits: int) -> Pred:
        return AnyOf(tuple(p.scoped(bits) for p in self.items))

    def guards(self) -> frozenset[int] | None:
        out: set[int] = set()
        for p in self.items:
            g = p.guards()
            if g is None:
                return None
            out |= g
        return frozenset(out)

    def required(self) -> list[frozenset[int]]:
        g = self.guards()
        return [g] if g is not None else []

    def positive(self, negated: bool = False) -> set[int]:
        return set().union(*(p.positive(negated) for p in self.items))

    def prefilter(self, table: LiteralTable) -> list[str] | None:
        acc: set[str] = set()
        for p in self.items:
            r = p.prefilter(table)
            if r is None:
                return None
            acc.update(r)
        return sorted(s for s in acc if not any(t != s and t in s for t in acc))


@dataclass(frozen=True, slots=True)
class Negated:
    item: Pred

    def scoped(self, bits: int) -> Pred:
        return Negated(self.item.scoped(bits))

    def guards(self) -> frozenset[int] | None:
        return None

    def required(self) -> list[frozenset[int]]:
        return []

    def positive(self, negated: bool = False) -> set[int]:
        return self.item.positive(not negated)

    def prefilter(self, table: LiteralTable) -> list[str] | None:
        return None


@dataclass(frozen=True, slots=True)
class Within:
    """NEAR/n: ``right`` at most ``distance`` tokens after ``left`` (or before, unless ordered)."""

    left: Pred
    right: Pred
    distance: int
    ordered: bool

    def scoped(self, bits: int) -> Pred:
        return Within(self.left.scoped(bits), self.right.scoped(bits), self.distance, self.ordered)

    def guards(self) -> frozenset[int] | None:
        cands = [g for g in (self.left.guards(), self.right.guards()) if g is not None]
        return min(cands, key=len) if cands else None

    def required(self) -> list[frozenset[int]]:
        return self.left.required() + self.right.required()

    def positive(self, negated: bool = False) -> set[int]:
        return self.left.positive(negated) | self.right.positive(negated)

    def prefilter(self, table: LiteralTable) -> list[str] | None:
        return _narrowest([self.left.prefilter(table), self.right.prefilter(table)])


@dataclass(frozen=True, slots=True)
class MetaIs:
    """A metadata field (``source``, ``channel``, ``lang``) is one of ``values`` (``x*``:
    a prefix)."""

    name: str
    values: tuple[str, ...]

    def scoped(self, bits: int) -> Pred:
        return self

    def guards(self) -> frozenset[int] | None:
        return None

    def required(self) -> list[frozenset[int]]:
        return []

    def positive(self, negated: bool = False) -> set[int]:
        return set()

    def prefilter(self, table: LiteralTable) -> list[str] | None:
        return None


Pred = Lit | Seq | AllOf | AnyOf | Negated | Within | MetaIs


def _narrowest(options: list[list[str] | None]) -> list[str] | None:
    cands = [r for r in options if r is not None]
    if not cands:
        return None
    return min(cands, key=lambda r: (len(r), -min(len(s) for s in r)))


def literal_prefixes(variants: tuple[Variant, ...]) -> list[str]:
    """Substrings of the matching form, one of which every occurrence of the literal contains.

    Variants of one literal have the same number of tokens; the token position whose strings
    compress best (fewest, then longest) is used.
    """
    if not variants:
        return []
    best: list[str] | None = None
    for k in range(min(len(v) for v in variants)):
        cands: set[str] = set()
        for v in variants:
            p = v[k]
            cands.add(_common_prefix(p.forms) if p.kind == EXACT and p.forms else p.text)
        if "" in cands:
            continue
        cp = _common_prefix(cands)
        if len(cp) >= 3:
            out = [cp]
        else:
            out = sorted(s for s in cands if not any(t != s and t in s for t in cands))
        if best is None or (len(out), -min(map(len, out))) < (len(best), -min(map(len, best))):
            best = out
    return best or []


def _common_prefix(strings) -> str:
    strings = list(strings)
    if not strings:
        return ""
    lo, hi = min(strings), max(strings)
    n = 0
    while n < len(lo) and lo[n] == hi[n]:
        n += 1
    return lo[:n]
