"""An item's event representation: what the story clusterer compares (pure, no I/O).

:func:`represent` turns a post into a :class:`Representation`, computable before any database
transaction and serialisable (:meth:`Representation.to_bytes`, ~0.5–1 KB) so the store can keep it
per item. It holds:

* **terms** — content words as lemmas (pymorphy3 ``ru``/``uk``, memoized per form; English words
  by the Snowball stemmer; function words and reporting verbs such as «сообщить», «передавать»
  left out), **names** as script-independent keys (:func:`monitor.dedup.translit.name_key`: a
  capitalised word inside a sentence, a dictionary name or place, an all-caps abbreviation or
  a word the dictionary does not know), **numbers** (``48,5`` → ``48.5``, «1 510» → ``1510``,
  «2 тысяч» → ``2000``, «пятью» → ``5``) and **dates** («23 ноября» → ``11-23``). Each term is a
  63-bit id (BLAKE2b of its kind and text), counted.
* **lead** — the terms of the first two sentences (a digest: its first line): an abridged copy
  quotes them.
* **facts** — the names, numbers and dates as written, for the guard and for the reason shown to
  a reader.
* flags — ``daily`` (a periodic report: «за сутки», «за ночь», «ночью», «за неделю»), ``update``
  (the post reports a change: «выросло до», «число погибших», «ещё»), ``digest`` (three or
  more bulleted lines: a list of several events; only its first line is represented).
* ``day`` — the calendar day of publication in the source's time zone (a daily report's date).

Rarity weights are not here: they depend on the window and are applied when deciding
(:mod:`monitor.dedup.events`).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache

from monitor.dedup.translit import name_key

MAX_TERMS = 120  # a long article keeps its most frequent terms; news items rarely reach this
MAX_CHARS = 3000  # an article's first 3,000 characters say what it reports (and bound the cost)
LEAD_SENTENCES = 2
LEAD_TOKENS = 60

_URL = re.compile(r"(?:[a-z][a-z0-9+.-]{1,15}://|www\.|(?:t|telegram)\.me/)\S+", re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]\n]{0,300})\]\([^)\s]{0,500}\)")
_MENTION = re.compile(r"@\w+")
_MARKUP = re.compile(r"\*\*|__|~~|`")
_BULLET_LINE = re.compile(r"^\s*(?:[▪•◾◼▫●○◦➖➡✅✔🔹🔸🔺🔻▶►·*–—-]|\d{1,2}[.)])", re.MULTILINE)
# One pass: numbers («1 510», «48,5», «11:00»), words («С-400», «п'ять»), and sentence ends
# (. ! ? … before a space, or a line break) as tokens of their own.
_TOKEN = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d.,])|\d+(?:[.,:]\d+)?"
                    r"|[^\W_]+(?:[-'’ʼ][^\W_]+)*|[.!?…](?=\s)|\n")
_ENDS = frozenset(".!?…\n")
_DAILY = re.compile(
    r"\bза\s+(?:прошедш\w+\s+|минувш\w+\s+|последн\w+\s+)?(?:сутки|ночь|неделю|день)\b"
    r"|\bночью\b|\bв\s+течение\s+суток\b|\bза\s+добу\b|\bвночі\b")
_UPDATE = re.compile(
    r"\b(?:вырос\w*|возрос\w*|увеличил\w*|разрос\w*|ещ[её]|снова|вновь|повторн\w*"
    r"|число\s+(?:погибш|пострадавш|жертв|ранен|госпитализ|задержан)\w*|зросл\w*|rose|risen)\b")

_MONTHS = {m: i for i, ms in enumerate((
    ("января", "январь", "січня", "january", "jan"),
    ("февраля", "февраль", "лютого", "february", "feb"),
    ("марта", "март", "березня", "march", "mar"), ("апреля", "апрель", "квітня", "april", "apr"),
    ("мая", "май", "травня", "may"), ("июня", "июнь", "червня", "june", "jun"),
    ("июля", "июль", "липня", "july", "jul"), ("августа", "август", "серпня", "august", "aug"),
    ("сентября", "сентябрь", "вересня", "september", "sep"),
    ("октября", "октябрь", "жовтня", "october", "oct"),
    ("ноября", "ноябрь", "листопада", "november", "nov"),
    ("декабря", "декабрь", "грудня", "december", "dec")), start=1) for m in ms}
_MULTIPLIERS = {"тыс": 1e3, "тысяча": 1e3, "тысяч": 1e3, "млн": 1e6, "миллион": 1e6,
                "млрд": 1e9, "миллиард": 1e9, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_NUMERALS = {"два": 2, "двое": 2, "две": 2, "три": 3, "трое": 3, "четыре": 4, "четверо": 4,
             "пять": 5, "пятеро": 5, "шесть": 6, "шестеро": 6, "семь": 7, "семеро": 7,
             "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11, "двенадцать": 12,
             "пятнадцать": 15, "двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50,
             "сто": 100, "полтора": 1.5, "дві": 2, "двоє": 2, "троє": 3, "чотири": 4,
             "п'ять": 5, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
             "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "twenty": 20, "hundred": 100}
_STOP_POS = frozenset(("PREP", "CONJ", "PRCL", "INTJ", "NPRO", "PRED"))
_NAME_TAGS = frozenset(("Name", "Surn", "Patr", "Geox", "Orgn", "Trad"))
# Words every agency post has: who reported it, not what happened.
_STOP_WORDS = frozenset((
    "сообщить", "сообщать", "заявить", "заявлять", "передать", "передавать", "рассказать",
    "рассказывать", "отметить", "отмечать", "сказать", "говорить", "добавить", "уточнить",
    "подчеркнуть", "написать", "писать", "ранее", "также", "который", "этот", "тот", "свой",
    "весь", "такой", "это", "быть", "мочь", "стать", "являться", "риа", "новость",
    "корреспондент", "агентство", "источник", "пресс-служба", "ссылка", "данные", "слово",
    "видео", "кадр", "фото", "подробный", "читать", "канал", "повідомити", "заявити",
    "розповісти", "також", "який", "цей", "весь", "бути", "the", "a", "an", "of", "to", "in",
    "on", "at", "for", "and", "or", "but", "is", "are", "was", "were", "be", "been", "by",
    "with", "from", "as", "that", "this", "it", "its", "said", "says", "say", "told",
    "according", "reported", "report", "news", "agency", "via", "also", "has", "have", "had"
))


@dataclass(frozen=True, slots=True)
class Representation:
    """What the story clusterer knows of one item (see the module docstring)."""

    published: float  # UTC, seconds since the epoch
    day: int  # calendar day of publication in the source's zone (date ordinal)
    terms: tuple[tuple[int, int], ...]  # (term id, count), sorted by id
    lead: frozenset[int]  # ids of the lead's terms
    names: tuple[tuple[int, str, str, bool], ...]  # (term id, key, as first written, specific)
    numbers: tuple[str, ...]  # normalised, sorted
    dates: tuple[str, ...]  # "MM-DD", sorted
    daily: bool = False
    update: bool = False
    digest: bool = False

    @property
    def size(self) -> int:
        return sum(c for _, c in self.terms)

    def to_bytes(self) -> bytes:
        """Compact encoding for a database column (:meth:`from_bytes` reads it back)."""
        n = len(self.terms)
        ids = [t for t, _ in self.terms]
        index = {t: i for i, t in enumerate(ids)}
        flags = self.daily | self.update << 1 | self.digest << 2
        extra = json.dumps({"n": [[index[t], k, s, int(sp)] for t, k, s, sp in self.names],
                            "x": list(self.numbers),
                            "d": list(self.dates)}, ensure_ascii=False, separators=(",", ":"))
        lead = sorted(index[t] for t in self.lead if t in index)
        return b"".join((
            _HEAD.pack(_MAGIC, _VERSION, flags, self.published, self.day, n, len(lead)),
            struct.pack(f"<{n}q{n}H{len(lead)}H", *ids, *(min(c, 65535) for _, c in self.terms),
                        *lead),
            extra.encode("utf-8")))

    @classmethod
    def from_bytes(cls, data: bytes) -> Representation:
        """Inverse of :meth:`to_bytes`; ValueError on anything else."""
        try:
            magic, version, flags, published, day, n, nlead = _HEAD.unpack_from(data)
            if magic != _MAGIC or version != _VERSION:
                raise ValueError("not an event representation: unknown header")
            body = struct.Struct(f"<{n}q{n}H{nlead}H")
            values = body.unpack_from(data, _HEAD.size)
            extra = json.loads(data[_HEAD.size + body.size:].decode("utf-8"))
        except (struct.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not an event representation: {exc}") from None
        ids, counts, lead = values[:n], values[n:2 * n], values[2 * n:]
        return cls(published=published, day=day, terms=tuple(zip(ids, counts)),
                   lead=frozenset(ids[i] for i in lead),
                   names=tuple((ids[i], k, s, bool(sp)) for i, k, s, sp in extra["n"]),
                   numbers=tuple(extra["x"]),
                   dates=tuple(extra["d"]), daily=bool(flags & 1), update=bool(flags & 2),
                   digest=bool(flags & 4))


_MAGIC, _VERSION = b"EV", 1
_HEAD = struct.Struct("<2sBBdiHH")


@lru_cache(maxsize=500_000)
def term_id(kind: str, text: str) -> int:
    """A stable 63-bit id for a term (fits a signed BIGINT column)."""
    digest = hashlib.blake2b(f"{kind}:{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


_CYRILLIC = re.compile("[\u0400-\u04ff]")
_UK_ONLY = frozenset("іїєґ")


@lru_cache(maxsize=300_000)
def _analyse(word: str) -> tuple[str | None, bool, float | None, bool]:
    """(lemma or None for a function word, is a name, numeral value, known to a dictionary)
    of a lower-cased word."""
    if _CYRILLIC.search(word):
        from monitor.match.morph import analyzer

        lang = "uk" if _UK_ONLY & set(word) else "ru"
        parse = analyzer(lang).parse(word)[0]
        lemma = parse.normal_form.replace("ё", "е")
        tag = parse.tag
        known = type(parse.methods_stack[0][0]).__name__ == "DictionaryAnalyzer"
        if tag.POS in _STOP_POS or lemma in _STOP_WORDS:
            return None, False, None, known
        is_name = bool(_NAME_TAGS & tag.grammemes)
        return lemma, is_name, _NUMERALS.get(lemma), known
    if word in _STOP_WORDS:
        return None, False, None, True
    return _stem(word), False, _NUMERALS.get(word), True


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _stem(word: str) -> str:
    if word.isascii() and word.isalpha():
        return _stemmer().stemWord(word)
    return word


def _number(raw: str, following: str) -> str:
    value = float(re.sub(r"[ \u00a0\u202f]", "", raw).replace(",", "."))
    mult = _MULTIPLIERS.get(following)
    if mult:
        value *= mult
    return f"{value:.10g}"


def _clean(text: str) -> str:
    # substring tests first: most posts have no links, mentions or markup, and a regex pass
    # costs more than the test
    text = unicodedata.normalize("NFKC", text or "")
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    if "://" in text or "www." in text or ".me/" in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", text)
    if "*" in text or "_" in text or "~" in text or "`" in text:
        text = _MARKUP.sub("", text)
    return text


def _flag(pattern: re.Pattern, hints: tuple[str, ...], low: str) -> bool:
    return any(h in low for h in hints) and pattern.search(low) is not None


_DAILY_HINTS = ("сутк", "ноч", "недел", "день", "добу", "вночі")
_UPDATE_HINTS = ("рос", "увелич", "ещ", "снова", "вновь", "повтор", "число", "зросл", "rose",
                 "risen")


def represent(text: str, published: datetime, *, tz: tzinfo = UTC) -> Representation:
    """The :class:`Representation` of a post's text published at ``published`` (aware; naive
    is read as UTC). ``tz`` is the source's zone: it sets the post's calendar ``day``."""
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    text = _clean(text[:MAX_CHARS])
    digest = text.count("\n") >= 3 and len(_BULLET_LINE.findall(text)) >= 3
    if digest:
        text = text.strip().split("\n", 1)[0]
    low = text.casefold()
    counts: dict[int, int] = {}
    lead: set[int] = set()
    names: dict[int, tuple[int, str, str, bool]] = {}
    numbers: set[str] = set()
    dates: set[str] = set()
    sentence_no = 0
    j = 0  # position of the token in its sentence
    toks = _TOKEN.findall(text)
    last = len(toks) - 1
    for i, tok in enumerate(toks):
        first = tok[0]
        if first in _ENDS:  # a sentence ends
            if j:
                sentence_no += 1
            j = 0
            continue
        j += 1
        if first.isdigit():
            if ":" in tok:  # a clock time
                continue
            nxt = toks[i + 1].casefold() if i < last else ""
            if nxt in _CLOCK_WORDS and _CLOCK.fullmatch(tok):
                continue
            month = _MONTHS.get(nxt)
            if month and tok.isdigit() and 1 <= int(tok) <= 31:
                key = f"{month:02d}-{int(tok):02d}"
                dates.add(key)
                tid = term_id("d", key)
            else:
                key = _number(tok, nxt.rstrip("."))
                numbers.add(key)
                tid = term_id("n", key)
        else:
            kind, common, name, name_at_start = _word(tok)
            if kind == _SKIP:
                continue
            if kind == _NUMERAL:
                numbers.add(common)
                tid = term_id("n", common)
            elif name is not None and (j > 1 or name_at_start):
                tid = name[0]
                if tid not in names:
                    names[tid] = (tid, name[1], tok, name[2])
            else:
                tid = common
        counts[tid] = counts.get(tid, 0) + 1
        if sentence_no < LEAD_SENTENCES and len(lead) < LEAD_TOKENS:
            lead.add(tid)
    if len(counts) > MAX_TERMS:
        keep = sorted(counts, key=lambda t: (-counts[t], t))[:MAX_TERMS]
        counts = {t: counts[t] for t in keep}
        lead &= counts.keys()
        names = {t: n for t, n in names.items() if t in counts}  # a name is one of the terms
    return Representation(
        published=published.timestamp(), day=published.astimezone(tz).toordinal(),
        terms=tuple(sorted(counts.items())), lead=frozenset(lead),
        names=tuple(sorted(names.values())), numbers=tuple(sorted(numbers)),
        dates=tuple(sorted(dates)), daily=_flag(_DAILY, _DAILY_HINTS, low),
        update=_flag(_UPDATE, _UPDATE_HINTS, low), digest=digest)


_SKIP, _NUMERAL, _WORD = 0, 1, 2
_STEM = 6
_CLOCK = re.compile(r"\d{1,2}\.\d{2}")
_CLOCK_WORDS = frozenset(("мск", "утра", "вечера", "по"))


@lru_cache(maxsize=300_000)
def _word(raw: str) -> tuple[int, int | str | None, tuple[int, str, bool] | None, bool]:
    """(kind, common term id or numeral key, (name term id, name key, specific), whether it is
    a name even when it opens a sentence) of a word as written. A capitalised word inside a
    sentence is a name; at a sentence's start only when a dictionary says it is a name or
    place, does not know it, or it is written in capitals (an abbreviation). A name is
    *specific* (it can tell two events apart) unless it is a short abbreviation (ДТП, МВД)."""
    word = raw.casefold().replace("ё", "е")
    lemma, is_name, numeral, known = _analyse(word)
    if numeral is not None:
        return _NUMERAL, f"{numeral:.10g}", None, False
    if lemma is None or word in _MONTHS or lemma in _MONTHS:
        return _SKIP, None, None, False
    # Lemmas cut to 6 letters join a word family («обстрел» / «обстрелять», «утвердить» /
    # «утверждение»); names keep their whole key.
    common = term_id("w", lemma[:_STEM] if _CYRILLIC.search(lemma) else lemma)
    if not raw[0].isupper():
        return _WORD, common, None, False
    key = name_key(lemma)
    if not key:
        return _WORD, common, None, False
    abbreviation = raw.isupper() and len(raw) > 1
    specific = not (abbreviation and len(raw) <= 4)
    return _WORD, common, (term_id("e", key), key, specific), is_name or not known or abbreviation


def day_of(published: datetime, tz: tzinfo = UTC) -> int:
    """The calendar day (date ordinal) of a moment in a zone."""
    return published.astimezone(tz).toordinal()


