"""RssSource end to end against a real loopback server: conditional GET, body hash, redirects,
errors, charsets, not-a-feed, and a concurrent pass where bad feeds do not hurt good ones."""

from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor
from datetime import timezone

import pytest

from monitor.errors import (InvalidInput, PermanentSourceError, RateLimited, SourceError,
                            SourceGone, TransientSourceError)
from monitor.settings import FetchSettings, Settings
from monitor.sources import source_class
from monitor.sources.base import Batch, CollectContext, SourceConfig
from monitor.sources.http import Fetcher
from monitor.sources.rss import RssSource
from tests.sources.feedserver import (LOOPBACK, FeedServer, Route, conditional, gzip_stream,
                                      redirect)

HANG_GUARD = 30

RSS = """<?xml version="1.0"{decl}?>
<rss version="2.0"><channel><title>{title}</title><link>http://example.com/</link><ttl>30</ttl>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>http://example.com/{n}?utm_source=rss</link>
<guid>urn:x:{n}</guid><pubDate>Sat, 29 Jun 2024 1{h}:07:41 +0300</pubDate>
<description>&lt;p&gt;{text} &amp;amp; more&lt;/p&gt;</description></item>"""


def rss(n: int = 3, title: str = "Лента", text: str = "Текст", decl: str = "") -> str:
    items = "\n".join(ITEM.format(n=i, h=i % 10, title=f"{title} {i}", text=text)
                      for i in range(n))
    return RSS.format(decl=decl, title=title, items=items)


def ctx(**fetch) -> CollectContext:
    base = dict(timeout=2.0, connect_timeout=1.0, max_bytes=1 << 20, max_redirects=3,
                allowed_private_networks=LOOPBACK)
    return CollectContext(settings=Settings(fetch=FetchSettings(**{**base, **fetch})))


def config(url: str, **kw) -> SourceConfig:
    return SourceConfig(id=1, name="t", type="rss", locator=url, **kw)


async def collect(cfg: SourceConfig, context: CollectContext | None = None) -> list[Batch]:
    async with asyncio.timeout(HANG_GUARD):
        return [b async for b in RssSource().collect(cfg, context or ctx())]


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def test_registry_and_locators():
    assert source_class("rss") is RssSource
    assert RssSource.check_locator(" HTTPS://Example.com/feed?utm_medium=x ") == \
        "https://example.com/feed"
    for bad in ("ftp://example.com/feed", "example.com/feed", "", "file:///etc/passwd"):
        with pytest.raises(InvalidInput):
            RssSource.check_locator(bad)
    assert RssSource.default_name("https://www.lenta.ru/rss/news/") == "lenta.ru/rss/news"


async def test_items_are_adapted(server):
    body = rss(3).encode()
    url = server.route("/feed", Route(body=body,
                                      headers={"Content-Type": "application/rss+xml"}))
    [batch] = await collect(config(url))
    assert not batch.not_modified and batch.http_status == 200 and batch.body_hash
    assert batch.min_interval == 30 * 60 and batch.state["key_policy"] == "guid"
    assert [i.external_id for i in batch.items] == ["urn:x:0", "urn:x:1", "urn:x:2"]  # oldest 1st
    item = batch.items[0]
    assert item.url == "http://example.com/0" and item.title == "Лента 0"
    assert item.text == "Текст & more" and item.html == "<p>Текст &amp; more</p>"
    assert item.published_at.tzinfo is timezone.utc and item.published_at.hour == 7
    assert item.published_raw == "Sat, 29 Jun 2024 10:07:41 +0300" and item.date_flag is None
    # the raw payload is the entry's own markup, byte for byte as served
    assert item.raw_format == "feed-entry-xml" and item.raw.startswith(b"<item>") and item.raw.endswith(b"</item>")
    assert item.raw in body and b"urn:x:0" in item.raw and b"urn:x:1" not in item.raw


async def test_conditional_get_with_etag(server):
    body = rss().encode()
    url = server.route("/feed", conditional(body, etag='"abc"'))
    [first] = await collect(config(url))
    assert first.etag == '"abc"' and len(first.items) == 3
    [second] = await collect(config(url, etag=first.etag, body_hash=first.body_hash))
    assert second.not_modified and second.http_status == 304 and second.items == ()
    assert server.hits("/feed")[-1]["if-none-match"] == '"abc"'


async def test_conditional_get_with_last_modified(server):
    lm = "Sat, 29 Jun 2024 12:00:00 GMT"
    url = server.route("/feed", conditional(rss().encode(), last_modified=lm))
    [first] = await collect(config(url))
    assert first.last_modified == lm
    [second] = await collect(config(url, last_modified=lm))
    assert second.not_modified and second.last_modified == lm
    assert server.hits("/feed")[-1]["if-modified-since"] == lm


async def test_same_body_without_validators_is_not_parsed_twice(server):
    url = server.route("/feed", Route(body=rss().encode()))
    [first] = await collect(config(url))
    [second] = await collect(config(url, body_hash=first.body_hash))
    assert second.not_modified and second.http_status == 200 and second.items == ()
    assert second.body_hash == first.body_hash
    server.routes["/feed"] = Route(body=rss(4).encode())
    [third] = await collect(config(url, body_hash=first.body_hash))
    assert not third.not_modified and len(third.items) == 4


@pytest.mark.parametrize("status,moves", [(301, True), (308, True), (302, False), (307, False)])
async def test_redirects_and_new_locator(server, status, moves):
    new = server.route("/new", Route(body=rss().encode()))
    old = server.route("/old", redirect(status, "/new"))
    [batch] = await collect(config(old))
    assert len(batch.items) == 3
    assert batch.new_locator == (new if moves else None)


@pytest.mark.parametrize("route,error,status", [
    (Route(status=410), SourceGone, 410),
    (Route(status=404), PermanentSourceError, 404),
    (Route(status=500), TransientSourceError, 500),
    (Route(status=429, headers={"Retry-After": "90"}), RateLimited, 429),
    (Route(status=503, headers={"Retry-After": "5"}), RateLimited, 503),
])
async def test_http_errors_surface_as_source_errors(server, route, error, status):
    url = server.route("/e", route)
    with pytest.raises(error) as caught:
        await collect(config(url))
    assert caught.value.status == status
    if error is RateLimited:
        assert caught.value.retry_after == float(route.headers["Retry-After"])


@pytest.mark.parametrize("body,ctype", [
    (b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
     "text/html; charset=utf-8"),
    (b"", "application/rss+xml"),
    (b"   \n", "application/rss+xml"),
    (b'{"hello": "world"}', "application/json"),
])
async def test_not_a_feed(server, body, ctype):
    url = server.route("/nf", Route(body=body, headers={"Content-Type": ctype}))
    with pytest.raises(PermanentSourceError, match="not a feed"):
        await collect(config(url))


@pytest.mark.parametrize("charset", ["windows-1251", "koi8-r"])
async def test_charset_declared_only_in_http(server, charset):
    text = "Съешь же ещё этих мягких французских булок"
    body = rss(2, title="Новости", text=text).encode(charset)
    ctype = f"application/xml; charset={charset}"
    url = server.route("/cs", Route(body=body, headers={"Content-Type": ctype}))
    [batch] = await collect(config(url))
    assert batch.items[0].title == "Новости 0"
    assert batch.items[0].text.startswith("Съешь же ещё этих мягких французских булок")


async def test_http_charset_beats_wrong_xml_declaration(server):
    body = rss(1, title="Известия", decl=' encoding="utf-8"').encode("windows-1251")
    url = server.route("/mis", Route(body=body,
                                     headers={"Content-Type": "text/xml; charset=windows-1251"}))
    [batch] = await collect(config(url))
    assert batch.items[0].title == "Известия 0"


async def test_xml_declaration_used_when_http_is_silent(server):
    body = rss(1, title="Ведомости", decl=' encoding="koi8-r"').encode("koi8-r")
    url = server.route("/decl", Route(body=body, headers={"Content-Type": "application/rss+xml"}))
    [batch] = await collect(config(url))
    assert batch.items[0].title == "Ведомости 0"


@pytest.mark.parametrize("charset", ["windows-1251", "koi8-r"])
@pytest.mark.parametrize("ctype", ["text/xml", "application/rss+xml", None])
async def test_undeclared_cyrillic_is_guessed(server, charset, ctype):
    # No charset anywhere and bytes that are not UTF-8: feedparser alone reads windows-1252 and
    # returns mojibake; the collector recognises Cyrillic code pages first.
    body = rss(3, title="Коммерсант", text="Правительство заявило сегодня о новых мерах")
    headers = {"Content-Type": ctype} if ctype else {}
    url = server.route("/nodecl", Route(body=body.encode(charset), headers=headers))
    [batch] = await collect(config(url))
    assert len(batch.items) == 3 and len({i.external_id for i in batch.items}) == 3
    assert batch.items[0].title == "Коммерсант 0"
    assert batch.items[0].text.startswith("Правительство заявило сегодня")


async def test_undeclared_western_text_is_left_to_feedparser(server):
    body = rss(2, title="Café", text="Les négociations reprendront à Genève la semaine prochaine")
    url = server.route("/latin", Route(body=body.encode("cp1252"),
                                       headers={"Content-Type": "text/xml"}))
    [batch] = await collect(config(url))
    assert batch.items[0].title == "Café 0" and "à Genève" in batch.items[0].text


async def test_parsing_in_a_process_pool(server):
    url = server.route("/feed", Route(body=rss(5).encode()))
    context = ctx()
    with ProcessPoolExecutor(max_workers=1) as pool:
        context.executor = pool
        [batch] = await collect(config(url), context)
    assert [i.title for i in batch.items] == [f"Лента {i}" for i in range(5)]


async def test_concurrent_pass_bad_feeds_do_not_hurt_good_ones(server):
    good = [server.route(f"/good{i}", Route(body=rss(2 + i).encode())) for i in range(3)]
    bad = {
        "stall": server.route("/stall", Route(body=rss().encode(), drip=0.5)),
        "bomb": server.route("/bomb", Route(chunks=gzip_stream(32 << 20),
                                            headers={"Content-Encoding": "gzip"})),
        "gone": server.route("/gone", Route(status=410)),
        "err": server.route("/err", Route(status=500)),
        "html": server.route("/html", Route(body=b"<html><body>no</body></html>",
                                            headers={"Content-Type": "text/html"})),
        "loop": server.route("/loop", redirect(301, "/loop")),
        "empty": server.route("/empty", Route(body=b"")),
    }
    context = ctx(timeout=1.5, concurrency=4)
    urls = good + list(bad.values())
    async with asyncio.timeout(HANG_GUARD):
        async with Fetcher(context.settings.fetch, trust_env=False) as fetcher:
            context.fetcher = fetcher
            results = await asyncio.gather(*(collect(config(u), context) for u in urls),
                                           return_exceptions=True)
    for i, result in enumerate(results[:3]):
        assert isinstance(result, list) and len(result[0].items) == 2 + i
    errors = dict(zip(bad, results[3:]))
    assert all(isinstance(e, SourceError) for e in errors.values()), errors
    assert isinstance(errors["stall"], TransientSourceError)
    assert isinstance(errors["gone"], SourceGone)
    assert not errors["bomb"].transient and not errors["loop"].transient


async def test_full_text_replaces_summary_once(server):
    article = ("<html><head><title>A</title></head><body><nav>Menu Home About</nav><article>"
               "<h1>Заголовок</h1>" + "".join(
                   f"<p>Абзац номер {i}: длинный текст статьи о событиях, достаточно длинный, "
                   f"чтобы экстрактор счёл его основным содержимым страницы.</p>"
                   for i in range(8)) + "</article><footer>© 2024</footer></body></html>")
    server.route("/article", Route(body=article.encode(),
                                   headers={"Content-Type": "text/html; charset=utf-8"}))
    body = RSS.format(decl="", title="t", items=(
        f"<item><title>A</title><link>{server.url('/article')}</link><guid>g1</guid>"
        "<description>short summary</description></item>"))
    url = server.route("/feed", Route(body=body.encode()))
    [batch] = await collect(config(url, options={"full_text": True}))
    [item] = batch.items
    assert "Абзац номер 7" in item.text and "Menu" not in item.text
    done = batch.state["full_text_done"]
    assert list(done) == [item.external_id]
    # Unchanged entry, already extracted: left out rather than re-sent with the summary.
    [again] = await collect(config(url, options={"full_text": True}, state=batch.state))
    assert again.items == [] and len(server.hits("/article")) == 1


async def test_full_text_failure_keeps_summary(server):
    body = RSS.format(decl="", title="t", items=(
        f"<item><title>A</title><link>{server.url('/missing')}</link><guid>g1</guid>"
        "<description>short summary</description></item>"))
    url = server.route("/feed", Route(body=body.encode()))
    [batch] = await collect(config(url, options={"full_text": True}))
    assert batch.items[0].text == "short summary"
    assert batch.state["full_text_done"] == {}
