"""Collection, items, hits, term test/backtest and import commands against real servers and DBs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sources.feedserver import FeedServer, Route

ROOT = Path(__file__).resolve().parents[2]

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Фронт</title><link>https://front.example/</link><language>ru</language>
<item><title>Удар под Донецком</title><link>https://front.example/a/1?utm_source=rss</link><guid isPermaLink="false">f-1</guid>
<pubDate>Tue, 29 Oct 2024 08:15:00 +0300</pubDate>
<description>&lt;p&gt;По данным источников, погибли шесть &lt;b&gt;северокорейских офицеров&lt;/b&gt;.&lt;/p&gt;</description></item>
<item><title>Погода</title><link>https://front.example/a/2</link><guid isPermaLink="false">f-2</guid>
<pubDate>Tue, 29 Oct 2024 07:00:00 +0300</pubDate><description>Дожди.</description></item>
</channel></rss>""".encode()


@pytest.fixture
def server():
    with FeedServer() as srv:
        srv.route("/feed.xml", Route(body=RSS, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'}))
        srv.route("/broken.xml", Route(status=500, body=b"oops"))
        yield srv


def test_collect_items_and_hits_end_to_end(cli, server):
    assert cli("source", "add", "rss", server.url("/feed.xml"), "--name", "front")[0] == 0
    assert cli("source", "add", "rss", server.url("/broken.xml"), "--name", "broken")[0] == 0
    assert cli("watchlist", "add", "dprk")[0] == 0
    assert cli("term", "add", "dprk", '"северокорейские офицеры"')[0] == 0
    code, out, _ = cli("collect", "--quiet")
    assert code == 0
    assert "sources: 2" in out and "new items: 2" in out and "hits: 1" in out and "errors: 1" in out
    code, out, _ = cli("items", "--source", "front", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    # newest first by published time (else fetch time); --oldest-first the other way
    assert [r["external_id"] for r in rows] == ["f-1", "f-2"]
    assert rows[0]["published_at"] > rows[1]["published_at"]
    oldest = [json.loads(line)["external_id"] for line in
              cli("items", "--source", "front", "--format", "jsonl", "--oldest-first")[1].splitlines()]
    assert oldest == ["f-2", "f-1"]
    assert [json.loads(x)["external_id"] for x in cli("items", "--limit", "1", "-f", "jsonl")[1].splitlines()] == ["f-1"]
    first = next(r for r in rows if r["external_id"] == "f-1")
    assert first["url"] == "https://front.example/a/1"  # tracking parameter dropped
    assert first["published_at"].startswith("2024-10-29T05:15:00") and first["published_raw"].startswith("Tue, 29")
    assert "северокорейских офицеров" in first["text"] and "<b>" not in first["text"]
    assert set(rows[0]) >= {"source", "external_id", "url", "title", "text", "author", "published_at",
                            "published_raw", "fetched_at", "content_hash"}
    code, out, _ = cli("hits", "--format", "jsonl")
    hit = json.loads(out)
    assert (hit["watchlist"], hit["source"], hit["external_id"], hit["field"]) == ("dprk", "front", "f-1", "text")
    start, end = hit["spans"][0]
    assert "«" in hit["snippet"] and first["text"][start:end].startswith("северокорейских")
    # provenance a desk can check: who collected it, which versions, a hash of the exact text matched
    import hashlib
    assert hit["collector"] == "rss" and hit["item_version"] == 1 and hit["term_version"] == 1
    assert hit["matched_hash"] == hashlib.sha256(first["text"].encode()).hexdigest()
    code, out, _ = cli("source", "list", "--format", "jsonl")
    health = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert health["broken"]["errors"] == 1 and "500" in health["broken"]["status"]
    assert health["front"]["errors"] == 0 and health["front"]["next_check"]
    assert health["front"]["silent"] is False and health["broken"]["silent"] is False
    # second pass over everything: conditional GET, nothing doubled
    code, out, _ = cli("collect", "--all", "--quiet")
    assert "new items: 0" in out and "hits: 0" in out
    assert len(cli("hits", "--format", "jsonl")[1].splitlines()) == 1
    # the term changes later: the hit still names the query version that matched
    term_id = json.loads(cli("term", "list", "--format", "jsonl")[1].splitlines()[0])["id"]
    assert cli("term", "edit", str(term_id), "--query", "офицер* AND КНДР")[0] == 0
    hit = json.loads(cli("hits", "--format", "jsonl")[1])
    assert (hit["query"], hit["term_version"]) == ('"северокорейские офицеры"', 1)


def test_sources_without_new_items_for_too_long_are_flagged_silent(cli, db_url, monkeypatch):
    from datetime import timedelta

    from monitor.store.db import Store
    from monitor.store.models import SourceRow
    from monitor.types import utcnow

    cli("source", "add", "rss", "https://quiet.example/feed.xml", "--name", "quiet")
    cli("source", "add", "rss", "https://busy.example/feed.xml", "--name", "busy")
    store = Store(db_url)
    with store.unit() as s:
        for src in s.query(SourceRow):
            src.created_at = utcnow() - timedelta(days=10)
            src.last_new_item_at = utcnow() - (timedelta(days=3) if src.name == "quiet" else timedelta(hours=1))
    store.dispose()
    rows = {r["name"]: r for r in map(json.loads, cli("source", "list", "-f", "jsonl")[1].splitlines())}
    assert rows["quiet"]["silent"] is True and rows["busy"]["silent"] is False
    monkeypatch.setenv("MONITOR_ALERTS__SILENT_AFTER", "7d")
    rows = {r["name"]: r for r in map(json.loads, cli("source", "list", "-f", "jsonl")[1].splitlines())}
    assert rows["quiet"]["silent"] is False


def test_term_add_validates_with_position(cli):
    cli("watchlist", "add", "w")
    code, _, err = cli("term", "add", "w", '"северокорейские офицеры')
    assert code == 2 and "at position 0" in err and "expected a closing" in err and "^" in err
    assert cli("term", "list", "--format", "jsonl")[1] == ""
    code, _, err = cli("term", "add", "w", "@nobody AND x")
    assert code == 2


def test_term_test_exit_codes_like_grep(cli):
    code, out, _ = cli("term", "test", '"северокорейские офицеры"', "--text",
                       "В Курской области замечены колонны северокорейских офицерoв.")
    assert code == 0 and "match in text" in out and "«" in out
    code, out, _ = cli("term", "test", '"северокорейские офицеры"', "--text", "Погода в Донецке")
    assert code == 1 and "no match" in out
    code, _, err = cli("term", "test", "(офицер OR", "--text", "x")
    assert code == 2 and "^" in err


def test_backtest_reports_without_saving(cli, server):
    cli("source", "add", "rss", server.url("/feed.xml"), "--name", "front")
    cli("collect", "--quiet")
    code, out, err = cli("term", "backtest", "офицер*", "--format", "jsonl")
    assert code == 0 and "1 would match" in err
    assert json.loads(out)["external_id"] == "f-1"
    assert cli("term", "list", "--format", "jsonl")[1] == ""


def test_import_telegram_export_is_idempotent_and_matched(cli, tmp_path):
    export = {
        "name": "Фронтовая сводка", "type": "public_channel", "id": 1234567890,
        "messages": [
            {"id": 10, "type": "message", "date": "2024-10-29T08:00:00", "date_unixtime": "1730181600",
             "from": "Фронтовая сводка", "from_id": "channel1234567890",
             "text": ["Погибли шесть ", {"type": "bold", "text": "северокорейских офицеров"}, "."],
             "text_entities": [{"type": "plain", "text": "Погибли шесть "},
                               {"type": "bold", "text": "северокорейских офицеров"}, {"type": "plain", "text": "."}]},
            {"id": 11, "type": "service", "date": "2024-10-29T08:01:00", "date_unixtime": "1730181660",
             "action": "pin_message", "text": "", "text_entities": []},
        ],
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    cli("watchlist", "add", "dprk")
    cli("term", "add", "dprk", '"северокорейские офицеры"')
    code, out, _ = cli("import", "telegram-export", str(path), "--username", "frontline_ru")
    assert code == 0 and "1 new" in out and "1 hit" in out and "(created)" in out
    code, out, _ = cli("import", "telegram-export", str(path))
    assert code == 0 and "0 new" in out and "(created)" not in out
    item = json.loads(cli("items", "--format", "jsonl")[1])
    assert item["url"] == "https://t.me/frontline_ru/10" and item["source"] == "Фронтовая сводка"
    path.write_text("{not json", encoding="utf-8")
    code, _, err = cli("import", "telegram-export", str(path))
    assert code == 2 and "result.json" in err and "Traceback" not in err


def test_telegram_sources_are_added_by_username_link_or_id(cli, monkeypatch):
    # an account that is not configured is refused (defect 9), a configured one is taken
    code, _, err = cli("source", "add", "telegram", "https://t.me/frontline_ru", "--account", "second")
    assert code == 2 and "no telegram account named 'second'" in err
    code, _, err = cli("source", "add", "telegram-web", "@svodka_ua", "--account", "second")
    assert code == 2 and "applies to telegram sources" in err
    monkeypatch.setenv("MONITOR_TELEGRAM__ACCOUNTS", '{"second": {"api_id": 1}}')
    assert cli("source", "add", "telegram", "https://t.me/frontline_ru", "--account", "second")[0] == 0
    assert cli("source", "add", "telegram-web", "@svodka_ua")[0] == 0
    code, _, err = cli("source", "add", "telegram-web", "not a channel!")
    assert code == 2
    rows = {r["type"]: r for r in map(json.loads, cli("source", "list", "-f", "jsonl")[1].splitlines())}
    assert rows["telegram"]["locator"].lstrip("@").lower().endswith("frontline_ru")
    assert "svodka_ua" in rows["telegram-web"]["locator"]


def test_demo_command_runs_offline(tmp_path):
    env = {**os.environ, "MONITOR_DATA_DIR": str(tmp_path)}
    env.pop("MONITOR_CONFIG", None)
    result = subprocess.run([sys.executable, "-m", "monitor", "demo", "--dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "stories with hits" in result.stdout and "t.me/frontline_ru" in result.stdout
    assert (tmp_path / "demo" / "demo.db").exists()


def test_demo_opens_the_web_ui_on_the_demo_data(tmp_path):
    import re
    import signal
    import time
    import urllib.request

    from tests.service.test_service import free_port

    port = free_port()
    env = {**os.environ, "MONITOR_DATA_DIR": str(tmp_path)}
    env.pop("MONITOR_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "demo", "--dir", str(tmp_path / "demo"), "--web",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline, page = time.monotonic() + 240, None
        while time.monotonic() < deadline and page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    page = r.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.5)
        assert page is not None and "password" in page.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert re.search(r"user: demo, password: \S+", out) and "stories with hits" in out
