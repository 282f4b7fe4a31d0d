"""Names in any script, one key: a Cyrillic ↔ Latin transliteration normal form (pure, no I/O).

Why: news names the same agency, person or place in two scripts and several spellings — «Рёнхап»,
«Ренхап» and "Yonhap"; «Блумберг» and "Bloomberg"; «Шольц» and "Scholz". Two posts that differ only
in that are the same story, and the fact guards (:mod:`monitor.dedup.facts`, the event clusterer)
must not read them as different names.

:func:`name_key` maps a name to a *phonetic skeleton*:

1. NFKC, casefold, ё → е, apostrophes and hyphens dropped;
2. a known alias (:data:`ALIASES`: spellings no transliteration rule unites, e.g. the Korean
   initial ㄹ that Russian keeps in «Рёнхап» and English drops in "Yonhap", or РФ = Россия) is
   replaced by its canonical form;
3. Cyrillic (Russian and Ukrainian letters) is transliterated to Latin, one table
   (:data:`_CYR`: х → kh, ц → ts, ж → zh, ш → sh, щ → shch, й → i, ь ъ dropped);
4. Latin is folded to sound classes: kh/h → h, ph/f/v/w → v, ck/c/k/q → k, sch/sh → sh,
   tz/ts/z → z, x → ks, j/y → (vowel);
5. the first letter is kept, later vowels dropped, doubled letters collapsed.

So «Блумберг» and "Bloomberg" are both ``blmbrg``, «Шольц» and "Scholz" ``shlz``, «Зеленский» and
"Zelensky" ``zlnsk``, «Рёнхап», «Ренхап», «Йонхап» and "Yonhap" all ``ynhp`` (the first two
through the alias table). A skeleton drops information on purpose: it is compared only between
names, never between ordinary words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CYR = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Ukrainian (and Belarusian) letters
    "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ў": "u",
}

#: Spellings no rule unites, each to one canonical Latin form (written in any of its scripts'
#: spellings as a lower-case key; the value is transliterated and folded like any name).
ALIASES: dict[str, str] = {
    # the Korean agency: Russian keeps the initial ㄹ (Рёнхап), English drops it (Yonhap)
    "рёнхап": "yonhap", "ренхап": "yonhap", "йонхап": "yonhap", "ёнхап": "yonhap",
    "yonhap": "yonhap",
    "рейтер": "reuters", "рейтерс": "reuters", "reuters": "reuters",
    "рф": "rossiya", "россия": "rossiya", "russia": "rossiya", "росія": "rossiya",
    "сша": "usa", "us": "usa", "usa": "usa",
    "кндр": "kndr", "dprk": "kndr", "кндр.": "kndr",
    "фрг": "germaniya", "германия": "germaniya", "germany": "germaniya", "німеччина": "germaniya",
    "британия": "britaniya", "великобритания": "britaniya", "britain": "britaniya",
    "uk": "britaniya", "британія": "britaniya",
    "украина": "ukraina", "україна": "ukraina", "ukraine": "ukraina",
    "киев": "kyiv", "київ": "kyiv", "kyiv": "kyiv", "kiev": "kyiv",
    "пхеньян": "pkhenian", "pyongyang": "pkhenian",
    "сеул": "seul", "seoul": "seul",
}

_NON_LETTER = re.compile(r"[^a-z]")
_FOLDS = (("sch", "sh"), ("kh", "h"), ("ph", "v"), ("ck", "k"), ("tz", "z"), ("ts", "z"),
          ("x", "ks"), ("q", "k"), ("w", "v"), ("f", "v"), ("c", "k"), ("j", "y"))
_VOWELS = frozenset("aeiouy")
_APOSTROPHES = str.maketrans("", "", "'’ʼ`-‐")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("ё", "е").translate(_APOSTROPHES)


# Aliases are looked up by stem, so inflected forms find them too («Ренхапа», «России»).
_ENDINGS = frozenset(("", "а", "я", "у", "ю", "е", "и", "ы", "і", "ом", "ем", "ой", "ей", "ою",
                      "ею", "ам", "ям", "ах", "ях", "ами", "ями", "ов", "ев", "ії", "'s", "s"))
_ALIAS_STEMS = {re.sub("[аяйьеыиіо]$", "", _fold(k)) or _fold(k): v for k, v in ALIASES.items()}


def _alias(folded: str) -> str | None:
    for cut in range(min(3, len(folded) - 1), -1, -1):
        stem, ending = folded[:len(folded) - cut], folded[len(folded) - cut:]
        if ending in _ENDINGS and stem in _ALIAS_STEMS:
            return _ALIAS_STEMS[stem]
    return None


def to_latin(text: str) -> str:
    """Cyrillic letters transliterated to Latin (others kept), after casefolding."""
    return "".join(_CYR.get(ch, ch) for ch in _fold(text))


@lru_cache(maxsize=100_000)
def name_key(name: str) -> str:
    """The phonetic skeleton of a name (see the module docstring); "" when it has no letters."""
    folded = _fold(name)
    raw = _alias(folded) or folded
    latin = _NON_LETTER.sub("", to_latin(raw))
    if not latin:
        return ""
    for a, b in _FOLDS:
        latin = latin.replace(a, b)
    out = [latin[0]]
    for ch in latin[1:]:
        if ch in _VOWELS or ch == out[-1]:
            continue
        out.append(ch)
    return "".join(out)


def same_name(a: str, b: str) -> bool:
    """Whether two spellings name the same thing by :func:`name_key` (empty keys never match)."""
    ka = name_key(a)
    return bool(ka) and ka == name_key(b)


# Case endings of Russian and Ukrainian names, longest first ("Путиным" → "Путин").
_CASE_ENDING = re.compile(
    r"(?:ого|его|ому|ему|ыми|ими|ами|ями|ом|ем|ой|ей|ою|ею|ым|им|ых|их|ов|ев|ах|ях|ам|ям|ую|юю"
    r"|ая|яя|ое|ее|ые|ие|ий|ый|ові|еві|а|я|у|ю|е|и|ы|і)$")
_LATIN_POSSESSIVE = re.compile(r"(?:'s|’s|s')$")


def name_fact(token: str, size: int = 4) -> str:
    """A short script-independent key of a name as written in running text: its case ending
    (or English possessive) cut, then the first ``size`` letters of its :func:`name_key`.
    «Белгороде», «Белгородской» and «Белгороду» give one key; so do «Рёнхап» and "Yonhap"."""
    folded = _fold(token)
    if _alias(folded) is None:
        cut = _CASE_ENDING.sub("", folded) if len(folded) > 4 else folded
        folded = _LATIN_POSSESSIVE.sub("", cut)
    return name_key(folded)[:size]
