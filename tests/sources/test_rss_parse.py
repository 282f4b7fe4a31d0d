"""parse_feed details: JSON Feed, languages, the feed's own polling hints, links, markup, and
bodies that must never be mistaken for something else."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import pytest

from monitor.sources.rss import feed_min_interval, normalize_language, parse_feed

FETCHED = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)
URL = "https://news.example/rss/feed.xml"


def parse(body: bytes | str, headers=None, **kw):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return parse_feed(body, headers or {}, URL, fetched_at=FETCHED, **kw)


def test_json_feed_items_are_adapted_and_sanitized():
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "language": "ru-RU",
           "items": [
               {"id": 2, "url": "https://news.example/2?utm_campaign=x", "title": "Два",
                "content_html": "<p>Привет <script>alert(1)</script><b>мир</b></p>",
                "date_published": "2024-06-29T15:07:41+03:00",
                "authors": [{"name": "Редакция"}]},
               {"id": "1", "content_text": "plain  text\n\nsecond", "date_modified": "2024-06-28"},
               "junk",
           ]}
    parsed = parse(json.dumps(doc, ensure_ascii=False), {"content-type": "application/feed+json"})
    assert parsed.version == "json11" and parsed.is_feed
    first, second = parsed.items  # oldest first
    assert (first.external_id, first.text, first.html) == ("1", "plain text\nsecond", None)
    assert second.external_id == "2" and second.url == "https://news.example/2"
    assert second.text == "Привет мир" and "script" not in second.html
    assert second.author == "Редакция" and second.language == "ru"
    assert second.published_at == datetime(2024, 6, 29, 12, 7, 41, tzinfo=timezone.utc)


@pytest.mark.parametrize("value,expected", [
    ("en-us", "en"), ("ru_RU", "ru"), ("RU", "ru"), ("rus", "ru"), ("Russian", "ru"),
    ("uk-UA", "uk"), ("en, ru", "en"), ("klingon", None), ("", None), (None, None), ("x1", None),
])
def test_normalize_language(value, expected):
    assert normalize_language(value) == expected


def test_entry_language_beats_feed_language_and_source_language_is_the_fallback():
    atom = """<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>t</title>
      <entry xml:lang="uk"><id>a</id><title>a</title><summary>Привіт</summary></entry>
      <entry><id>b</id><title>b</title><summary>Hello</summary></entry></feed>"""
    langs = {i.external_id: i.language for i in parse(atom).items}
    assert langs == {"a": "uk", "b": "en"}
    bare = "<rss version='2.0'><channel><item><guid>x</guid><title>t</title></item></channel></rss>"
    assert parse(bare, language="ru").items[0].language == "ru"
    assert parse(bare).items[0].language is None


def test_polling_hints():
    sy = """<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
      <title>t</title><sy:updatePeriod>daily</sy:updatePeriod>
      <sy:updateFrequency>4</sy:updateFrequency><item><guid>x</guid></item></channel></rss>"""
    assert parse(sy).min_interval == 6 * 3600
    ttl = "<rss version='2.0'><channel><ttl>90</ttl><item><guid>x</guid></item></channel></rss>"
    assert parse(ttl, {"cache-control": "public, max-age=600"}).min_interval == 90 * 60
    assert feed_min_interval({}, {"cache-control": "max-age=7200"}) == 7200
    assert feed_min_interval({}, {"cache-control": "no-cache, max-age=7200"}) is None
    assert feed_min_interval({"ttl": "soon"}, {}) is None


def test_relative_links_resolve_against_xml_base_and_feed_url():
    atom = """<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://other.example/blog/">
      <title>t</title>
      <entry><id>1</id><title>a</title><link href="posts/1#c"/></entry></feed>"""
    assert parse(atom).items[0].url == "https://other.example/blog/posts/1"
    rss = "<rss version='2.0'><channel><item><link>/a/1?fbclid=z</link></item></channel></rss>"
    assert parse(rss).items[0].url == "https://news.example/a/1"


def test_markup_in_titles_and_plain_text_content():
    atom = """<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>1</id><title type="html">&lt;b&gt;Bold&lt;/b&gt; &amp;amp; co</title>
      <content type="text">a &lt;tag&gt; stays   text</content></entry></feed>"""
    item = parse(atom).items[0]
    assert item.title == "Bold & co"
    assert item.text == "a <tag> stays text" and item.html is None


def test_gzip_file_without_content_encoding():
    body = gzip.compress(b"<rss version='2.0'><channel><item><guid>g</guid></item></channel></rss>")
    assert [i.external_id for i in parse(body).items] == ["g"]


@pytest.mark.parametrize("body", [b"/etc/passwd", b"/etc/hostname", b"pyproject.toml"])
def test_a_body_that_looks_like_a_file_name_is_not_opened(body):
    # feedparser.parse(bytes) tries open(bytes) first: a hostile server could make it read a file.
    parsed = parse(body)
    assert not parsed.is_feed and parsed.items == ()


def test_missing_dates_fall_back_to_fetch_time_with_a_flag():
    rss = """<rss version='2.0'><channel>
      <item><guid>a</guid><pubDate>не дата</pubDate></item>
      <item><guid>b</guid></item></channel></rss>"""
    flags = {i.external_id: (i.published_at, i.date_flag) for i in parse(rss).items}
    assert flags == {"a": (FETCHED, "unparseable"), "b": (FETCHED, "missing")}


def test_raw_is_the_entry_markup_as_served_else_the_parsed_entry():
    rss = ("<?xml version='1.0' encoding='windows-1251'?><rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
           "<channel><title>x</title><item><guid>a</guid><title>Т</title><dc:creator>Я</dc:creator></item>"
           "<item><guid>b</guid><description><![CDATA[<item>не элемент</item>]]></description></item>"
           "</channel></rss>").encode("cp1251")
    items = {i.external_id: i for i in parse(rss).items}
    assert items["a"].raw_format == items["b"].raw_format == "feed-entry-xml"
    assert items["a"].raw == "<item><guid>a</guid><title>Т</title><dc:creator>Я</dc:creator></item>".encode("cp1251")
    assert items["b"].raw.endswith("]]></description></item>".encode("cp1251"))
    atom = ("\ufeff<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>t</title>"
            "<entry><id>urn:1</id><title>E</title></entry></feed>").encode("utf-8")
    assert parse(atom).items[0].raw == b"<entry><id>urn:1</id><title>E</title></entry>"
    # markup expat will not read (feedparser recovers): feedparser's view of the entry, as JSON
    broken = "<rss version='2.0'><channel><item><guid>a</guid><title>Т &nbsp;</title></item></channel></rss>"
    item = parse(broken).items[0]
    raw = json.loads(item.raw)
    assert item.raw_format == "feed-entry" and raw["id"] == "a"
    assert not any(key.endswith("_parsed") for key in raw)
    feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "j",
                       "items": [{"id": "1", "content_text": "привет", "_ext": {"x": 1}}]}, ensure_ascii=False)
    item = parse(feed).items[0]
    assert item.raw_format == "json" and json.loads(item.raw) == {"id": "1", "content_text": "привет",
                                                                 "_ext": {"x": 1}}
