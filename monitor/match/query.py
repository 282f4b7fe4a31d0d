"""The query AST: frozen nodes that print back as a query (``str(node) == node.to_query()``).

``parse(str(ast)) == ast`` for every AST that :func:`monitor.match.parser.parse` returns (positions
are not compared). Printing is canonical: operators in capitals, explicit ``AND``, parentheses around
nested AND/OR groups.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

TEXT_FIELDS = ("title", "text")
META_FIELDS = ("source", "lang", "channel")
FIELDS = TEXT_FIELDS + META_FIELDS
KEYWORDS = ("AND", "OR", "NOT")


class Node(abc.ABC):
    """Base of every query node."""

    pos: int

    @abc.abstractmethod
    def to_query(self) -> str:
        """The node as query text that parses back to an equal node."""

    def __str__(self) -> str:
        return self.to_query()

    def children(self) -> tuple[Node, ...]:
        return ()


Query = Node  # what parse() returns: the root node


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, eq=True)
class Term(Node):
    """A bare word: matched with morphology unless ``exact``; ``prefix`` for ``word*``."""

    text: str
    exact: bool = False
    prefix: bool = False
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        return ("!" if self.exact else "") + self.text + ("*" if self.prefix else "")


@dataclass(frozen=True, eq=True)
class Phrase(Node):
    """A quoted phrase; ``slop`` (``"a b"~n``) allows n extra words between its words, in order."""

    text: str
    slop: int | None = None
    exact: bool = False
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        q = ("!" if self.exact else "") + _quote(self.text)
        return q + (f"~{self.slop}" if self.slop is not None else "")


@dataclass(frozen=True, eq=True)
class AliasRef(Node):
    """``@name``: any member of a named alias set, each matched like a phrase."""

    name: str
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        return "@" + self.name


@dataclass(frozen=True, eq=True)
class And(Node):
    items: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        return " AND ".join(_group(c) for c in self.items)

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, eq=True)
class Or(Node):
    items: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        return " OR ".join(_group(c) for c in self.items)

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, eq=True)
class Not(Node):
    item: Node
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        return "NOT " + _group(self.item)

    def children(self) -> tuple[Node, ...]:
        return (self.item,)


@dataclass(frozen=True, eq=True)
class Near(Node):
    """``left NEAR/n right``: at most ``n`` words between them; ``ordered`` (``NEAR/nf``): left first."""

    left: Node
    right: Node
    distance: int
    ordered: bool = False
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        op = f"NEAR/{self.distance}{'f' if self.ordered else ''}"
        left = self.left.to_query() if isinstance(self.left, Near) else _primary(self.left)
        return f"{left} {op} {_primary(self.right)}"

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, eq=True)
class Field(Node):
    """``title:`` / ``text:`` scope: the inner literals match only in that field."""

    name: str
    item: Node
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        return f"{self.name}:{_primary(self.item)}"

    def children(self) -> tuple[Node, ...]:
        return (self.item,)


@dataclass(frozen=True, eq=True)
class Meta(Node):
    """``source:`` / ``lang:`` / ``channel:`` scope: compared with the document's metadata."""

    name: str
    values: tuple[str, ...]
    pos: int = field(default=0, compare=False)

    def to_query(self) -> str:
        vals = [_meta_value(v) for v in self.values]
        body = vals[0] if len(vals) == 1 else "(" + " OR ".join(vals) + ")"
        return f"{self.name}:{body}"


def _meta_value(v: str) -> str:
    bare_ok = v and v not in KEYWORDS and not any(c.isspace() or c in '()"\\' for c in v)
    return v if bare_ok else _quote(v)


def _group(node: Node) -> str:
    return f"({node.to_query()})" if isinstance(node, (And, Or)) else node.to_query()


def _primary(node: Node) -> str:
    if isinstance(node, (Term, Phrase, AliasRef, Field, Meta)):
        return node.to_query()
    return f"({node.to_query()})"


def walk(node: Node):
    """Every node of the tree, depth first."""
    yield node
    for c in node.children():
        yield from walk(c)


def matches_empty(node: Node) -> bool:
    """Would ``node`` match an empty document without metadata? (Then it matches nearly all.)"""
    if isinstance(node, Not):
        return not matches_empty(node.item)
    if isinstance(node, And):
        return all(matches_empty(c) for c in node.items)
    if isinstance(node, Or):
        return any(matches_empty(c) for c in node.items)
    if isinstance(node, Field):
        return matches_empty(node.item)
    return False
