"""TelegramWebSource (t.me/s) against a real HTTP server on loopback: real page fragments from
the shared corpus, statosphere's "no such channel" pages, and our own linked Russian pages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from monitor.errors import InvalidInput, PermanentSourceError, RateLimited
from monitor.settings import Settings, TelegramSettings
from monitor.sources.base import CollectContext, SourceConfig
from monitor.sources.http import Fetcher
from monitor.sources.telegram_web import TelegramWebSource, parse_count, parse_page
from tests.sources.tgserver import CORPUS, FIXTURES, TgServer, channel_page

PREVIEW = CORPUS / "rust-any2feed" / "test_utils" / "src" / "fixtures" / "telegram_preview"
INFO = CORPUS / "statosphere-parser" / "data" / "pages" / "info"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not at {CORPUS}")
WEB = FIXTURES / "web"


@pytest.fixture
def server():
    s = TgServer().start()
    yield s
    s.stop()


def ctx_for(server: TgServer, fetcher=None, **tg) -> CollectContext:
    settings = Settings(telegram=TelegramSettings(web_base_url=server.base_url,
                                                  web_request_spacing=0, **tg))
    return CollectContext(settings, fetcher=fetcher)


def source(name="vesti_test", cursor=None, **options) -> SourceConfig:
    return SourceConfig(id=3, name=f"@{name}", type="telegram-web", locator=name, cursor=cursor,
                        options=options)


async def collect(config: SourceConfig, ctx: CollectContext):
    return [b async for b in TelegramWebSource().collect(config, ctx)]


def ids(batches) -> list[int]:
    return [int(i.external_id) for b in batches for i in b.items]


def serve_vesti(server: TgServer) -> None:
    server.page("/s/vesti_test", (WEB / "vesti_page3.html").read_bytes())
    server.page("/s/vesti_test?before=120", (WEB / "vesti_page2.html").read_bytes())
    server.page("/s/vesti_test?before=110", (WEB / "vesti_page1.html").read_bytes())


def test_locators_and_counts():
    assert TelegramWebSource.check_locator("https://t.me/s/Vesti_Test") == "vesti_test"
    assert TelegramWebSource.check_locator("@vesti_test") == "vesti_test"
    with pytest.raises(InvalidInput, match="username"):
        TelegramWebSource.check_locator("t.me/c/123/4")
    assert [parse_count(v) for v in ("214.4K", "1.2M", "746", "1,234", "", "x")] == \
        [214400, 1200000, 746, 1234, None, None]


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("name, expect", [
    ("message_text.html", dict(external_id="70991", views=33400, media_type=None,
                               url="https://t.me/topwar_official/70991",
                               published_at=datetime(2023, 2, 28, 8, 48, 1, tzinfo=timezone.utc),
                               starts="Неопознанный летающий объект замечен в 160 – 200 км "
                                      "от Петербурга\n\nПо данным «Фонтанки»")),
    ("message_media_forwarded_from.html", dict(views=214400, media_type="photo",
                                               origin=("https://t.me/dimsmirnov175/44604", 44604),
                                               starts="Британская разведка выяснила")),
    ("message_voice.html", dict(media_type="voice", from_name="Спортивный Екб",
                                starts="Обсудили:\n\n- Сталина не забыть\n- Плохие фильмы")),
    ("message_poll.html", dict(media_type="poll", views=1100,
                               starts="Как лучше?\n\nНесколько постов в день")),
    ("message_sticker.html", dict(media_type="sticker", author="🅰️User", starts="")),
    ("message_with_from_author.html", dict(author="🅰️rkadiy Ivanov", views=1, starts="test")),
    ("message_media_file.html", dict(media_type="document",
                                     origin=("https://t.me/kremlinprachka/20294", 20294),
                                     starts="Центр изучения новых коммуникаций")),
    ("message_link_preview.html", dict(media_type="webpage",
                                       contains="ОККУПАЦИЯ ВОЛОСАТЫМ КРАБОМ")),
    ("message_link_preview_video.html", dict(edited=True, contains="Жениться вам, барин, пора!")),
    ("message_media_photo_and_video.html", dict(
        media_type="album", album=[46908, 46909, 46910],
        starts="Ночью над Белгородом сбили 3 беспилотника")),
    ("message_media_round_video.html", dict(media_type="video_note", starts="")),
])
def test_corpus_fragments(name, expect):
    (item,) = parse_page((PREVIEW / name).read_bytes()).items
    for key in ("external_id", "views", "media_type", "url", "published_at", "author"):
        if key in expect:
            assert getattr(item, key) == expect[key], key
    if "starts" in expect:
        assert item.text.startswith(expect["starts"]) and (item.text or not expect["starts"])
    if "contains" in expect:
        assert expect["contains"] in item.text
    if "origin" in expect:
        assert (item.forward.origin_url, item.forward.origin_post_id) == expect["origin"]
        assert item.forward.from_name is None
    if "from_name" in expect:
        assert item.forward.from_name == expect["from_name"] and item.forward.origin_url is None
    if "edited" in expect:
        assert item.extra["edited"] is True
    if "album" in expect:
        assert item.extra["album_ids"] == expect["album"]
    assert item.raw_format == "html" and b"data-post" in item.raw


@needs_corpus
@pytest.mark.corpus
async def test_corpus_posts_served_as_a_channel_page(server):
    names = ["message_voice.html", "message_media_file.html", "message_media_forwarded_from.html",
             "message_link_preview.html", "message_link_preview_text_only.html"]
    server.page("/s/oper_goblin", channel_page(
        "oper_goblin", [(PREVIEW / n).read_text("utf-8") for n in names], title="Tynu40k Goblina"))
    batches = await collect(source("oper_goblin"), ctx_for(server))
    assert ids(batches) == [939, 16936, 22358, 22360, 22368]
    assert batches[-1].cursor == "22368"
    assert batches[-1].state == {"username": "oper_goblin", "title": "Tynu40k Goblina"}
    assert server.requests == ["/s/oper_goblin"]  # no "more" link: one page is the whole channel


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("page, message", [
    ("not_existed_channel", "does not exist"),
    ("not_valid_channel", "not a public channel"),
    ("ru_python", "not a public channel"),
    ("OGsucQ4Njk6", "does not exist"),
])
async def test_channel_without_preview_is_permanent(server, page, message):
    server.page(f"/s/{page.lower()}", (INFO / page).read_bytes())
    with pytest.raises(PermanentSourceError, match=message):
        await collect(source(page.lower()), ctx_for(server))


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("shared_fetcher", [False, True])
async def test_redirect_away_from_preview_is_permanent(server, shared_fetcher):
    server.redirect("/s/ghost_channel", "/ghost_channel")
    server.page("/ghost_channel", (INFO / "not_existed_channel").read_bytes())
    fetcher = Fetcher(Settings().fetch) if shared_fetcher else None
    try:
        with pytest.raises(PermanentSourceError, match="no public preview"):
            await collect(source("ghost_channel"), ctx_for(server, fetcher))
    finally:
        if fetcher:
            await fetcher.aclose()
    assert server.requests == ["/s/ghost_channel", "/ghost_channel"]


@pytest.mark.parametrize("shared_fetcher", [False, True])
async def test_full_backfill_walks_linked_pages(server, shared_fetcher):
    serve_vesti(server)
    fetcher = Fetcher(Settings().fetch) if shared_fetcher else None
    progress = []
    ctx = ctx_for(server, fetcher)
    ctx.progress = progress.append
    try:
        batches = await collect(source(), ctx)
    finally:
        if fetcher:
            await fetcher.aclose()
    assert server.requests == ["/s/vesti_test", "/s/vesti_test?before=120",
                               "/s/vesti_test?before=110"]
    assert ids(batches) == [101, 103, 105, 107, 108, 112, 115, 117, 119, 120, 121, 123, 124, 125]
    assert batches[-1].cursor == "125" and sum(progress) == 14
    items = {int(i.external_id): i for b in batches for i in b.items}
    assert items[101].published_at == datetime(2024, 3, 1, 7, 0, tzinfo=timezone.utc)
    assert items[103].text == "Ким Чен Ын посетил завод.\n\nПодробности позже."
    assert items[105].media_type == "photo" and items[105].text == "Мирный атом"
    assert items[107].text == "Опрос недели\n\nВерите ли вы прогнозам?\n\nДа\n\nНет"
    assert items[108].author == "Мария Иванова"
    assert items[112].reply_to_id == 103 and "Цитата" not in items[112].text
    assert items[115].forward.from_name == "Скрытый источник"
    assert items[117].forward.origin_post_id == 5531
    assert items[117].forward.origin_url == "https://t.me/drugoy_kanal/5531"
    assert items[119].extra == {"edited": True} and items[119].views == 987
    assert "Переговоры в Пхеньяне\n\nСтороны обсудили поставки." in items[120].text
    assert items[120].views == 2500000 and items[120].media_type == "webpage"
    assert (items[123].media_type, items[124].media_type) == ("voice", "document")
    assert items[125].views == 214400 and items[125].url == "https://t.me/vesti_test/125"
    assert items[125].channel_username == "vesti_test"


async def test_backfill_depth_by_count(server):
    serve_vesti(server)
    batches = await collect(source(backfill_limit=7), ctx_for(server))
    assert ids(batches) == [117, 119, 120, 121, 123, 124, 125]
    assert server.requests == ["/s/vesti_test", "/s/vesti_test?before=120"]
    server.requests.clear()
    batches = await collect(source(backfill_limit=20), ctx_for(server))  # deeper than the channel
    assert len(ids(batches)) == 14 and len(server.requests) == 3


async def test_backfill_depth_by_days_older_than_every_post(server):
    serve_vesti(server)
    batches = await collect(source(), ctx_for(server, backfill_days=1))
    assert ids(batches) == [] and batches[-1].cursor == "125"  # later runs start from here
    assert server.requests == ["/s/vesti_test"]


@pytest.mark.parametrize("cursor, pages, expected", [
    ("119", 1, [120, 121, 123, 124, 125]),
    # posts at or below the cursor on the pages read are handed over again: the store compares
    # them with what it holds (edits, views) instead of their being thrown away
    ("112", 2, [112, 115, 117, 119, 120, 121, 123, 124, 125]),
    ("125", 1, [120, 121, 123, 124, 125]),
])
async def test_update_stops_at_the_cursor(server, cursor, pages, expected):
    serve_vesti(server)
    batches = await collect(source(cursor=cursor), ctx_for(server))
    assert ids(batches) == expected
    assert len(server.requests) == pages
    assert all(int(b.cursor) >= int(cursor) for b in batches if b.cursor)  # never backwards
    assert batches[-1].cursor == "125"


async def test_stops_when_a_page_brings_nothing_older(server):
    page = (WEB / "vesti_page3.html").read_bytes()
    server.page("/s/vesti_test", page)
    server.page("/s/vesti_test?before=120", page)  # a server that ignores ?before
    batches = await collect(source(), ctx_for(server))
    assert ids(batches) == [120, 121, 123, 124, 125]
    assert len(server.requests) == 2


async def test_rate_limit_keeps_what_was_read_without_moving_the_cursor(server):
    serve_vesti(server)
    server.page("/s/vesti_test?before=120", b"slow down", status=429, Retry_After="120")
    got = []
    with pytest.raises(RateLimited) as info:
        async for batch in TelegramWebSource().collect(source(cursor="101"), ctx_for(server)):
            got.append(batch)
    assert info.value.retry_after == 120
    assert ids(got) == [120, 121, 123, 124, 125] and got[0].cursor is None


async def test_unknown_page_is_permanent(server):
    with pytest.raises(PermanentSourceError, match="404"):
        await collect(source("nobody_here"), ctx_for(server))


async def test_requests_to_a_host_are_spaced(monkeypatch):
    from monitor.sources import telegram_web

    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr(telegram_web.asyncio, "sleep", sleep)
    for _ in range(3):
        await telegram_web._wait_turn("spaced.example", 5.0)
    await telegram_web._wait_turn("other.example", 5.0)
    # The first request goes at once; each next one waits for its slot, another host does not.
    assert len(waits) == 2 and 4 < waits[0] <= 5 and 9 < waits[1] <= 10
