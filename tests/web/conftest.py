"""Web test fixtures: the app over the test database (both backends), logged-in clients, and a real
uvicorn server on a free loopback port for the browser tests."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from monitor.settings import Settings
from monitor.web.app import create_app
from tests.web.seed import PASSWORD, seed

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def csrf_of(html: str) -> str:
    m = CSRF_META.search(html)
    assert m, "page has no CSRF meta tag"
    return m.group(1)


@pytest.fixture
def ids(store):
    return seed(store)


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def app(settings, store, ids):
    return create_app(settings, store)


class Client:
    """A TestClient that knows its current CSRF token."""

    def __init__(self, app):
        self.http = TestClient(app, base_url="http://testserver", follow_redirects=False)
        self.csrf = csrf_of(self.http.get("/login").text)

    def login(self, name: str, password: str = PASSWORD):
        r = self.http.post("/login", data={"name": name, "password": password, "csrf_token": self.csrf})
        if r.status_code == 303:
            self.csrf = csrf_of(self.http.get("/").text)
        return r

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return self.http.post(url, data=data, **kw)

    def get(self, url: str, **kw):
        return self.http.get(url, **kw)


@pytest.fixture
def client_for(app):
    def make(name: str | None = None) -> Client:
        c = Client(app)
        if name:
            assert c.login(name).status_code == 303
        return c

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(app):
    """The app served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    # Function scope on purpose: Playwright's sync API keeps an event loop running in the main
    # thread while it is open, and every later test calling asyncio.run() would then fail.
    from tests.conftest import CHROMIUM, browser_missing

    missing = browser_missing()
    if missing:  # only under CI=true: elsewhere the browser tests were left out at collection
        pytest.fail(f"{missing}: CI runs the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
