"""Fact tokens: the numbers and names that tell two template reports apart (pure, no I/O).

Why: agencies post the same sentence every day with other figures or places. Measured on real
RIA Novosti posts (telegram-news-classifier corpus), MinHash alone calls these near-duplicates:

- "Потери ВСУ на курском направлении за сутки составили более 300 …" vs "… более 250 …": 0.88
- "Курс евро … превысил 120 рублей впервые с 22 марта 2022 года" vs "115 … 23 марта": 0.81
- "Российская армия освободила населенный пункт Раздольное в ДНР" vs "… Новая Ильинка …": 0.75
  (exact Jaccard 0.68: an estimate may land on either side of the threshold)

A short post differs by one number in only a handful of shingles, so no Jaccard threshold can
separate these from reposts. What separates them is that each side has a fact the other lacks:
a number, or a capitalised word inside a sentence (a name). A repost that *adds* a date or a
name keeps all the original's facts (one-sided difference: still a duplicate); a report that
*changes* them has facts on both sides (a conflict: a different story).

Names are compared by a short script-independent key (:func:`monitor.dedup.translit.name_fact`:
case ending cut, transliterated to a phonetic skeleton, first 4 letters), so Russian inflection
("в Белгороде" / "Белгородской области") and a second script or spelling («Рёнхап» / "Yonhap",
«Шольц» / "Scholz") do not read as different names. (Before, names were 5-letter prefixes of the
Cyrillic or Latin form: a real near-copy pair, one post citing «Рёнхап» and the other "Yonhap",
was split as a conflict. Signatures stored with the old name facts still decode; compared with
new ones, a post with names may conflict with its own older copy until the old rows leave the
7-day window: a missed fold, never a wrong one.)
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from monitor.dedup.translit import name_fact

#: At most this many fact hashes are kept per signature (the smallest, so that two texts
#: keep comparable samples of long fact lists).
MAX_FACTS = 32
#: A conflict also needs this share of the facts to differ: one corrected figure in a long
#: article does not make it another story.
CONFLICT_SHARE = 0.2

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]{1,15}://|www\.|(?:t|telegram)\.me/)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
# After one of these, a capital letter starts a clause, not a name.
_CLAUSE_END = frozenset(".!?…\n")
_SKIP = frozenset(" \t\r*_~`|«»\"'“”„()[]")


def _mid_sentence(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in _SKIP:
        i -= 1
    if i < 0 or text[i] in _CLAUSE_END:
        return False
    cat = unicodedata.category(text[i])
    # letters, digits and ordinary punctuation precede a name; an emoji or symbol opens a post
    return cat[0] in "LN" or text[i] in ",;:—–-/"


def fact_tokens(text: str) -> frozenset[str]:
    """Numbers (``48,5`` → ``48.5``) and name keys (:func:`~monitor.dedup.translit.name_fact`)
    of mid-sentence capitalised words."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    facts: set[str] = set()
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token[0].isdigit():
            facts.add("#" + token.replace(",", "."))
        elif token[0].isupper() and len(token) >= 3 and _mid_sentence(text, m.start()):
            key = name_fact(token)
            if key:
                facts.add(key)
    return frozenset(facts)


def fact_hashes(text: str, *, footer: str | None = None) -> tuple[int, ...]:
    """Sorted 32-bit hashes of :func:`fact_tokens`, the ``MAX_FACTS`` smallest.

    The facts of ``footer`` (the channel's signature) are left out: they are not the story's.
    """
    facts = fact_tokens(text)
    if footer:
        # "и " makes the footer's first word count as mid-sentence, as it may in the post
        facts -= fact_tokens(footer) | fact_tokens("и " + footer)
    hashes = sorted(
        int.from_bytes(hashlib.blake2b(f.encode("utf-8"), digest_size=4).digest(), "little")
        for f in facts)
    return tuple(hashes[:MAX_FACTS])


def facts_conflict(a: tuple[int, ...] | frozenset, b: tuple[int, ...] | frozenset) -> bool:
    """True when each side has facts the other lacks and they are a real share of all facts."""
    sa, sb = set(a), set(b)
    limits = [max(s) for s in (sa, sb) if len(s) >= MAX_FACTS]
    if limits:
        # a truncated sample only speaks for hashes up to its largest: compare within that range
        limit = min(limits)
        sa = {h for h in sa if h <= limit}
        sb = {h for h in sb if h <= limit}
    only_a, only_b = sa - sb, sb - sa
    if not only_a or not only_b:
        return False
    return len(only_a | only_b) / len(sa | sb) >= CONFLICT_SHARE
