"""Homoglyph repair for tokens that mix scripts.

Evasion (and sloppy typing) puts a Latin ``o``/``c``/``H`` inside a Cyrillic word, or a Cyrillic ``а``
inside a Latin one, so that «КНДР» spelled ``КHДР`` slips past a naive matcher. The TR39 confusable
skeleton would fix that but turns *every* Cyrillic word into Latin look-alikes, mangling whole Russian
texts; so repair is applied only to tokens that already mix scripts, and only towards the token's own
majority script:

* letters are counted per script (Cyrillic, Latin, Greek); a token is *mixed* when a Cyrillic letter
  stands next to a Latin or Greek one (at most two digits, apostrophes or marks between them);
* the target is the script (Cyrillic or Latin; Greek never wins) with more *distinctive* letters,
  i.e. letters that have no look-alike in the other script (``д``, ``ы``, ``f``, ``g`` ...); on a tie,
  the one with more letters; on a further tie, Cyrillic;
* look-alike letters of the other scripts are replaced by their twin in the target script; letters
  without a twin stay as they are.

Input is already case-folded, so the tables list lowercase letters, including those whose *uppercase*
forms are the look-alikes (``h``/``н`` for ``H``/``Н``, ``m``/``м``, ``t``/``т``, ``b``/``в``). Repair
replaces one character by one character, so offsets are unaffected. It is idempotent: after a repair
the decision can only get clearer.
"""

from __future__ import annotations

import re

_LAT_TO_CYR = {
    "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "i": "і", "j": "ј", "k": "к", "m": "м",
    "o": "о", "p": "р", "s": "ѕ", "t": "т", "x": "х", "y": "у", "ï": "ї",
}
_CYR_TO_LAT = {
    "а": "a", "в": "b", "с": "c", "е": "e", "н": "h", "і": "i", "ј": "j", "к": "k", "м": "m",
    "о": "o", "р": "p", "ѕ": "s", "т": "t", "х": "x", "у": "y", "ї": "ï", "ԁ": "d", "һ": "h",
    "ԛ": "q", "ԝ": "w",
}
_GRK_TO_CYR = {
    "α": "а", "β": "в", "ε": "е", "η": "н", "ι": "і", "κ": "к", "ο": "о", "ρ": "р", "τ": "т",
    "υ": "у", "χ": "х", "ϲ": "с",
}
_GRK_TO_LAT = {
    "α": "a", "β": "b", "ε": "e", "η": "h", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ϲ": "c",
}

_CYR = "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f"
_LAT = "a-z\u00df-\u00f6\u00f8-\u00ff\u0100-\u024f\u1e00-\u1eff"
_GRK = "\u0370-\u03ff\u1f00-\u1fff"
# A script switch between neighbouring letters of one token (every Cyrillic/Latin or Cyrillic/Greek
# mixed token has one; up to two digits, apostrophes or marks may stand between the letters). The
# pattern starts with the Latin/Greek class so that `re` skips quickly through Cyrillic text, and
# looks behind for the Cyrillic-then-Latin direction.
_G = r"[\d'\u0300-\u036f]"
_LG = f"[{_LAT}{_GRK}]"
MIXED_RE = re.compile(
    f"{_LG}(?:{_G}*[{_CYR}]|(?<=[{_CYR}]{_LG})|(?<=[{_CYR}]{_G}{_LG})|(?<=[{_CYR}]{_G}{_G}{_LG}))"
)
_CYR_RE = re.compile(f"[{_CYR}]")
_LAT_RE = re.compile(f"[{_LAT}]")
_GRK_RE = re.compile(f"[{_GRK}]")

_TO_CYR = str.maketrans({**_LAT_TO_CYR, **_GRK_TO_CYR})
_TO_LAT = str.maketrans({**_CYR_TO_LAT, **_GRK_TO_LAT})


def repair_token(token: str) -> str:
    """Return ``token`` with look-alike letters moved into its majority script (if it is mixed)."""
    cyr = _CYR_RE.findall(token)
    lat = _LAT_RE.findall(token)
    grk = _GRK_RE.findall(token)
    if (bool(cyr) + bool(lat) + bool(grk)) < 2:
        return token
    cyr_d = sum(1 for ch in cyr if ch not in _CYR_TO_LAT)
    lat_d = sum(1 for ch in lat if ch not in _LAT_TO_CYR)
    if cyr_d != lat_d:
        to_cyr = cyr_d > lat_d
    elif len(cyr) != len(lat):
        to_cyr = len(cyr) > len(lat)
    else:
        to_cyr = True
    return token.translate(_TO_CYR if to_cyr else _TO_LAT)


def repair(text: str, token_re: re.Pattern[str]) -> str:
    """Repair every mixed-script token of ``text`` (tokens as ``token_re`` finds them)."""
    if MIXED_RE.search(text) is None:
        return text
    parts: list[str] = []
    last = 0
    for m in token_re.finditer(text):
        tok = m.group()
        if MIXED_RE.search(tok) is None:
            continue
        fixed = repair_token(tok)
        if fixed != tok:
            parts.append(text[last : m.start()])
            parts.append(fixed)
            last = m.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)
