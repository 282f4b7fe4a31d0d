"""``monitor telegram login`` against a real MTProto server, driven as a script drives it: the
command runs as a process without a terminal and reads each answer from standard input, asked
for on stderr — phone, login code (a wrong one first), two-step password."""

from __future__ import annotations

import os
import queue
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import pytest

from monitor.sources.telegram_accounts import ClientPool, session_path
from tests.telegram_server import free_port

pytestmark = pytest.mark.tgserver
REPO = Path(__file__).resolve().parents[2]


class Login:
    """``monitor telegram login ARGS`` as a child process; answer its prompts one by one."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "telegram", "login", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def prompt(self, timeout: float = 60) -> str | None:
        """The next prompt on stderr (None when the process closed stderr)."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no prompt within {timeout} s; stderr so far: "
                                     f"{''.join(self.stderr)!r}") from None
            if line is None:
                return None
            self.stderr.append(line)
            if line.rstrip().endswith(":"):
                return line.strip()

    def answer(self, expected: str, text: str | Callable[[], str]) -> None:
        """Wait for the prompt, then answer (a callable is asked only then: a login code exists
        once the prompt for it is shown)."""
        got = self.prompt()
        assert got is not None and got.startswith(expected), (got, "".join(self.stderr))
        self.proc.stdin.write((text if isinstance(text, str) else text()) + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout=timeout)
        while (line := self._lines.get(timeout=timeout)) is not None:
            self.stderr.append(line)
        return code, out, "".join(self.stderr)


@pytest.fixture
def env(tg_server, tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return {**base, **tg_server.env(), "MONITOR_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(REPO)}


async def signed_in_phone(settings) -> str:
    """Connect with the stored session the way collectors do; the account's phone number."""
    pool = ClientPool()
    try:
        client = await pool.get(settings, None)
        return (await client.get_me()).phone
    finally:
        await pool.close()


async def test_login_with_a_code_keeps_a_private_session_the_collectors_use(tg_server, env,
                                                                           tmp_path):
    phone = tg_server.new_phone()
    tg_server.signup(phone, first_name="Desk")
    login = Login(env)
    login.answer("Phone number", phone)
    login.answer("Login code", "00000")  # wrong: asked again
    login.answer("Login code", lambda: tg_server.code(phone))
    code, out, err = login.finish()
    assert code == 0, err
    path = session_path(tg_server.settings(tmp_path / "data"), None)
    assert f"signed in as Desk Test; session kept at {path}" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert phone.lstrip("+") not in out + err and "Traceback" not in err  # answers never echoed
    assert await signed_in_phone(tg_server.settings(tmp_path / "data")) == phone.lstrip("+")
    # the same session as a string works where no data dir is writable
    string = subprocess.run([sys.executable, "-m", "monitor", "telegram", "session-string"],
                            env=env, cwd=REPO, capture_output=True, text=True, check=True).stdout
    elsewhere = tg_server.settings(tmp_path / "elsewhere", session_string=string.strip())
    assert await signed_in_phone(elsewhere) == phone.lstrip("+")


async def test_login_with_two_step_verification(tg_server, env, tmp_path):
    phone = tg_server.new_phone()
    tg_server.set_password(tg_server.signup(phone), "correct horse")
    wrong = Login(env, "--phone", phone)  # the number as an option: only code and password asked
    wrong.answer("Login code", lambda: tg_server.code(phone))
    wrong.answer("Two-step verification password", "battery staple")
    code, _, err = wrong.finish()
    assert code == 2 and "error: the two-step verification password was not accepted" in err
    assert "Traceback" not in err
    login = Login(env, "--phone", phone)
    login.answer("Login code", lambda: tg_server.code(phone))
    login.answer("Two-step verification password", "correct horse")
    code, out, err = login.finish()
    assert code == 0 and "signed in as Test Test" in out, err
    assert "correct horse" not in out + err
    assert await signed_in_phone(tg_server.settings(tmp_path / "data")) == phone.lstrip("+")


def test_login_failures_are_messages_not_tracebacks(tg_server, env):
    nobody = tg_server.new_phone()
    stranger = Login(env, "--phone", nobody)  # no account has this number
    stranger.answer("Login code", lambda: tg_server.code(nobody))
    code, _, err = stranger.finish()
    assert code == 2 and "no Telegram account uses this phone number" in err, err

    phone = tg_server.new_phone()
    tg_server.signup(phone)
    cut = Login(env)
    cut.answer("Phone number", phone)
    code, _, err = cut.finish()  # standard input ends before the code
    assert code == 2 and "standard input ended before the login code was given" in err, err

    nowhere = {**env, "MONITOR_TELEGRAM__SERVER": f"127.0.0.1:{free_port()}"}
    code, _, err = Login(nowhere, "--phone", phone).finish()
    assert code == 1 and "error: cannot reach Telegram" in err, err

    for bad, message in (("127.0.0.1", "telegram.server: Value error, expected HOST:PORT"),
                         (tg_server.address, "server_public_key: cannot read")):
        broken = {**env, "MONITOR_TELEGRAM__SERVER": bad,
                  "MONITOR_TELEGRAM__SERVER_PUBLIC_KEY": "/nonexistent/pubkey.asc"}
        code, _, err = Login(broken, "--phone", phone).finish()
        assert code == 2 and message in err and "Traceback" not in err, err
