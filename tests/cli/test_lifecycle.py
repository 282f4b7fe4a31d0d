"""The operator lifecycle on real databases: remove desks, targets and routes; mute, list, unmute;
disable, enable and reset users; a private SQLite file; the login page of an empty instance."""

from __future__ import annotations

import json
import os
import stat

from fastapi.testclient import TestClient
from sqlalchemy import select

from monitor.settings import Settings
from monitor.store.db import Store
from monitor.store.models import MuteRow, SourceRow, UserRow


def rows(cli, *args) -> list[dict]:
    code, out, err = cli(*args, "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_desk_target_and_route_lifecycle(cli, store):
    cli("desk", "add", "kyiv", "--target", "env:A", "--target", "json://127.0.0.1:9/hook")
    cli("watchlist", "add", "dprk", "--desk", "kyiv")
    desk = rows(cli, "desk", "list")[0]
    assert desk["targets"][0].endswith(" env:A") and desk["targets"][1].endswith(
        " json://127.0.0.1:9/****"
    )
    target_id = desk["targets"][1].split()[0].lstrip("#")
    assert cli("desk", "target-remove", "kyiv", target_id)[0] == 0
    assert cli("desk", "target-remove", "kyiv", "env:A")[0] == 0
    assert cli("desk", "target-remove", "kyiv", "env:A")[0] == 1
    assert rows(cli, "desk", "list")[0]["targets"] == []
    assert cli("desk", "set", "kyiv", "--timezone", "Europe/Kyiv", "--quiet", "23:00-07:00")[0] == 0
    assert rows(cli, "desk", "list")[0]["quiet"] == "23:00-07:00"
    assert (
        cli("desk", "set", "kyiv", "--quiet", "none")[0] == 0
        and rows(cli, "desk", "list")[0]["quiet"] == ""
    )
    assert cli("desk", "set", "kyiv", "--timezone", "Mars/Olympus")[0] == 2
    assert cli("route", "remove", "dprk", "kyiv")[0] == 0
    assert cli("route", "remove", "dprk", "kyiv")[0] == 1
    assert cli("desk", "remove", "kyiv")[0] == 0
    assert cli("desk", "remove", "kyiv")[0] == 1
    assert rows(cli, "watchlist", "list")[0]["desk"] is None  # the watchlist stays, without a desk


def test_mute_list_and_unmute(cli, store):
    cli("watchlist", "add", "dprk")
    term_id = int(cli("term", "add", "dprk", "офицер")[1].split()[2])
    assert cli("mute", "term", str(term_id), "--for", "6h")[0] == 0
    assert cli("mute", "term", "999", "--for", "6h")[0] == 1
    mutes = rows(cli, "mute", "list")
    assert [(m["kind"], m["id"], m["what"]) for m in mutes] == [("term", term_id, "офицер")]
    assert cli("unmute", "term", str(term_id))[0] == 0
    assert rows(cli, "mute", "list") == []
    assert cli("unmute", "term", str(term_id))[0] == 1
    with store.unit() as s:
        assert s.scalar(select(MuteRow.id)) is None


def test_user_disable_enable_reset_password(cli, store, monkeypatch):
    import io

    from monitor.store import users as user_repo

    monkeypatch.setattr("sys.stdin", io.StringIO("first password\n"))
    assert cli("user", "add", "ana", "--role", "viewer")[0] == 0
    assert cli("user", "disable", "ana")[0] == 0
    with store.unit() as s:
        assert user_repo.authenticate(s, "ana", "first password") is None
    assert cli("user", "enable", "ana")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("second password\n"))
    assert cli("user", "password", "ana")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli("user", "password", "ana")[0] == 2
    assert cli("user", "password", "nobody")[0] == 1
    assert (
        cli("user", "role", "ana", "operator")[0] == 0
        and cli("user", "role", "ana", "root")[0] == 2
    )
    with store.unit() as s:
        assert user_repo.authenticate(s, "ana", "second password") is not None
        assert s.scalar(select(UserRow.role).where(UserRow.name == "ana")) == "operator"


def test_login_page_of_an_empty_instance_names_user_add(store, tmp_path):
    from monitor.web.app import create_app

    client = TestClient(create_app(Settings(data_dir=tmp_path), store))
    assert "monitor user add NAME --role admin" in client.get("/login").text


def test_a_new_sqlite_database_is_private(tmp_path):
    path = tmp_path / "new" / "monitor.db"
    store = Store(f"sqlite:///{path}")
    try:
        from monitor.store.migrate import upgrade

        upgrade(store)
    finally:
        store.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o640)  # an existing file keeps the mode its owner gave it
    Store(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_source_set_and_source_rows_are_records(cli, store):
    cli("source", "add", "rss", "https://a.example/f.xml", "--name", "a")
    assert cli("source", "set", "a", "--name", "b", "--language", "uk", "--interval", "30m")[0] == 0
    row = rows(cli, "source", "list")[0]
    assert (row["name"], row["interval"]) == ("b", "30m")
    with store.unit() as s:
        assert s.scalar(select(SourceRow.language)) == "uk"
    assert cli("source", "set", "b", "--interval", "none")[0] == 0
    assert rows(cli, "source", "list")[0]["why"] == "new: due now"
