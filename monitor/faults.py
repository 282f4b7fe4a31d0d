"""Named crash points for the crash-safety tests.

``MONITOR_CRASHPOINT=<name>`` makes the process kill itself with SIGKILL the moment it reaches
that point (``MONITOR_CRASHPOINT_SKIP=n`` lets it pass n times first). Unset — always, outside the
tests — a crash point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_PASSED: dict[str, int] = {}


def crashpoint(name: str) -> None:
    if os.environ.get("MONITOR_CRASHPOINT") != name:
        return
    seen = _PASSED.get(name, 0)
    _PASSED[name] = seen + 1
    if seen >= int(os.environ.get("MONITOR_CRASHPOINT_SKIP", "0")):
        os.kill(os.getpid(), signal.SIGKILL)
