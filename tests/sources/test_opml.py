"""OPML: nested categories, junk, hostile XML, and a lossless round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from monitor.errors import InvalidInput
from monitor.sources.opml import OpmlFeed, parse_opml, write_opml

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

NESTED = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  junk text <foo/>
  <outline text="News">
    <outline text="Russia">
      <outline type="rss" text="Lenta" xmlUrl="https://lenta.ru/rss/news"/>
      <outline type="rss" text="Dup" xmlUrl="https://lenta.ru/rss/news"/>
    </outline>
    <outline type="rss" title="BBC" XMLURL="http://feeds.bbci.co.uk/news/rss.xml"/>
  </outline>
  <outline type="rss" text="Top" xmlUrl=" https://top.example/feed "/>
  <outline type="rss" text="Bad" xmlUrl="javascript:alert(1)"/>
  <outline text="Empty folder"/>
</body></opml>"""


def test_nested_outlines_categories_and_junk():
    assert parse_opml(NESTED) == [
        OpmlFeed("https://lenta.ru/rss/news", "Lenta", "News/Russia"),
        OpmlFeed("http://feeds.bbci.co.uk/news/rss.xml", "BBC", "News"),
        OpmlFeed("https://top.example/feed", "Top", None),
    ]


def test_unclosed_tags_are_recovered():
    broken = b'<opml><body><outline text="A"><outline xmlUrl="https://a.example/f" text="F">'
    assert parse_opml(broken) == [OpmlFeed("https://a.example/f", "F", "A")]


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    evil = f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "file://{secret}">
<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<opml><body><outline text="&x;&d;" xmlUrl="https://a.example/f"/></body></opml>""".encode()
    [feed] = parse_opml(evil)
    assert feed.url == "https://a.example/f"
    assert "TOP-SECRET" not in (feed.title or "") and "aaaa" not in (feed.title or "")


@pytest.mark.parametrize("data", [b"", b"   ", b"not xml at all", b"\x00\x01\x02",
                                  b'{"json": true}'])
def test_not_opml(data):
    with pytest.raises(InvalidInput):
        parse_opml(data)


def test_round_trip_keeps_urls_titles_and_categories():
    feeds = [OpmlFeed("https://a.example/f?x=1&y=2", "A & <B>", "News/Россия"),
             OpmlFeed("https://b.example/rss", None, None),
             OpmlFeed("https://c.example/atom", "C", "News")]
    assert sorted(parse_opml(write_opml(feeds)), key=lambda f: f.url) == feeds


_title = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: not any(c.isspace() for c in s))
_feed = st.builds(OpmlFeed, url=st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9]{0,8}",
                                                 fullmatch=True),
                  title=st.none() | _title,
                  category=st.none() | _title.filter(lambda s: "/" not in s))


@settings(max_examples=60, deadline=None)
@given(st.lists(_feed, max_size=8, unique_by=lambda f: f.url))
def test_round_trip_property(feeds):
    # Feeds come back grouped by folder, so compare without order.
    key = lambda f: f.url  # noqa: E731
    assert sorted(parse_opml(write_opml(feeds)), key=key) == sorted(feeds, key=key)


def test_corpus_opml_files_parse():
    folder = CORPUS / "newsboat" / "test" / "data"
    if not folder.is_dir():
        pytest.skip(f"shared corpus not found at {folder}")
    results = {p.name: parse_opml(p.read_bytes()) for p in sorted(folder.glob("*.opml"))}
    assert results["body-element-missing.opml"] == []
    nested = {f.url: f.category for f in results["example.opml"]}
    assert nested["https://blogs.example.com/~mike/.rss"].endswith("/friends")
    assert len(results["example2.opml"]) == 7
