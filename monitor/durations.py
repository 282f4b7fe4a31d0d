"""Human durations for the CLI and config: ``90s``, ``15m``, ``48h``, ``7d``, ``2w``, ``none``."""

from __future__ import annotations

import re

from monitor.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")


def parse_duration(text: str, *, allow_none: bool = False) -> int | None:
    """Seconds in ``text`` (``1h30m`` works); ``none``/``off`` gives None when allowed."""
    value = text.strip().lower()
    if allow_none and value in ("none", "off", "never"):
        return None
    if value.isdigit():
        return int(value)
    pos, total = 0, 0
    for m in _PART.finditer(value):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        extra = " or 'none'" if allow_none else ""
        raise InvalidInput(f"duration {text!r}: expected a number with s/m/h/d/w such as 48h{extra}")
    return total


def format_duration(seconds: int | None) -> str:
    if seconds is None:
        return "none"
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_throttle(text: str) -> tuple[int, int]:
    """``N/PERIOD`` such as ``5/1h`` → (5, 3600)."""
    count, sep, period = text.partition("/")
    if not sep or not count.strip().isdigit() or int(count) < 1:
        raise InvalidInput(f"throttle {text!r}: expected N/PERIOD such as 5/1h")
    seconds = parse_duration(period)
    if not seconds:
        raise InvalidInput(f"throttle {text!r}: the period must be longer than zero")
    return int(count), seconds
