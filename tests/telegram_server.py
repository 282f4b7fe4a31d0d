"""A real MTProto server for integration tests: piltover from ``../shared/telegram-server``.

The server is AGPL software kept outside this repository; tests only start it and its ``tg.py``
helper as separate processes (never import or copy its code).

* :func:`prepare` runs its ``setup.sh`` once into a cache directory (``$MONITOR_TG_SERVER_ROOT``,
  default ``~/.cache/monitor-tg-server``): a server venv, a client venv with Telethon 1.39.0 for
  ``tg.py``, the server's RSA key and a template database. A second call returns at once.
* :class:`TelegramTestServer` starts a fresh server (empty state directory of its own, a free port
  on 127.0.0.1, ~5 s) and stops it. Its helpers wrap ``tg.py`` — the *other* side of the tests:
  accounts, channels, posts, edits, deletions, joins, login codes, 2FA passwords.
  :meth:`TelegramTestServer.settings` points our own code at it (``telegram.server`` ...).

What the server does differently from Telegram (its README): no FloodWait, no membership cap, no
logout; message ids are one counter for the whole server (a channel's ids skip); a new channel's
first message is the service message "channel created"; ``get_messages(ids=[...])`` omits deleted
ids instead of returning None in their place. Catch-up after a restart (observed here with
Telethon 1.39 and a session file): ``updates.getDifference`` points at the channel and
``getChannelDifference`` returns the posts made meanwhile, but not edits or deletions made
meanwhile (none reached the client's update dispatch in our probe).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "telegram-server"
API_ID, API_HASH = 1, "0" * 32  # not checked by the server
_PHONES = itertools.count(1)


class Unavailable(Exception):
    """The test server cannot be used here; the message says why (one line)."""


def cache_root() -> Path:
    root = os.environ.get("MONITOR_TG_SERVER_ROOT") or "~/.cache/monitor-tg-server"
    return Path(root).expanduser()


def prepare(root: Path | None = None, shared: Path = SHARED, *, timeout: float = 900) -> Path:
    """Build the server install in ``root`` once (``setup.sh``; needs PyPI the first time).

    Raises :class:`Unavailable` when the shared folder is missing or the setup fails. Concurrent
    test runs on one machine wait for each other (a lock file beside ``root``).
    """
    root = root or cache_root()
    if not (shared / "setup.sh").is_file():
        raise Unavailable(f"no Telegram test server at {shared} (../shared/telegram-server)")
    import telethon

    if not telethon.__version__.startswith("1.39."):
        raise Unavailable(f"the test server speaks Telethon 1.39's layer; installed: "
                          f"Telethon {telethon.__version__} (pip install 'telethon>=1.39,<1.40')")
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        lock = open(root.parent / f".{root.name}.lock", "w")
    except OSError as exc:
        raise Unavailable(f"cannot use {root} for the server install: {exc.strerror}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = subprocess.run([str(shared / "setup.sh"), str(root)], capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"{shared}/setup.sh {root} took longer than {timeout:.0f} s"
                              ) from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise Unavailable(f"{shared}/setup.sh {root} failed (exit {done.returncode}): {tail}")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TelegramTestServer:
    """One throw-away server: ``start()``, the ``tg.py`` helpers, ``stop()``."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root
        self.workdir = workdir
        self.data = workdir / "state"
        self.log = workdir / "server.log"  # outside the state dir, which each start wipes
        self.port = 0
        self.start_seconds = 0.0
        self._proc: subprocess.Popen | None = None

    # -- process ----------------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> "TelegramTestServer":
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            began = time.monotonic()
            env = {**os.environ, "PILTOVER_ROOT": str(self.root), "PILTOVER_PORT": str(self.port),
                   "PILTOVER_DATA": str(self.data), "LOGURU_LEVEL": "INFO"}
            with open(self.log, "wb") as out:
                self._proc = subprocess.Popen([str(self.root / "run_server.sh"), str(self.root)],
                                              stdout=out, stderr=subprocess.STDOUT, env=env,
                                              stdin=subprocess.DEVNULL, start_new_session=True)
            while time.monotonic() - began < timeout:
                if b"Running on" in self.log.read_bytes():
                    self.start_seconds = time.monotonic() - began
                    return self
                if self._proc.poll() is not None:
                    break
                time.sleep(0.1)
            self.stop()
            text = self.log.read_text(errors="replace")
            if "address already in use" not in text.lower() or attempt == 2:
                tail = " | ".join(text.strip().splitlines()[-3:])
                raise Unavailable(f"the test server did not start on port {self.port}: {tail}")
        raise AssertionError("unreachable")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> "TelegramTestServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- where our code connects -----------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def public_key(self) -> Path:
        return self.root / "keys" / "pubkey.asc"  # the same key every start from this root

    def settings(self, data_dir: Path, **telegram: Any):
        """Settings that point our Telegram code at this server (the database is up to you)."""
        from monitor.settings import Settings, TelegramSettings

        database_url = telegram.pop("database_url", "")
        return Settings(data_dir=data_dir, database_url=database_url, telegram=TelegramSettings(
            api_id=API_ID, api_hash=API_HASH, server=self.address,
            server_public_key=self.public_key, **telegram))

    def env(self) -> dict[str, str]:
        """The same as ``MONITOR_*`` environment variables, for a ``monitor`` subprocess."""
        return {"MONITOR_TELEGRAM__API_ID": str(API_ID), "MONITOR_TELEGRAM__API_HASH": API_HASH,
                "MONITOR_TELEGRAM__SERVER": self.address,
                "MONITOR_TELEGRAM__SERVER_PUBLIC_KEY": str(self.public_key)}

    # -- the other side: tg.py --------------------------------------------------------------------

    def tg(self, *args: Any, stdin: str | None = None, timeout: float = 120) -> str:
        """Run ``tg.py ARGS`` against this server; its stdout, or AssertionError with its stderr."""
        env = {**os.environ, "PILTOVER_ROOT": str(self.root), "PILTOVER_PORT": str(self.port),
               "PILTOVER_DATA": str(self.data), "TG_TIMEOUT": str(int(timeout))}
        cmd = [str(self.root / "venv-client" / "bin" / "python"), str(self.root / "tg.py"),
               *map(str, args)]
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                              timeout=timeout + 10)
        if done.returncode != 0:
            raise AssertionError(f"tg.py {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    @staticmethod
    def new_phone() -> str:
        """A phone number no other account of this test run has (6 to 16 digits)."""
        return f"+99966{next(_PHONES):05d}"

    def signup(self, phone: str | None = None, *, password: str | None = None,
               first_name: str = "Test") -> str:
        """Create the account (or log it in); its Telethon StringSession (a secret)."""
        args = ["signup", phone or self.new_phone(), "--first-name", first_name]
        return self.tg(*args, *(["--password", password] if password else [])).strip()

    def channel(self, session: str, username: str, title: str) -> int:
        """A broadcast channel with ``@username``; its marked id (-100…)."""
        return int(self.tg("channel", session, username, title).strip())

    def post(self, session: str, username: str, n: int = 1, *, prefix: str | None = None,
             texts: Iterable[str] | None = None) -> list[int]:
        """``n`` posts ("PREFIX k", or ``texts`` in turn); their message ids."""
        args: list[Any] = ["post", session, username, n]
        if prefix:
            args += ["--prefix", prefix]
        stdin = None
        if texts is not None:
            args += ["--texts", "-"]
            stdin = "\n".join(texts) + "\n"
        return [int(line) for line in self.tg(*args, stdin=stdin).split()]

    def edit(self, session: str, username: str, message_id: int, text: str) -> None:
        self.tg("edit", session, username, message_id, text)

    def delete(self, session: str, username: str, *ids: int) -> int:
        return int(self.tg("delete", session, username, *ids).strip())

    def join(self, session: str, username: str) -> None:
        self.tg("join", session, username)

    def set_password(self, session: str, password: str) -> None:
        self.tg("set-password", session, password)

    def code(self, phone: str) -> str:
        """The last login code the server sent to ``phone``."""
        return self.tg("code", phone).strip()

    def history(self, session: str, username: str) -> list[dict[str, Any]]:
        import json

        return [json.loads(line) for line in self.tg("history", session, username,
                                                     "--reverse").splitlines()]


@contextlib.contextmanager
def running(workdir: Path, root: Path | None = None):
    """``prepare()`` then a started server for the block (stopped after it)."""
    server = TelegramTestServer(prepare(root), workdir)
    with server:
        yield server
