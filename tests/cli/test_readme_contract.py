"""The README's "Using it" section, walked top to bottom on SQLite and PostgreSQL.

Every command line of its shell blocks is run as written (against an empty database), with the
remote things it names replaced by loopback ones: the feed and the public Telegram channel are
served by the demo's local server (which also receives the desk's webhook alerts), the Telegram
Desktop export is the test fixture, ``feeds.opml`` is written next to it. Each command's exit code
and effect are asserted; the two Telegram login commands, which need Telegram itself, must refuse
with the documented message. A README line without an expectation here fails the test, so the
README and the program cannot drift apart.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from monitor.demo.server import DemoServer
from tests.web.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "tests" / "sources" / "tg_fixtures" / "export" / "result.json"


def readme_commands() -> list[list[str]]:
    """The commands of the "Using it" section, in order, as argument lists (without `monitor`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using it") :]
    section = section[: section.index("\n## ", 3)]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s*\[[^\]]*\]", "", line)  # [--optional parts]
            words = shlex.split(line, comments=True)
            if not words:
                continue
            assert words[0] == "monitor", line
            if "|" in words:  # monitor items | hits | stories: one command each
                parts, current = [], []
                for w in words[1:]:
                    if w == "|":
                        parts.append(current)
                        current = []
                    else:
                        current.append(w)
                commands += parts + [current]
            else:
                commands.append(words[1:])
    return commands


@pytest.fixture
def world(tmp_path, monkeypatch):
    """The loopback world the README's remote names are replaced with."""
    with DemoServer() as server:
        hook = f"json://{server.url.removeprefix('http://')}/hook"
        monkeypatch.setenv("MONITOR_TELEGRAM_WEB_BASE_URL", server.url)
        monkeypatch.setenv("MONITOR_TELEGRAM__WEB_REQUEST_SPACING", "0")
        monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("KYIV_TELEGRAM_URL", hook)
        monkeypatch.setenv("KYIV_SLACK_URL", hook)
        monkeypatch.setenv("KYIV_EMAIL_URL", hook)
        monkeypatch.delenv("MONITOR_CONFIG", raising=False)
        monkeypatch.chdir(tmp_path)
        export = tmp_path / "ChatExport" / "result.json"
        export.parent.mkdir()
        shutil.copy(EXPORT, export)
        (tmp_path / "feeds.opml").write_text(
            '<?xml version="1.0"?><opml version="2.0"><head><title>feeds</title></head><body>'
            f'<outline type="rss" text="Ukr-Novyny" xmlUrl="{server.url}/feeds/ukr-news.atom"/>'
            f'<outline type="rss" text="Hanbando" xmlUrl="{server.url}/feeds/hanbando.json"/>'
            "</body></opml>",
            encoding="utf-8",
        )
        yield {"server": server, "export": export, "tmp": tmp_path}


def test_the_readme_using_it_section_top_to_bottom(fresh_db_url, world, capsys, monkeypatch):
    from monitor.cli import app
    from monitor.cli.common import run_app

    server = world["server"]
    feed_url = f"{server.url}/feeds/kyiv-wire.xml"
    state: dict = {}

    def run(args: list[str], stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = run_app(app, ["--db", fresh_db_url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    def jsonl(*args: str) -> list[dict]:
        code, out, err = run([*args, "--format", "jsonl"])
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]

    def story_id() -> str:
        return str(jsonl("stories", "--with-hits")[0]["story"])

    def substitute(args: list[str]) -> list[str]:
        out = []
        for i, word in enumerate(args):
            if word == "https://example.org/feed.xml":
                word = feed_url
            elif word == "@some_channel":
                word = "@frontline_ru"
            elif word == "~/Downloads/ChatExport/result.json":
                word = str(world["export"])
            elif word in ("ID", "42") and i and args[i - 1] in ("story",):
                word = story_id()
            out.append(word)
        return out

    def sources() -> dict[str, dict]:
        return {r["name"]: r for r in jsonl("source", "list")}

    def feed() -> dict:
        return next(r for r in jsonl("source", "list") if r["locator"] == feed_url)

    def check(args: list[str], code: int, out: str, err: str) -> None:
        """The effect each README command must have (a command not listed here fails)."""
        key = " ".join(args[:2])
        if args[:2] == ["db", "upgrade"]:
            assert code == 0 and "upgraded empty ->" in out
        elif key == "user add":
            assert code == 0 and [u["name"] for u in jsonl("user", "list")] == ["admin"]
        elif key == "source add":
            assert code == 0 and "added" in out
            if "--interval" in args:
                assert feed()["interval"] == "15m"
        elif args == ["telegram", "login"]:
            assert code == 2 and "telegram.api_id and telegram.api_hash must be set" in err
        elif args == ["telegram", "session-string"]:
            assert code == 2 and "run `monitor telegram login` first" in err
        elif key == "import telegram-export":
            # a full-account export: its channel is imported, the personal chat left out
            assert code == 0 and "(created)" in out and "not imported" in out
            assert "Вести Тест" in sources() and "Иван" not in sources()
        elif key.startswith("import-opml"):
            assert code == 0 and "added 2 feed(s)" in out
        elif key == "source list":
            assert code == 0 and "why" in out.splitlines()[0].lower()
            assert feed()["why"] == "pinned 15m"
        elif key == "desk add":
            assert code == 0
            desk = jsonl("desk", "list")[0]
            assert (desk["name"], desk["timezone"]) == ("kyiv", "Europe/Kyiv")
            assert [t.split(" ", 1)[1] for t in desk["targets"]] == [
                "env:KYIV_TELEGRAM_URL",
                "env:KYIV_SLACK_URL",
            ]
        elif key == "watchlist add":
            assert code == 0 and jsonl("route", "list")[0]["desk"] == "kyiv"
        elif key == "alias set":
            assert code == 0 and "@kim_jong_un: Ким Чен Ын" in out
        elif key == "term add":
            assert code == 0 and len(jsonl("term", "list")) == 1
        elif key == "term test":
            assert code == 0 and "match in text" in out
        elif key == "term backtest":
            assert code == 0 and "would match" in out
        elif key == "route add":
            route = jsonl("route", "list")[0]
            assert code == 0 and (route["throttle"], route["max_age"]) == ("5/1h", "2d")
        elif args == ["collect"]:
            assert code == 0 and "hits:" in out
            assert jsonl("hits"), "the README's term matched nothing in the collected posts"
            assert (
                sources()["@frontline_ru"]["errors"] == 0
                and sources()["@some_channel"]["errors"] == 1
            )
        elif args[:1] == ["run"]:
            assert code == 0, err
        elif args[:1] in (["items"], ["hits"]):
            assert code == 0 and out.strip() != "(none)"
        elif args[:1] == ["stories"]:
            assert code == 0
            if "--limit" in args:
                assert len(out.splitlines()) == 1 + 5  # header and the five newest
        elif args[:1] == ["story"]:
            assert code == 0 and "first seen" in out
        elif key in ("alerts list",):
            assert code == 0
        elif args[:1] == ["export-config"]:
            assert code == 0 and "[[watchlists]]" in out and "BOTTOKEN" not in out
            state["config"] = out
        elif args[:1] == ["import-config"]:
            assert code == 0 and "nothing to change" in out
        elif key == "mute story":
            assert code == 0 and [m["kind"] for m in jsonl("mute", "list")] == ["story"]
        elif key == "mute list":
            assert code == 0 and "story" in out
        elif key == "desk target-add":
            assert code == 0 and len(jsonl("desk", "list")[0]["targets"]) == 3
        elif key == "desk set":
            assert code == 0 and jsonl("desk", "list")[0]["quiet"] == "23:00-07:00"
        elif key == "route remove":
            assert code == 0 and jsonl("route", "list") == []
        elif key == "user password":
            assert code == 0 and "password of 'admin' changed" in out
        elif key == "config show":
            assert code == 0 and "[fetch]" in out
        elif key == "config example":
            assert code == 0 and "max_interval = 7200" in out
        else:
            pytest.fail(f"no expectation for the README command `monitor {' '.join(args)}`")

    commands = readme_commands()
    assert len(commands) >= 35
    for args in commands:
        args = substitute(args)
        if args[:1] == ["run"]:
            code, out, err = serve(args, fresh_db_url, server)
        elif args[:1] == ["export-config"] and ">" in args:
            code, out, err = run(args[: args.index(">")])
            Path(args[args.index(">") + 1]).write_text(out, encoding="utf-8")
            args = args[: args.index(">")]
        elif args[:2] in (["user", "add"], ["user", "password"]):
            code, out, err = run(args, stdin="a long password\n")
        else:
            code, out, err = run(args)
        check(args, code, out, err)


def serve(args: list[str], db_url: str, server: DemoServer) -> tuple[int, str, str]:
    """``monitor run --port N --web`` as a process: healthy, serving the UI and metrics, delivering
    the desk's alerts to the loopback webhook; SIGTERM stops it with exit 0."""
    port = free_port()
    args = [str(port) if a == "9108" else a for a in args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MONITOR_WEB__METRICS_TOKEN": "scrape"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", db_url, *args, "--tick", "0.5"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if health.status_code == 200 and server.received:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert health is not None and health.status_code == 200, (
            proc.stderr.read() if proc.poll() else health
        )
        assert health.json()["status"] == "ok" and health.json()["last_scan"]
        assert httpx.get(f"http://127.0.0.1:{port}/login").status_code == 200
        metrics = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(metrics).status_code == 401  # not public
        scrape = httpx.get(metrics, headers={"Authorization": "Bearer scrape"})
        assert "monitor_fetches_total" in scrape.text
        assert server.received, "the service delivered no alert to the desk's webhook"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err
