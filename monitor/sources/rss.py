"""The press collector: RSS 0.9x/1.0/2.0, Atom and JSON Feed, fetched like Miniflux does.

One fetch, one :class:`Batch`. The fetch is conditional (stored ETag / Last-Modified) *and* the
body is hashed: a 304 or an unchanged SHA-256 gives ``Batch(not_modified=True)`` without parsing,
because parsing (feedparser, ~1.7 ms per entry) is the floor of the whole pipeline and some
servers answer 200 with the same bytes forever. Bodies are parsed by :func:`parse_feed`, a pure
top-level function that runs in the pipeline's process pool when one is lent.

"Not a feed" is judged by feedparser's ``version`` and entry count, never by ``bozo`` (a feed with
one undefined entity is bozo yet complete; an HTML page is not bozo yet has nothing).

External ids (Item.external_id, unique per source) come from a key chain, strongest first:

* ``guid``            - the entry's GUID / Atom id / JSON Feed id, as published;
* ``link``            - the canonical URL of the entry's link;
* ``link+date``       - that URL plus the raw date string;
* ``link+date+title`` - plus the title;
* ``content``         - a hash of title + raw date + text (never blank).

The *policy* (where on the chain this feed starts) is per feed, like FreshRSS: when more than 5 %
of a fetch's keys at the current level are blank or repeated, the policy steps down to the first
level that is clean enough, and it is persisted in ``Batch.state["key_policy"]``. It only ever
steps down: a feed caught repeating GUIDs is never trusted with them again, so ids do not flip
back and forth (re-keying can double the entries present at the moment a policy degrades, once).
Within a fetch, an entry whose key is blank falls through to the next level, and entries that
still share a key are told apart by a content-hash suffix, then an occurrence number, assigned from
the bottom of the document up (feeds list newest first, so the older entry keeps the plain key).
No entry is ever collapsed into another, and an entry whose content changes under the same GUID
keeps its id (and gets a new ``Item.content_hash``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import re
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator, Mapping
from urllib.parse import urlsplit

import feedparser

from monitor.errors import InvalidInput, PermanentSourceError, SourceError, TransientSourceError
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig
from monitor.sources.feeddates import entry_date
from monitor.sources.feedraw import entry_fragments
from monitor.sources.fulltext import (decode_html, extract_article, guess_legacy_charset,
                                      html_to_text, tidy_text)
from monitor.sources.http import Fetcher, decompress
from monitor.sources.urls import canonical_url, is_http_url
from monitor.types import Item, content_hash, utcnow

__all__ = ["KEY_POLICIES", "ParsedFeed", "RssSource", "assign_ids", "feed_min_interval",
           "normalize_language", "parse_feed"]

# feedparser resolves <guid> / <id> against the feed's address as if they were links, so a
# relative GUID would change whenever the feed moves (and every entry would come back as new).
# Ids are names, not addresses: keep them as published. (Links are still resolved, by us.)
feedparser.mixin._FeedParserMixin.can_be_relative_uri.discard("id")

KEY_POLICIES = ("guid", "link", "link+date", "link+date+title", "content")
DEGRADE_RATIO = 0.05
_MAX_ID = 200  # longer keys are hashed so the store's column stays bounded
_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
            "yearly": 31536000}
_LANG3 = {"rus": "ru", "eng": "en", "ukr": "uk", "bel": "be", "deu": "de", "ger": "de",
          "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "por": "pt", "pol": "pl",
          "kor": "ko", "jpn": "ja", "zho": "zh", "chi": "zh", "kaz": "kk", "ara": "ar",
          "tur": "tr", "nld": "nl", "dut": "nl", "fas": "fa", "per": "fa", "heb": "he"}
_LANG_NAMES = {"english": "en", "russian": "ru", "русский": "ru", "ukrainian": "uk",
               "українська": "uk", "german": "de", "deutsch": "de", "french": "fr",
               "français": "fr", "spanish": "es", "español": "es", "korean": "ko"}
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.I)
_XML_ENCODING = re.compile(rb"^[^>]{0,200}encoding\s*=", re.I)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What :func:`parse_feed` returns: plain, picklable data."""

    version: str  # "rss20", "atom10", "json1" ...; "" when nothing feed-like was found
    items: tuple[Item, ...]
    key_policy: str
    min_interval: float | None
    title: str | None = None
    bozo: str | None = None  # feedparser's complaint, kept for diagnostics only

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

def _json_feed(body: bytes) -> tuple[str, dict, list[dict]] | None:
    """A JSON Feed (jsonfeed.org 1.0/1.1) in feedparser's shape, or None when it is not one."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        return None
    version = "json11" if str(doc["version"]).rstrip("/").endswith("1.1") else "json1"
    feed = {"title": doc.get("title"), "link": doc.get("home_page_url"),
            "language": doc.get("language")}
    entries = []
    sanitize = getattr(feedparser.sanitizer, "_sanitize_html", None)
    for it in doc.get("items") or []:
        if not isinstance(it, dict):
            continue
        authors = it.get("authors") or ([it["author"]] if it.get("author") else [])
        entry = {k: v for k, v in it.items() if not k.startswith("_")}
        entry["_item"] = it  # the object as the feed has it: the raw payload
        entry.update(id=str(it["id"]) if it.get("id") is not None else "",
                     link=it.get("url") or it.get("external_url"), title=it.get("title"),
                     published=it.get("date_published"), updated=it.get("date_modified"),
                     author=(authors[0] or {}).get("name") if authors else None,
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
    return version, feed, entries


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
    return json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")


def parse_feed(body: bytes, headers: Mapping[str, str], url: str, *, fetched_at: datetime,
               key_policy: str = "guid", max_clock_skew: float = 600,
               language: str | None = None, max_bytes: int = 15 * 1024 * 1024) -> ParsedFeed:
    """Parse feed bytes into Items. Pure and top-level, so a process pool can run it.

    ``headers`` are the HTTP response headers (lower-cased): their charset is honoured. ``url``
    (the final feed URL) resolves relative links. ``key_policy`` is the feed's stored policy.
    """
    if body[:2] == b"\x1f\x8b":  # gzip file served without Content-Encoding (static .xml.gz)
        body = decompress(body, "gzip", max_bytes)
    headers = {k.lower(): v for k, v in headers.items()}
    headers.setdefault("content-location", url)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    jf = _json_feed(body) if stripped[:1] == b"{" else None
    if jf is not None:
        version, feed, entries = jf
        bozo = None
        raws = [json.dumps(e.pop("_item"), ensure_ascii=False).encode("utf-8") for e in entries]
        raw_format = "json"
    else:
        _declare_legacy_charset(stripped, headers)
        # A BytesIO, never bare bytes: feedparser tries open(bytes) as a file name first.
        d = feedparser.parse(io.BytesIO(body), response_headers=headers)
        version, feed, entries = d.get("version") or "", d.get("feed") or {}, d.get("entries")
        bozo = str(d.get("bozo_exception")) if d.get("bozo") else None
        # the entries' own bytes when the markup allows it, else feedparser's view of them
        raws = entry_fragments(body) if entries else []
        raw_format = "feed-entry-xml"
        if raws is None or len(raws) != len(entries):
            raws, raw_format = [_plain(e) for e in entries], "feed-entry"
    feed_lang = normalize_language(feed.get("language")) or normalize_language(language)
    drafts = []
    for entry, raw in zip(entries, raws):
        text, html = _body_of(entry)
        title = entry.get("title") or None
        if title and "html" in ((entry.get("title_detail") or {}).get("type") or ""):
            title = html_to_text(title) or None
        elif title:
            title = tidy_text(title) or None
        date_raw, parsed = None, None
        for key in ("published", "updated", "created"):
            if entry.get(key):
                date_raw, parsed = entry.get(key), entry.get(key + "_parsed")
                break
        published, date_raw, flag = entry_date(parsed, date_raw, fetched_at,
                                               max_clock_skew=max_clock_skew)
        detail_lang = ((entry.get("content") or [{}])[0].get("language")
                       or (entry.get("summary_detail") or {}).get("language"))
        link = canonical_url(entry.get("link"), url)
        drafts.append(dict(
            guid=str(entry.get("id") or "").strip() or None, fetched_at=fetched_at, url=link,
            title=title, text=text, html=html, author=entry.get("author") or None,
            language=(normalize_language(entry.get("language"))
                      or normalize_language(detail_lang) or feed_lang),
            published_at=published, published_raw=date_raw, date_flag=flag,
            raw=raw, raw_format=raw_format))
    ids, policy = assign_ids(drafts, key_policy)
    items = [Item(external_id=i, **{k: v for k, v in d.items() if k != "guid"})
             for i, d in zip(ids, drafts)]
    # Oldest first (the port's contract); document order breaks ties, bottom (older) first.
    order = sorted(range(len(items)), key=lambda n: (items[n].published_at, -n))
    return ParsedFeed(version=version, items=tuple(items[n] for n in order), key_policy=policy,
                      min_interval=feed_min_interval(feed, headers),
                      title=tidy_text(str(feed.get("title") or "")) or None, bozo=bozo)


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


# ---- keys ---------------------------------------------------------------------------------------

def _level_key(d: Mapping[str, Any], level: str) -> str | None:
    if level == "guid":
        return d["guid"]
    if level == "content":
        return "h:" + content_hash(d["title"], d["published_raw"], d["text"])[:40]
    if not d["url"]:
        return None
    if level == "link":
        return d["url"]
    parts = [d["url"], d["published_raw"]] + ([d["title"]] if level == "link+date+title" else [])
    return "h:" + content_hash(*parts)[:40]


def assign_ids(drafts: list[Mapping[str, Any]], policy: str = "guid") -> tuple[list[str], str]:
    """External ids for one fetch's entries and the (possibly degraded) key policy.

    Each draft needs ``guid``, ``url`` (canonical), ``title``, ``published_raw`` and ``text``.
    The ids returned are pairwise distinct; see the module docstring for the rules.
    """
    if policy not in KEY_POLICIES:
        policy = "guid"
    n = len(drafts)
    for level in KEY_POLICIES[KEY_POLICIES.index(policy):]:
        keys = [_level_key(d, level) for d in drafts]
        counts = Counter(k for k in keys if k)
        bad = keys.count(None) + sum(c - 1 for c in counts.values())
        policy = level
        if n == 0 or bad <= DEGRADE_RATIO * n:
            break
    start = KEY_POLICIES.index(policy)
    ids: list[str] = [""] * n
    taken: set[str] = set()
    for i in range(n - 1, -1, -1):  # bottom up: the older entry keeps the plain key
        d = drafts[i]
        key = next(k for k in (_level_key(d, lv) for lv in KEY_POLICIES[start:]) if k)
        if len(key) > _MAX_ID:
            key = "h:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        if key in taken:
            key = f"{key}#c{content_hash(d['title'], d['text'], d['url'])[:12]}"
        base, k = key, 2
        while key in taken:
            key, k = f"{base}#{k}", k + 1
        taken.add(key)
        ids[i] = key
    return ids, policy


# ---- the Source ---------------------------------------------------------------------------------

class RssSource(Source):
    """Feeds over HTTP(S). Options: ``full_text`` (bool, fetch article pages),
    ``full_text_limit`` (pages per fetch, default 10)."""

    type = "rss"
    concurrency_class = "feeds"
    concurrency = 20  # feeds are cheap and many

    @classmethod
    def concurrency_limit(cls, settings) -> int:
        return max(1, settings.fetch.concurrency)

    @classmethod
    def check_locator(cls, locator: str) -> str:
        url = (locator or "").strip()
        if not is_http_url(url):
            raise InvalidInput(f"not an http(s) feed URL: {locator!r}")
        return canonical_url(url) or url

    @classmethod
    def default_name(cls, locator: str) -> str:
        parts = urlsplit(locator.strip())
        host = (parts.hostname or "").removeprefix("www.")
        path = parts.path.rstrip("/")
        return f"{host}{path}" or locator

    async def collect(self, source: SourceConfig, ctx: CollectContext) -> AsyncIterator[Batch]:
        if ctx.fetcher is not None:
            yield await self._collect(source, ctx, ctx.fetcher)
            return
        async with Fetcher(ctx.settings.fetch) as fetcher:
            batch = await self._collect(source, ctx, fetcher)
        yield batch

    async def _collect(self, source: SourceConfig, ctx: CollectContext, fetcher: Fetcher) -> Batch:
        settings = ctx.settings.fetch
        resp = await fetcher.fetch(source.locator, etag=source.etag,
                                   last_modified=source.last_modified)
        moved = resp.permanent_url if resp.permanent_url not in (None, source.locator) else None
        common = dict(http_status=resp.status, new_locator=moved,
                      etag=resp.etag or source.etag,
                      last_modified=resp.last_modified or source.last_modified)
        if resp.not_modified:
            return Batch(not_modified=True, min_interval=feed_min_interval({}, resp.headers),
                         **common)
        if not resp.body.strip():
            raise PermanentSourceError(f"not a feed: empty body from {resp.url}",
                                       status=resp.status)
        body_hash = hashlib.sha256(resp.body).hexdigest()
        if body_hash == source.body_hash:
            return Batch(not_modified=True, body_hash=body_hash,
                         min_interval=feed_min_interval({}, resp.headers), **common)
        policy = source.state.get("key_policy") or "guid"
        args = (resp.body, resp.headers, resp.url)
        kwargs = dict(fetched_at=utcnow(), key_policy=policy,
                      max_clock_skew=settings.max_clock_skew, language=source.language,
                      max_bytes=settings.max_bytes)
        parsed = await _run(ctx, parse_feed, *args, **kwargs)
        if not parsed.is_feed:
            kind = resp.headers.get("content-type", "unknown type").split(";")[0]
            raise PermanentSourceError(f"not a feed: {resp.url} returned {kind} with no feed "
                                       f"elements", status=resp.status)
        items, state = list(parsed.items), {"key_policy": parsed.key_policy}
        if source.options.get("full_text"):
            items, state["full_text_done"] = await self._full_text(items, source, ctx, fetcher)
        if ctx.progress is not None:
            ctx.progress(len(items))
        return Batch(items=items, body_hash=body_hash, min_interval=parsed.min_interval,
                     state=state, **common)

    async def _full_text(self, items: list[Item], source: SourceConfig, ctx: CollectContext,
                         fetcher: Fetcher) -> tuple[list[Item], dict[str, str]]:
        """Replace summaries by article text for new or changed entries.

        ``state["full_text_done"]`` maps external id → hash of the summary version that was
        extracted. An entry found there unchanged is left out of the batch: it is stored already
        with its full text, and re-sending it with only the summary would look like an edit.
        """
        done: dict[str, str] = dict(source.state.get("full_text_done") or {})
        limit = int(source.options.get("full_text_limit", 10))
        keep, todo = [], []
        for item in items:
            if done.get(item.external_id) == item.content_hash:
                continue
            (todo if item.url and len(todo) < limit else keep).append(item)

        async def one(item: Item) -> Item:
            summary_hash = item.content_hash
            try:
                page = await fetcher.fetch(item.url, accept="text/html,*/*;q=0.8")
                html = decode_html(page.body, page.headers.get("content-type"))
                text = await _run(ctx, extract_article, html, page.url)
            except SourceError:
                return item  # keep the summary; a later edit of the entry retries
            done[item.external_id] = summary_hash
            return dataclasses.replace(item, text=text) if text else item

        keep.extend(await asyncio.gather(*(one(i) for i in todo)))
        keep.sort(key=lambda i: i.published_at)
        ids = {i.external_id for i in items}
        done = {k: v for k, v in done.items() if k in ids}  # forget entries gone from the feed
        return keep, done


async def _run(ctx: CollectContext, fn, *args, **kwargs):
    """Run CPU-bound ``fn`` in the lent process pool, else inline."""
    if ctx.executor is None:
        return fn(*args, **kwargs)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(ctx.executor, _call, fn, args, kwargs)
    except BrokenProcessPool as exc:  # a worker died (OOM, a parser crash): try again later
        raise TransientSourceError(f"parse worker died: {exc}") from None


def _call(fn, args, kwargs):
    return fn(*args, **kwargs)
