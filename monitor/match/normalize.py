"""The shared matching form of text, with offsets back to the original.

Queries and documents go through the same steps, so what an operator types and what a channel
writes meet in one form:

1. invisible format characters are removed: Unicode category Cf (zero-width space / joiner /
   non-joiner, soft hyphen, BOM, bidi controls, word joiner, tag characters ...), variation selectors,
   the combining grapheme joiner and Hangul fillers;
2. every character cluster (a starter and the marks attached to it) is NFKC-normalized, case-folded
   and NFKC-normalized again (fullwidth and mathematical letters fold to plain ones);
3. stress marks left uncomposed (U+0300, U+0301 after Cyrillic vowels) are removed;
4. ``ё`` → ``е``; apostrophes ``’ ʼ ‘ ` ´ ′ ʹ`` → U+0027 (the form pymorphy3's Ukrainian dictionary
   uses); ``_`` → space;
5. tokens that mix scripts get their look-alike letters repaired (see :mod:`.homoglyph`).

A *token* is a run of letters, digits and marks; an apostrophe between two such characters stays
inside it (``м'ясо``, ``officer's``). Everything else — spaces, punctuation, hyphens, emoji — separates
tokens, so ``Jong-un`` is the tokens ``jong un`` and ``❗️Глава`` is ``глава``.

The result is idempotent (normalizing a normalized text changes nothing). Most texts contain only a
few characters that need the slow path (an ellipsis, a no-break space, an emoji's variation
selector), so the text is processed in runs: plain runs are case-folded by one C call, and only the
clusters around "special" characters are folded one by one.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from . import homoglyph

_NFKC = unicodedata.normalize
# Removed everywhere (before and after folding).
_EXTRA_INVISIBLE = "\u034f\u115f\u1160\u3164\uffa0"
_STRESS = "\u0300\u0301"
_PRE_MAP = {0x00B4: "'"}  # ´ would NFKC-decompose to space + U+0301
_POST_PAIRS = (
    ("ё", "е"), ("ѐ", "е"), ("ѝ", "и"), ("\u2019", "'"), ("\u02bc", "'"), ("\u2018", "'"),
    ("`", "'"), ("\u2032", "'"), ("\u02b9", "'"), ("_", " "),
)


def _ranges_class(cps: list[int]) -> str:
    """A regex character class body for the sorted code points ``cps``."""
    out: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        a, b = cps[i], cps[j]
        out.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
        i = j + 1
    return "".join(out)


def _is_removable(ch: str, cat: str) -> bool:
    cp = ord(ch)
    return (
        cat == "Cf"
        or ch in _EXTRA_INVISIBLE
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
    )


def _fold_cluster(seg: str) -> str:
    """Fold one cluster (or a few) the slow, exact way; iterated to a fixed point."""
    for _ in range(4):
        s = "".join(ch for ch in seg if not _is_removable(ch, unicodedata.category(ch)))
        s = s.translate(_PRE_MAP)
        s = _NFKC("NFKC", _NFKC("NFKC", s).casefold())
        s = "".join(
            ch for ch in s if ch not in _STRESS and not _is_removable(ch, unicodedata.category(ch))
        )
        s = _post(s)  # ё → е may leave a mark that composes anew (е + breve → ӗ): loop again
        if s == seg:
            break
        seg = s
    return s


class _Tables:
    """Character classes computed once from the running Python's Unicode database."""

    def __init__(self) -> None:
        special: list[int] = []
        marks: list[int] = []
        attach: list[int] = []  # characters that belong to the cluster of the character before
        limit = 0x30000  # planes 3+ hold only CJK ideographs, tags/selectors and private use
        for cp in range(limit):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            ch = chr(cp)
            cat = unicodedata.category(ch)
            is_mark = cat[0] == "M"
            jamo_vt = 0x1160 <= cp <= 0x11FF or 0xD7B0 <= cp <= 0xD7FF
            if is_mark:
                marks.append(cp)
            if is_mark or unicodedata.combining(ch) or jamo_vt:
                attach.append(cp)
                special.append(cp)
                continue
            if _is_removable(ch, cat) or cp in _PRE_MAP or 0x1100 <= cp <= 0x11FF:
                special.append(cp)
                continue
            folded = ch.casefold()
            if len(folded) != 1 or _NFKC("NFKC", ch) != ch or _NFKC("NFKC", folded) != folded:
                special.append(cp)
        attach += list(range(0xE0100, 0xE01F0))
        # Outside the BMP, `re` tests class ranges one by one, so one coarse range keeps the scan
        # fast: a plain character taken for special is merely folded the slow (same) way.
        bmp_special = [c for c in special if c < 0x10000]
        self.special_re = re.compile(f"[{_ranges_class(bmp_special)}\U00010000-\U0010ffff]")
        self.attach = frozenset(chr(c) for c in attach)
        # Marks of astral scripts are left out of tokens for the same reason.
        mark_class = _ranges_class([c for c in marks if c < 0x10000])
        word = f"[\\w{mark_class}]+"
        self.token_re = re.compile(f"{word}(?:'{word})*")
        self.word_re = re.compile(f"[\\w{mark_class}]")
        self.mark_re = re.compile(f"[{mark_class}]")


@lru_cache(maxsize=1)
def tables() -> _Tables:
    return _Tables()


class OffsetMap:
    """Maps positions of the normalized text back to the original, piece by piece.

    Pieces are either *linear* (a run folded one-to-one) or *clusters* (a few original characters
    that became zero or more normalized ones: every normalized character of a cluster maps to the
    whole cluster). ``None`` pieces mean identity.
    """

    __slots__ = ("linear", "nstart", "olen", "orig_len", "ostart")

    def __init__(self, orig_len: int) -> None:
        self.nstart: list[int] = []
        self.ostart: list[int] = []
        self.olen: list[int] = []
        self.linear: list[bool] = []
        self.orig_len = orig_len

    def add(self, nstart: int, ostart: int, olen: int, linear: bool) -> None:
        self.nstart.append(nstart)
        self.ostart.append(ostart)
        self.olen.append(olen)
        self.linear.append(linear)

    def start(self, p: int) -> int:
        """Original index where normalized character ``p`` comes from."""
        k = bisect_right(self.nstart, p) - 1
        if k < 0:
            return 0
        if self.linear[k]:
            return min(self.ostart[k] + (p - self.nstart[k]), self.orig_len)
        return self.ostart[k]

    def end(self, p: int) -> int:
        """Original index just past normalized character ``p - 1`` (an exclusive end)."""
        if p <= 0:
            return 0
        k = bisect_right(self.nstart, p - 1) - 1
        if k < 0:
            return 0
        if self.linear[k]:
            return min(self.ostart[k] + (p - self.nstart[k]), self.orig_len)
        return self.ostart[k] + self.olen[k]


def fold(text: str) -> tuple[str, OffsetMap | None]:
    """Normalize ``text``; return the matching form and its offset map (None: identity)."""
    return fold_for_scan(text)[:2]


# Without combining marks (every mark is "special", so a text on the fast path has none) tokens
# are plain ``\w`` runs, which `re` finds twice as fast as the class with marks.
_PLAIN_TOKEN_RE = re.compile(r"\w+(?:'\w+)*")


def fold_for_scan(text: str) -> tuple[str, OffsetMap | None, re.Pattern[str]]:
    """``fold`` plus the token pattern that is exact for the result (the matcher's hot path)."""
    if text.isascii():
        low = text.lower()
        if "`" in low or "_" in low:
            low = low.replace("`", "'").replace("_", " ")
        return low, None, _PLAIN_TOKEN_RE  # no other script, so nothing to repair
    tb = tables()
    first = tb.special_re.search(text)
    if first is None:
        return homoglyph.repair(_post(text.casefold()), _PLAIN_TOKEN_RE), None, _PLAIN_TOKEN_RE
    form, omap = _fold_runs(text, tb.special_re)
    return form, omap, (tb.token_re if tb.mark_re.search(form) else _PLAIN_TOKEN_RE)


_EVERY_CHAR_RE = re.compile(r".", re.DOTALL)


def fold_reference(text: str) -> str:
    """The slow path applied to every character: the definition ``fold`` must agree with."""
    return _fold_runs(text, _EVERY_CHAR_RE)[0] if text else ""


def _fold_runs(text: str, special_re: re.Pattern[str]) -> tuple[str, OffsetMap | None]:
    tb = tables()
    first = special_re.search(text)
    attach = tb.attach
    pieces: list[str] = []
    omap = OffsetMap(len(text))
    npos = 0
    run_start = 0  # start of the pending plain run
    n = len(text)
    m: re.Match[str] | None = first
    while m is not None:
        i = m.start()
        j = i + 1
        while j < n and (text[j] in attach or _is_removable(text[j], unicodedata.category(text[j]))):
            j += 1
        seg_start = i
        if i > run_start and any(ch in attach for ch in text[i:j]):
            seg_start = i - 1  # the starter these marks belong to leaves the plain run
        if seg_start > run_start:
            plain = text[run_start:seg_start].casefold()
            omap.add(npos, run_start, seg_start - run_start, True)
            pieces.append(plain)
            npos += len(plain)
        folded = _fold_cluster(text[seg_start:j])
        omap.add(npos, seg_start, j - seg_start, len(folded) == j - seg_start == 1)
        pieces.append(folded)
        npos += len(folded)
        run_start = j
        m = special_re.search(text, j)
    if run_start < n:
        omap.add(npos, run_start, n - run_start, True)
        pieces.append(text[run_start:].casefold())
    return _repair(_post("".join(pieces)), omap)


def _post(s: str) -> str:
    for a, b in _POST_PAIRS:
        if a in s:
            s = s.replace(a, b)
    return s


def _repair(s: str, omap: OffsetMap | None) -> tuple[str, OffsetMap | None]:
    return homoglyph.repair(s, tables().token_re), omap


def matching_form(text: str) -> str:
    """The normalized text only (same as ``normalize(text).text``), for DB prefilters and hashes."""
    return fold(text)[0]


def tokens_of(form: str) -> list[str]:
    """Tokens of an already normalized text."""
    return tables().token_re.findall(form)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its matching form and its ``[start, end)`` range in the original text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Normalized:
    """A text in matching form. ``offsets[i]`` is the original index of normalized character ``i``
    (with one extra entry, the original length, for exclusive ends)."""

    original: str
    text: str
    offsets: tuple[int, ...]
    tokens: tuple[Token, ...]
    _map: OffsetMap | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` range of the normalized range ``[start, end)``."""
        if self._map is None:
            return start, end
        return self._map.start(start), self._map.end(end) if end > start else self._map.start(start)


def normalize(text: str) -> Normalized:
    """Normalize ``text`` and keep the way back: offsets and tokens with original spans."""
    form, omap = fold(text)
    if omap is None:
        offsets = tuple(range(len(form) + 1))
    else:
        offsets = tuple(omap.start(i) for i in range(len(form))) + (len(text),)
    toks = []
    for m in tables().token_re.finditer(form):
        s, e = m.span()
        os_, oe = (s, e) if omap is None else (omap.start(s), omap.end(e))
        toks.append(Token(m.group(), os_, oe))
    return Normalized(text, form, offsets, tuple(toks), omap)
