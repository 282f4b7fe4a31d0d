"""External ids and the per-feed key policy: never collapse distinct entries, never double one
across fetches, keep an id when only the content changes."""

from __future__ import annotations

from datetime import datetime, timezone
from xml.sax.saxutils import escape

from hypothesis import given, settings, strategies as st

from monitor.sources.rss import KEY_POLICIES, assign_ids, parse_feed

FETCHED = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)
URL = "https://news.example/feed.xml"


def entry(n, *, guid="default", link="default", title=None, date="default", text=None):
    return dict(guid=f"urn:e:{n}" if guid == "default" else guid,
                link=f"https://news.example/a/{n}" if link == "default" else link,
                title=f"Title {n}" if title is None else title,
                date=f"Sat, {1 + n % 28:02d} Jun 2024 10:00:00 GMT" if date == "default" else date,
                text=f"Body of entry {n}" if text is None else text)


def feed(entries) -> bytes:
    parts = []
    for e in entries:
        x = "<item>"
        if e["guid"] is not None:
            x += f"<guid isPermaLink='false'>{escape(e['guid'])}</guid>"
        if e["link"] is not None:
            x += f"<link>{escape(e['link'])}</link>"
        if e["date"] is not None:
            x += f"<pubDate>{e['date']}</pubDate>"
        x += f"<title>{escape(e['title'])}</title><description>{escape(e['text'])}</description>"
        parts.append(x + "</item>")
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title>"
            + "".join(parts) + "</channel></rss>").encode()


def parse(entries, policy="guid"):
    parsed = parse_feed(feed(entries), {"content-type": "application/rss+xml"}, URL,
                        fetched_at=FETCHED, key_policy=policy)
    assert len(parsed.items) == len(entries)
    ids = [i.external_id for i in parsed.items]
    assert len(set(ids)) == len(ids), ids
    return parsed, {i.title: i for i in parsed.items}


def test_good_guids_are_the_ids():
    parsed, by_title = parse([entry(n) for n in range(10)])
    assert parsed.key_policy == "guid"
    assert by_title["Title 3"].external_id == "urn:e:3"


def test_one_guid_repeated_everywhere_degrades_to_link_and_stays_stable():
    first, by1 = parse([entry(n, guid="same") for n in range(20)])
    assert first.key_policy == "link"
    assert by1["Title 4"].external_id == "https://news.example/a/4"
    # Next fetch: two new entries on top, the oldest fell off; the stored policy is read back.
    second, by2 = parse([entry(n, guid="same") for n in range(21, 19, -1)]
                        + [entry(n, guid="same") for n in range(19, 0, -1)], first.key_policy)
    assert second.key_policy == "link"
    for n in range(1, 20):
        assert by2[f"Title {n}"].external_id == by1[f"Title {n}"].external_id


def test_missing_guids_degrade_to_link():
    parsed, by_title = parse([entry(n, guid=None) for n in range(10)])
    assert parsed.key_policy == "link" and by_title["Title 0"].external_id.startswith("https://")


def test_a_few_blank_guids_do_not_degrade_the_feed():
    entries = [entry(n) for n in range(40)]
    entries[5] = entry(5, guid=None)
    entries[9] = entry(9, guid="  ")
    parsed, by_title = parse(entries)
    assert parsed.key_policy == "guid"  # 2 of 40 = 5 %, not more
    assert by_title["Title 5"].external_id == "https://news.example/a/5"  # falls through to link
    assert by_title["Title 1"].external_id == "urn:e:1"


def test_same_guid_and_link_degrade_to_link_and_date_then_title_then_content():
    home = "https://news.example/"
    parsed, _ = parse([entry(n, guid="x", link=home) for n in range(20)])
    assert parsed.key_policy == "link+date"
    parsed, _ = parse([entry(n, guid="x", link=home, date="Sat, 01 Jun 2024 10:00:00 GMT")
                       for n in range(20)])
    assert parsed.key_policy == "link+date+title"
    parsed, _ = parse([entry(n, guid="x", link=home, date=None, title="Same") for n in range(20)])
    assert parsed.key_policy == "content"


def test_policy_never_climbs_back():
    parsed, by_title = parse([entry(n) for n in range(10)], policy="link")
    assert parsed.key_policy == "link"
    assert by_title["Title 2"].external_id == "https://news.example/a/2"
    assert parse([entry(n) for n in range(3)], policy="nonsense")[0].key_policy == "guid"


def test_identical_entries_are_never_collapsed():
    same = entry(1)
    parsed, _ = parse([same, same, same], policy="content")
    assert len({i.external_id for i in parsed.items}) == 3
    parsed, _ = parse([same] * 3)
    assert parsed.key_policy == "content"


def test_changed_content_same_guid_keeps_id_changes_hash():
    _, before = parse([entry(n) for n in range(5)])
    edited = [entry(n) for n in range(5)]
    edited[2] = entry(2, text="Corrected body of entry 2")
    _, after = parse(edited)
    assert after["Title 2"].external_id == before["Title 2"].external_id
    assert after["Title 2"].content_hash != before["Title 2"].content_hash
    assert after["Title 1"].content_hash == before["Title 1"].content_hash


def test_reused_guid_in_a_big_feed_leaves_the_older_entry_its_id():
    old = [entry(n) for n in range(40, 0, -1)]  # newest first, like real feeds
    _, before = parse(old)
    reuse = entry(99, guid="urn:e:7")  # a new post published under an old post's GUID
    _, after = parse([reuse] + old)
    assert after["Title 7"].external_id == "urn:e:7" == before["Title 7"].external_id
    assert after["Title 99"].external_id.startswith("urn:e:7#")


def test_long_keys_are_hashed():
    long_guid = "urn:x:" + "y" * 500
    _, by_title = parse([entry(1, guid=long_guid)])
    ext = by_title["Title 1"].external_id
    assert ext.startswith("h:") and len(ext) <= 200


_pool = st.sampled_from
_entries = st.lists(st.fixed_dictionaries({
    "guid": _pool([None, "", "g1", "g2", "g3"]) | st.text("abc", min_size=1, max_size=3),
    "link": _pool([None, "https://n.example/1", "https://n.example/2", "/rel"]),
    "title": _pool(["A", "B", "C & D", ""]),
    "date": _pool([None, "Sat, 01 Jun 2024 10:00:00 GMT", "29.06.2024 15:07", "garbage"]),
    "text": _pool(["x", "y", "<b>z</b>"]),
}), max_size=25)


@settings(max_examples=150, deadline=None)
@given(_entries, _pool(KEY_POLICIES))
def test_property_ids_distinct_complete_and_repeatable(entries, policy):
    first, _ = parse(entries, policy)
    assert KEY_POLICIES.index(first.key_policy) >= KEY_POLICIES.index(policy)
    again, _ = parse(entries, first.key_policy)
    assert [i.external_id for i in again.items] == [i.external_id for i in first.items]
    assert again.key_policy == first.key_policy


def test_assign_ids_on_plain_drafts():
    drafts = [dict(guid=None, url=None, title=None, published_raw=None, text="")] * 4
    ids, policy = assign_ids(drafts)
    assert policy == "content" and len(set(ids)) == 4
    assert assign_ids([]) == ([], "guid")
