"""Text cleaned and bounded at the source boundary; feeds cut to their newest entries."""

from __future__ import annotations

from datetime import datetime, timezone

from monitor.settings import LimitSettings
from monitor.sources.base import Batch
from monitor.sources.feedparse import parse_feed
from monitor.sources.feedraw import cut_to_newest, newest_indexes, scan_entries
from monitor.sources.sanitize import clean_batch, clean_item, clean_text
from monitor.types import Deletion, Forward, Item

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)


def test_clean_text_removes_controls_and_lone_surrogates_keeps_tab_and_newline():
    assert clean_text("a\x00b\x01c\x1fd\x7fe\x85f\x9fg") == "abcdefg"
    assert clean_text("tab\there\nline\r\nwin\rmac") == "tab\there\nline\nwin\nmac"
    assert clean_text("x\ud800y\udfffz 😀") == "xyz 😀"
    plain = "ничего не надо"
    assert clean_text(plain) is plain  # clean input costs one search, no copy


def test_clean_item_cleans_every_string_and_bounds_sizes():
    limits = LimitSettings(item_chars=1000)
    item = Item(external_id="1\x00", fetched_at=NOW, url="https://x.example/\x00a",
                title="t\ud800" + "T" * 3000, text="a\x00" * 900, html="<p>" + "h" * 2000,
                author="\x07who", forward=Forward(from_name="n\x00"), raw=b"r" * 9000,
                extra={"from_id": "user\x00", "nested": [{"k\x01": "v\ud800"}]})
    cleaned = clean_item(item, limits)
    assert cleaned.external_id == "1" and cleaned.url == "https://x.example/a"
    assert cleaned.text == "a" * 900 and "text" not in cleaned.extra.get("truncated", {})
    assert len(cleaned.title) == 2000 and cleaned.title.startswith("tT")
    assert cleaned.html is None  # never a cut inside a tag
    assert cleaned.author == "who" and cleaned.forward.from_name == "n"
    assert cleaned.raw == b"r" * 8000
    assert cleaned.extra["from_id"] == "user" and cleaned.extra["nested"] == [{"k": "v"}]
    assert cleaned.extra["truncated"] == {"title": 3002, "html": 2003, "raw": 9000}
    long = clean_item(Item(external_id="2", fetched_at=NOW, text="слово " * 1000), limits)
    assert len(long.text) == 1000 and long.extra["truncated"] == {"text": 6000}
    ok = Item(external_id="3", fetched_at=NOW, text="clean", title="fine")
    assert clean_item(ok, limits) is ok


def test_clean_batch_cleans_state_cursor_and_deletions():
    batch = Batch(items=[Item(external_id="1", fetched_at=NOW, text="a\x00")],
                  state={"title": "chan\x00nel", "deep": [[[[[[[[[["x"]]]]]]]]]]},
                  cursor="5\x00", deletions=[Deletion(("7\x00",), NOW)], dropped=2)
    out = clean_batch(batch, LimitSettings())
    assert out.items[0].text == "a" and out.state["title"] == "channel"
    assert out.cursor == "5" and out.deletions[0].external_ids == ("7",)
    assert out.dropped == 2
    assert "x" not in repr(out.state["deep"])  # nesting bounded


def _feed(entries: list[tuple[str, str | None]]) -> bytes:
    items = "".join(f"<item><guid>{g}</guid>" + (f"<pubDate>{d}</pubDate>" if d else "")
                    + "</item>" for g, d in entries)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}' \
           f"</channel></rss>".encode()


def test_a_feed_over_max_entries_keeps_its_newest_even_when_listed_oldest_first():
    dates = [f"Mon, {d:02d} Jul 2024 10:00:00 GMT" for d in range(1, 29)]
    body = _feed([(f"g{n}", d) for n, d in enumerate(dates)])  # oldest first
    parsed = parse_feed(body, {}, "https://x.example/f", fetched_at=NOW, max_entries=5)
    assert sorted(i.external_id for i in parsed.items) == [f"g{n}" for n in range(23, 28)]
    assert parsed.dropped == 23
    # the kept entries keep their exact bytes as evidence
    assert all(i.raw.startswith(b"<item><guid>") for i in parsed.items)


def test_without_dates_the_first_entries_are_kept_and_broken_markup_is_cut_too():
    assert newest_indexes([None] * 10, 3) == [0, 1, 2]
    assert newest_indexes(["2024-01-01", None, "2024-06-01", "2023-01-01"], 2) == [0, 2]
    broken = _feed([(f"g{n}", None) for n in range(50)]).replace(b"<title>t</title>",
                                                              b"<title>a & b</title>")
    assert scan_entries(broken) is None  # expat refuses the bare "&"
    cut, raws, dropped = cut_to_newest(broken, 10)
    assert dropped == 40 and raws is None and cut.count(b"<item>") == 10
    parsed = parse_feed(broken, {}, "https://x.example/f", fetched_at=NOW, max_entries=10)
    assert sorted(i.external_id for i in parsed.items) == sorted(f"g{n}" for n in range(10))


def test_one_unadaptable_json_entry_is_dropped_and_counted():
    body = (b'{"version": "https://jsonfeed.org/version/1", "items": ['
            b'{"id": "1", "content_text": "ok"}, {"id": "2", "content_html": "<p>x</p>",'
            b' "date_published": {"bad": 1}}, "junk", {"id": "3", "summary": "fine"}]}')
    parsed = parse_feed(body, {}, "https://x.example/f", fetched_at=NOW)
    assert {i.external_id for i in parsed.items} >= {"1", "3"}
    assert parsed.dropped + len(parsed.items) == 3
