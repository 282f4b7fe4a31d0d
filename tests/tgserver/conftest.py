"""Fixtures for the tests against a real MTProto server (see ``tests/telegram_server.py``).

The server is built once per machine and started once per test module (fresh state). Without
``../shared/telegram-server`` every test here is skipped with one reason; when the setup fails they
are skipped too — except under ``CI=true``, where a server that cannot be set up fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from monitor.sources.telegram_accounts import login, session_path, session_string
from tests.telegram_server import TelegramTestServer, Unavailable, prepare

_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(exc: Unavailable, *, missing_folder: bool = False):
    if _CI and not missing_folder:
        pytest.fail(f"Telegram test server: {exc}", pytrace=False)
    pytest.skip(f"Telegram test server unavailable: {exc}")


@pytest.fixture(scope="session")
def tg_root():
    """The built server install (setup.sh ran once; pytest reuses a skip or failure too)."""
    try:
        return prepare()
    except Unavailable as exc:
        _unavailable(exc, missing_folder="no Telegram test server at" in str(exc))


@pytest.fixture(scope="module")
def tg_server(tg_root, tmp_path_factory):
    """A fresh server for this module, stopped after it."""
    server = TelegramTestServer(tg_root, tmp_path_factory.mktemp("tgserver"))
    try:
        server.start()
    except Unavailable as exc:
        _unavailable(exc)
    yield server
    server.stop()


@dataclass
class Reader:
    """Our side: an account signed in through ``monitor``'s own login into a session file."""

    server: TelegramTestServer
    phone: str
    data_dir: Path

    def settings(self, data_dir: Path | None = None, **telegram: Any):
        return self.server.settings(data_dir or self.data_dir, **telegram)

    def session_string(self) -> str:
        """The signed-in session as a string, for ``tg.py`` (e.g. to join a channel)."""
        return session_string(self.settings())

    def copy_to(self, data_dir: Path) -> Path:
        """The session file copied into another data dir (never used by two clients at once)."""
        target = session_path(self.settings(data_dir), None)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(session_path(self.settings(), None), target)
        target.chmod(0o600)
        return target


@pytest.fixture(scope="module")
def reader(tg_server, tmp_path_factory) -> Reader:
    phone = tg_server.new_phone()
    tg_server.signup(phone, first_name="Reader")
    found = Reader(tg_server, phone, tmp_path_factory.mktemp("reader"))
    asyncio.run(login(found.settings(), phone=phone, code=lambda: tg_server.code(phone),
                      password=lambda: pytest.fail("no 2FA on this account")))
    return found


@pytest.fixture(scope="module")
def publisher(tg_server) -> str:
    """The session string of the account that owns the test channels and posts to them."""
    return tg_server.signup(first_name="Publisher")
