"""Human durations for the CLI, the web and config files: ``90s``, ``15m``, ``48h``, ``7d``, ``2w``,
``1h30m``, ``none``.

On the command line and in the web a duration needs its unit: ``--interval 15`` is refused with a
message naming the units (it could mean seconds or minutes). In TOML files a bare number is
seconds, as the example config documents (:func:`duration_value`).
"""

from __future__ import annotations

import re

from monitor.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"([0-9]+)\s*([smhdw])", re.ASCII)
# No duration here is meaningfully longer than a century, and a longer one would overflow the
# date arithmetic (and the database) wherever it is used: refused with this bound named.
MAX_SECONDS = 100 * 365 * 86400


UNITS_HELP = "s, m, h, d or w (e.g. 90s, 15m, 48h, 7d)"


def parse_duration(
    text: str, *, allow_none: bool = False, bare_seconds: bool = False
) -> int | None:
    """Seconds in ``text`` (``1h30m`` works); ``none``/``off`` gives None when allowed.

    A bare number is refused unless ``bare_seconds`` (config files), where it is seconds."""
    value = text.strip().lower()
    if allow_none and value in ("none", "off", "never"):
        return None
    if value.isascii() and value.isdigit():
        if bare_seconds:
            return _bounded(int(value) if len(value) <= 20 else MAX_SECONDS + 1, text)
        raise InvalidInput(f"duration {text!r} needs a unit: {UNITS_HELP}")
    pos, total = 0, 0
    for m in _PART.finditer(value):
        if m.start() != pos:
            break
        digits = m.group(1)
        # past 20 digits it is out of range anyway (and int() of thousands of digits is refused)
        total += MAX_SECONDS + 1 if len(digits) > 20 else int(digits) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        extra = " or 'none'" if allow_none else ""
        raise InvalidInput(f"duration {text!r}: expected a number with a unit, {UNITS_HELP}{extra}")
    return _bounded(total, text)


def _bounded(seconds: int, text: object) -> int:
    if seconds > MAX_SECONDS:
        raise InvalidInput(f"duration {str(text)[:40]!r}: at most {MAX_SECONDS // 86400}d "
                           f"(0 to {MAX_SECONDS} seconds)")
    return seconds


def duration_value(
    value: object, *, allow_none: bool = False, where: str = "duration"
) -> int | None:
    """A duration from a config file: an integer is seconds, a string is parsed (a bare number
    in a string is seconds too)."""
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: expected a duration such as 15m or a number of seconds")
    if isinstance(value, int):
        if value < 0:
            raise InvalidInput(f"{where}: a duration cannot be negative")
        return _bounded(value, value)
    if isinstance(value, str):
        return parse_duration(value, allow_none=allow_none, bare_seconds=True)
    raise InvalidInput(f"{where}: expected a duration such as 15m or a number of seconds")


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
    count = count.strip()
    if not sep or not re.fullmatch(r"[0-9]{1,7}", count) or int(count) < 1:
        raise InvalidInput(f"throttle {text!r}: expected N/PERIOD such as 5/1h "
                           "(N from 1 to 9999999)")
    seconds = parse_duration(period)
    if not seconds:
        raise InvalidInput(f"throttle {text!r}: the period must be longer than zero")
    return int(count), seconds
