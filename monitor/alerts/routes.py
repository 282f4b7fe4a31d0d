"""Route settings as an operator gives them, checked and completed before the store writes them.

The store only enforces constraints; what a valid route is lives here: a mode (``realtime`` or
``digest``), a digest period (``hourly`` or ``daily``; a digest route, or a throttled real-time
route whose overflow goes to a digest, gets one when none is given: daily when a time is set,
else hourly), a digest time as HH:MM, filters as lists (languages lower-cased).
"""

from __future__ import annotations

import re
from typing import Sequence

from monitor.errors import InvalidInput
from monitor.store.values import RouteSettings

MODES = ("realtime", "digest")
PERIODS = ("hourly", "daily")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def check_hhmm(value: str | None, what: str) -> str | None:
    if value is not None and not _HHMM.match(value):
        raise InvalidInput(f"{what} {value!r}: expected HH:MM (24-hour)")
    return value


def route_settings(
    *, mode: str = "realtime", throttle: tuple[int, int] | None = None,
    digest_every: str | None = None, digest_at: str | None = None, max_age: int | None = 48 * 3600,
    sources: Sequence[str] = (), languages: Sequence[str] = (), spread_threshold: int | None = None,
) -> RouteSettings:
    """Validated settings of a route (``InvalidInput`` says what is wrong)."""
    if mode not in MODES:
        raise InvalidInput(f"route mode {mode!r}: expected realtime or digest")
    if digest_every not in (None, *PERIODS):
        raise InvalidInput(f"digest period {digest_every!r}: expected hourly or daily")
    if spread_threshold is not None and spread_threshold < 2:
        raise InvalidInput("the spread threshold is a number of sources, at least 2")
    count, period = throttle if throttle else (None, None)
    every = digest_every or ("daily" if mode == "digest" and digest_at else
                             "hourly" if mode == "digest" or throttle else None)
    return RouteSettings(
        mode=mode, throttle_count=count, throttle_period=period, digest_every=every,
        digest_at=check_hhmm(digest_at, "digest time"), max_age=max_age,
        source_filter=tuple(sources), language_filter=tuple(lang.lower() for lang in languages),
        spread_threshold=spread_threshold)
