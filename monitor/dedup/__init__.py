"""Dedup: telling that two items are one story (pure functions, no I/O; the store does the SQL).

Layers, cheapest and surest first:

1. **Exact keys** (:mod:`monitor.dedup.keys`), each for a unique index, strongest first:
   ``forward`` (a Telegram forward's origin ``tg:<bare channel id>/<post id>``), ``tg`` (a Telegram
   post's own identity in the same namespace, so a forward and its original meet whichever comes
   first), ``url`` (canonical URL of an article-like page), ``text`` (SHA-256 of the reduced text:
   URLs, mentions, emoji, markup, punctuation and the channel's signature footer removed; NFKC,
   casefold, ё→е). Reduced texts under 20 characters get no text key: "Фото" and "👍" are not
   stories.
2. **Near-duplicates** (:mod:`monitor.dedup.minhash`): MinHash, 128 permutations, over character
   5-grams of the same reduced text (hashed in numpy, scheme 2). LSH band keys at threshold 0.6
   (18 bands × 7 rows) find candidates through an indexed column; a candidate is confirmed
   (:func:`~monitor.dedup.minhash.is_near_duplicate`) when the estimated Jaccard similarity is
   ≥ ``DedupSettings.similarity`` (default **0.75**) and the two texts do not each hold facts
   (numbers, mid-sentence names) the other lacks (:mod:`monitor.dedup.facts`).

Why these numbers: LSH at 0.6 makes a pair at Jaccard 0.85 a candidate 99.9 % of the time and one
at 0.75 92 % of the time, while pairs at 0.5 surface only 13 % and at 0.3 0.4 % (few needless
confirmations). Measured on the test posts (``tests/dedup/test_minhash.py``): a repost with an
emoji prefix and a footer 0.91 (1.0 with the footer removed), an edited repost 0.80 (0.71 when the
reposter's footer is left in: store footers), while two different reports written in one template
("Сводка за 12 октября: сбито 30 дронов …" vs the next day's) measured 0.51 (exact Jaccard 0.40),
and a bare agency template with other figures and regions 0.62. So 0.75 keeps reposts and edits
together and the template twins apart. But short real agency posts in one template are closer: on
RIA Novosti's channel "Потери ВСУ … более 300 …" vs "… 250 …" have an exact Jaccard of 0.91,
"Курс евро … 120 рублей … 22 марта" vs "115 … 23 марта" 0.76, one sentence with two village
names 0.68: no threshold separates those from reposts, the fact guard does. (SimHash's 3-bit
rule misses most short reposts: not used.)

3. **Coverage** (:mod:`monitor.dedup.events`): the same event in other words — rewrites, abridged
   copies, follow-ups — joins the best active story (72 h window) by weighted similarity of
   lemmas, names (script-independent keys, :mod:`monitor.dedup.translit`), numbers and dates,
   with guards that keep template twins apart; every join carries a reason. Representation in
   :mod:`monitor.dedup.eventrep`, the story index port in :mod:`monitor.dedup.eventindex`.

The text key and the signature take the source's stored ``footer``
(:func:`~monitor.dedup.keys.detect_footer` finds it from ≥ 5 recent posts).
"""

from monitor.dedup.keys import (
    MIN_TEXT_CHARS,
    dedup_text,
    detect_footer,
    exact_keys,
    forward_key,
    text_key,
    url_key,
)

_MINHASH_NAMES = frozenset(
    ("Signature", "band_keys", "is_near_duplicate", "lsh_params", "near_duplicate_score",
     "signature", "similarity"))


def __getattr__(name: str):
    # numpy costs ~0.1 s to import: load the signatures only when they are wanted,
    # so commands that need just the exact keys start fast.
    if name in _MINHASH_NAMES:
        from monitor.dedup import minhash

        return getattr(minhash, name)
    raise AttributeError(f"module 'monitor.dedup' has no attribute {name!r}")


__all__ = [
    "MIN_TEXT_CHARS",
    "Signature",
    "band_keys",
    "dedup_text",
    "detect_footer",
    "exact_keys",
    "forward_key",
    "is_near_duplicate",
    "lsh_params",
    "near_duplicate_score",
    "signature",
    "similarity",
    "text_key",
    "url_key",
]
