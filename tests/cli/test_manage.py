"""The management CLI against real databases: exit codes, messages, formats, import/export."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.store.migrate import head_revision
from monitor.store.db import Store

ROOT = Path(__file__).resolve().parents[2]


def test_db_upgrade_creates_schema_then_is_a_noop(fresh_db_url, capsys):
    from monitor.cli import app
    from monitor.cli.common import run_app

    assert run_app(app, ["--db", fresh_db_url, "db", "upgrade"]) == 0
    assert "upgraded empty ->" in capsys.readouterr().out
    assert run_app(app, ["--db", fresh_db_url, "db", "upgrade"]) == 0
    assert "already at revision" in capsys.readouterr().out
    assert run_app(app, ["--db", fresh_db_url, "db", "check"]) == 0
    store = Store(fresh_db_url)
    try:
        from monitor.store.migrate import current_revision
        assert current_revision(store) == head_revision(store)
    finally:
        store.dispose()


def test_duplicate_names_exit_1_with_a_clear_message(cli):
    assert cli("source", "add", "rss", "https://example.com/feed.xml", "--name", "ex")[0] == 0
    code, out, err = cli("source", "add", "rss", "https://example.com/other.xml", "--name", "ex")
    assert code == 1 and "already exists" in err and "Traceback" not in err
    assert cli("watchlist", "add", "dprk")[0] == 0
    code, _, err = cli("watchlist", "add", "dprk")
    assert code == 1 and "a watchlist named 'dprk' already exists" in err
    assert cli("desk", "add", "kyiv")[0] == 0
    code, _, err = cli("desk", "add", "kyiv")
    assert code == 1 and "already exists" in err


def test_bad_input_is_exit_2_without_traceback(cli):
    code, _, err = cli("source", "add", "carrier-pigeon", "x")
    assert code == 2 and "unknown source type" in err
    code, _, err = cli("desk", "add", "d", "--timezone", "Mars/Olympus")
    assert code == 2 and "unknown time zone" in err
    code, _, err = cli("source", "add", "rss", "https://example.com/f", "--interval", "soon")
    assert code == 2 and "duration" in err
    code, _, err = cli("watchlist", "remove", "missing")
    assert code == 1 and "no watchlist named 'missing'" in err


def test_list_formats_name_related_things(cli):
    cli("desk", "add", "kyiv", "--target", "json://127.0.0.1:9999/hook/secret-token")
    cli("watchlist", "add", "dprk", "--desk", "kyiv")
    cli("source", "add", "rss", "https://a.example/feed.xml", "--name", "a")
    cli("source", "add", "rss", "https://b.example/feed.xml", "--name", "b")
    code, out, _ = cli("source", "list", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["name"] for r in rows] == ["a", "b"]
    code, out, _ = cli("source", "list", "--format", "csv", "--limit", "1")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == ["a"]
    code, out, _ = cli("watchlist", "list", "--format", "jsonl")
    assert json.loads(out)["desk"] == "kyiv"
    code, out, _ = cli("desk", "list", "--format", "jsonl")
    assert "secret-token" not in out and [t.split(" ", 1)[1] for t in json.loads(out)["targets"]] == ["json://127.0.0.1:9999/****"]
    code, out, _ = cli("route", "list", "--format", "jsonl")
    route = json.loads(out)
    assert (route["watchlist"], route["desk"], route["mode"], route["max_age"]) == ("dprk", "kyiv", "realtime", "2d")
    code, out, _ = cli("source", "list", "--since", "1h", "--format", "jsonl")
    assert len(out.splitlines()) == 2
    code, out, _ = cli("source", "list", "--since", "2999-01-01", "--format", "jsonl")
    assert out == ""


def test_source_enable_disable_remove(cli):
    cli("source", "add", "rss", "https://a.example/feed.xml", "--name", "a")
    assert cli("source", "disable", "a")[0] == 0
    assert json.loads(cli("source", "list", "-f", "jsonl")[1])["enabled"] == "no"
    assert cli("source", "enable", "a")[0] == 0
    assert json.loads(cli("source", "list", "-f", "jsonl")[1])["enabled"] == "yes"
    assert cli("source", "remove", "a")[0] == 0
    assert cli("source", "list", "-f", "jsonl")[1] == ""
    assert cli("source", "remove", "a")[0] == 1


def test_export_import_round_trip_is_deterministic_and_idempotent(cli, tmp_path, monkeypatch):
    cli("desk", "add", "kyiv", "--target", "tgram://123456:SECRETBOTTOKEN/-100123", "--target", "env:KYIV_SLACK",
        "--timezone", "Europe/Kyiv", "--quiet", "23:00-07:00")
    cli("source", "add", "rss", "https://a.example/feed.xml", "--name", "a", "--interval", "15m",
        "--language", "ru")
    cli("watchlist", "add", "dprk", "--desk", "kyiv")
    cli("route", "add", "dprk", "kyiv", "--throttle", "5/1h", "--max-age", "none")
    code, exported, _ = cli("export-config")
    assert code == 0
    assert "SECRETBOTTOKEN" not in exported and 'env = "KYIV_SLACK"' in exported
    path = tmp_path / "conf.toml"
    path.write_text(exported, encoding="utf-8")
    assert cli("export-config")[1] == exported  # deterministic
    code, out, _ = cli("import-config", str(path))
    assert code == 0 and "nothing to change" in out  # importing into the same database changes nothing
    cli("source", "remove", "a")
    code, out, _ = cli("import-config", str(path))
    assert code == 0 and "created source a" in out
    code, out, _ = cli("import-config", str(path))
    assert "nothing to change" in out
    assert cli("export-config")[1] == exported


def test_import_of_a_broken_file_is_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[sources]]\nname = 'x'\n", encoding="utf-8")
    code, _, err = cli("import-config", str(bad))
    assert code == 2 and "sources[0].type" in err
    bad.write_text("not = [toml", encoding="utf-8")
    code, _, err = cli("import-config", str(bad))
    assert code == 2 and "invalid TOML" in err


def _run(*args, env=None):
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MONITOR_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=60)


def test_config_show_never_prints_secrets(tmp_path):
    conf = tmp_path / "m.toml"
    conf.write_text('[telegram]\napi_id = 12345\napi_hash = "0123456789abcdefHASHSECRET"\n'
                    '[web]\nsecret_key = "WEBSECRETKEY"\n', encoding="utf-8")
    result = _run("--config", str(conf), "config", "show", env={
        "MONITOR_DATABASE_URL": "postgresql://user:DBPASSWORD@127.0.0.1/x",
        "MONITOR_TELEGRAM__SESSION_STRING": "SESSIONSECRET"})
    assert result.returncode == 0, result.stderr
    for secret in ("HASHSECRET", "WEBSECRETKEY", "DBPASSWORD", "SESSIONSECRET"):
        assert secret not in result.stdout + result.stderr
    assert "api_id = 12345" in result.stdout and "**********" in result.stdout


def test_bad_config_names_file_key_and_expectation(tmp_path):
    conf = tmp_path / "bad.toml"
    conf.write_text('[fetch]\ntimeout = "soon"\nbogus = 1\n', encoding="utf-8")
    result = _run("--config", str(conf), "config", "show")
    assert result.returncode == 2
    assert str(conf) in result.stderr and "fetch.timeout" in result.stderr and "number" in result.stderr
    assert "fetch.bogus: unknown setting" in result.stderr and "Traceback" not in result.stderr
    conf.write_text("[fetch\n", encoding="utf-8")
    result = _run("--config", str(conf), "config", "show")
    assert result.returncode == 2 and "invalid TOML" in result.stderr and "Traceback" not in result.stderr
    result = _run("--config", str(tmp_path / "missing.toml"), "config", "show")
    assert result.returncode == 2 and "not found" in result.stderr
    result = _run("config", "show", env={"MONITOR_FETCH__MAX_BYTES": "-5"})
    assert result.returncode == 2 and "environment: fetch.max_bytes" in result.stderr


def test_default_database_is_an_sqlite_file_in_the_data_dir(tmp_path):
    env = {"MONITOR_DATA_DIR": str(tmp_path / "data")}
    env_clean = {k: v for k, v in os.environ.items() if k != "MONITOR_DATABASE_URL"}
    result = subprocess.run([sys.executable, "-m", "monitor", "db", "upgrade"], capture_output=True, text=True,
                            env={**env_clean, **env}, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "monitor.db").exists()


def test_telegram_session_string_command(cli, tmp_path, monkeypatch):
    from telethon.crypto import AuthKey
    from telethon.sessions import SQLiteSession, StringSession

    code, _, err = cli("telegram", "session-string")
    assert code == 2 and "monitor telegram login" in err and "Traceback" not in err
    (tmp_path / "data").mkdir(exist_ok=True)
    stored = SQLiteSession(str(tmp_path / "data" / "telegram.session"))
    stored.set_dc(4, "149.154.167.91", 443)
    stored.auth_key = AuthKey(b"k" * 256)
    stored.save()
    stored.close()
    code, out, _ = cli("telegram", "session-string")
    assert code == 0
    assert StringSession(out.strip()).auth_key.key == b"k" * 256


def test_usage_and_database_errors_are_messages_not_tracebacks(cli, tmp_path, capsys):
    from monitor.cli import app
    from monitor.cli.common import run_app

    for argv, needle in ((["hits", "--bogus"], "No such option"),
                         (["hits", "--format", "xml"], "'xml' is not one of"),
                         (["hits", "--limit", "x"], "--limit"),
                         (["story", "abc"], "story_id"),
                         (["term", "test"], "Missing argument"),
                         (["alias", "set", "k"], "Missing argument"),
                         (["no-such-command"], "No such command")):
        code, _, err = cli(*argv)
        assert code == 2 and needle in err and "Traceback" not in err, (argv, err)
    # a database without the schema, and one that cannot be reached
    capsys.readouterr()
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert run_app(app, ["--db", empty, "hits"]) == 1
    assert "monitor db upgrade" in capsys.readouterr().err
    assert run_app(app, ["--db", "postgresql://nobody@127.0.0.1:1/none", "hits"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open the database") and "Traceback" not in err


def test_alias_changes_that_would_break_saved_terms_are_refused(cli, tmp_path):
    assert cli("alias", "set", "kim", "Ким Чен Ын", "Kim Jong Un")[0] == 0
    cli("watchlist", "add", "dprk")
    assert cli("term", "add", "dprk", "@kim NEAR/5 ракета")[0] == 0
    code, _, err = cli("alias", "set", "kim", "!!!")
    assert code == 2 and "@kim" in err and "Traceback" not in err
    code, _, err = cli("alias", "remove", "kim")
    assert code == 2 and "would no longer compile" in err and "@kim NEAR/5 ракета" in err
    assert json.loads(cli("alias", "list", "-f", "jsonl")[1])["members"] == ["Ким Чен Ын", "Kim Jong Un"]
    assert cli("alias", "set", "kim", "Ким Чен Ын", "Кім Чен Ин")[0] == 0  # a change that compiles
    assert cli("term", "test", "@kim NEAR/5 ракета", "--text", "Кім Чен Ин оглянув нову ракету")[0] == 0
    code, _, err = cli("alias", "set", "empty", "  ", "…")
    assert code == 2 and "@empty" in err
    # an import brings aliases and the terms that use them in one go
    conf = tmp_path / "conf.toml"
    conf.write_text('[[aliases]]\nname = "putin"\nmembers = ["Путин", "Putin"]\n\n'
                    '[[watchlists]]\nname = "kremlin"\n[[watchlists.terms]]\nquery = "@putin визит"\n',
                    encoding="utf-8")
    code, out, err = cli("import-config", str(conf))
    assert code == 0, err
    assert "alias putin" in out and "kremlin" in out
