"""The harness of the real-MTProto-server tests (``tests/telegram_server.py``): a missing server
folder or a failed setup skips those tests with one reason, but fails them under ``CI=true``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.telegram_server import SHARED, Unavailable, prepare

REPO = Path(__file__).resolve().parents[1]


def test_prepare_says_why_the_server_is_unavailable(tmp_path):
    with pytest.raises(Unavailable, match=f"no Telegram test server at {tmp_path / 'nowhere'}"):
        prepare(tmp_path / "root", shared=tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "setup.sh").write_text("#!/bin/sh\necho 'step one'\n"
                                     "echo 'no PyPI here' >&2\nexit 3\n")
    (broken / "setup.sh").chmod(0o755)
    with pytest.raises(Unavailable, match=r"setup.sh .* failed \(exit 3\): no PyPI here"):
        prepare(tmp_path / "root", shared=broken)
    with pytest.raises(Unavailable, match="cannot use /dev/null/root"):
        prepare(Path("/dev/null/root"), shared=broken)


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_failed_setup_skips_locally_and_fails_under_ci(ci):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(CI=ci, MONITOR_TG_SERVER_ROOT="/dev/null/root")  # no install can go there
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "--backend", "sqlite", "tests/tgserver/test_collect.py"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert " passed" not in out, out
    if ci and (SHARED / "setup.sh").is_file():
        assert done.returncode == 1 and " error" in out and "skipped" not in out, out
        assert "Telegram test server: cannot use /dev/null/root" in out
    else:
        assert done.returncode == 0 and " skipped" in out and "error" not in out, out
        reason = ("cannot use /dev/null/root" if (SHARED / "setup.sh").is_file()
                  else "no Telegram test server at")
        reasons = {line.split(": ", 1)[1] for line in out.splitlines()
                   if line.startswith("SKIPPED")}
        assert len(reasons) == 1 and reason in reasons.pop(), out  # one clear reason for all
