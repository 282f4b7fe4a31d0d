"""canonical_url: one spelling per article."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from monitor.sources.urls import canonical_url, is_http_url


@pytest.mark.parametrize("url,base,expected", [
    ("HTTP://Example.COM:80/a", None, "http://example.com/a"),
    ("https://example.com:443", None, "https://example.com/"),
    ("https://example.com:8443/a", None, "https://example.com:8443/a"),
    ("/news/1?id=5#comments", "https://example.com/feed/", "https://example.com/news/1?id=5"),
    ("2", "https://example.com/news/1", "https://example.com/news/2"),
    ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
    ("https://e.com/a?utm_source=tg&utm_medium=x&id=7&fbclid=abc&gclid=1&b=2",
     None, "https://e.com/a?id=7&b=2"),
    ("https://e.com/a?yclid=1&mc_cid=2&mc_eid=3&_openstat=4&UTM_Campaign=5", None,
     "https://e.com/a"),
    ("https://e.com/a?z=1&a=2&z=3", None, "https://e.com/a?z=1&a=2&z=3"),  # order and repeats kept
    ("https://e.com/a?q=%D0%BF%D1%83%D1%82%D0%B8%D0%BD", None,
     "https://e.com/a?q=%D0%BF%D1%83%D1%82%D0%B8%D0%BD"),  # encoding untouched
    ("  https://e.com/a b  ", None, "https://e.com/a%20b"),
    ("http://[::1]:80/x", None, "http://[::1]/x"),
    ("tag:example.com,2005:1#x", None, "tag:example.com,2005:1#x"),  # identifiers left alone
    ("mailto:a@b.c", None, "mailto:a@b.c"),
])
def test_canonical_url(url, base, expected):
    assert canonical_url(url, base) == expected


@pytest.mark.parametrize("url", [None, "", "   "])
def test_no_url(url):
    assert canonical_url(url) is None


def test_malformed_is_kept_not_raised():
    assert canonical_url("http://[::1") == "http://[::1"
    assert canonical_url("http://e.com:notaport/") == "http://e.com:notaport/"


def test_is_http_url():
    assert is_http_url("https://e.com/x") and not is_http_url("ftp://e.com/")
    assert not is_http_url("https:///nohost") and not is_http_url(None)


@given(st.from_regex(r"https?://[A-Za-z]{1,8}\.(com|ru)(:[0-9]{2,4})?(/[a-z]{0,5}){0,3}"
                     r"(\?([a-z_]{1,6}=[a-z0-9]{0,4}&?){0,4})?(#[a-z]{0,4})?", fullmatch=True))
def test_idempotent(url):
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once and "utm_" not in once
