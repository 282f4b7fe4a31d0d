"""Rendering: layout, highlighting, time zones, digests, and hostile input made inert per format."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest

from monitor.alerts.render import (
    DEFAULT_LIMITS,
    FORMATS,
    AlertContent,
    defang,
    render,
    safe_url,
)
from monitor.types import Span

POSTED = datetime(2024, 10, 12, 9, 5, tzinfo=timezone.utc)
FIRST = datetime(2024, 10, 12, 8, 58, tzinfo=timezone.utc)

STORY = AlertContent(
    alert_id=123, kind="story", desk="Ночная смена", watchlist="Белгород", term="беспилотник*",
    title="Атака беспилотников на Белгород",
    snippet="В Белгороде после атаки «беспилотников» повреждены две многоэтажки",
    source="Белгород №1", permalink="https://t.me/belgorod01/4521", posted_at=POSTED,
    first_source="РИА Новости", first_seen_at=FIRST, source_count=3)

HOSTILE_TEXT = (
    "<b>беспилотник</b> <script>alert(1)</script> **жирный** __курсив__ ||спойлер|| ~~x~~ `code` @everyone @here "
    "<!channel> <@U123> [нажми](javascript:alert(1)) <a href=\"javascript:alert(2)\">ссылка</a> "
    "<img src=x onerror=alert(3)> <svg onload=alert(4)> &lt;script&gt; &amp; # Заголовок\n"
    "- пункт\n1. номер\n=== \u202eevil\u202c \x00\x07 " + "длинный текст " * 600
)
HOSTILE = AlertContent(
    alert_id=666, kind="story", desk="<b>desk</b>", watchlist="<i>wl</i>", term="[t](javascript:x)",
    title="<script>alert('t')</script> **title** [x](javascript:alert(1)) @everyone",
    text=HOSTILE_TEXT, spans=(Span(HOSTILE_TEXT.index("беспилотник"),
                                   HOSTILE_TEXT.index("беспилотник") + 11),),
    source="<img src=x onerror=alert(5)>Канал", permalink="javascript:alert(6)", posted_at=POSTED,
    first_source="[evil](javascript:alert(7))", first_seen_at=FIRST, source_count=2)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> _Tags:
    p = _Tags()
    p.feed(markup)
    p.close()
    return p


# --- layout ------------------------------------------------------------------------------------

def test_story_text() -> None:
    r = render(STORY, "text", tz="Europe/Moscow")
    assert r.title == "Атака беспилотников на Белгород"
    assert r.format == "text"
    lines = r.body.splitlines()
    assert lines[0] == "Атака беспилотников на Белгород"
    assert "Белгород › беспилотник*" in lines
    assert "В Белгороде после атаки «беспилотников» повреждены две многоэтажки" in lines
    assert "Белгород №1 · 2024-10-12 12:05 MSK" in lines  # desk time zone, not UTC
    assert "first: РИА Новости · 2024-10-12 11:58 MSK · 3 sources" in lines
    assert "Open post: https://t.me/belgorod01/4521" in lines
    assert lines[-1] == "alert #123 · desk Ночная смена"


@pytest.mark.parametrize(("fmt", "mark"), [("html", "<mark>беспилотников</mark>"),
                                           ("telegram", "<b>беспилотников</b>"),
                                           ("markdown", "**беспилотников**"),
                                           ("text", "«беспилотников»")])
def test_matched_words_highlighted(fmt: str, mark: str) -> None:
    body = render(STORY, fmt).body
    assert mark in body
    assert "alert #123" in body


def test_time_zone_is_the_desks() -> None:
    assert "2024-10-12 09:05 UTC" in render(STORY, "text").body
    assert "2024-10-12 18:05 JST" in render(STORY, "text", tz="Asia/Tokyo").body
    naive = AlertContent(alert_id=1, title="x", posted_at=datetime(2024, 1, 1, 12, 0), source="s")
    assert "2024-01-01 12:00 UTC" in render(naive, "text").body  # naive taken as UTC
    with pytest.raises(ValueError, match="time zone"):
        render(STORY, "text", tz="Mars/Olympus")
    with pytest.raises(ValueError, match="format"):
        render(STORY, "pdf")


def test_snippet_from_spans() -> None:
    text = "Начало. " + "слово " * 100 + "Взрыв в Белгороде, повреждён дом. " + "хвост " * 100
    start = text.index("Белгороде")
    c = AlertContent(alert_id=2, text=text, spans=(Span(start, start + 9), Span(start, start + 4),
                                                      Span(10**6, 10**6 + 5)))
    body = render(c, "text").body
    assert "«Белгороде»" in body
    assert "…" in body  # the window starts and ends inside the text
    assert len(body) < 1000
    assert render(c, "html").body.count("<mark>") == 1


def test_headline_without_title_uses_first_line() -> None:
    c = AlertContent(alert_id=3, snippet="Срочно: «взрыв» в центре\nподробности", kind="spike")
    assert render(c, "text").title == "Spike: Срочно: взрыв в центре"


def test_digest_lists_entries_and_counts_the_rest() -> None:
    entries = tuple(AlertContent(alert_id=0, title=f"Новость {i}", snippet=f"текст «{i}»",
                                 source=f"Источник {i}", permalink=f"https://ex.ru/{i}")
                    for i in range(3))
    digest = AlertContent(alert_id=77, kind="digest", desk="d", watchlist="Белгород",
                          item_count=5, entries=entries)
    r = render(digest, "text")
    assert r.title == "Digest: 5 new items for Белгород"
    for i in range(3):
        assert f"{i + 1}. Новость {i}" in r.body
        assert f"https://ex.ru/{i}" in r.body
    assert "… and 2 more" in r.body
    assert r.body.count("alert #77") == 1
    html_body = render(digest, "html").body
    assert [t for t, _ in parse(html_body).tags].count("a") == 3


def test_long_digest_drops_entries_to_fit() -> None:
    entries = tuple(AlertContent(alert_id=0, title=f"Новость {i}", text="слово " * 300)
                    for i in range(40))
    digest = AlertContent(alert_id=9, kind="digest", entries=entries, item_count=40)
    # snippets shrink first (to ~80 characters), then whole entries go
    assert "40. Новость 39" in render(digest, "text").body
    assert len(render(digest, "text").body) <= DEFAULT_LIMITS["text"]
    for fmt in FORMATS:
        r = render(digest, fmt, max_length=2000)
        assert len(r.body) <= 2000
        assert "alert #9" in r.body
        assert "1\\. Новость 0" in r.body if fmt == "markdown" else "1. Новость 0" in r.body
        assert re.search(r"and \d+ more", r.body)


# --- hostile input -----------------------------------------------------------------------------

def _visible_text(fmt: str, body: str) -> str:
    return "".join(parse(body).text) if fmt in ("html", "telegram") else body


@pytest.mark.parametrize("fmt", ["html", "telegram"])
def test_html_formats_are_inert(fmt: str) -> None:
    body = render(HOSTILE, fmt).body
    parsed = parse(body)
    allowed = {"html": {"div", "p", "br", "b", "mark", "a"}, "telegram": {"b", "i", "a", "code", "pre"}}
    for tag, attrs in parsed.tags:
        assert tag in allowed[fmt], tag
        for name, value in attrs.items():
            assert not name.startswith("on"), name
            assert name == "href" and value and value.startswith(("http://", "https://")), (name, value)
    assert not any(tag in ("script", "img", "svg") for tag, _ in parsed.tags)
    assert "javascript:" not in " ".join(str(a) for _, a in parsed.tags)
    # the hostile text is still there, as text: an editor sees what the post said
    visible = "".join(parsed.text)
    assert "<script>alert(1)</script>" in visible
    assert "onerror=alert(3)" in visible


def test_telegram_flavour_uses_only_telegram_tags_and_entities() -> None:
    body = render(HOSTILE, "telegram").body
    assert not re.search(r"<(?!/?(?:b|i|a|code|pre)\b)", body)
    # Telegram knows only &lt; &gt; &amp; &quot; and numeric entities
    assert set(re.findall(r"&([a-z]+);", body)) <= {"lt", "gt", "amp", "quot"}
    assert len(body) <= 4096


def test_markdown_is_inert() -> None:
    body = render(HOSTILE, "markdown").body
    # no live link, image, autolink, raw HTML tag or emphasis coming from the content
    assert not re.search(r"(?<!\\)\]\((?!https?://)", body)
    assert not re.search(r"(?<!\\)<(?:script|img|svg|a)\b", body)
    assert "\\*\\*жирный\\*\\*" in body
    assert "\\|\\|спойлер\\|\\|" in body
    assert "\\[нажми\\]\\(javascript:alert\\(1\\)\\)" in body
    assert "\n\\- пункт" in body and "\n1\\. номер" in body and "\n\\===" in body
    assert "\\# Заголовок" in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_defuses_mentions_controls_and_bad_links(fmt: str) -> None:
    r = render(HOSTILE, fmt)
    visible = _visible_text(fmt, r.body)
    for mention in ("@everyone", "@here", "<!channel>", "<@U123>"):
        assert mention not in visible
        assert mention not in r.title
    assert "@\u200beveryone" in visible.replace("\\@", "@")
    assert "\u202e" not in r.body and "\x00" not in r.body and "\x07" not in r.body
    assert "javascript:alert(6)" not in r.body  # the permalink was dropped, not escaped
    assert "Open post" not in r.body
    assert len(r.body) <= DEFAULT_LIMITS[fmt]
    assert "alert #666" in visible.replace("\\#", "#")
    assert "\n" not in r.title and len(r.title) <= 200


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("limit", [300, 700, 1500])
def test_truncation_never_cuts_an_escape(fmt: str, limit: int) -> None:
    c = AlertContent(alert_id=1, title="t", text="<&>\"' " * 2000)
    body = render(c, fmt, max_length=limit).body
    assert len(body) <= limit
    assert "alert #1" in body
    if fmt in ("html", "telegram"):
        # every & starts a whole entity, every tag is whole
        assert not re.search(r"&(?!(?:lt|gt|amp|quot|#x27);)", body)
        parse(body)
    if fmt == "markdown":
        assert not re.search(r"(?<!\\)(?:\\\\)*\\$", body.split("\n")[0])


def test_defang_and_safe_url() -> None:
    assert defang("hi @everyone and @Here, mail@everyone.org") == (
        "hi @\u200beveryone and @\u200bHere, mail@\u200beveryone.org")
    assert defang("a\r\nb\x00c\u202ed") == "a\nbcd"
    assert safe_url("https://t.me/x/1") == "https://t.me/x/1"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.com/x",
                "https://ex.com/a b", "https://ex.com/\"onmouseover=x", "ftp://ex.com/x",
                "https:///nohost", " \njavascript:x", "https://ex.com/\x00", None, ""):
        assert safe_url(bad) is None, bad
