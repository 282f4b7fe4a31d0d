"""Every feed in the shared real-world corpus goes through the adapter.

For each file: no unhandled exception; as many Items as feedparser yields entries (JSON Feed:
as many as the document lists), all with distinct external ids; parsing again with the policy the
first parse chose gives the same ids. feedparser's own test files are served with their
``Header:`` lines (from ``feedparser/EXPECTATIONS.tsv``) as HTTP headers. Known strings check that
Russian, Korean and Western encodings decode, and a sample goes through a real loopback server.

Skipped with a reason when ``../shared/corpus`` is absent (a fresh clone).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest

from monitor.errors import PermanentSourceError
from monitor.settings import FetchSettings, Settings
from monitor.sources.base import CollectContext, SourceConfig
from monitor.sources.http import Fetcher
from monitor.sources.rss import RssSource, parse_feed
from tests.sources.feedserver import LOOPBACK, FeedServer, Route

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FEED_SETS = ("feedparser", "feed-rs", "rss-parser", "node-feedparser", "newsboat", "miniflux-v2",
             "FeedReader")
BASE = "http://127.0.0.1:8097/"  # where feedparser's own suite serves its files
FETCHED = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)


def _corpus() -> Path:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


def _is_input(path: str) -> bool:
    """Feed inputs, not licences, goldens or annotations."""
    name = path.rsplit("/", 1)[-1]
    return not (name.startswith(("LICENSE", "README")) or name.endswith(".serde.json")
                or name.endswith((".md", ".tsv")) or "/output/" in f"/{path}")


def _headers() -> dict[str, dict[str, str]]:
    rows = csv.DictReader(open(_corpus() / "feedparser" / "EXPECTATIONS.tsv", encoding="utf-8"),
                          delimiter="\t", quoting=csv.QUOTE_NONE)
    out = {}
    for row in rows:
        headers = {}
        for line in filter(None, (row.get("http_headers") or "").split(" | ")):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        out[row["path"]] = headers
    return out


def _files(set_name: str) -> list[Path]:
    rows = csv.DictReader(open(_corpus() / "MANIFEST.tsv", encoding="utf-8"), delimiter="\t")
    return [CORPUS / set_name / r["path"] for r in rows
            if r["set"] == set_name and _is_input(r["path"])]


def _expected_count(body: bytes, headers: dict[str, str], url: str, version: str) -> int:
    if version.startswith("json"):
        return len([i for i in json.loads(body.decode("utf-8-sig")).get("items") or []
                    if isinstance(i, dict)])
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    d = feedparser.parse(io.BytesIO(body), response_headers={"content-location": url, **headers})
    return len(d.entries)


@pytest.mark.parametrize("set_name", FEED_SETS)
def test_every_corpus_feed_goes_through_the_adapter(set_name):
    files = _files(set_name)
    assert files, f"no input files listed for {set_name}"
    headers_for = _headers() if set_name == "feedparser" else {}
    problems, items_total, not_feeds, fragments = [], 0, 0, 0
    for path in files:
        rel = path.relative_to(CORPUS / set_name).as_posix()
        headers = headers_for.get(rel, {})
        url = BASE + rel
        body = path.read_bytes()
        try:
            first = parse_feed(body, headers, url, fetched_at=FETCHED)
            again = parse_feed(body, headers, url, fetched_at=FETCHED,
                               key_policy=first.key_policy)
        except Exception as exc:  # noqa: BLE001 - collect them all, report together
            problems.append(f"{rel}: {type(exc).__name__}: {exc}")
            continue
        ids = [i.external_id for i in first.items]
        expected = _expected_count(body, headers, url, first.version)
        if not first.is_feed:
            not_feeds += 1
            if expected:
                problems.append(f"{rel}: judged not a feed but feedparser has {expected} entries")
            continue
        items_total += len(ids)
        if len(ids) != expected:
            problems.append(f"{rel}: {len(ids)} items, feedparser yields {expected} entries")
        if len(set(ids)) != len(ids):
            problems.append(f"{rel}: repeated external ids")
        if [i.external_id for i in again.items] != ids:
            problems.append(f"{rel}: ids changed when parsed again with its policy")
        for item in first.items:
            if item.published_at is None or item.published_at.utcoffset() is None:
                problems.append(f"{rel}: naive or missing published_at")
            if item.raw_format == "feed-entry-xml":  # the entry's bytes exactly as served
                served = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
                if item.raw not in served:
                    problems.append(f"{rel}: raw entry markup is not a slice of the body")
                fragments += 1
            else:  # feedparser's view of the entry (markup expat would not read), or JSON Feed
                json.loads(item.raw)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:30])
    assert items_total > 0 and fragments > items_total // 2


KNOWN = [
    ("miniflux-v2", "internal/reader/parser/testdata/encoding_WINDOWS-1251.xml", {},
     "Цитата #17703", "жаба программер"),
    ("miniflux-v2", "internal/reader/xml/testdata/koi8r.xml", {}, "Первая новость",
     "Ёжик, чай, Москва"),
    ("miniflux-v2", "internal/reader/encoding/testdata/koi8r.xml", {}, "Первая новость",
     "Санкт-Петербург"),
    ("miniflux-v2", "internal/reader/parser/testdata/no_encoding_ISO-8859-1.xml", {}, None,
     "d'études"),
    ("node-feedparser", "test/feeds/iconv.xml", {}, None, "Оренбург"),
    ("feedparser", "tests/encoding/euc-kr-item.xml", {}, None, "\ub144"),
    ("feedparser", "tests/encoding/http_text_xml_charset_2.xml",
     {"content-type": "text/xml; charset=windows-1252"}, None, "This is a \xa3\u201ctest.\u201d"),
    ("feedparser", "tests/encoding/demoronize-1.xml", {}, None, "don\u2019t"),
    ("rss-parser", "test/input/uolNoticias.rss", {}, None, "ã"),
]


@pytest.mark.parametrize("set_name,rel,headers,title,text", KNOWN,
                         ids=[k[1].rsplit("/", 1)[-1] for k in KNOWN])
def test_encodings_decode_to_known_strings(set_name, rel, headers, title, text):
    path = _corpus() / set_name / rel
    parsed = parse_feed(path.read_bytes(), headers, BASE + rel, fetched_at=FETCHED)
    if title is not None:
        assert title in [i.title for i in parsed.items]
    assert any(text in (i.text or "") or text in (i.title or "") for i in parsed.items), \
        [i.text[:80] for i in parsed.items[:3]]


SAMPLE = [
    ("miniflux-v2", "internal/reader/parser/testdata/encoding_WINDOWS-1251.xml"),
    ("miniflux-v2", "internal/reader/parser/testdata/large_atom.xml"),
    ("miniflux-v2", "internal/reader/parser/testdata/large_rss.xml"),
    ("node-feedparser", "test/feeds/compressed.xml"),
    ("node-feedparser", "test/feeds/guid-dupes.xml"),
    ("node-feedparser", "test/feeds/notafeed.html"),
    ("feed-rs", "feed-rs/fixture/jsonfeed/jsonfeed_spec_1.json"),
    ("feedparser", "tests/encoding/http_text_xml_charset_2.xml"),
    ("FeedReader", "FeedReader.Tests/Feeds/Rss20Spiegel.xml"),
    ("FeedReader", "FeedReader.Tests/Feeds/AtomTheVerge.xml"),
    ("rss-parser", "test/input/uolNoticias.rss"),
    ("newsboat", "test/data/example.opml"),
]


async def test_a_sample_through_the_local_server():
    corpus = _corpus()
    headers_for = _headers()
    context = CollectContext(settings=Settings(fetch=FetchSettings(timeout=10, concurrency=4,
                                                                   allowed_private_networks=LOOPBACK)))
    with FeedServer() as server:
        expected = {}
        for set_name, rel in SAMPLE:
            body = (corpus / set_name / rel).read_bytes()
            headers = headers_for.get(rel, {}) if set_name == "feedparser" else {}
            served = {k.title(): v for k, v in headers.items()}
            path = f"/{set_name}/{rel}"
            url = server.route(path, Route(body=body, headers=served))
            direct = parse_feed(body, headers, url, fetched_at=FETCHED)
            expected[url] = [(i.external_id, i.title) for i in direct.items] \
                if direct.is_feed else None

        async def one(url):
            cfg = SourceConfig(id=1, name="s", type="rss", locator=url)
            return [b async for b in RssSource().collect(cfg, context)]

        async with asyncio.timeout(60):
            async with Fetcher(context.settings.fetch, trust_env=False) as fetcher:
                context.fetcher = fetcher
                results = await asyncio.gather(*(one(u) for u in expected),
                                               return_exceptions=True)
    for (url, want), got in zip(expected.items(), results):
        if want is None:
            assert isinstance(got, PermanentSourceError), (url, got)
            continue
        assert not isinstance(got, BaseException), (url, got)
        [batch] = got
        assert [(i.external_id, i.title) for i in batch.items] == want, url
