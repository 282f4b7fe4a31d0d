"""Exact-duplicate keys: the first, cheap layer of dedup (pure, no I/O).

Every key here is meant for a unique index: the store inserts it and lets the database refuse the
duplicate (STYLE habit 3). :func:`exact_keys` lists an item's keys strongest first:

1. ``forward`` — a Telegram forward's origin, ``tg:<bare channel id>/<post id>``;
2. ``tg`` — a Telegram post's own identity in the *same* ``tg:`` namespace, so a forward of a post
   and the post itself share one key string whichever of the two arrives first;
3. ``url`` — the canonical URL of an article-like page (never a homepage, never ``t.me``);
4. ``text`` — SHA-256 of :func:`dedup_text`, the text with everything a re-poster changes removed.

Matching is by key *string*: ``forward`` and ``tg`` kinds are one namespace by design.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Sequence
from urllib.parse import urlsplit

from monitor.types import Item

#: Below this many characters of reduced text a post says too little to identify a story:
#: "Фото", "👍", "Видео дня" must not all collapse into one text key.
MIN_TEXT_CHARS = 20

# Tags that leaked into a text field (feeds that double-escape, summaries with inline markup).
# Only tag-shaped runs are removed, so "a < b > c" in prose survives as words.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]{0,1000})?/?>")
_URL = re.compile(
    r"(?:[a-z][a-z0-9+.-]{1,15}://|www\.|(?:t|telegram)\.me/)\S+", re.IGNORECASE
)
# Telegram usernames are 5-32 ASCII word chars (bots and old names shorter): "@x" stays text.
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}")
# A line of nothing but hashtags ("#Белгород #новости") is a channel's rubric, not content: it
# goes whole. A hashtag inside a sentence keeps its word ("в #Белгороде" reads "в белгороде").
_HASHTAG_LINE = re.compile(r"^[^\w#\n]*#\w+(?:[^\w#\n]*#\w+)*[^\w#\n]*$", re.MULTILINE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")

# Emoji that Unicode still lists as unassigned in this Python's database (new emoji versions),
# plus the joiners and selectors that build emoji sequences.
_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),  # mahjong .. symbols & pictographs extended-A (flags, faces, objects)
    (0x2600, 0x27BF),  # misc symbols, dingbats
    (0x2B00, 0x2BFF),  # arrows and stars (⭐, ⬆)
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0000, 0xE007F),  # tag characters (subdivision flags)
    (0xE0100, 0xE01EF),  # variation selectors supplement
    (0x200D, 0x200D),  # zero-width joiner
    (0x20E3, 0x20E3),  # combining enclosing keycap
)
# Letters, numbers and combining marks are the text; everything else (P*, S*, Z*, C*) separates.
_KEEP_CATEGORIES = frozenset(("L", "N", "M"))


class _CharFilter(dict):
    """``str.translate`` table filled on first sight of each code point (C-speed afterwards).

    Letters, numbers and combining marks are kept; Cf (soft hyphen, zero-width space) is deleted
    because it joins rather than separates; everything else (punctuation runs, markdown leftovers
    ``** __ ~~ ` ||``, So/Sk emoji and symbols, emoji-range code points unknown to this Python's
    Unicode database, spaces) becomes a space.
    """

    def __missing__(self, cp: int) -> str | None:
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES):
            out: str | None = " "
        elif cat[0] in _KEEP_CATEGORIES:
            out = ch
        elif cat == "Cf":
            out = None
        else:
            out = " "
        if len(self) < _CHAR_FILTER_CAP:  # hostile text cannot grow the table without bound
            self[cp] = out
        return out


_CHAR_FILTER_CAP = 65536
_CHAR_FILTER = _CharFilter()


def _fold(text: str) -> str:
    # NFKC again after casefold: casefold can produce sequences NFKC would recompose, and the
    # result must be a fixed point (dedup_text is idempotent).
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return text.replace("ё", "е")


def _words_only(text: str) -> str:
    return " ".join(text.translate(_CHAR_FILTER).split())


# Ingest reduces each new post's text three times (footer detection, text key, signature): keep
# the last few hundred results. Long texts (full articles) are reduced again rather than held.
_CACHE_CHARS = 8192


def _reduce(text: str) -> str:
    if len(text) > _CACHE_CHARS:
        return _reduce_text(text)
    return _reduce_cached(text)


@lru_cache(maxsize=512)
def _reduce_cached(text: str) -> str:
    return _reduce_text(text)


def _reduce_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
        text = _TAG.sub(" ", text)  # markup that was entity-escaped (double-escaped feeds)
    text = _URL.sub(" ", text)
    if "#" in text:
        text = _HASHTAG_LINE.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _words_only(_fold(text))
    # A removal can bring a base letter next to a combining mark that was separated from it;
    # a second fold + filter makes the output a fixed point.
    return _words_only(_fold(text))


def dedup_text(text: str, *, footer: str | None = None) -> str:
    """Reduce ``text`` to what survives re-posting, for exact-duplicate hashing.

    Removes leaked HTML tags and entities, URLs, e-mail addresses, @mentions, lines made only of
    hashtags (rubrics), the ``#`` of hashtags in running text (the word stays), emoji and pictographs (Unicode So/Sk, emoji ranges, variation selectors,
    ZWJ), Telegram markdown leftovers and punctuation; applies NFKC + casefold and ё→е; collapses
    whitespace to single spaces. When the reduced text ends with the reduced ``footer`` (the
    channel's signature, see :func:`detect_footer`) that tail is removed. Idempotent.
    """
    reduced = _reduce(text or "")
    if footer:
        tail = _reduce(footer)
        if tail and (reduced == tail or reduced.endswith(" " + tail)):
            reduced = reduced[: len(reduced) - len(tail)].rstrip()
    return reduced


def text_key(text: str, footer: str | None = None) -> str | None:
    """SHA-256 hex of :func:`dedup_text`, or None when fewer than ``MIN_TEXT_CHARS`` remain."""
    reduced = dedup_text(text, footer=footer)
    if len(reduced) < MIN_TEXT_CHARS:
        return None
    return hashlib.sha256(reduced.encode("utf-8")).hexdigest()


def detect_footer(texts: Sequence[str], *, min_posts: int = 5, max_words: int = 16) -> str | None:
    """Find a channel's recurring signature footer in its recent posts, or None.

    A footer is the longest run of trailing words (reduced form, at most ``max_words``) that more
    than half of at least ``min_posts`` posts end with, and that leaves something before it in
    most of them (a channel that posts only "Фото" has no footer). The result is the footer as
    written in one of the posts when it spans whole lines (e.g. ``"Подписаться на канал |
    @rian_ru"``), else its reduced form; either works as ``footer=`` since both reduce alike.
    """
    if len(texts) < min_posts:
        return None
    reduced = [dedup_text(t).split(" ") for t in texts]
    counts: Counter[tuple[str, ...]] = Counter()
    longer: Counter[tuple[str, ...]] = Counter()  # posts with more text than the suffix
    for words in reduced:
        words = [w for w in words if w]
        for k in range(1, min(max_words, len(words)) + 1):
            suffix = tuple(words[-k:])
            counts[suffix] += 1
            if len(words) > k:
                longer[suffix] += 1
    need = math.floor(len(texts) / 2) + 1
    best: tuple[str, ...] | None = None
    for suffix, n in counts.items():
        if n < need or longer[suffix] < need or len(" ".join(suffix)) < 5:
            continue
        if best is None or (len(suffix), n) > (len(best), counts[best]):
            best = suffix
    if best is None:
        return None
    footer = " ".join(best)
    return _original_lines(texts, footer) or footer


def _original_lines(texts: Sequence[str], footer: str) -> str | None:
    """The trailing lines of a post that reduce exactly to ``footer`` (most common spelling)."""
    found: Counter[str] = Counter()
    for text in texts:
        lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
        for j in range(1, min(len(lines), 6) + 1):
            tail = "\n".join(lines[-j:])
            reduced = dedup_text(tail)
            if reduced == footer:
                found[tail] += 1
                break
            if len(reduced) > len(footer):
                break
    return found.most_common(1)[0][0] if found else None


def _bare_channel_id(channel_id: int) -> int:
    # Telethon's marked ids are -100<bare>; t.me/c/ links and forward headers use the bare id.
    # Normalising here keeps a forward's key equal to the original post's own key.
    if channel_id < 0:
        text = str(channel_id)
        return int(text[4:]) if text.startswith("-100") and len(text) > 4 else -channel_id
    return channel_id


def forward_key(origin_channel_id: int | None, origin_post_id: int | None) -> str | None:
    """``tg:<bare channel id>/<post id>`` for a Telegram post identity, None when either is unknown."""
    if origin_channel_id is None or origin_post_id is None:
        return None
    return f"tg:{_bare_channel_id(int(origin_channel_id))}/{int(origin_post_id)}"


_TELEGRAM_HOSTS = frozenset(("t.me", "telegram.me", "telegram.dog"))
_USERNAME_POST = re.compile(r"^/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})/(\d+)/?$")


def username_key(username: str | None, post_id: int | str | None) -> str | None:
    """``tg:@<username>/<post id>``: a public post's identity when its channel id is unknown
    (``t.me/s`` pages and forwards shown with an origin link name the channel, not its id)."""
    if not username or post_id is None or not str(post_id).isdigit():
        return None
    return f"tg:@{username.lstrip('@').lower()}/{int(post_id)}"


def permalink_key(url: str | None) -> str | None:
    """:func:`username_key` of a ``t.me/<username>/<id>`` permalink, else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if (parts.hostname or "").lower() not in _TELEGRAM_HOSTS:
        return None
    m = _USERNAME_POST.match(parts.path)
    return username_key(m.group(1), m.group(2)) if m else None
_NOT_ARTICLE_PATHS = frozenset(
    ("", "/", "/index.html", "/index.htm", "/index.php", "/feed", "/rss", "/news", "/news/")
)
MAX_URL_KEY = 255


def url_key(canonical_url: str | None) -> str | None:
    """``url:<host><path>[?query]`` for an article-like http(s) URL, else None.

    The scheme and fragment are dropped and the host lower-cased (http and https copies of one
    article are one article); canonicalisation proper (tracking parameters, AMP) is the source's
    job. Homepages and section roots are not stories, and ``t.me`` links are covered by the
    ``tg:`` keys. Keys longer than ``MAX_URL_KEY`` become ``url#<sha256>`` to fit an index.
    """
    if not canonical_url:
        return None
    try:
        parts = urlsplit(canonical_url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if host in _TELEGRAM_HOSTS or host.endswith(".t.me"):
        return None
    if parts.path.lower() in _NOT_ARTICLE_PATHS and not parts.query:
        return None
    if host.startswith("www."):
        host = host[4:]
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    key = f"url:{netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    if len(key) > MAX_URL_KEY:
        return "url#" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def exact_keys(item: Item, *, footer: str | None = None) -> list[tuple[str, str]]:
    """The item's exact keys as ``(kind, key)``, strongest first: forward, tg, url, text.

    ``footer`` is the source's stored signature footer. The text key is taken from ``item.text``;
    when that is too short (a press item with only a summary) title and text together are used.
    """
    keys: list[tuple[str, str]] = []
    fwd = item.forward
    if fwd is not None:
        for k in (forward_key(fwd.origin_channel_id, fwd.origin_post_id), permalink_key(fwd.origin_url)):
            if k and ("forward", k) not in keys:
                keys.append(("forward", k))
    if item.channel_id is not None and item.external_id.isdigit():
        if (k := forward_key(item.channel_id, int(item.external_id))) and ("forward", k) not in keys:
            keys.append(("tg", k))
    # A public channel's post is also known by username (t.me/s pages carry no channel id), so
    # a Telethon copy, a t.me/s copy and a forward shown with an origin link all meet.
    if item.channel_username and (k := username_key(item.channel_username, item.external_id)):
        if ("forward", k) not in keys:
            keys.append(("tg", k))
    if k := url_key(item.url):
        keys.append(("url", k))
    k = text_key(item.text, footer)
    if k is None and item.title:
        k = text_key(f"{item.title}\n{item.text}", footer)
    if k:
        keys.append(("text", k))
    return keys
