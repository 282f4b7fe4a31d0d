"""What an operator meets first, on real databases: each defect found by trying the README as a new
operator (issue 12) with its regression test, and the lifecycle commands (remove, unmute, disable,
reset)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from monitor.settings import Settings
from monitor.store.db import Store
from monitor.store.models import Base, DeskTargetRow, RouteRow
from tests.cli.test_collect_cli import RSS
from tests.sources.feedserver import FeedServer, Route

EXPORT = Path(__file__).resolve().parents[1] / "sources" / "tg_fixtures" / "export" / "result.json"


def rows(cli, *args) -> list[dict]:
    code, out, err = cli(*args, "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


# ---------------------------------------------------------------- 1. one real /healthz


def test_healthz_is_the_real_check_in_every_mode(store, db_url, tmp_path):
    from monitor.service.http import ops_app
    from monitor.service.run import Service, ServiceOptions
    from monitor.types import utcnow
    from monitor.web.app import create_app

    settings = Settings(database_url=db_url, data_dir=tmp_path)
    web = TestClient(create_app(settings, store)).get("/healthz")  # `monitor web`
    assert web.status_code == 200 and web.json() == {"status": "ok", "problems": []}
    for with_web in (False, True):  # `monitor run --port`, `monitor run --port --web`
        service = Service(store, settings, ServiceOptions(web=with_web, port=0))
        service.started_at = utcnow() - timedelta(minutes=5)  # long enough to expect a scan
        r = TestClient(ops_app(service)).get("/healthz")
        assert r.status_code == 503, (with_web, r.text)
        assert r.json()["status"] == "unhealthy" and r.json()["problems"] == [
            "scheduler: no scan in the last minute"
        ]
    dead = Store("postgresql://postgres@127.0.0.1:1/nothing")  # nothing listens on port 1
    try:
        r = TestClient(create_app(settings, dead)).get("/healthz")
    finally:
        dead.dispose()
    assert r.status_code == 503 and r.json()["problems"][0].startswith("database: ")


# ---------------------------------------------------------------- 2. nullable columns with defaults


def test_route_max_age_none_sticks_on_a_new_route(cli, store):
    cli("desk", "add", "kyiv")
    cli("watchlist", "add", "dprk")
    assert cli("route", "add", "dprk", "kyiv", "--max-age", "none")[0] == 0
    assert rows(cli, "route", "list")[0]["max_age"] == "none"
    with store.unit() as s:
        assert s.scalar(select(RouteRow.max_age)) is None
    cli("watchlist", "add", "other", "--desk", "kyiv")  # a watchlist's default route: 48 h
    assert {r["watchlist"]: r["max_age"] for r in rows(cli, "route", "list")} == {
        "dprk": "none",
        "other": "2d",
    }


def test_no_nullable_column_has_a_default_that_would_replace_an_explicit_null():
    # The ORM leaves a None out of an INSERT when the column has a default, so the default wins.
    trapped = [
        f"{table.name}.{col.name}"
        for table in Base.metadata.sorted_tables
        for col in table.columns
        if col.nullable
        and not col.primary_key
        and (col.default is not None or col.server_default is not None)
    ]
    assert trapped == []


# ---------------------------------------------------------------- 3. stories in every format


def test_stories_and_story_in_every_format(cli):
    with FeedServer() as srv:
        srv.route("/feed.xml", Route(body=RSS, headers={"Content-Type": "application/rss+xml"}))
        cli("source", "add", "rss", srv.url("/feed.xml"), "--name", "front")
        assert cli("collect", "--quiet")[0] == 0
    for fmt in ("table", "csv", "jsonl"):
        code, out, err = cli("stories", "--format", fmt)
        assert code == 0 and "Traceback" not in err, err
    csv_lines = cli("stories", "--format", "csv")[1].splitlines()
    assert csv_lines[0] == "story,first_seen_at,first_source,sources,items,last_seen_at,title"
    assert len(csv_lines) == 3 and "+00:00" in csv_lines[1]  # UTC with its offset
    stories = rows(cli, "stories")
    assert [s["title"] for s in stories] == ["Удар под Донецком", "Погода"]  # newest first
    assert [s["title"] for s in rows(cli, "stories", "--oldest-first")] == [
        "Погода",
        "Удар под Донецком",
    ]
    assert stories[0]["items"][0]["how"] == "new" and stories[0]["items"][0]["source"] == "front"
    story_id = stories[0]["story"]
    line = rows(cli, "story", str(story_id))
    assert line[0]["source"] == "front" and line[0]["how"] == "new"
    assert "front" in cli("story", str(story_id), "--format", "csv")[1]
    code, out, _ = cli("story", str(story_id))
    assert code == 0 and "first seen 2024-10-29 05:15:00+00:00 at front" in out


# ---------------------------------------------------------------- 4. export / import round trip


def test_config_round_trip_into_a_fresh_database_with_a_full_account_export(
    cli, tmp_path, fresh_db_url
):
    from monitor.cli import app
    from monitor.cli.common import run_app

    code, out, err = cli("import", "telegram-export", str(EXPORT), "--all-chats")
    assert code == 0, err
    sources = rows(cli, "source", "list")
    assert len(sources) == 2 and len({s["locator"] for s in sources}) == 1  # two chats, one file
    cli("desk", "add", "kyiv", "--target", "json://127.0.0.1:9/hook", "--target", "env:KYIV_URL")
    exported = cli("export-config")[1]
    path = tmp_path / "conf.toml"
    path.write_text(exported, encoding="utf-8")
    assert run_app(app, ["--db", fresh_db_url, "db", "upgrade"]) == 0
    assert run_app(app, ["--db", fresh_db_url, "import-config", str(path)]) == 0
    assert run_app(app, ["--db", fresh_db_url, "import-config", str(path)]) == 0  # idempotent


def test_import_config_warns_about_stored_targets_with_a_real_command(
    cli, tmp_path, fresh_db_url, capsys
):
    from monitor.cli import app
    from monitor.cli.common import run_app

    cli("desk", "add", "kyiv", "--target", "json://127.0.0.1:9/hook")
    path = tmp_path / "conf.toml"
    path.write_text(cli("export-config")[1], encoding="utf-8")
    run_app(app, ["--db", fresh_db_url, "db", "upgrade"])
    capsys.readouterr()
    assert run_app(app, ["--db", fresh_db_url, "import-config", str(path)]) == 0
    err = capsys.readouterr().err
    assert "monitor desk target-add kyiv URL" in err
    assert (
        run_app(
            app, ["--db", fresh_db_url, "desk", "target-add", "kyiv", "json://127.0.0.1:9/hook"]
        )
        == 0
    )


# ---------------------------------------------------------------- 5. durations need units


def test_durations_need_units_and_the_floor_needs_force(cli, tmp_path):
    code, _, err = cli("source", "add", "rss", "https://a.example/f.xml", "--interval", "15")
    assert code == 2 and "needs a unit" in err and "15m" in err
    code, _, err = cli("source", "add", "rss", "https://a.example/f.xml", "--interval", "1m")
    assert code == 2 and "below the floor of 5m" in err and "--force" in err
    assert rows(cli, "source", "list") == []
    assert (
        cli(
            "source",
            "add",
            "rss",
            "https://a.example/f.xml",
            "--name",
            "a",
            "--interval",
            "1m",
            "--force",
        )[0]
        == 0
    )
    assert (
        cli("source", "add", "rss", "https://b.example/f.xml", "--name", "b", "--interval", "15m")[
            0
        ]
        == 0
    )
    code, _, err = cli("source", "set", "b", "--interval", "30")
    assert code == 2 and "needs a unit" in err
    assert cli("route", "add", "x", "y", "--max-age", "48")[0] == 2
    assert cli("mute", "term", "1", "--for", "6")[0] == 2
    listed = {r["name"]: r for r in rows(cli, "source", "list")}
    assert listed["a"]["interval"] == "1m" and "below the floor, forced" in listed["a"]["why"]
    assert listed["b"]["why"] == "pinned 15m"
    # in a TOML file a bare number is seconds
    conf = tmp_path / "c.toml"
    conf.write_text(
        '[[sources]]\nname = "c"\ntype = "rss"\n'
        'locator = "https://c.example/f.xml"\ninterval = 900\n',
        encoding="utf-8",
    )
    assert cli("import-config", str(conf))[0] == 0
    assert {r["name"]: r["interval"] for r in rows(cli, "source", "list")}["c"] == "15m"


def test_settings_durations_take_seconds_or_units(tmp_path):
    from monitor.errors import ConfigError
    from monitor.settings import load_settings

    conf = tmp_path / "m.toml"
    conf.write_text('[alerts]\nsilent_after = 7200\ndefault_max_age = "none"\n', encoding="utf-8")
    settings = load_settings(conf)
    assert (settings.alerts.silent_after, settings.alerts.default_max_age) == ("2h", "none")
    conf.write_text('[alerts]\nsilent_after = "two days"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="alerts.silent_after"):
        load_settings(conf)


# ---------------------------------------------------------------- 6. the ceiling, and why


def test_a_quiet_feed_is_checked_again_within_the_two_hour_ceiling(cli, monkeypatch):
    from datetime import datetime

    assert Settings().fetch.max_interval == 7200
    with FeedServer() as srv:
        srv.route("/feed.xml", Route(body=RSS, headers={"Content-Type": "application/rss+xml"}))
        cli(
            "source", "add", "rss", srv.url("/feed.xml"), "--name", "quiet"
        )  # its posts are from 2024
        cli("collect", "--quiet")
        row = rows(cli, "source", "list")[0]
        gap = datetime.fromisoformat(row["next_check"]) - datetime.fromisoformat(row["last_fetch"])
        assert gap == timedelta(hours=2) and row["interval"] == "2h"
        assert row["why"] == "ceiling 2h (few or no posts this week)"
        monkeypatch.setenv("MONITOR_FETCH__MAX_INTERVAL", "3600")
        cli("collect", "--all", "--quiet")
        assert rows(cli, "source", "list")[0]["interval"] == "1h"


# ---------------------------------------------------------------- 7. exit codes


def test_missing_things_exit_1_and_bad_input_exit_2(cli):
    cli("source", "add", "rss", "https://a.example/f.xml", "--name", "a")
    assert cli("collect", "--source", "nosuch")[0] == 1
    assert cli("story", "999")[0] == 1
    assert cli("story", "abc")[0] == 2
    assert cli("items", "--source", "nosuch")[0] == 1
    assert cli("hits", "--watchlist", "nosuch")[0] == 1
    assert cli("stories", "--watchlist", "nosuch")[0] == 1
    assert cli("items", "--limit", "0")[0] == 2
    assert cli("items", "--since", "yesterday")[0] == 2
    assert cli("alerts", "list", "--status", "lost")[0] == 2
    assert cli("term", "backtest", "x", "--source", "nosuch")[0] == 1
    cli("source", "disable", "a")
    code, _, err = cli("collect", "--source", "a")
    assert code == 1 and "disabled" in err


# ---------------------------------------------------------------- 8. config show loads back


def test_config_show_output_loads_back(tmp_path, monkeypatch):
    from monitor.cli import app
    from monitor.cli.common import run_app

    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    conf = tmp_path / "m.toml"
    conf.write_text('[log]\njson = true\n[alerts]\nsilent_after = "12h"\n', encoding="utf-8")

    def show(path: Path, capsys=None) -> str:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert run_app(app, ["--config", str(path), "config", "show"]) == 0
        return buf.getvalue()

    first = show(conf)
    assert "json = true" in first and "json_format" not in first
    again = tmp_path / "again.toml"
    again.write_text(first, encoding="utf-8")
    assert show(again) == first


def test_config_example_is_shipped_and_loads(tmp_path, monkeypatch, capsys):
    from monitor.cli import app
    from monitor.cli.common import run_app
    from monitor.settings import load_settings

    assert run_app(app, ["config", "example"]) == 0
    text = capsys.readouterr().out
    assert (
        text
        == (Path(__file__).resolve().parents[2] / "config" / "monitor.example.toml").read_text()
    )
    path = tmp_path / "example.toml"
    path.write_text(text, encoding="utf-8")
    assert load_settings(path).fetch.max_interval == 7200


# ------------------------------------------------------------ 9. targets and accounts are checked


def test_targets_are_checked_when_saved(cli, store):
    code, _, err = cli("desk", "add", "kyiv", "--target", "nosuch://x")
    assert code == 2 and "Apprise cannot load" in err
    assert rows(cli, "desk", "list") == []
    assert cli("desk", "add", "kyiv", "--target", "env:KYIV_URL")[0] == 0
    assert cli("desk", "target-add", "kyiv", "tgram://BOTTOKEN/CHATID")[0] == 2  # not a bot token
    assert cli("desk", "target-add", "kyiv", "env:not a name")[0] == 2
    assert cli("desk", "target-add", "nosuch", "env:X")[0] == 1
    with store.unit() as s:
        assert s.scalars(select(DeskTargetRow.url_env)).all() == ["KYIV_URL"]


# ---------------------------------------------------------------- 10. demo and alerts list


def test_demo_kept_twice_and_opened_by_web(tmp_path, monkeypatch, capsys):
    from monitor.cli import app
    from monitor.cli.common import run_app
    from monitor.demo import run_demo

    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "demo"
    first = run_demo(keep=folder, echo=lambda _line: None)
    assert first.passes[0].errors == 0 and first.passes[0].new_items > 0
    second = run_demo(keep=folder, echo=lambda _line: None)  # the same folder again
    assert second.passes[0].errors == 0 and second.passes[0].new_items == 0
    opened = []
    monkeypatch.setattr(
        "monitor.cli.demo._serve_web", lambda url, settings, port: opened.append(url)
    )
    monkeypatch.setattr("monitor.demo.run_demo", lambda *a, **k: pytest.fail("ran a new demo"))
    assert run_app(app, ["demo", "--dir", str(folder), "--web"]) == 0
    assert opened == [f"sqlite:///{folder / 'demo.db'}"]
    assert "opening the demo kept in" in capsys.readouterr().out


def test_alerts_list_is_a_command(cli):
    cli("desk", "add", "kyiv")
    assert cli("alerts", "list")[0] == 0 and cli("alerts")[0] == 0
    assert cli("alerts", "list", "--desk", "nosuch")[0] == 1


def test_the_same_channel_as_two_types_and_the_same_feed_twice(cli):
    assert cli("source", "add", "telegram-web", "@some_channel")[0] == 0
    code, out, _ = cli("source", "add", "telegram", "https://t.me/some_channel")
    assert code == 0 and "'@some_channel (telegram)'" in out  # a default name of its own
    cli("source", "add", "rss", "https://a.example/f.xml")
    code, _, err = cli("source", "add", "rss", "https://a.example/f.xml", "--name", "again")
    assert code == 1 and "already exists as 'a.example/f.xml'" in err
