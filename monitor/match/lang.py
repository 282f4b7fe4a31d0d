"""Offline, deterministic language detection (ISO 639-1).

Script does the easy work first: Hangul → ``ko``; Cyrillic text with Ukrainian-only letters
(``і ї є ґ``) and none of the Russian-only ones (``ы э ъ ё``) → ``uk``, the reverse → ``ru``. Other
texts go to langdetect with a private, fixed-seed factory (so the same text always gets the same
answer, and the process-wide ``DetectorFactory`` is left alone). Texts with fewer than
:data:`MIN_LETTERS` letters, and langdetect failures, give None.
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
_OTHER_CYR_RE = re.compile("[ўјљњћџѓќѕъЎЈЉЊЋЏЃЌЅЪ]")  # be, sr, mk, bg letters
_URL_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|#\w+")
_lock = threading.Lock()
_factory = None


def _get_factory():
    global _factory
    if _factory is None:
        with _lock:
            if _factory is None:
                from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

                f = DetectorFactory()
                f.load_profile(PROFILES_DIRECTORY)
                f.seed = 0
                _factory = f
    return _factory


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
        if not uk and len(letters) >= 30 and not _OTHER_CYR_RE.search(sample):
            # A Ukrainian sentence of 30 letters without і/ї/є/ґ is rare; so are be/sr/mk/bg
            # without their own letters: a Russian headline that happens to lack ы/э/ё.
            return "ru"
    try:
        from langdetect.lang_detect_exception import LangDetectException

        detector = _get_factory().create()
        detector.n_trial = 3  # 7 by default; 3 agree on every text we test and cost half
        # 600 characters decide a language as well as 5,000 and cost a tenth (langdetect's
        # per-character model updates dominate ingest otherwise).
        detector.append(text[:600])
        code = detector.detect()
    except LangDetectException:
        return None
    if code in ("unknown", None):
        return None
    return code.split("-")[0]
