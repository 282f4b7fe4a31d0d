"""Feed bytes into Items: RSS 0.9x/1.0/2.0, Atom (feedparser) and JSON Feed (our own reader).

:func:`parse_feed` is pure and top-level, so the pipeline's process pool can run it. "Not a feed"
is judged by feedparser's ``version`` and entry count, never by ``bozo`` (a feed with one
undefined entity is bozo yet complete; an HTML page is not bozo yet has nothing).

Hostile documents cost only themselves:

* numeric character references to code points no document may hold (``&#0;``, a lone surrogate
  ``&#xd800;``, beyond U+10FFFF) are removed from the bytes first: feedparser's lenient parser
  would crash on them and lose the whole feed (the entries' raw bytes are kept without them);
* a document with more entries than ``max_entries`` is cut down to its newest ones before
  feedparser reads it (:mod:`monitor.sources.feedraw`), JSON Feed items likewise;
* an entry that fails to adapt is dropped, counted in ``ParsedFeed.dropped`` and the others kept.

Text is cleaned of control characters and lone surrogates later, where every source's batch
enters the pipeline (:mod:`monitor.sources.sanitize`).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

import feedparser

from monitor.sources.feeddates import entry_date
from monitor.sources.feedkeys import assign_ids
from monitor.sources.feedraw import cut_to_newest, newest_indexes
from monitor.sources.fulltext import guess_legacy_charset, html_to_text, tidy_text
from monitor.sources.http import decompress
from monitor.sources.urls import canonical_url
from monitor.types import Item

__all__ = ["ParsedFeed", "feed_min_interval", "normalize_language", "parse_feed"]

# feedparser resolves <guid> / <id> against the feed's address as if they were links, so a
# relative GUID would change whenever the feed moves (and every entry would come back as new).
# Ids are names, not addresses: keep them as published. (Links are still resolved, by us.)
feedparser.mixin._FeedParserMixin.can_be_relative_uri.discard("id")

_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
            "yearly": 31536000}
_LANG3 = {"rus": "ru", "eng": "en", "ukr": "uk", "bel": "be", "deu": "de", "ger": "de",
          "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "por": "pt", "pol": "pl",
          "kor": "ko", "jpn": "ja", "zho": "zh", "chi": "zh", "kaz": "kk", "ara": "ar",
          "tur": "tr", "nld": "nl", "dut": "nl", "fas": "fa", "per": "fa", "heb": "he"}
_LANG_NAMES = {"english": "en", "russian": "ru", "русский": "ru", "ukrainian": "uk",
               "українська": "uk", "german": "de", "deutsch": "de", "french": "fr",
               "français": "fr", "spanish": "es", "español": "es", "korean": "ko"}
_MAX_AGE = re.compile(r"max-age\s*=\s*([0-9]{1,12})", re.I)
_XML_ENCODING = re.compile(rb"^[^>]{0,200}encoding\s*=", re.I)

_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What :func:`parse_feed` returns: plain, picklable data."""

    version: str  # "rss20", "atom10", "json1" ...; "" when nothing feed-like was found
    items: tuple[Item, ...]
    key_policy: str
    min_interval: float | None
    title: str | None = None
    bozo: str | None = None  # feedparser's complaint, kept for diagnostics only
    dropped: int = 0  # entries left out: over fetch.max_entries, or failing to parse
    drop_reason: str | None = None  # the first entry's failure, for the log

    @property
    def is_feed(self) -> bool:
        return bool(self.version) or bool(self.items)


def normalize_language(value: str | None) -> str | None:
    """ISO 639-1 code for ``en-US``, ``ru_RU``, ``rus``, ``Russian``; None when unknown."""
    if not value or not isinstance(value, str):
        return None
    v = value.strip().lower().replace("_", "-").split(",")[0].split(";")[0].strip()
    if v in _LANG_NAMES:
        return _LANG_NAMES[v]
    v = v.split("-")[0]
    if len(v) == 2 and v.isascii() and v.isalpha():
        return v
    return _LANG3.get(v)


def feed_min_interval(feed: Mapping[str, Any], headers: Mapping[str, str]) -> float | None:
    """Seconds the feed asks us to wait: RSS ``ttl`` (minutes), ``sy:updatePeriod`` /
    ``sy:updateFrequency``, ``Cache-Control: max-age``; the largest wins, None when silent."""
    found: list[float] = []
    try:
        if ttl := str(feed.get("ttl") or "").strip():
            found.append(float(int(ttl)) * 60)
    except ValueError:
        pass
    period = _PERIODS.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period:
        try:
            frequency = max(int(str(feed.get("sy_updatefrequency") or "1").strip()), 1)
        except ValueError:
            frequency = 1
        found.append(period / frequency)
    cache = headers.get("cache-control", "")
    if (m := _MAX_AGE.search(cache)) and "no-cache" not in cache and "no-store" not in cache:
        found.append(float(m.group(1)))
    found = [f for f in found if f > 0]
    return max(found) if found else None


# ---- parsing (runs in the process pool) -------------------------------------------------------

def _allowed_char(code: int) -> bool:
    """A code point an XML document may hold (XML 1.0 ``Char``)."""
    return (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF)


def _drop_bad_char_refs(body: bytes) -> bytes:
    """Remove ``&#...;`` references to code points no XML document may hold."""
    if b"&#" not in body:
        return body

    def fix(m: re.Match) -> bytes:
        digits = m.group(1) or m.group(2)
        if len(digits) > 8:
            return b""
        code = int(digits, 16) if m.group(1) else int(digits)
        return m.group(0) if _allowed_char(code) else b""

    return _CHAR_REF.sub(fix, body)


def _json_bytes(value: Any) -> bytes:
    """``value`` as UTF-8 JSON; strings UTF-8 cannot hold (a lone surrogate) stay \\u-escaped."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True).encode("ascii")


def _json_feed(body: bytes, max_entries: int) -> tuple[str, dict, list[dict], int] | None:
    """A JSON Feed (jsonfeed.org 1.0/1.1) in feedparser's shape and the number of items left
    out for ``max_entries``, or None when it is not one."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        return None
    version = "json11" if str(doc["version"]).rstrip("/").endswith("1.1") else "json1"
    feed = {"title": doc.get("title"), "link": doc.get("home_page_url"),
            "language": doc.get("language")}
    items = [it for it in doc.get("items") or [] if isinstance(it, dict)] \
        if isinstance(doc.get("items"), list) else []
    dates = [it.get("date_published") or it.get("date_modified") for it in items]
    keep = newest_indexes([d if isinstance(d, str) else None for d in dates], max_entries)
    dropped, items = len(items) - len(keep), [items[i] for i in keep]
    entries = []
    sanitize = getattr(feedparser.sanitizer, "_sanitize_html", None)
    for it in items:
        authors = it.get("authors") or ([it["author"]] if it.get("author") else [])
        entry = {k: v for k, v in it.items() if not k.startswith("_")}
        entry["_item"] = it  # the object as the feed has it: the raw payload
        first_author = authors[0] if isinstance(authors, list) and authors else None
        entry.update(id=str(it["id"]) if it.get("id") is not None else "",
                     link=it.get("url") or it.get("external_url"), title=it.get("title"),
                     published=it.get("date_published"), updated=it.get("date_modified"),
                     author=first_author.get("name") if isinstance(first_author, dict) else None,
                     language=it.get("language"))
        if isinstance(it.get("content_html"), str):
            html = it["content_html"]
            html = sanitize(html, "utf-8", "text/html") if sanitize else html
            entry["content"] = [{"type": "text/html", "value": html}]
        elif isinstance(it.get("content_text"), str):
            entry["content"] = [{"type": "text/plain", "value": it["content_text"]}]
        if isinstance(it.get("summary"), str):
            entry["summary"] = it["summary"]
            entry["summary_detail"] = {"type": "text/plain"}
        entries.append(entry)
    return version, feed, entries, dropped


def _body_of(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(text, sanitized html or None)``: the fullest of content / summary."""
    best, best_type = "", "text/html"
    for c in entry.get("content") or ():
        value = c.get("value") or ""
        if len(value) > len(best):
            best, best_type = value, c.get("type") or "text/html"
    if not best:
        best = entry.get("summary") or ""
        best_type = (entry.get("summary_detail") or {}).get("type") or "text/html"
    if not best:
        return "", None
    if "html" in best_type:
        return html_to_text(best), best
    return tidy_text(best), None


def _plain(entry: Mapping[str, Any]) -> bytes:
    """The entry as JSON (feedparser's derived ``*_parsed`` tuples dropped)."""
    data = {k: v for k, v in entry.items() if not k.endswith("_parsed")}
    try:
        return json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, default=str).encode("ascii")


def _str(value: Any) -> str | None:
    """A field that should be text: hostile JSON may put a number, a list or an object there."""
    if value is None or isinstance(value, str):
        return value
    return None if isinstance(value, (dict, list)) else str(value)


def _draft(entry: Mapping[str, Any], raw: bytes, raw_format: str, url: str, feed_lang,
           fetched_at: datetime, max_clock_skew: float) -> dict[str, Any]:
    """One entry adapted into the fields of an Item (the id is assigned later)."""
    text, html = _body_of(entry)
    title = _str(entry.get("title")) or None
    if title and "html" in ((entry.get("title_detail") or {}).get("type") or ""):
        title = html_to_text(title) or None
    elif title:
        title = tidy_text(title) or None
    date_raw, parsed = None, None
    for key in ("published", "updated", "created"):
        if entry.get(key):
            date_raw, parsed = _str(entry.get(key)), entry.get(key + "_parsed")
            break
    published, date_raw, flag = entry_date(parsed, date_raw, fetched_at,
                                           max_clock_skew=max_clock_skew)
    detail_lang = ((entry.get("content") or [{}])[0].get("language")
                   or (entry.get("summary_detail") or {}).get("language"))
    return dict(
        guid=str(entry.get("id") or "").strip() or None, fetched_at=fetched_at,
        url=canonical_url(_str(entry.get("link")), url), title=title, text=text, html=html,
        author=_str(entry.get("author")) or None,
        language=(normalize_language(_str(entry.get("language")))
                  or normalize_language(_str(detail_lang)) or feed_lang),
        published_at=published, published_raw=date_raw, date_flag=flag,
        raw=raw, raw_format=raw_format)


def parse_feed(body: bytes, headers: Mapping[str, str], url: str, *, fetched_at: datetime,
               key_policy: str = "guid", max_clock_skew: float = 600,
               language: str | None = None, max_bytes: int = 15 * 1024 * 1024,
               max_entries: int = 5000) -> ParsedFeed:
    """Parse feed bytes into Items. Pure and top-level, so a process pool can run it.

    ``headers`` are the HTTP response headers (lower-cased): their charset is honoured. ``url``
    (the final feed URL) resolves relative links. ``key_policy`` is the feed's stored policy.
    At most ``max_entries`` entries are kept: the newest by their dates, else the first ones.
    """
    if body[:2] == b"\x1f\x8b":  # gzip file served without Content-Encoding (static .xml.gz)
        body = decompress(body, "gzip", max_bytes)
    headers = {k.lower(): v for k, v in headers.items()}
    headers.setdefault("content-location", url)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    jf = _json_feed(body, max_entries) if stripped[:1] == b"{" else None
    if jf is not None:
        version, feed, entries, dropped = jf
        bozo = None
        raws = [_json_bytes(e.pop("_item")) for e in entries]
        raw_format = "json"
    else:
        _declare_legacy_charset(stripped, headers)
        body, raws, dropped = cut_to_newest(_drop_bad_char_refs(body), max_entries)
        # A BytesIO, never bare bytes: feedparser tries open(bytes) as a file name first.
        d = feedparser.parse(io.BytesIO(body), response_headers=headers)
        version, feed, entries = d.get("version") or "", d.get("feed") or {}, d.get("entries")
        bozo = str(d.get("bozo_exception")) if d.get("bozo") else None
        # the entries' own bytes when the markup allows it, else feedparser's view of them
        raw_format = "feed-entry-xml"
        if raws is None or len(raws) != len(entries):
            raws, raw_format = [_plain(e) for e in entries], "feed-entry"
    feed_lang = normalize_language(_str(feed.get("language"))) or normalize_language(language)
    drafts, reason = [], None
    for entry, raw in zip(entries, raws):
        try:
            drafts.append(_draft(entry, raw, raw_format, url, feed_lang, fetched_at,
                                 max_clock_skew))
        except Exception as exc:  # noqa: BLE001 - one hostile entry costs only itself
            dropped += 1
            reason = reason or f"{type(exc).__name__}: {exc}"[:300]
    ids, policy = assign_ids(drafts, key_policy)
    items = [Item(external_id=i, **{k: v for k, v in d.items() if k != "guid"})
             for i, d in zip(ids, drafts)]
    # Oldest first (the port's contract); document order breaks ties, bottom (older) first.
    order = sorted(range(len(items)), key=lambda n: (items[n].published_at, -n))
    return ParsedFeed(version=version, items=tuple(items[n] for n in order), key_policy=policy,
                      min_interval=feed_min_interval(feed, headers),
                      title=tidy_text(str(feed.get("title") or "")) or None, bozo=bozo,
                      dropped=dropped, drop_reason=reason)


def _declare_legacy_charset(body: bytes, headers: dict[str, str]) -> None:
    """When nothing declares a charset and the bytes are not UTF-8, declare a guessed Cyrillic
    one in the headers we hand feedparser (which would otherwise read windows-1252)."""
    ctype = headers.get("content-type", "")
    if "charset" in ctype.lower() or _XML_ENCODING.match(body) or body[:2] in (b"\xff\xfe",
                                                                               b"\xfe\xff"):
        return
    try:
        body.decode("utf-8")
        return
    except UnicodeDecodeError:
        pass
    if charset := guess_legacy_charset(body):
        headers["content-type"] = f"{ctype.split(';')[0].strip() or 'application/xml'}; " \
                                  f"charset={charset}"
