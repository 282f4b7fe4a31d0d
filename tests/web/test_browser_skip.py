"""A newcomer without Chromium: `python -m pytest` skips the browser tests with one clear line;
under CI=true a missing browser fails (CI must run them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(env_extra, MONITOR_TEST_CHROMIUM="/nonexistent/chromium")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/web/test_browser.py",
            "--backend",
            "sqlite",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def test_without_chromium_the_browser_tests_skip_with_one_line():
    result = _pytest({})
    # pytest's exit code 5 (nothing ran) is what a run of the browser file alone gives; a whole run
    # passes with the rest
    assert result.returncode == 5, result.stdout + result.stderr
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped == [
        "SKIPPED 3 browser test(s) skipped: Chromium not found at /nonexistent/chromium "
        "(apt-get install chromium)"
    ], result.stdout
    assert "3 deselected" in result.stdout and "error" not in result.stdout.lower()


def test_under_ci_a_missing_browser_fails():
    result = _pytest({"CI": "true"})
    assert result.returncode == 1
    assert "CI runs the browser tests" in result.stdout
