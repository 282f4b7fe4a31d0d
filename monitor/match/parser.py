"""Watch-term query language: grammar, semantics, evaluation order, and the parser.

Grammar (EBNF; operators are case-sensitive capitals, lowercase ``and``/``or``/``not``/``near`` are
plain words)::

    query      = or_expr EOF ;
    or_expr    = and_expr { "OR" and_expr } ;
    and_expr   = not_expr { [ "AND" ] not_expr } ;          (* juxtaposition is AND *)
    not_expr   = ( "NOT" | "-" ) not_expr | near_expr ;
    near_expr  = primary { near_op primary } ;               (* left-associative *)
    near_op    = "NEAR/" digits [ "f" ] ;
    primary    = "(" or_expr ")"
               | ( "title" | "text" ) ":" primary
               | ( "source" | "lang" | "channel" ) ":" ( value | "(" value { "OR" value } ")" )
               | [ "!" ] phrase | [ "!" ] word | word "*" | "@" alias_name ;
    phrase     = '"' { any char but '"' and '\\' | '\\' any char } '"' [ "~" digits ] ;
    word       = a run of characters other than space, '(', ')', '"' (not starting with '-', '!', '@') ;
    value      = word | phrase ;                          (* a trailing '*' makes it a prefix *)

Precedence, loosest first: OR, AND, NOT, NEAR, field scope. ``a OR b c`` is ``a OR (b AND c)``;
``NOT a NEAR/3 b`` is ``NOT (a NEAR/3 b)``; ``-x`` is ``NOT x``.

Semantics:

* A *word* matches a token of the matching form (see :mod:`.normalize`) and, for Russian and
  Ukrainian, any inflected form of it; English words also match plural and possessive forms;
  Hangul words match with a particle attached; unknown Cyrillic words (names like «Ын») match with a
  known case ending (see :mod:`.morph`). ``!word`` matches the normalized surface form only.
  ``word*`` matches tokens that start with ``word`` (at least ``min_prefix`` characters, default 3).
  A word containing punctuation (``Jong-un``) is a phrase of its tokens.
* A *phrase* matches its words as consecutive tokens (punctuation between them is ignored), inflected
  together in agreement (case and number of the head noun and its adjectives; dependent words in
  another case stay as written). ``"a b"~n`` allows up to ``n`` other tokens in total between its
  words, which must keep their order; each word then inflects on its own.
* ``a NEAR/n b``: an occurrence of ``a`` and one of ``b`` in the same field, not overlapping, with
  at most ``n`` tokens between them, in either order; ``NEAR/nf`` requires ``a`` first. Operands are
  words, phrases, aliases, OR-groups of those, or NEAR expressions (their occurrence spans both).
* ``title:`` / ``text:`` restrict the literals inside them to that field; unscoped literals match in
  either. No literal, phrase or NEAR ever spans two fields.
* ``source:``, ``lang:``, ``channel:`` compare the document's metadata (case-insensitively; a value
  ending in ``*`` is a prefix; ``channel:`` ignores a leading ``@`` and ``t.me/``). A document
  without ``lang`` gets one from :func:`monitor.match.lang.detect_language`.
* ``@name`` is any member of the operator's alias set ``name``, each member matched like a phrase.
* A query that would match a document with no text and no metadata (``NOT x``, ``a OR NOT b``) is
  rejected: it would match nearly everything.

Evaluation order (per document): each field is normalized once and scanned once by one automaton
holding every literal form of every term; only terms one of whose *guard literals* fired are
evaluated (a guard set is a set of literals at least one of which must occur for the term to match;
terms without one, e.g. ``lang:uk``, are evaluated for every document). A term's predicate is
evaluated bottom-up; ``AND`` / ``OR`` short-circuit left to right, ``NOT`` inverts, metadata scopes
read the document's fields, positional nodes compare token positions.
"""

from __future__ import annotations

import re

from ..errors import QuerySyntaxError
from .normalize import matching_form, tokens_of
from .query import (
    KEYWORDS,
    META_FIELDS,
    TEXT_FIELDS,
    AliasRef,
    And,
    Field,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    matches_empty,
)

_NEAR_RE = re.compile(r"NEAR/(\d{1,4})(f?)\Z")
_ALIAS_RE = re.compile(r"[\w.\-]+")
_FIELD_PREFIX_RE = re.compile(r"([A-Za-z]+):")
_STOP = set('()"') | {" ", "\t", "\n", "\r"}
MAX_NEAR = 1000
_OPERAND = 'a word, "phrase", @alias or ('
_POSITIONAL = (Term, Phrase, AliasRef)


class _Tok:
    __slots__ = ("end", "extra", "kind", "start", "value")

    def __init__(self, kind: str, value: str, start: int, end: int, extra: object = None):
        self.kind, self.value, self.start, self.end, self.extra = kind, value, start, end, extra


class _Parser:
    def __init__(self, query: str, max_nesting: int):
        self.q = query
        self.i = 0
        self.max_nesting = max_nesting
        self.depth = 0
        self.field: str | None = None
        self._peeked: _Tok | None = None

    # -- errors and lexing ------------------------------------------------------------------
    def error(self, message: str, position: int, expected: str) -> QuerySyntaxError:
        return QuerySyntaxError(message, query=self.q, position=position, expected=expected)

    def _skip_ws(self) -> None:
        q = self.q
        while self.i < len(q) and q[self.i].isspace():
            self.i += 1

    def peek(self) -> _Tok:
        if self._peeked is None:
            self._peeked = self._lex()
        return self._peeked

    def take(self) -> _Tok:
        tok = self.peek()
        self._peeked = None
        return tok

    def _lex(self) -> _Tok:
        self._skip_ws()
        q, i = self.q, self.i
        if i >= len(q):
            return _Tok("EOF", "", i, i)
        ch = q[i]
        if ch in "()":
            self.i = i + 1
            return _Tok(ch, ch, i, i + 1)
        if ch == '"':
            return self._lex_phrase(i)
        if ch in "-!":
            nxt = q[i + 1] if i + 1 < len(q) else ""
            if not nxt or nxt.isspace() or nxt == ")" or (ch == "!" and nxt in "-!@("):
                raise self.error(f"'{ch}' must be followed by a term", i + 1, _OPERAND)
            self.i = i + 1
            return _Tok("NOT" if ch == "-" else "BANG", ch, i, i + 1)
        if ch == "@":
            m = _ALIAS_RE.match(q, i + 1)
            if not m:
                raise self.error("'@' must be followed by an alias name", i + 1, "an alias name")
            self.i = m.end()
            return _Tok("ALIAS", m.group(), i, m.end())
        m = _FIELD_PREFIX_RE.match(q, i)
        if m:
            name = m.group(1)
            if name.lower() in TEXT_FIELDS + META_FIELDS:
                self.i = m.end()
                return _Tok("FIELD", name.lower(), i, m.end())
            raise self.error(
                f"unknown field '{name}'", i, "one of title:, text:, source:, lang:, channel:"
            )
        j = i
        while j < len(q) and q[j] not in _STOP and not q[j].isspace():
            j += 1
        self.i = j
        word = q[i:j]
        if word in KEYWORDS:
            return _Tok(word, word, i, j)
        if word.startswith("NEAR"):
            nm = _NEAR_RE.match(word)
            if not nm:
                raise self.error(f"malformed operator '{word}'", i, "NEAR/<n> or NEAR/<n>f")
            dist = int(nm.group(1))
            if dist > MAX_NEAR:
                raise self.error(f"NEAR distance {dist} is too large", i, f"at most {MAX_NEAR}")
            return _Tok("NEAR", word, i, j, (dist, nm.group(2) == "f"))
        return _Tok("WORD", word, i, j)

    def _lex_phrase(self, start: int) -> _Tok:
        q = self.q
        j = start + 1
        buf: list[str] = []
        while True:
            if j >= len(q):
                raise self.error("unterminated phrase", start, 'a closing "')
            c = q[j]
            if c == "\\":
                if j + 1 >= len(q):
                    raise self.error("dangling backslash in phrase", j, "a character after \\")
                buf.append(q[j + 1])
                j += 2
                continue
            if c == '"':
                j += 1
                break
            buf.append(c)
            j += 1
        slop = None
        if j < len(q) and q[j] == "~":
            k = j + 1
            while k < len(q) and q[k].isdigit() and k - j <= 4:
                k += 1
            if k == j + 1:
                raise self.error("'~' must be followed by a number", j + 1, "a number of words")
            slop = int(q[j + 1 : k])
            if slop > MAX_NEAR:
                raise self.error(f"phrase slop {slop} is too large", j + 1, f"at most {MAX_NEAR}")
            j = k
        self.i = j
        return _Tok("PHRASE", "".join(buf), start, j, slop)

    # -- grammar ----------------------------------------------------------------------------
    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > self.max_nesting:
            raise self.error(
                "query is nested too deeply", pos, f"at most {self.max_nesting} levels of nesting"
            )

    def parse(self) -> Node:
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "EOF":
            what = "unbalanced ')'" if tok.kind == ")" else f"unexpected '{tok.value}'"
            raise self.error(what, tok.start, "end of query or an operator")
        return node

    def or_expr(self) -> Node:
        start = self.peek().start
        items = [self.and_expr()]
        while self.peek().kind == "OR":
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items), pos=start)

    def and_expr(self) -> Node:
        start = self.peek().start
        items = [self.not_expr()]
        while True:
            tok = self.peek()
            if tok.kind == "AND":
                self.take()
                items.append(self.not_expr())
            elif tok.kind in ("WORD", "PHRASE", "(", "NOT", "BANG", "ALIAS", "FIELD"):
                items.append(self.not_expr())
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items), pos=start)

    def not_expr(self) -> Node:
        tok = self.peek()
        if tok.kind == "NOT":
            self.take()
            self._enter(tok.start)
            item = self.not_expr()
            self.depth -= 1
            return Not(item, pos=tok.start)
        return self.near_expr()

    def near_expr(self) -> Node:
        left = self.primary()
        while self.peek().kind == "NEAR":
            op = self.take()
            dist, ordered = op.extra  # type: ignore[misc]
            rtok = self.peek()
            right = self.primary()
            self._check_positional(left, left.pos)
            self._check_positional(right, rtok.start)
            left = Near(left, right, dist, ordered, pos=left.pos)
        return left

    def _check_positional(self, node: Node, pos: int) -> None:
        ok = isinstance(node, _POSITIONAL) or (
            isinstance(node, (Or, Near, Field)) and all(
                self._positional(c) for c in node.children()
            )
        )
        if not ok:
            raise self.error("NEAR needs words, phrases, aliases or OR-groups", pos,
                             'a word, "phrase", @alias or an OR-group (… OR …)')

    def _positional(self, node: Node) -> bool:
        if isinstance(node, _POSITIONAL):
            return True
        if isinstance(node, (Or, Near, Field)):
            return all(self._positional(c) for c in node.children())
        return False

    def primary(self) -> Node:
        tok = self.take()
        k = tok.kind
        if k == "(":
            self._enter(tok.start)
            node = self.or_expr()
            close = self.take()
            if close.kind != ")":
                raise self.error("missing ')'", close.start, "')'")
            self.depth -= 1
            return _repos(node, tok.start)
        if k == "FIELD":
            return self._field(tok)
        if k == "BANG":
            nxt = self.take()
            if nxt.kind == "WORD":
                return self._word(nxt, exact=True, pos=tok.start)
            if nxt.kind == "PHRASE":
                return self._phrase(nxt, exact=True, pos=tok.start)
            raise self.error("'!' must be followed by a word or phrase", nxt.start, "a word")
        if k == "WORD":
            return self._word(tok, exact=False, pos=tok.start)
        if k == "PHRASE":
            return self._phrase(tok, exact=False, pos=tok.start)
        if k == "ALIAS":
            return AliasRef(tok.value, pos=tok.start)
        if k == "EOF":
            raise self.error("query ends too early", tok.start, _OPERAND)
        raise self.error(f"unexpected '{tok.value}'", tok.start, _OPERAND)

    def _field(self, tok: _Tok) -> Node:
        name = tok.value
        if self.field is not None:
            raise self.error(
                f"'{name}:' inside '{self.field}:'", tok.start, "a term without another field scope"
            )
        if name in META_FIELDS:
            return self._meta(name, tok)
        self._enter(tok.start)
        self.field = name
        nxt = self.peek()
        if nxt.kind not in ("WORD", "PHRASE", "(", "BANG", "ALIAS", "FIELD"):
            raise self.error(f"'{name}:' must be followed by a term", nxt.start, _OPERAND)
        item = self.primary()
        self.field = None
        self.depth -= 1
        return Field(name, item, pos=tok.start)

    def _meta(self, name: str, tok: _Tok) -> Node:
        self._skip_ws()
        self._peeked = None
        q, i = self.q, self.i
        if i < len(q) and q[i] == "(":
            self.i = i + 1
            values = [self._meta_value(name)]
            while True:
                self._skip_ws()
                if self.q.startswith("OR", self.i) and (
                    self.i + 2 >= len(q) or q[self.i + 2].isspace()
                ):
                    self.i += 2
                    values.append(self._meta_value(name))
                    continue
                if self.i < len(q) and q[self.i] == ")":
                    self.i += 1
                    break
                raise self.error(f"malformed '{name}:' list", self.i, "OR or ')'")
            return Meta(name, tuple(values), pos=tok.start)
        return Meta(name, (self._meta_value(name),), pos=tok.start)

    def _meta_value(self, name: str) -> str:
        self._skip_ws()
        q, i = self.q, self.i
        if i < len(q) and q[i] == '"':
            tok = self._lex_phrase(i)
            if tok.extra is not None:
                raise self.error("'~' is not allowed in a field value", tok.start, "a value")
            value = tok.value
        else:
            j = i
            while j < len(q) and q[j] not in _STOP and not q[j].isspace():
                j += 1
            value = q[i:j]
            self.i = j
            if value in KEYWORDS:
                value = ""
        if not value.strip(" *"):
            raise self.error(f"'{name}:' needs a value", i, f"a {name} value")
        return value

    def _word(self, tok: _Tok, *, exact: bool, pos: int) -> Node:
        word = tok.value
        prefix = word.endswith("*")
        stem = word[:-1] if prefix else word
        for bad in ("*", "~"):
            k = stem.find(bad)
            if k >= 0:
                what = "wildcards only at the end of a word" if bad == "*" else "'~' after a phrase"
                raise self.error(f"misplaced '{bad}'", tok.start + k, what)
        if prefix and exact:
            raise self.error("'!' and '*' cannot be combined", tok.start, "a word without '*'")
        if not tokens_of(matching_form(stem)):
            raise self.error(f"'{word}' has no letters or digits", tok.start, "a word")
        return Term(stem, exact=exact, prefix=prefix, pos=pos)

    def _phrase(self, tok: _Tok, *, exact: bool, pos: int) -> Node:
        text = tok.value
        chunks = text.split()
        if not chunks or not tokens_of(matching_form(text.replace("*", " "))):
            raise self.error("empty phrase", tok.start, "a word inside the quotes")
        for c in chunks:
            k = c.find("*")
            if k >= 0 and (k != len(c) - 1 or exact or c == "*"):
                raise self.error("misplaced '*' in phrase", tok.start, "'*' only at a word's end")
        return Phrase(text, slop=tok.extra, exact=exact, pos=pos)  # type: ignore[arg-type]


def _repos(node: Node, pos: int) -> Node:
    """Parenthesized groups report the position of their '(' (for NEAR operand errors)."""
    try:
        object.__setattr__(node, "pos", pos)
    except AttributeError:  # pragma: no cover
        pass
    return node


def parse(query: str, *, max_length: int = 2000, max_nesting: int = 20) -> Node:
    """Parse ``query`` into its AST or raise :class:`QuerySyntaxError` (never anything else)."""
    if not isinstance(query, str):
        raise QuerySyntaxError("query must be text", query=str(query), position=0, expected="text")
    if len(query) > max_length:
        raise QuerySyntaxError(
            f"query is longer than {max_length} characters",
            query=query, position=max_length, expected=f"at most {max_length} characters",
        )
    if not query.strip():
        raise QuerySyntaxError("empty query", query=query, position=0, expected=_OPERAND)
    p = _Parser(query, max_nesting)
    try:
        node = p.parse()
    except RecursionError:  # pragma: no cover - nesting limit comes first
        raise p.error("query is nested too deeply", p.i, "less nesting") from None
    if matches_empty(node):
        raise QuerySyntaxError(
            "query has no positive term, so it would match nearly every document",
            query=query, position=0, expected="at least one word, phrase or scope that must match",
        )
    return node
