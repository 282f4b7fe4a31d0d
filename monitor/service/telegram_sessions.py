"""Telegram sessions kept in the database, so the next node owning an account resumes it.

:class:`DatabaseSessions` implements :class:`~monitor.service.cluster.accounts.AccountSessions`:
the session is the account's SQLite session file (auth key, entity cache with access hashes, and
the update state ``catch_up`` resumes from), stored whole in ``telegram_accounts.session``.

* :meth:`~DatabaseSessions.persist` (after the client disconnected, and ``monitor telegram
  login``): a consistent copy of the file (SQLite's backup API, so a file still open elsewhere is
  read safely) goes into the database;
* :meth:`~DatabaseSessions.restore` (before connecting): the stored copy replaces the local file
  (written beside it, mode 0600, then renamed over it), when there is one.

Accounts configured with ``session_string`` keep no file and no update state: nothing moves.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from monitor.settings import Settings
from monitor.sources.telegram_accounts import session_path
from monitor.store import telegram as tg_repo
from monitor.store.db import Store


def _uses_file(settings: Settings, account: str | None) -> bool:
    if account:
        acc = settings.telegram.accounts.get(account)
        secret = acc.session_string if acc else None
    else:
        secret = settings.telegram.session_string
    return not (secret is not None and secret.get_secret_value().strip())


def read_session(path: Path) -> bytes:
    """A consistent copy of an SQLite session file, as bytes."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        return copy.serialize()
    finally:
        copy.close()
        source.close()


def write_session(path: Path, blob: bytes) -> None:
    """Replace the session file with ``blob`` (private, atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".restore")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(blob)
    os.replace(tmp, path)


def store_session(store: Store, settings: Settings, account: str | None) -> bool:
    """Copy the account's session file into the database; False when there is none."""
    path = session_path(settings, account)
    if not _uses_file(settings, account) or not path.exists():
        return False
    blob = read_session(path)
    with store.unit() as s:
        tg_repo.save_session(s, account, blob)
    return True


def restore_session(store: Store, settings: Settings, account: str | None) -> bool:
    """Write the stored session over the local file; False when none is stored."""
    if not _uses_file(settings, account):
        return False
    with store.unit() as s:
        blob = tg_repo.load_session(s, account)
    if not blob:
        return False
    write_session(session_path(settings, account), blob)
    return True


class DatabaseSessions:
    """Sessions moving between nodes through the database (see the module docstring)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings

    async def restore(self, account: str) -> None:
        await asyncio.to_thread(restore_session, self.store, self.settings, account or None)

    async def persist(self, account: str) -> None:
        await asyncio.to_thread(store_session, self.store, self.settings, account or None)
