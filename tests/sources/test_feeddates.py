"""Date sanity: each format feedparser misreads, checked against what feedparser itself returns,
plus the plausibility rules."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import feedparser
import pytest

from monitor.sources.feeddates import entry_date, parse_date

UTC = timezone.utc
FETCHED = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def feedparser_view(raw: str):
    """What feedparser 6 makes of ``raw`` in a pubDate: (raw string, *_parsed)."""
    body = (f"<rss version='2.0'><channel><item><title>t</title><pubDate>{raw}</pubDate>"
            f"</item></channel></rss>").encode()
    entry = feedparser.parse(io.BytesIO(body)).entries[0]
    return entry.get("published_parsed"), entry.get("published")


@pytest.mark.parametrize("raw,expected", [
    ("Sat, 29 Jun 2024 15:07:41 MSK", datetime(2024, 6, 29, 12, 7, 41, tzinfo=UTC)),
    ("29.06.2024 15:07", datetime(2024, 6, 29, 15, 7, tzinfo=UTC)),
    ("29 июня 2024", datetime(2024, 6, 29, tzinfo=UTC)),
    ("29 июн 2024 15:07", datetime(2024, 6, 29, 15, 7, tzinfo=UTC)),
    ("2024/6/29 15:07:41", datetime(2024, 6, 29, 15, 7, 41, tzinfo=UTC)),
    ("Сб, 29 июня 2024 г. в 15:07 МСК", datetime(2024, 6, 29, 12, 7, tzinfo=UTC)),
    ("29 червня 2024 15:07", datetime(2024, 6, 29, 15, 7, tzinfo=UTC)),
])
def test_misread_formats_are_repaired(raw, expected):
    parsed, fp_raw = feedparser_view(raw)
    fp_value = datetime(*parsed[:6], tzinfo=UTC) if parsed else None
    assert fp_value != expected, "feedparser got it right: this case no longer tests anything"
    published, kept_raw, flag = entry_date(parsed, fp_raw, FETCHED)
    assert (published, kept_raw, flag) == (expected, raw, None)


@pytest.mark.parametrize("raw,expected", [
    ("Sat, 29 Jun 2024 15:07:41 +0300", datetime(2024, 6, 29, 12, 7, 41, tzinfo=UTC)),
    ("Sat, 29 Jun 2024 15:07:41 GMT", datetime(2024, 6, 29, 15, 7, 41, tzinfo=UTC)),
    ("Sat, 29 Jun 2024 15:07:41 EDT", datetime(2024, 6, 29, 19, 7, 41, tzinfo=UTC)),
    ("2024-06-29T15:07:41Z", datetime(2024, 6, 29, 15, 7, 41, tzinfo=UTC)),
    ("2024-06-29T15:07:41+03:00", datetime(2024, 6, 29, 12, 7, 41, tzinfo=UTC)),
    ("2024-06-29", datetime(2024, 6, 29, tzinfo=UTC)),
])
def test_agreement_on_ordinary_formats(raw, expected):
    parsed, fp_raw = feedparser_view(raw)
    assert datetime(*parsed[:6], tzinfo=UTC) == expected  # feedparser is right here ...
    assert entry_date(parsed, fp_raw, FETCHED) == (expected, raw, None)  # ... and so are we


def test_unknown_zone_defers_to_feedparser():
    assert parse_date("Sat, 29 Jun 2024 15:07:41 XYZT") is None
    parsed = (2024, 6, 29, 15, 7, 41, 5, 181, 0)
    assert entry_date(parsed, "Sat, 29 Jun 2024 15:07:41 XYZT", FETCHED)[0] == \
        datetime(2024, 6, 29, 15, 7, 41, tzinfo=UTC)


def test_missing_and_unparseable():
    assert entry_date(None, None, FETCHED) == (FETCHED, None, "missing")
    assert entry_date(None, "   ", FETCHED) == (FETCHED, None, "missing")
    assert entry_date(None, "вчера вечером", FETCHED) == (FETCHED, "вчера вечером", "unparseable")
    assert entry_date(None, "not a date", FETCHED) == (FETCHED, "not a date", "unparseable")


def test_future_beyond_skew_and_absurd_past():
    soon = FETCHED + timedelta(minutes=5)
    assert entry_date(None, soon.isoformat(), FETCHED, max_clock_skew=600)[0] == soon
    later = FETCHED + timedelta(days=2)
    assert entry_date(None, later.isoformat(), FETCHED, max_clock_skew=600) == \
        (FETCHED, later.isoformat(), "future")
    assert entry_date(None, "Thu, 01 Jan 1970 00:00:00 GMT", FETCHED)[2] == "absurd"
    assert entry_date(None, "0001-01-01T00:00:00Z", FETCHED)[2] == "absurd"


def test_old_but_plausible_is_kept():
    published, _, flag = entry_date(None, "Tue, 10 Jun 2003 04:00:00 GMT", FETCHED)
    assert flag is None and published == datetime(2003, 6, 10, 4, tzinfo=UTC)


def test_results_are_aware_utc():
    for raw in ("29.06.2024 15:07 +0500", "2024-06-29T15:07:41.25-02:00", "June 29, 2024 3pm"):
        value = parse_date(raw)
        assert value is not None and value.utcoffset() == timedelta(0), raw
