"""Date sanity for feed entries: a second opinion on feedparser's ``*_parsed`` values.

feedparser fails silently on formats common in Russian-language and hand-made feeds:
``29.06.2024 15:07`` and Russian month names give None, a ``MSK`` zone is read as UTC (MSK is
UTC+3), ``2024/6/29 15:07:41`` comes back as some other month's day 1. So :func:`entry_date` always
re-parses the raw string with :func:`parse_date` (explicit formats, a Russian/Ukrainian month table
and a zone table, then dateutil) and prefers that answer whenever feedparser's disagrees or is
missing. :func:`parse_date` refuses to guess: a zone name it does not know makes it return None, so
feedparser's answer is kept for what only feedparser understands.

Then plausibility: no date → fetch time, flag ``missing``; a string nobody can read → fetch time,
``unparseable``; later than the fetch time plus the allowed clock skew → fetch time, ``future``;
before 1990 → fetch time, ``absurd``. Old but plausible dates (a 2005 blog post) are kept.
The raw string is always returned so the evidence survives.
"""

from __future__ import annotations

import re
import time
import warnings
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_tz

from dateutil import parser as _dateutil

__all__ = ["EARLIEST", "ZONES", "entry_date", "parse_date"]

EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)

# Zone abbreviations seen in feeds, as UTC offsets in hours. Ambiguous ones (IST, CST in China...)
# take their most common feed meaning; anything absent makes parse_date decline to answer.
ZONES: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2,
    "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "MSD": 4, "SAMT": 4, "YEKT": 5,
    "OMST": 6, "KRAT": 7, "IRKT": 8, "YAKT": 9, "VLAT": 10, "MAGT": 11, "KALT": 2,
    "KST": 9, "JST": 9, "HKT": 8, "SGT": 8, "AWST": 8, "AEST": 10, "AEDT": 11, "NZST": 12,
    "NZDT": 13, "IST": 5.5, "PKT": 5, "TRT": 3, "AST": -4, "ADT": -3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
    "МСК": 3,  # Cyrillic spelling on Russian sites
}

# Russian and Ukrainian month names and abbreviations (nominative and genitive), by stem.
_MONTH_STEMS = [
    ("jan", ("январ", "янв", "січ")), ("feb", ("феврал", "фев", "лют")),
    ("mar", ("март", "мар", "берез")), ("apr", ("апрел", "апр", "квіт")),
    ("may", ("мая", "май", "трав")), ("jun", ("июн", "черв")), ("jul", ("июл", "лип")),
    ("aug", ("август", "авг", "серп")), ("sep", ("сентябр", "сент", "сен", "верес")),
    ("oct", ("октябр", "окт", "жовт")), ("nov", ("ноябр", "нояб", "ноя", "листоп")),
    ("dec", ("декабр", "дек", "груд")),
]
_CYR_WORD = re.compile(r"[А-Яа-яЁёІіЇїЄєҐґ]+\.?")
_ZONE = r"(?:\s*(?P<zone>[A-Za-zА-Яа-я]{1,5}|[+-]\d{2}:?\d{2}|[+-]\d{1,2}))?"
_TIME = r"(?:[\s,T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
_DMY = re.compile(r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})" + _TIME + _ZONE + r"$")
_YMD_SLASH = re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})" + _TIME + _ZONE + r"$")
_TRAILING_ZONE = re.compile(r"\s([A-Za-z]{1,5})$")
_OFFSET = re.compile(r"^([+-])(\d{1,2}):?(\d{2})?$")


def _zone_offset(zone: str | None) -> timezone | None | bool:
    """A tzinfo for a zone token; None when absent; False when present but unknown."""
    if not zone:
        return None
    if m := _OFFSET.match(zone):
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        if minutes > 14 * 60:
            return False
        return timezone(timedelta(minutes=-minutes if m.group(1) == "-" else minutes))
    hours = ZONES.get(zone.upper())
    return False if hours is None else timezone(timedelta(hours=hours))


def _month_word(word: str) -> str:
    low = word.lower().rstrip(".")
    for english, stems in _MONTH_STEMS:
        if low.startswith(stems):
            return english
    if low in ("мск",):
        return "MSK"
    return " "  # weekday names, "г.", "года", "в": noise between the numbers


def _from_match(m: re.Match, default_tz: timezone) -> datetime | None:
    tz = _zone_offset(m.group("zone"))
    if tz is False:
        return None
    try:
        return datetime(int(m.group("y")), int(m.group("m")), int(m.group("d")),
                        int(m.group("H") or 0), int(m.group("M") or 0), int(m.group("S") or 0),
                        tzinfo=tz or default_tz)
    except ValueError:
        return None


def parse_date(raw: str | None, default_tz: timezone = timezone.utc) -> datetime | None:
    """Parse a feed date string into an aware UTC datetime, or None when unsure.

    A string without a zone is read in ``default_tz`` (UTC unless the caller knows better).
    """
    if not raw:
        return None
    s = " ".join(raw.split())
    if not s or len(s) > 120:
        return None
    if _CYR_WORD.search(s):
        s = " ".join(_CYR_WORD.sub(lambda m: _month_word(m.group()), s).split())
    for pattern in (_DMY, _YMD_SLASH):
        if m := pattern.match(s):
            found = _from_match(m, default_tz)
            return found.astimezone(timezone.utc) if found else None
    if s[:4].isdigit() and "-" in s[:8]:  # ISO 8601 / W3CDTF, the common case: fast path
        try:
            found = datetime.fromisoformat(s.replace("z", "Z"))
        except ValueError:
            pass
        else:
            return (found if found.tzinfo else found.replace(tzinfo=default_tz)).astimezone(
                timezone.utc)
    if (tup := parsedate_tz(s)) is not None:  # RFC 822, the other common case
        zone = _TRAILING_ZONE.search(s)
        if tup[9] is None or zone:  # unknown or named zone: email.utils may have read it as UTC
            tz = _zone_offset(zone.group(1)) if zone else None
            if tz is False:
                return None
            offset = (tz or default_tz).utcoffset(None).total_seconds()
        else:
            offset = tup[9]
        try:
            naive = datetime(*tup[:6])
        except ValueError:
            return None
        return (naive - timedelta(seconds=offset)).replace(tzinfo=timezone.utc)
    return _dateutil_parse(s, default_tz)


def _dateutil_parse(s: str, default_tz: timezone) -> datetime | None:
    unknown: list[str] = []

    def tzinfos(name: str, offset: int | None):
        if offset is not None:
            return offset
        tz = _zone_offset(name)
        if tz is False:
            unknown.append(name)
            return None
        return tz

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = _dateutil.parse(s, tzinfos=tzinfos, default=datetime(1900, 1, 1))
    except (ValueError, OverflowError, TypeError, _dateutil.ParserError):
        return None
    if unknown or found.year == 1900:  # a zone we cannot place, or no year at all: no guess
        return None
    if found.tzinfo is None:
        found = found.replace(tzinfo=default_tz)
    return found.astimezone(timezone.utc)


def entry_date(parsed: time.struct_time | tuple | None, raw: str | None, fetched_at: datetime,
               *, max_clock_skew: float = 600,
               default_tz: timezone = timezone.utc) -> tuple[datetime, str | None, str | None]:
    """``(published_at, raw, flag)`` for one entry.

    ``parsed`` is feedparser's naive-UTC ``struct_time`` (or None), ``raw`` the string it came
    from. ``flag`` is None for a trusted date, else ``missing``, ``unparseable``, ``future`` or
    ``absurd``; in those cases ``published_at`` is ``fetched_at``.
    """
    raw = raw.strip() if isinstance(raw, str) and raw.strip() else None
    theirs = None
    if parsed is not None:
        try:
            theirs = datetime(*tuple(parsed)[:6], tzinfo=timezone.utc)
        except (TypeError, ValueError, OverflowError):
            theirs = None
    ours = parse_date(raw, default_tz) if raw else None
    chosen = ours if ours is not None else theirs
    if chosen is None:
        return fetched_at, raw, ("unparseable" if raw else "missing")
    if chosen > fetched_at + timedelta(seconds=max_clock_skew):
        return fetched_at, raw, "future"
    if chosen < EARLIEST:
        return fetched_at, raw, "absurd"
    return chosen, raw, None
