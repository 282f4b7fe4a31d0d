"""Snippets: a window of the original text around the matched spans, marked up two ways.

``snippet(text, spans)`` returns ``(plain, html)``: the plain form wraps each match in « »; the HTML
form is fully escaped text (``html.escape`` with quotes) with ``<mark>…</mark>`` around matches, so
hostile text stays inert. Both collapse whitespace runs to one space and drop control and bidi
override characters (they could reorder what a reader sees). The window (``width`` characters of the
original) starts a little before the first span, is snapped to word boundaries when that costs
little, and gets "…" where text was cut.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

_UNSAFE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                        "\u2066-\u2069]")
_SNAP = 24
_OPEN, _CLOSE = "\ue000", "\ue001"  # how far a window edge may move to reach a word boundary


def _spans(spans: Iterable) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for sp in spans:
        try:
            s, e = sp.start, sp.end
        except AttributeError:
            s, e = int(sp[0]), int(sp[1])
        s = max(s, 0)
        if e > s:
            out.append((s, e))
    out.sort()
    merged: list[tuple[int, int]] = []
    for s, e in out:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def snippet(text: str, spans: Iterable = (), *, width: int = 240) -> tuple[str, str]:
    """``(plain, html)`` snippet of ``text`` around ``spans`` (``Span`` or ``(start, end)`` pairs)."""
    return Snippets(text, width).make(spans)


class Snippets:
    """Snippets of one text: what can be learned about the text once is learned once."""

    __slots__ = ("_sentinel", "_unsafe", "text", "width")

    def __init__(self, text: str, width: int = 240) -> None:
        self.text = text or ""
        self.width = max(width, 16)
        self._unsafe = _UNSAFE_RE.search(self.text) is not None
        self._sentinel = _OPEN in self.text or _CLOSE in self.text

    def make(self, spans: Iterable = ()) -> tuple[str, str]:
        text, width = self.text, self.width
        n = len(text)
        merged = _spans(spans)
        if merged and merged[-1][1] > n:
            merged = [(s, min(n, e)) for s, e in merged if s < n]
        if merged:
            fs, fe = merged[0]
            start = fs - (width - (fe - fs)) // 4 if fe - fs < width else fs
            start = max(start, 0)
            end = start + width
            if end > n:
                end = n
                start = n - width if n > width else 0
                start = min(start, fs)
            first_span = fs
        else:
            start, end, first_span = 0, (min(n, width)), n
        if start > 0:
            ws = text.find(" ", start, min(start + _SNAP, first_span))
            if ws >= 0:
                start = ws + 1
        if end < n:
            last_needed = start
            for s, e in merged:
                if s >= end:
                    break
                last_needed = e
            ws = text.rfind(" ", max(start, end - _SNAP, last_needed), end)
            if ws > start:
                end = ws
        # Mark the spans with two private-use sentinels, clean the window once, render twice.
        parts: list[str] = []
        pos = start
        for s, e in merged:
            if s >= end:
                break
            s = max(s, start)
            e = min(e, end)
            if e <= s:
                continue
            parts += (text[pos:s], _OPEN, text[s:e], _CLOSE)
            pos = e
        parts.append(text[pos:end])
        if self._sentinel:  # hostile text must not forge marks
            parts = [p if p in (_OPEN, _CLOSE) else p.replace(_OPEN, "").replace(_CLOSE, "")
                     for p in parts]
        body = "".join(parts)
        if self._unsafe:
            body = _UNSAFE_RE.sub("", body)
        body = " ".join(body.split())
        lead = "…" if start > 0 else ""
        trail = "…" if end < n else ""
        plain = lead + body.replace(_OPEN, "«").replace(_CLOSE, "»") + trail
        marked = lead + html.escape(body).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
        return plain, marked + trail
