"""A simulated Telegram client for the account-lease tests: an AccountRuntime whose "session" is
an exclusive ``flock`` on ``<dir>/<account>.session``.

Like Telegram with ``AUTH_KEY_DUPLICATED``, it refuses a second simultaneous user of a session,
across processes (and across open files of one process); the kernel drops the lock when its
process dies, as a killed node's connection drops. Every connect, disconnect and refusal is
appended to ``<dir>/events.log`` as ``<unix time> <pid> <label> <event> <account>`` so a test can
check that no two holders ever overlapped.

In ``monitor worker`` subprocesses: ``MONITOR_CLUSTER__ACCOUNT_RUNTIME=
tests.service.cluster.simclient:from_env`` with ``MONITOR_TEST_SIM_DIR`` and
``MONITOR_TEST_SIM_ACCOUNTS`` (comma-separated; ``-`` for the default account).
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path


class Duplicated(RuntimeError):
    """Another holder has the session open (Telegram: AUTH_KEY_DUPLICATED)."""


class SimulatedAccounts:
    def __init__(self, directory: Path, accounts: set[str], label: str = ""):
        self.dir, self.names, self.label = Path(directory), set(accounts), label or str(os.getpid())
        self._held: dict[str, int] = {}

    async def accounts(self) -> set[str]:
        return set(self.names)

    async def start(self, account: str) -> None:
        fd = os.open(self.dir / f"{account or 'default'}.session", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self._log("duplicated", account)
            raise Duplicated(f"session of {account!r} in use elsewhere") from None
        self._held[account] = fd
        self._log("connect", account)

    async def stop(self, account: str) -> None:
        fd = self._held.pop(account, None)
        if fd is None:
            return
        self._log("disconnect", account)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def holds(self, account: str) -> bool:
        return account in self._held

    def _log(self, event: str, account: str) -> None:
        line = f"{time.time():.6f} {os.getpid()} {self.label} {event} {account or '-'}\n"
        fd = os.open(self.dir / "events.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def from_env(settings, pipeline) -> SimulatedAccounts:
    names = {
        "" if a == "-" else a
        for a in os.environ.get("MONITOR_TEST_SIM_ACCOUNTS", "").split(",")
        if a
    }
    return SimulatedAccounts(Path(os.environ["MONITOR_TEST_SIM_DIR"]), names)


@dataclass(frozen=True)
class Event:
    at: float
    pid: int
    label: str
    kind: str
    account: str


def events(directory: Path) -> list[Event]:
    path = Path(directory) / "events.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        at, pid, label, kind, account = line.split(" ")
        out.append(Event(float(at), int(pid), label, kind, "" if account == "-" else account))
    return out


def holdings(
    directory: Path, account: str, *, died: dict[int, float] | None = None
) -> list[tuple[float, float, int]]:
    """(from, to, pid) intervals during which a process held the account's session; a holder that
    was killed holds it until its death (``died``: pid → time of the kill), an open one until
    now."""
    died = died or {}
    spans, open_ = [], {}
    for e in events(directory):
        if e.account != account:
            continue
        if e.kind == "connect":
            open_[e.pid] = e.at
        elif e.kind == "disconnect" and e.pid in open_:
            spans.append((open_.pop(e.pid), e.at, e.pid))
    for pid, start in open_.items():
        spans.append((start, died.get(pid, time.time()), pid))
    return sorted(spans)
