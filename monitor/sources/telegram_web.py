"""Public Telegram channels read from their web preview ``t.me/s/<channel>``, without an account.

Also home of the t.me link grammar (:func:`parse_channel_ref`, :func:`permalink`) that every
Telegram route shares; this module deliberately does not import Telethon.

A preview page lists about 20 posts, oldest to newest, and links to the page before it
(``a.tme_messages_more[data-before]``). ``collect`` walks pages newest to oldest until it reaches
the stored cursor (updates) or the backfill depth (first run: ``backfill_limit`` posts,
``backfill_days`` days, ``max_pages`` pages), then yields what it found oldest to newest in
batches whose cursor is the highest id in the batch. If a fetch fails half way, what was already
read is yielded *without* a cursor (items are idempotent by message id) before the error is raised,
so the next run pages again from the same cursor and no post is skipped.

Requests to a host are spaced by ``telegram.web_request_spacing`` seconds; a 429/503 raises
``RateLimited`` with the server's Retry-After (from :class:`monitor.sources.http.Fetcher`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import InvalidInput, PermanentSourceError, SourceError
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig
from monitor.sources.tglinks import (ChannelRef, _number, parse_channel_ref,  # noqa: F401
                                     permalink, with_links)
from monitor.types import Deletion, Forward, Item, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 100
DEFAULT_MAX_PAGES = 50  # ~1000 posts: a first backfill without any configured depth stops here


def _links(node: LexborNode | None) -> list[dict[str, Any]]:
    """``text_link`` entities of a post's text: anchors whose text is not their URL."""
    out = []
    for a in node.css("a[href]") if node is not None else ():
        href, shown = a.attributes.get("href") or "", node_text(a)
        if href.startswith(("http://", "https://")) and shown and shown not in href:
            out.append({"type": "text_link", "text": shown, "url": href})
    return out


# --- page parsing --------------------------------------------------------------------------------

_BLOCKS = {"div", "p", "blockquote", "pre", "li"}


def node_text(node: LexborNode | None) -> str:
    """Visible text with ``<br>`` as newlines and the source's layout whitespace collapsed."""
    if node is None:
        return ""
    out: list[str] = []
    for n in node.traverse(include_text=True):
        if n.tag == "-text":
            out.append(re.sub(r"\s+", " ", n.text_content or ""))
        elif n.tag == "br":
            out.append("\n")
        elif n.tag in _BLOCKS and out and n is not node:
            out.append("\n")
    lines = [re.sub(r" {2,}", " ", line).strip() for line in "".join(out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_count(text: str | None) -> int | None:
    """``"214.4K"`` → 214400, ``"1.2M"`` → 1200000, ``"746"`` → 746."""
    m = re.fullmatch(r"\s*([0-9]{1,15}(?:[.,][0-9]{1,15})*)\s*([KMB]?)\s*", text or "", re.I)
    if not m:
        return None
    if not m.group(2):
        return int(re.sub(r"[^0-9]", "", m.group(1)))
    try:
        number = float(m.group(1).replace(",", ""))
    except ValueError:  # "1.2.3K"
        return None
    return round(number * {"K": 1e3, "M": 1e6, "B": 1e9}[m.group(2).upper()])


def _has(node: LexborNode, selector: str) -> bool:
    return node.css_first(selector) is not None


def _media_type(bubble: LexborNode) -> str | None:
    # Order matters: an album holds photo and video wraps; previews use link_preview_* classes.
    for selector, kind in ((".tgme_widget_message_grouped_wrap", "album"),
                           (".tgme_widget_message_roundvideo_player", "video_note"),
                           (".tgme_widget_message_photo_wrap", "photo"),
                           (".tgme_widget_message_video_player", "video"),
                           (".tgme_widget_message_voice_player", "voice"),
                           (".tgme_widget_message_document_wrap", "document"),
                           (".tgme_widget_message_poll", "poll"),
                           (".tgme_widget_message_sticker_wrap", "sticker"),
                           (".tgme_widget_message_location_wrap", "geo"),
                           (".tgme_widget_message_link_preview", "webpage")):
        if _has(bubble, selector):
            return kind
    return None


def _post_id(href: str | None) -> tuple[str | None, int | None, int | None]:
    """``(username, bare channel id, post id)`` from a t.me permalink."""
    try:
        ref = parse_channel_ref(href or "")
    except InvalidInput:
        return None, None, None
    return ref.username, ref.channel_id, ref.post_id


def parse_post(node: LexborNode, fetched_at: datetime) -> Item | None:
    """One ``div.tgme_widget_message`` as an Item (None for service messages)."""
    name, _, number = (node.attributes.get("data-post") or "").partition("/")
    if not _number(number) or "service_message" in (node.attributes.get("class") or ""):
        return None
    bubble = node.css_first(".tgme_widget_message_bubble") or node
    # Reply quotes reuse .tgme_widget_message_text: only the bubble's direct child is the post.
    text_node = next((c for c in bubble.iter() if "tgme_widget_message_text"
                      in (c.attributes.get("class") or "").split()), None)
    links = _links(text_node)
    parts = [with_links(node_text(text_node), [e["url"] for e in links])]
    media_type = _media_type(bubble)
    if poll := bubble.css_first(".tgme_widget_message_poll"):
        parts += [node_text(poll.css_first(".tgme_widget_message_poll_question"))]
        parts += [node_text(o) for o in poll.css(".tgme_widget_message_poll_option_text")]
    if preview := bubble.css_first(".tgme_widget_message_link_preview"):
        parts += [node_text(preview.css_first(".link_preview_title")),
                  node_text(preview.css_first(".link_preview_description"))]
    text = "\n\n".join(p for p in parts if p)

    date_link = bubble.css_first("a.tgme_widget_message_date")
    time_node = date_link.css_first("time[datetime]") if date_link else None
    raw_date = time_node.attributes.get("datetime") if time_node else None
    published, flag = fetched_at, "missing"
    if raw_date:
        try:
            published, flag = datetime.fromisoformat(raw_date).astimezone(timezone.utc), None
        except ValueError:
            flag = "unparseable"

    forward = None
    if fwd := bubble.css_first(".tgme_widget_message_forwarded_from_name"):
        href = fwd.attributes.get("href")
        if href:  # origin shown: its permalink; a bare span means the origin is hidden
            origin_name, origin_channel, origin_post = _post_id(href)
            forward = Forward(origin_channel_id=origin_channel, origin_post_id=origin_post,
                              origin_url=href, origin_username=origin_name,
                              origin_title=node_text(fwd) or None)
        else:
            forward = Forward(from_name=node_text(fwd) or None)
    reply = bubble.css_first("a.tgme_widget_message_reply")
    meta = bubble.css_first(".tgme_widget_message_meta")
    author = bubble.css_first(".tgme_widget_message_from_author")
    extra: dict[str, Any] = {}
    if meta is not None and "edited" in node_text(meta).lower():
        extra["edited"] = True  # the preview says "edited" but not when
    if fwd is not None and forward and forward.origin_url:
        extra["forwarded_from_title"] = node_text(fwd)
    if links:
        extra["entities"] = links
    album = [_post_id(a.attributes.get("href"))[2] for a in bubble.css("a.grouped_media_wrap")]
    if album:
        extra["album_ids"] = [i for i in album if i]
    return Item(
        external_id=number,
        fetched_at=fetched_at,
        url=(date_link.attributes.get("href") if date_link else None)
        or permalink(name, None, int(number)),
        text=text,
        author=node_text(author) or None,
        published_at=published,
        published_raw=raw_date,
        date_flag=flag,
        channel_username=name or None,
        views=parse_count(node_text(bubble.css_first(".tgme_widget_message_views")) or None),
        reply_to_id=_post_id(reply.attributes.get("href"))[2] if reply else None,
        media_type=media_type,
        forward=forward,
        raw=node.html.encode("utf-8"),
        raw_format="html",
        extra=extra,
    )


@dataclass(frozen=True, slots=True)
class Page:
    """One parsed preview page."""

    items: list[Item]
    before: int | None  # id to ask ?before= for the next older page
    has_channel_info: bool
    title: str | None  # the channel title (or a contact/group page's title)
    dropped: int = 0  # posts that could not be read (the others are kept)


def parse_page(body: bytes | str, fetched_at: datetime | None = None) -> Page:
    """Parse a ``t.me/s`` page (or a lone post fragment)."""
    html = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    tree = LexborHTMLParser(html)
    fetched_at = fetched_at or utcnow()
    items, dropped = [], 0
    for node in tree.css("div.tgme_widget_message[data-post]"):
        try:
            item = parse_post(node, fetched_at)
        except Exception as exc:  # noqa: BLE001 - one hostile post costs only itself
            dropped += 1
            log.warning("t.me post %r dropped: %s: %s", node.attributes.get("data-post"),
                        type(exc).__name__, str(exc)[:200])
            continue
        if item is not None:
            items.append(item)
    before = None
    if more := tree.css_first("a.tme_messages_more[data-before]"):
        value = more.attributes.get("data-before") or ""
        before = (int(value) if _number(value) else None) or None
    elif prev := tree.css_first('link[rel="prev"][href]'):
        if m := re.search(r"[?&]before=([0-9]{1,18})\b", prev.attributes.get("href") or ""):
            before = int(m.group(1))
    info = tree.css_first(".tgme_channel_info")
    title = node_text(tree.css_first(".tgme_channel_info_header_title")
                      or tree.css_first(".tgme_page_title")) or None
    return Page(items=items, before=before, has_channel_info=info is not None, title=title,
                dropped=dropped)


# --- fetching ------------------------------------------------------------------------------------

_next_slot: dict[str, float] = {}


async def _wait_turn(host: str, spacing: float) -> None:
    """Reserve the host's next request slot (single event loop: no lock needed)."""
    if spacing <= 0:
        return
    now = asyncio.get_running_loop().time()
    slot = max(now, _next_slot.get(host, 0.0))
    _next_slot[host] = slot + spacing
    if slot > now:
        await asyncio.sleep(slot - now)


class _Pages:
    """GET pages through the pipeline's shared Fetcher, or a private one when none is lent.

    The Fetcher follows redirects (``.url`` is where we landed), caps time and size, and raises
    ``RateLimited`` (with Retry-After) on 429/503 and other SourceErrors on failures.
    """

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx, self._own = ctx, None

    async def get(self, url: str) -> tuple[str, bytes]:
        await _wait_turn(urlsplit(url).netloc, self.ctx.settings.telegram.web_request_spacing)
        fetcher = self.ctx.fetcher
        if fetcher is None:
            from monitor.sources.http import Fetcher
            fetcher = self._own = self._own or Fetcher(self.ctx.settings.fetch)
        response = await fetcher.fetch(url)
        return str(response.url), response.body

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.aclose()


def _check_preview(page: Page, final_url: str, name: str) -> None:
    if not urlsplit(final_url).path.startswith("/s/"):
        raise PermanentSourceError(f"@{name}: no public preview (t.me/s/{name} redirects to "
                                   f"{final_url}): the channel does not exist or is private")
    if not page.items and not page.has_channel_info:
        if page.title:
            raise PermanentSourceError(f"@{name}: not a public channel with a web preview "
                                       f"(Telegram shows a contact or group page {page.title!r})")
        raise PermanentSourceError(f"@{name}: this channel does not exist (Telegram shows an "
                                   f"empty contact page)")


class TelegramWebSource(Source):
    """A public channel read from ``{telegram.web_base_url}/s/<username>`` (no login)."""

    type = "telegram-web"
    concurrency_class = "telegram-web"
    concurrency = 2  # t.me pages answer slowly and rate-limit a crowd

    @classmethod
    def check_locator(cls, locator: str) -> str:
        ref = parse_channel_ref(locator)
        if not ref.username:
            raise InvalidInput(f"{locator!r}: the web preview needs a public @username; "
                               f"private channels need the 'telegram' source")
        return ref.normalized()

    @classmethod
    def default_name(cls, locator: str) -> str:
        return f"@{parse_channel_ref(locator).username}"

    async def collect(self, source: SourceConfig, ctx: CollectContext) -> AsyncIterator[Batch]:
        name = parse_channel_ref(source.locator).username
        if not name:
            raise PermanentSourceError(f"{source.name}: the web preview needs a @username")
        tg, opts = ctx.settings.telegram, source.options
        cursor = int(source.cursor) if source.cursor else None
        limit = opts.get("backfill_limit", tg.backfill_limit) if cursor is None else None
        days = opts.get("backfill_days", tg.backfill_days) if cursor is None else None
        cutoff = utcnow() - timedelta(days=float(days)) if days is not None else None
        max_pages = int(opts.get("max_pages", DEFAULT_MAX_PAGES))
        base = tg.web_base_url.rstrip("/")
        found: dict[int, Item] = {}
        title = None
        dropped = 0
        pages = _Pages(ctx)

        def wanted() -> list[Item]:
            """What was found within the backfill depth, oldest first: posts past the cursor,
            and those at or below it again (the store compares them: edits, views)."""
            items = [it for _, it in sorted(found.items())]
            if cutoff is not None:
                items = [it for it in items if it.published_at >= cutoff]
            if limit is not None:
                items = items[-int(limit):] if int(limit) else []
            return items

        url = f"{base}/s/{name}"
        try:
            for number in range(max_pages):
                final, body = await pages.get(url)
                page = parse_page(body)
                dropped += page.dropped
                _check_preview(page, final, name)
                title = title or page.title
                low = min(found) if found else None
                older = [it for it in page.items if low is None or int(it.external_id) < low]
                if not older:
                    break  # the page brought nothing older: the channel's start
                found.update((int(it.external_id), it) for it in older)
                low = min(found)
                newer = sum(1 for i in found if cursor is None or i > cursor)
                if (cursor is not None and low <= cursor + 1
                        or limit is not None and newer >= int(limit)
                        or cutoff is not None and min(it.published_at for it in older) < cutoff
                        or page.before is None):
                    break
                url = f"{base}/s/{name}?before={min(page.before, low)}"
            else:
                log.info("%s: stopped paging after %d pages (max_pages)", source.name, max_pages)
        except SourceError:
            if keep := wanted():
                yield Batch(items=keep)  # no cursor: older posts may still be missing
            raise
        finally:
            await pages.aclose()

        items = wanted()
        state = {"username": name, "title": title}
        gone = await _gone(ctx, found, cursor)
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start:start + BATCH_SIZE]
            if ctx.progress:
                ctx.progress(len(chunk))
            top = max(int(chunk[-1].external_id), cursor or 0)
            yield Batch(items=chunk, cursor=str(top), state=state, http_status=200,
                        dropped=dropped if start == 0 else 0, deletions=gone if start == 0 else ())
        if not items:
            top = str(max(found)) if found and cursor is None else None
            yield Batch(cursor=top, state=state, http_status=200, deletions=gone)


async def _gone(ctx: CollectContext, found: dict[int, Item], cursor: int | None
                ) -> tuple[Deletion, ...]:
    """Stored posts inside the id range of the pages read that the pages no longer show."""
    if cursor is None or not found or ctx.recent_posts is None:
        return ()
    low, high = min(found), max(found)
    oldest = min(it.published_at for it in found.values())
    stored = await ctx.recent_posts(oldest - timedelta(minutes=1))
    missing = [ext for ext, _ in stored if ext.isdigit() and low < int(ext) < high
               and int(ext) not in found]
    return (Deletion(tuple(missing), utcnow()),) if missing else ()
