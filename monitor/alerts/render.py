"""Alert content, and its rendering into text, HTML, Markdown or Telegram HTML.

Everything that comes from a post or a source (title, snippet, source name, even the permalink) is
hostile: a Telegram post can hold ``<script>``, ``javascript:`` links, ``onerror=`` attributes,
Markdown links ``[x](javascript:…)``, Telegram markup (``**``, ``__``, ``||spoiler||``),
``@everyone`` and megabytes of text. So rendering works in two steps: the content is laid out as
*pieces* of plain text (text, highlighted words, labels, links), then each format escapes every
piece on its own. Markup is only ever produced by this module, never carried over from input.

- Permalinks are kept only when they are plain ``http``/``https`` URLs; anything else is dropped.
- Mass mentions (``@everyone``, ``@here``, ``@channel``, Slack ``<!channel>``) get a zero-width
  space so no receiver pings a room; control and bidi-override characters are removed. In the
  chat formats (Markdown, Telegram, chat HTML) *every* ``@`` of post text gets one: Apprise's
  Discord plugin turns any ``@name`` / ``@123`` it finds into a real mention, and chat services
  notify users named with ``@username``.
- Each format escapes for its receiver: HTML entities for e-mail, Telegram, Slack and Matrix
  (``chat``: Slack gets HTML that Apprise converts to mrkdwn with ``<``, ``>``, ``&`` as
  entities, so post text never forms ``<https://evil|Bank login>`` or ``<!channel>``); CommonMark
  backslash escapes for Markdown (Discord), so ``[text](url)`` never becomes a masked link.
- Long content is shortened *before* escaping, never after, so no cut falls inside an escape
  sequence or a tag; digests drop whole entries and say how many more there were.
- Every body ends with ``alert #<id>`` so a receiver can drop a repeat delivery.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.sources.urls import safe_url
from monitor.types import Span

Kind = Literal["story", "digest", "spike", "operator", "test"]
Format = Literal["text", "html", "markdown", "telegram", "chat"]
#: ``telegram`` and ``chat`` are the same HTML subset (``<b>``, ``<a>``): Telegram reads it as it
#: is, Apprise turns it into Slack mrkdwn or Matrix HTML.
FORMATS: tuple[str, ...] = ("text", "html", "markdown", "telegram", "chat")
_CHAT_FORMATS = frozenset({"markdown", "telegram", "chat"})

#: Body limits per format, in characters. Telegram refuses messages over 4096; Markdown targets
#: (Discord 2000, Slack 40000) vary, so callers pass ``max_length`` for a specific target.
DEFAULT_LIMITS = {"text": 4000, "html": 16000, "markdown": 4000, "telegram": 4096, "chat": 4000}
TITLE_LIMIT = 200
SNIPPET_LIMIT = 600  # characters of post text shown per entry before any shortening for length
_SNIPPET_RADIUS = 160

_KIND_LABEL = {"story": "", "digest": "Digest", "spike": "Spike", "operator": "Operator",
               "test": "Test"}


@dataclass(frozen=True, slots=True)
class AlertContent:
    """What an alert says; built by the outbox worker, rendered per target.

    The matched words come either as ``snippet`` (plain text with « » around them, as the matcher
    produces) or as ``text`` + ``spans`` (half-open ranges into ``text``). Times are aware
    datetimes (naive ones are taken as UTC). A digest carries its stories in ``entries`` and
    the number of items it stands for in ``item_count`` (it may list fewer than it counts).
    """

    alert_id: int
    kind: Kind = "story"
    desk: str = ""
    watchlist: str | None = None
    term: str | None = None
    title: str | None = None
    snippet: str | None = None
    text: str | None = None
    spans: tuple[Span, ...] = ()
    source: str | None = None
    permalink: str | None = None
    posted_at: datetime | None = None
    first_source: str | None = None
    first_seen_at: datetime | None = None
    source_count: int = 1
    item_count: int = 1
    entries: tuple["AlertContent", ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered alert: ``title`` is always plain single-line text (an e-mail subject);
    ``body`` is in ``format`` and already contains the title as its first line."""

    title: str
    body: str
    format: str


# --- hostile input -----------------------------------------------------------------------------

# C0/C1 controls except tab and newline; bidi embeddings, overrides and isolates (spoofing).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_MASS_MENTION = re.compile(r"@(everyone|here|channel|all|room)\b", re.IGNORECASE)
_SLACK_SPECIAL = re.compile(r"<([!@#])")
_AT = re.compile(r"@(?!\u200b)")


def defang(text: str | None) -> str:
    """Untrusted text made safe to show anywhere, before any format-specific escaping."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = _CONTROL.sub("", text.replace("\u2029", "\n"))
    text = _MASS_MENTION.sub("@\u200b\\1", text)
    return _SLACK_SPECIAL.sub("<\u200b\\1", text)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(defang(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- layout: pieces ----------------------------------------------------------------------------
# A piece is (kind, text, url): "t" plain, "h" highlighted match, "b" bold label, "a" link,
# "r" our own fixed wording that needs no Markdown escaping ("alert #123" must stay greppable).
Piece = tuple[str, str, str | None]
Line = list[Piece]


def _segments_from_snippet(snippet: str) -> list[Piece]:
    # The matcher wraps matched words in « »; genuine guillemets in the post look the same, which
    # only costs a spurious highlight, never an injection (both end up as escaped text).
    pieces: list[Piece] = []
    pos = 0
    for m in re.finditer(r"«([^«»\n]{1,200})»", snippet):
        if m.start() > pos:
            pieces.append(("t", snippet[pos:m.start()], None))
        pieces.append(("h", m.group(1), None))
        pos = m.end()
    if pos < len(snippet):
        pieces.append(("t", snippet[pos:], None))
    return pieces


def _segments_from_spans(text: str, spans: tuple[Span, ...]) -> list[Piece]:
    good: list[tuple[int, int]] = []
    for a, b in sorted((max(0, s.start), min(len(text), s.end)) for s in spans):
        if a >= b:
            continue  # empty or outside the text (spans of another version of the post)
        if good and a <= good[-1][1]:
            good[-1] = (good[-1][0], max(b, good[-1][1]))  # overlapping or touching: one mark
        else:
            good.append((a, b))
    if not good:
        return [("t", text, None)]
    lo = max(0, good[0][0] - _SNIPPET_RADIUS)
    hi = min(len(text), max(good[0][1] + _SNIPPET_RADIUS, lo + SNIPPET_LIMIT))
    pieces: list[Piece] = [("t", "…", None)] if lo > 0 else []
    pos = lo
    for a, b in good:
        if a >= hi:
            break
        if a > pos:
            pieces.append(("t", text[pos:a], None))
        pieces.append(("h", text[a:min(b, hi)], None))
        pos = min(b, hi)
    if pos < hi:
        pieces.append(("t", text[pos:hi], None))
    if hi < len(text):
        pieces.append(("t", "…", None))
    return pieces


def _shorten(pieces: list[Piece], budget: int) -> list[Piece]:
    """Keep at most ``budget`` characters of piece text, cutting plain text at a word."""
    out: list[Piece] = []
    left = budget
    for kind, text, url in pieces:
        if left <= 0:
            break
        if len(text) <= left:
            out.append((kind, text, url))
            left -= len(text)
            continue
        cut = text[:left]
        if kind == "t" and " " in cut[left // 2:]:
            cut = cut[: cut.rindex(" ")]
        out.append((kind, cut.rstrip(), url))
        left = 0
    if left <= 0 and out:
        out.append(("t", "…", None))
    return out


def _when(dt: datetime | None, tz: ZoneInfo) -> str:
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _headline(c: AlertContent) -> str:
    """The entry's one-line title: its own, else the first line of its text, else the term."""
    if c.title and c.title.strip():
        return _one_line(c.title, TITLE_LIMIT)
    body = c.snippet or c.text or ""
    first = next((ln for ln in body.splitlines() if ln.strip()), "")
    first = first.replace("«", "").replace("»", "") if c.snippet else first
    return _one_line(first, 100) or _one_line(c.term or c.watchlist or "alert", TITLE_LIMIT)


def _entry_lines(c: AlertContent, tz: ZoneInfo, budget: int, heading: Line) -> list[Line]:
    lines: list[Line] = [heading]
    where = " › ".join(_one_line(x, 80) for x in (c.watchlist, c.term) if x)
    if where:
        lines.append([("t", where, None)])
    if c.snippet:
        snippet = _segments_from_snippet(defang(c.snippet))
    elif c.text:
        text = defang(c.text)
        snippet = _segments_from_spans(text, c.spans) if c.spans else [("t", text, None)]
    else:
        snippet = []
    snippet = _shorten(snippet, budget)
    if snippet:
        lines.append(snippet)
    meta = []
    if c.source:
        meta.append(_one_line(c.source, 100))
    if c.posted_at:
        meta.append(_when(c.posted_at, tz))
    if meta:
        lines.append([("t", " · ".join(meta), None)])
    first = []
    if c.first_source and c.first_source != c.source:
        first.append(f"first: {_one_line(c.first_source, 100)}")
        if c.first_seen_at:
            first.append(_when(c.first_seen_at, tz))
    if c.source_count > 1:
        first.append(f"{c.source_count} sources")
    if first:
        lines.append([("t", " · ".join(first), None)])
    if url := safe_url(c.permalink):
        lines.append([("a", "Open post", url)])
    return lines


def _layout(c: AlertContent, tz: ZoneInfo, budget: int, max_entries: int) -> tuple[str, list[list[Line]]]:
    """The plain title and the blocks (lists of lines) of the body."""
    label = _KIND_LABEL.get(c.kind, "")
    if c.kind == "digest":
        n = max(c.item_count, len(c.entries))
        scope = c.watchlist or c.desk
        subject = f"{n} new item{'s' if n != 1 else ''}" + (f" for {scope}" if scope else "")
        title = _one_line(f"{label}: {subject}", TITLE_LIMIT)
        blocks = [[[("b", title, None)]]]
        for i, entry in enumerate(c.entries[:max_entries], 1):
            heading: Line = [("b", f"{i}. {_headline(entry)}", None)]
            blocks.append(_entry_lines(entry, tz, budget, heading))
        more = n - min(len(c.entries), max_entries)
        if more > 0:
            blocks.append([[("t", f"… and {more} more", None)]])
    else:
        headline = _headline(c)
        title = _one_line(f"{label}: {headline}" if label else headline, TITLE_LIMIT)
        blocks = [_entry_lines(c, tz, budget, [("b", title, None)])]
    footer: Line = [("r", f"alert #{int(c.alert_id)}", None)]
    if c.desk:
        footer.append(("t", f" · desk {_one_line(c.desk, 60)}", None))
    blocks.append([footer])
    return title, blocks


# --- formats -----------------------------------------------------------------------------------

# Inline markup, links, HTML, mentions, entities; CommonMark allows a backslash before any ASCII
# punctuation, so over-escaping is harmless.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|<>~&@])")
# Block markers only matter at the start of a line: list bullets, ordered lists, setext rules.
_MD_LINE_START = re.compile(r"^(\s*)([-+=])", re.MULTILINE)
_MD_ORDERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)


def _md_escape(text: str) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)  # ")" of "1)" is escaped here
    text = _MD_ORDERED.sub(r"\1\\.", text)
    return _MD_LINE_START.sub(r"\1\\\2", text)


def _md_strong(text: str) -> str:
    # "** x**" is not emphasis in CommonMark: keep the spaces outside the markers
    core = text.strip()
    if not core:
        return _md_escape(text)
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()):]
    return f"{lead}**{_md_escape(core)}**{trail}"


def _md_url(url: str) -> str:
    # parentheses, spaces and angle brackets would end or break the link destination
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def _piece(fmt: str, kind: str, text: str, url: str | None) -> str:
    if fmt in _CHAT_FORMATS and kind in ("t", "h", "b"):
        text = _AT.sub("@\u200b", text)  # no @name of post text becomes a mention
    if fmt == "text":
        if kind == "h":
            return f"«{text}»"
        return f"{text}: {url}" if kind == "a" else text
    if fmt == "markdown":
        if kind == "r":
            return text
        if kind == "a":
            return f"[{_md_escape(text)}]({_md_url(url or '')})"
        return _md_strong(text) if kind in ("h", "b") else _md_escape(text)
    esc = html.escape(text, quote=True)
    if kind == "a":
        return f'<a href="{html.escape(url or "", quote=True)}">{esc}</a>'
    if kind == "h":  # chat services know <b>, not <mark>
        return f"<mark>{esc}</mark>" if fmt == "html" else f"<b>{esc}</b>"
    if kind == "b":
        return f"<b>{esc}</b>"
    return esc


def _serialize(fmt: str, blocks: list[list[Line]]) -> str:
    def line(pieces: Line) -> str:
        return "".join(_piece(fmt, *p) for p in pieces)

    if fmt in ("html", "chat"):  # chat: converted by Apprise, where only <p>/<br> break lines
        paras = ["<p>" + "<br>\n".join(line(ln).replace("\n", "<br>\n") for ln in b) + "</p>"
                 for b in blocks if b]
        return "<div>\n" + "\n".join(paras) + "\n</div>"
    sep = "  \n" if fmt == "markdown" else "\n"  # two spaces: a Markdown hard line break
    return "\n\n".join(sep.join(line(ln) for ln in b) for b in blocks if b)


def render(content: AlertContent, fmt: str = "text", *, tz: str = "UTC",
           max_length: int | None = None) -> Rendered:
    """Render ``content`` for a target format: ``text``, ``html``, ``markdown``, ``telegram`` or
    ``chat``.

    ``tz`` is the desk's zoneinfo name (times are shown in it); ``max_length`` caps the body
    (default :data:`DEFAULT_LIMITS`). Raises ValueError for an unknown format or time zone.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown alert format {fmt!r}; expected one of {', '.join(FORMATS)}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    limit = max_length or DEFAULT_LIMITS[fmt]
    budget, max_entries = SNIPPET_LIMIT, max(1, len(content.entries))
    while True:
        title, blocks = _layout(content, zone, budget, max_entries)
        body = _serialize(fmt, blocks)
        if len(body) <= limit:
            return Rendered(title=title, body=body, format=fmt)
        # Too long: shorten the post text first, then list fewer digest entries. Each pass
        # re-lays out from raw text, so an escape sequence is never cut.
        if budget > 80:
            budget = budget * 2 // 3
        elif content.kind == "digest" and max_entries > 1:
            max_entries -= 1
        elif budget > 0:
            budget = budget // 2 if budget > 10 else 0
        else:
            # Only the headline and the alert id are left; if even they do not fit, the id alone
            # (never a sliced string: a cut could split an entity or a tag).
            body = _serialize(fmt, [blocks[0][:1], blocks[-1]])
            if len(body) > limit:
                body = _serialize(fmt, [blocks[-1]])
            return Rendered(title=title, body=body, format=fmt)
