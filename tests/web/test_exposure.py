"""What the web server exposes beyond the pages: forwarded headers only from trusted proxies,
``/metrics`` behind a token or an admin login, Atom feeds that are valid XML whatever the text,
never served for a disabled watchlist, and never logged with their token (both backends)."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timezone
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from monitor.service.http import ops_app, uvicorn_options
from monitor.store import watch as watch_repo
from monitor.store.models import HitRow
from monitor.web.app import create_app
from tests.web.conftest import csrf_of, free_port
from tests.web.seed import PASSWORD
from tests.web.test_security import atom_url_of


class Served:
    """The app behind real uvicorn on loopback, configured as ``monitor web`` configures it."""

    def __init__(self, app, settings):
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", **uvicorn_options(settings))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def login(base: str, name: str, password: str, forwarded_for: str) -> int:
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        csrf = csrf_of(c.get("/login").text)
        r = c.post("/login", data={"name": name, "password": password, "csrf_token": csrf},
                   headers={"X-Forwarded-For": forwarded_for})
        return r.status_code


def test_a_spoofed_forwarded_for_does_not_change_the_address(settings, store, ids):
    assert settings.web.trusted_proxies == []  # the default: no proxy is believed
    with Served(create_app(settings, store), settings) as base:
        for i in range(5):
            assert login(base, "admin", "wrong", f"10.0.0.{i}") == 401
        # every attempt counted against 127.0.0.1, whatever the header claimed
        assert login(base, "admin", PASSWORD, "10.9.9.9") == 429


def test_a_trusted_proxy_forwards_the_client_address(settings, store, ids):
    settings.web.trusted_proxies = ["127.0.0.1"]
    with Served(create_app(settings, store), settings) as base:
        for _ in range(5):
            assert login(base, "admin", "wrong", "10.0.0.1") == 401
        assert login(base, "admin", PASSWORD, "10.0.0.1") == 429
        assert login(base, "admin", PASSWORD, "10.0.0.2") == 303  # another client behind it


def ops(settings, store, *, web: bool):
    service = SimpleNamespace(settings=settings, store=store, scanner=None,
                              options=SimpleNamespace(web=web, tick=1.0),
                              started_at=datetime.now(timezone.utc))
    return TestClient(ops_app(service), follow_redirects=False)


def test_metrics_without_a_token_are_off_on_the_ops_port(settings, store):
    c = ops(settings, store, web=False)
    assert c.get("/metrics").status_code == 404
    assert c.get("/healthz").status_code == 200


def test_metrics_want_the_bearer_token(settings, store):
    settings.web.metrics_token = SecretStr("scrape-me-please")
    c = ops(settings, store, web=False)
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Basic scrape-me-please"}).status_code == 401
    r = c.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert r.status_code == 200 and "monitor_fetches_total" in r.text


def test_metrics_with_the_web_ui_want_an_admin_login(settings, store, ids):
    c = ops(settings, store, web=True)
    assert c.get("/metrics").status_code == 401
    for name, status in (("viewer", 401), ("oper", 401), ("admin", 200)):
        c.cookies.clear()
        csrf = csrf_of(c.get("/login").text)
        r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf})
        assert r.status_code == 303
        assert c.get("/metrics").status_code == status, name


def test_atom_is_valid_xml_for_any_text(client_for, ids, store, backend):
    admin = client_for("admin")
    admin.post(f"/watchlists/{ids['watchlist']}", {"action": "atom"})
    url = atom_url_of(admin, ids)
    nasty = "esc\x1b[31m bell\x07 vt\x0b ff\x0c \ufffe\uffff bidi\u202e end"
    if backend == "sqlite":  # PostgreSQL text cannot hold a NUL at all
        nasty += " nul\x00"
    with store.unit() as s:
        s.get(HitRow, ids["hit"]).snippet = nasty
    body = client_for().get(url).content
    root = ET.fromstring(body)  # would raise on any character XML cannot hold
    summaries = [e.text or "" for e in root.iter("{http://www.w3.org/2005/Atom}summary")]
    assert any("esc" in t and "bidi\u202e end" in t for t in summaries)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", body.decode())


def test_atom_of_a_disabled_watchlist_is_not_served(client_for, ids, store):
    admin = client_for("admin")
    admin.post(f"/watchlists/{ids['watchlist']}", {"action": "atom"})
    url = atom_url_of(admin, ids)
    anon = client_for()
    assert anon.get(url).status_code == 200
    with store.unit() as s:
        watch_repo.update_watchlist(s, ids["watchlist"], enabled=False)
    assert anon.get(url).status_code == 404
    with store.unit() as s:
        watch_repo.update_watchlist(s, ids["watchlist"], enabled=True)
    assert anon.get(url).status_code == 200


def test_the_access_log_leaves_out_atom_tokens(settings, store, ids, caplog):
    app = create_app(settings, store)
    admin = TestClient(app, follow_redirects=False)
    csrf = csrf_of(admin.get("/login").text)
    admin.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": csrf})
    csrf = csrf_of(admin.get("/").text)
    admin.post(f"/watchlists/{ids['watchlist']}", data={"action": "atom", "csrf_token": csrf})
    url = atom_url_of(admin, ids)
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 16
    with Served(app, settings) as base, caplog.at_level(logging.INFO, "monitor.web.access"):
        assert httpx.get(base + url).status_code == 200
        assert httpx.get(base + "/atom/" + token[:-1] + "x").status_code == 404
        assert httpx.get(base + "/login").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.web.access"]
    assert any("/atom/<token> 200" in line for line in lines)
    assert any("/atom/<token> 404" in line for line in lines)
    assert any("/login 200" in line for line in lines)
    assert not any(token[:12] in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("proxies", [[], ["127.0.0.1", "10.0.0.0/8"]])
def test_uvicorn_options_follow_the_setting(settings, proxies):
    settings.web.trusted_proxies = proxies
    opts = uvicorn_options(settings)
    assert opts["proxy_headers"] is bool(proxies)
    assert opts["forwarded_allow_ips"] == [str(p) for p in settings.web.trusted_proxies]
    assert opts["access_log"] is False


def test_web_users_cannot_add_or_repoint_server_path_sources(client_for, store, tmp_path):
    from sqlalchemy import select

    from monitor.store import sources as source_repo
    from monitor.store.models import SourceRow

    admin = client_for("admin")
    fetch = {"X-Requested-With": "fetch"}
    assert "<option>telegram-export</option>" not in admin.get("/sources").text
    assert "<option>rss</option>" in admin.get("/sources").text
    for locator in ("/etc/passwd", "/etc", str(tmp_path)):
        r = admin.post("/sources", {"type": "telegram-export", "locator": locator, "name": "pw"},
                       headers=fetch)
        assert r.status_code == 400 and "command line" in r.json()["error"], locator
    export = tmp_path / "result.json"
    export.write_text('{"name": "x", "type": "public_channel", "id": 1, "messages": []}')
    with store.unit() as s:
        src = source_repo.add_source(s, type="telegram-export", locator=str(export),
                                     name="cli-made")
        src_id = src.id
    r = admin.post(f"/sources/{src_id}", {"action": "save", "locator": "/etc/passwd"},
                   headers=fetch)
    assert r.status_code == 400
    r = admin.post(f"/sources/{src_id}", {"action": "save", "locator": str(export),
                                          "name": "renamed"}, headers=fetch)
    assert r.status_code in (200, 303)  # other edits of such a source go on as before
    with store.unit() as s:
        assert s.scalar(select(SourceRow.locator).where(SourceRow.id == src_id)) == str(export)
        assert s.scalar(select(SourceRow).where(SourceRow.name == "pw")) is None
