"""Morphology: which token sequences a query word or phrase stands for.

Everything here runs at *compile* time; the matcher only compares tokens. A word or phrase becomes a
list of *variants*, each a tuple of token patterns (:class:`TokPat`), one per token:

* ``EXACT`` — the token equals one of ``forms``;
* ``PREFIX`` — the token starts with ``text`` (``word*``);
* ``TOLERANT`` — the token is ``text`` plus one of the known case endings (or nothing);
* ``KOREAN`` — the token is ``text`` plus one of the Korean particles (or nothing).

Rules, by the script of the (normalized) query token:

* **Russian / Ukrainian** (pymorphy3, dictionaries ``ru`` and ``uk``; a token with ``і ї є ґ`` or an
  apostrophe is Ukrainian, one with ``ы э ъ`` Russian, others are tried in both). A dictionary word
  alone matches every form of its lexemes (all dictionary parses). In a phrase, the *head* (first
  noun), the adjectives/participles/ordinals before it and the nouns after it that agree with it in
  case and number are inflected *together* into each case × number (ru: 6 cases + gen2/loc2, uk: 7
  cases incl. vocative; each × sing/plur), adjectives taking the head's gender and animacy; words in
  another case (``министр обороны``) stay as written. Variants where those nouns stay as written
  are added too, and the phrase as written always matches. Verbs, short forms and comparatives in
  a phrase (``"КНДР заявить"``) take any form of their own lexeme. «северокорейский офицер» gives 10 token
  sequences, «північнокорейський офіцер» 11 case-number slots (16 sequences: Ukrainian doublets such as
  офіцеру / офіцерові) — not the 130–168 of a cross product.
* **Unknown Cyrillic words** (names such as «Ын», «Чен» in some dictionaries) get *ending
  tolerance*: the word as written, followed by nothing or one of :data:`ENDINGS`; when it ends in a
  vowel, ``ь`` or ``й`` and has at least 4 letters, that last letter may be replaced by an ending
  (``Моника`` → ``Монику``). Write names in the nominative.
* **English** (ASCII letters): the last token of a phrase (or the word) also matches ``+s``, ``+es``,
  ``+'s``, ``y → ies``; a query word in ``'s`` also matches the bare word, and a regular plural
  (``officers``, ``cities``, ``boxes``) its singular (not words such as ``news`` or ``series``).
* **Korean** (Hangul): the token may carry one of :data:`PARTICLES` (김정은이, 김정은의).
* Anything else (digits, other scripts) must be equal after normalization.
* ``!word`` / ``!"phrase"``: ``EXACT`` tokens only, no morphology.

Analyses are memoized per (language, form); the analyzers are created lazily, once per process.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from .normalize import matching_form

EXACT, PREFIX, TOLERANT, KOREAN = 0, 1, 2, 3
MAX_VARIANTS = 256

ENDINGS = frozenset(
    ["а", "я", "у", "ю", "е", "и", "ы", "і", "ї", "о", "ом", "ем", "ой", "ей", "ою", "ею", "ам", "ям", "ами", "ями", "ах", "ях", "ов", "ев", "ів", "їв", "ым", "им", "ого", "его", "ому", "ему", "ую", "юю", "ая", "яя", "ое", "ее", "ые", "ие", "ых", "их", "ыми", "ими", "ові", "еві", "єві", "ові", "ь"]
) | {""}
PARTICLES = frozenset(
    ["이", "가", "은", "는", "을", "를", "의", "에", "에서", "에게", "에게서", "께", "께서", "한테", "와", "과", "와의", "과의", "도", "만", "로", "으로", "로서", "으로서", "로부터", "으로부터", "부터", "까지", "보다", "처럼", "하고", "이나", "나", "랑", "이랑", "이다", "이라고", "라고", "이라는", "라는", "이며", "며", "에는", "에서는", "에게는", "과는", "와는", "도의", "측", "씨", "위원장", "총비서"]
) | {""}
_VOWELISH = set("аеиоуыэюяіїєь й".replace(" ", ""))
_HANGUL_RE = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_CYR_RE = re.compile("[\u0400-\u052f]")
_LATIN_WORD_RE = re.compile(r"[a-z][a-z']*\Z")
_UK_ONLY = set("іїєґ'")
_RU_ONLY = set("ыэъ")
_CASES = {
    "ru": ("nomn", "gent", "datv", "accs", "ablt", "loct", "gen2", "loc2"),
    "uk": ("nomn", "gent", "datv", "accs", "ablt", "loct", "voct"),
}
_ADJ_POS = {"ADJF", "PRTF", "NUMR"}
_FREE_POS = {"VERB", "INFN", "PRTS", "GRND", "ADJS", "COMP"}


@dataclass(frozen=True, slots=True)
class TokPat:
    """One token position of a variant."""

    kind: int
    text: str  # the single form (EXACT) or the stem (others)
    forms: frozenset[str] = frozenset()  # EXACT with several forms (only after the key)

    def accepts(self, token: str) -> bool:
        k = self.kind
        if k == EXACT:
            return token == self.text if not self.forms else token in self.forms
        if not token.startswith(self.text):
            return False
        if k == PREFIX:
            return True
        rest = token[len(self.text):]
        return rest in (ENDINGS if k == TOLERANT else PARTICLES)


Variant = tuple[TokPat, ...]

_lock = threading.Lock()
_analyzers: dict[str, object] = {}


def analyzer(lang: str):
    """The pymorphy3 analyzer for ``lang`` ('ru' or 'uk'), created on first use."""
    a = _analyzers.get(lang)
    if a is None:
        with _lock:
            a = _analyzers.get(lang)
            if a is None:
                import pymorphy3

                a = pymorphy3.MorphAnalyzer(lang=lang)
                _analyzers[lang] = a
    return a


def _langs(word: str) -> tuple[str, ...]:
    chars = set(word)
    if chars & _UK_ONLY:
        return ("uk",)
    if chars & _RU_ONLY:
        return ("ru",)
    return ("ru", "uk")


@lru_cache(maxsize=200_000)
def dict_parses(lang: str, word: str) -> tuple:
    """Dictionary (not guessed) parses of ``word``, best first."""
    out = []
    for p in analyzer(lang).parse(word):
        if type(p.methods_stack[0][0]).__name__ == "DictionaryAnalyzer":
            out.append(p)
    return tuple(out)


@lru_cache(maxsize=200_000)
def _fold_form(form: str) -> str:
    return matching_form(form)


@lru_cache(maxsize=100_000)
def lexeme_forms(word: str) -> frozenset[str] | None:
    """Every normalized form of every lexeme ``word`` belongs to; None when no dictionary knows it."""
    forms: set[str] = set()
    for lang in _langs(word):
        for p in dict_parses(lang, word):
            for f in p.lexeme:
                forms.add(_fold_form(f.word))
    if not forms:
        return None
    forms.add(word)
    # A lexeme form that normalizes to several tokens (rare) cannot match one token: drop it.
    return frozenset(f for f in forms if f and " " not in f and "-" not in f)


# Words in -s that are not plurals (a query for "news" must not find "new").
_NOT_PLURAL = frozenset("""
    always atlas bias canvas chaos christmas does gas has hers his its lens news ours perhaps
    series species texas theirs this thus unless was whereas yes yours
""".split())


def english_singular(word: str) -> str | None:
    """The singular of a regular English plural (``officers``, ``cities``, ``boxes``), else None."""
    if len(word) <= 3 or word in _NOT_PLURAL or not word.endswith("s"):
        return None
    if word.endswith(("ss", "us", "is", "ous", "ics", "'s")):
        return None
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


def english_forms(word: str) -> frozenset[str]:
    """The word, its plural and possessive forms, and for a plural its singular's forms."""
    singular = english_singular(word)
    if singular is not None:
        return english_forms(singular) | {word, word + "'"}
    forms = {word, word + "s", word + "'s"}
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(word + "es")
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        forms.add(word[:-1] + "ies")
    if word.endswith("'s") and len(word) > 2:
        forms.add(word[:-2])
    return frozenset(forms)


def tolerant(word: str) -> tuple[TokPat, ...]:
    pats = [TokPat(TOLERANT, word)]
    if len(word) >= 4 and word[-1] in _VOWELISH:
        pats.append(TokPat(TOLERANT, word[:-1]))
    return tuple(pats)


def word_alternatives(token: str, *, last: bool = True) -> tuple[TokPat, ...]:
    """The alternatives for one token on its own (single-form EXACT patterns listed one by one)."""
    if _HANGUL_RE.search(token):
        return (TokPat(KOREAN, token),)
    if _CYR_RE.search(token):
        forms = lexeme_forms(token)
        if forms is None:
            return tolerant(token) if len(token) >= 2 else (TokPat(EXACT, token),)
        return tuple(TokPat(EXACT, f) for f in sorted(forms))
    if last and _LATIN_WORD_RE.match(token):
        return tuple(TokPat(EXACT, f) for f in sorted(english_forms(token)))
    return (TokPat(EXACT, token),)


def _alts_to_pattern(alts: tuple[TokPat, ...]) -> list[TokPat]:
    """Merge single-form EXACT alternatives into one multi-form pattern (others stay apart)."""
    exact = frozenset(p.text for p in alts if p.kind == EXACT)
    out = [p for p in alts if p.kind != EXACT]
    if exact:
        out.insert(0, TokPat(EXACT, min(exact), exact) if len(exact) > 1 else TokPat(EXACT, *exact))
    return out


def independent_variants(tokens: list[str], prefixes: list[bool]) -> list[Variant]:
    """Each token inflects on its own (sloppy phrases, phrases without a head noun)."""
    per_tok: list[list[TokPat]] = []
    for k, (tok, pre) in enumerate(zip(tokens, prefixes)):
        if pre:
            per_tok.append([TokPat(PREFIX, tok)])
        else:
            per_tok.append(_alts_to_pattern(word_alternatives(tok, last=k == len(tokens) - 1)))
    return list(itertools.islice(itertools.product(*per_tok), MAX_VARIANTS))


def _agree_parse(parses, case: str | None, number: str | None, pos_ok: set[str] | None):
    for p in parses:
        if pos_ok is not None and p.tag.POS not in pos_ok:
            continue
        if case is None or (p.tag.case == case and p.tag.number == number):
            return p
    return None


_ADJ_CASE = {"gen2": "gent", "loc2": "loct"}


@lru_cache(maxsize=100_000)
def _lexeme(p) -> tuple:
    return tuple(p.lexeme)


def _forms_with(p, case: str, number: str, lang: str, gender: str | None, anim: str | None,
                is_dependent: bool) -> frozenset[str]:
    """Forms of ``p``'s lexeme (same part of speech) in ``case`` and ``number``, agreeing in gender
    (singular adjectives) and animacy (accusative adjectives) when the lexeme marks them."""
    if is_dependent:
        case = _ADJ_CASE.get(case, case)
        if case == "accs" and (number == "plur" or gender == "masc") and anim:
            # the accusative of an adjective agreeing with a masculine or plural noun is its
            # genitive (animate) or nominative (inanimate): dictionaries do not always say which
            case = "gent" if anim == "anim" else "nomn"
    pos = p.tag.POS
    cands = []
    for f in _lexeme(p):
        t = f.tag
        if t.POS != pos or t.case != case:
            continue
        num = t.number
        if (num == "plur") != (number == "plur") or (lang == "ru" and num is None and pos != "NUMR"
                                                      and "Fixd" not in t):
            continue
        cands.append(f)
    if is_dependent and number == "sing" and gender:
        cands = [f for f in cands if f.tag.gender in (gender, None)] or cands
    if is_dependent and case == "accs" and anim:
        cands = [f for f in cands if f.tag.animacy in (anim, None)] or cands
    return frozenset(_fold_form(f.word) for f in cands)


_ALL_CASES = set(_CASES["ru"]) | set(_CASES["uk"])


def _agreement_variants(tokens: list[str], prefixes: list[bool], lang: str) -> list[Variant]:
    parses = [dict_parses(lang, t) if _CYR_RE.search(t) and not pre else () for t, pre in
              zip(tokens, prefixes)]
    head = next((i for i, ps in enumerate(parses) if ps and ps[0].tag.POS == "NOUN"), None)
    if head is None:
        return []
    hp = parses[head][0]
    agree: dict[int, object] = {head: hp}
    for j in range(head - 1, -1, -1):  # adjectives right before the head
        p = _agree_parse(parses[j], hp.tag.case, hp.tag.number, _ADJ_POS) or _agree_parse(
            parses[j], None, None, _ADJ_POS)
        if p is None:
            break
        agree[j] = p
    appos: dict[int, object] = {}
    for j in range(head + 1, len(tokens)):
        p = _agree_parse(parses[j], hp.tag.case, hp.tag.number, {"NOUN", "ADJF"})
        if p is None:
            break
        appos[j] = p
    fixed: list[list[TokPat]] = []
    for k, (tok, pre) in enumerate(zip(tokens, prefixes)):
        if pre:
            fixed.append([TokPat(PREFIX, tok)])
        elif _CYR_RE.search(tok) and not parses[k]:
            fixed.append(list(tolerant(tok)) if len(tok) >= 2 else [TokPat(EXACT, tok)])
        elif k == len(tokens) - 1 and _LATIN_WORD_RE.match(tok):
            fixed.append(_alts_to_pattern(word_alternatives(tok)))
        elif parses[k] and parses[k][0].tag.POS in _FREE_POS:
            # verbs and the like do not agree with the head: any form of their own lexeme
            fixed.append(_alts_to_pattern(word_alternatives(tok)))
        else:
            fixed.append([TokPat(EXACT, tok)])
    g = hp.tag.gender or hp.normalized.tag.gender  # a plural head: its lemma's gender
    gender = str(g) if g else None
    anim = str(hp.tag.animacy) if hp.tag.animacy else None
    out: list[Variant] = []
    for case in _CASES[lang]:
        for number in ("sing", "plur"):
            for with_appos in (True, False) if appos else (False,):
                group = {**agree, **(appos if with_appos else {})}
                forms: dict[int, frozenset[str]] = {}
                for j, p in group.items():
                    dep = j != head and p.tag.POS in _ADJ_POS
                    fs = _forms_with(p, case, number, lang, gender, anim, dep)
                    fs = frozenset(f for f in fs if " " not in f)
                    if not fs:
                        break
                    forms[j] = fs
                else:
                    per = [[TokPat(EXACT, f) for f in sorted(forms[k])] if k in forms else fixed[k]
                           for k in range(len(tokens))]
                    out.extend(itertools.product(*per))
    return out


@lru_cache(maxsize=50_000)
def _phrase_variants_cached(tokens: tuple[str, ...], prefixes: tuple[bool, ...]) -> tuple:
    toks, pres = list(tokens), list(prefixes)
    variants: list[Variant] = []
    langs = _langs("".join(toks))
    if len(langs) > 1:  # no telltale letters: use the dictionaries that know the most words
        known = {lang: sum(1 for t in toks if _CYR_RE.search(t) and dict_parses(lang, t))
                 for lang in langs}
        best = max(known.values())
        langs = tuple(lang for lang in langs if known[lang] == best)
    for lang in langs:
        variants.extend(_agreement_variants(toks, pres, lang))
    if not variants:
        variants = independent_variants(toks, pres)
    else:
        # the phrase as written (with tolerance for unknown words) always matches
        as_written = []
        for k, (tok, pre) in enumerate(zip(toks, pres)):
            if pre:
                as_written.append([TokPat(PREFIX, tok)])
            elif _CYR_RE.search(tok) and lexeme_forms(tok) is None and len(tok) >= 2:
                as_written.append(list(tolerant(tok)))
            elif k == len(toks) - 1 and _LATIN_WORD_RE.match(tok):
                as_written.append(_alts_to_pattern(word_alternatives(tok)))
            else:
                as_written.append([TokPat(EXACT, tok)])
        variants.extend(itertools.product(*as_written))
    seen: dict[Variant, None] = {}
    for v in variants:
        seen.setdefault(tuple(v), None)
    return tuple(itertools.islice(seen, MAX_VARIANTS))


def phrase_variants(tokens: list[str], prefixes: list[bool] | None = None, *,
                    exact: bool = False, independent: bool = False) -> list[Variant]:
    """Variants of a sequence of normalized tokens (a word is a sequence of one)."""
    pres = prefixes or [False] * len(tokens)
    if exact:
        return [tuple(TokPat(PREFIX if p else EXACT, t) for t, p in zip(tokens, pres))]
    if len(tokens) == 1:
        if pres[0]:
            return [(TokPat(PREFIX, tokens[0]),)]
        return [(p,) for p in word_alternatives(tokens[0])]
    if independent:
        return independent_variants(tokens, pres)
    return list(_phrase_variants_cached(tuple(tokens), tuple(pres)))
