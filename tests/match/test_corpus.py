"""Real Russian Telegram posts (../shared/corpus) and evasions built from real sentences."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitor.match import MatchDoc, TermSpec, compile_matcher, matching_form, prefilter

from .conftest import ALIASES, marked

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
RAW = CORPUS / "telegram-news-classifier" / "data" / "raw"

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def posts() -> list[str]:
    if not RAW.is_dir():
        pytest.skip(f"corpus not found at {RAW} (../shared/corpus is absent)")
    out: list[str] = []
    for f in sorted(RAW.glob("*.json")):
        out += [m["text"] for m in json.loads(f.read_text("utf-8")) if m.get("text")]
    return out


def run(queries, texts):
    m = compile_matcher([TermSpec(i, q) for i, q in enumerate(queries)], ALIASES)
    assert not m.errors
    found: dict[str, list[int]] = {q: [] for q in queries}
    for k, t in enumerate(texts):
        for h in m.match(MatchDoc(t)):
            found[queries[h.term_id]].append(k)
    return m, found


def test_kim_jong_un_in_real_posts(posts):
    m, found = run(["@kim_jong_un", '"Ким Чен Ын"'], posts)
    # every post naming him in any case form, found by a plain regex over the stem
    expected = [k for k, t in enumerate(posts) if re.search(r"Ким Чен Ын", t)]
    assert expected and found["@kim_jong_un"] == expected
    assert found['"Ким Чен Ын"'] == expected
    forms = set()
    for k in expected:
        for h in m.match(MatchDoc(posts[k])):
            forms.update(marked(h, posts[k]))
    assert {"Ким Чен Ына", "Ким Чен Ыном"} <= forms


def test_kndr_morphology_and_near_in_real_posts(posts):
    queries = ["КНДР", '"Северная Корея"', "(КНДР OR Пхеньян) NEAR/5 (Белоусов OR Россия)"]
    _, found = run(queries, posts)
    kndr = [k for k, t in enumerate(posts) if re.search(r"\bКНДР\b", t)]
    assert found["КНДР"] == kndr
    korea = [k for k, t in enumerate(posts) if re.search(r"Северн\w+ Коре", t)]
    assert korea and found['"Северная Корея"'] == korea
    near = found[queries[2]]
    assert near and set(near) <= set(kndr) | {k for k, t in enumerate(posts) if "Пхеньян" in t}


def test_prefilter_holds_on_real_posts(posts):
    for q in ['"Северная Корея"', "КНДР NEAR/5 Белоусов", "@kim_jong_un", "Пхеньян* OR Сеул",
              "росси* -Украина"]:
        pre = prefilter(q, ALIASES)
        assert pre
        m = compile_matcher([TermSpec(1, q)], ALIASES)
        for t in posts:
            if m.match(MatchDoc(t)):
                form = matching_form(t)
                assert any(p in form for p in pre), (q, pre, t[:80])


_EVASIONS = {
    "homoglyph": lambda s: s.replace("К", "K").replace("Н", "H").replace("о", "o"),
    "zero-width": lambda s: "\u200b".join(s),
    "soft hyphen": lambda s: re.sub(r"(\w{3})(\w)", "\\1\u00ad\\2", s),
    "stress": lambda s: s.replace("о", "о\u0301"),
    "fullwidth": lambda s: s.replace("КНДР", "ＫＮＤＲ"),
    "variation selectors": lambda s: s.replace(" ", "\ufe0f "),
}


@pytest.mark.parametrize("evasion", sorted(_EVASIONS))
def test_evasions_of_real_sentences(posts, evasion):
    real = [t for t in posts if "Ким Чен Ын" in t and "КНДР" in t][:3]
    assert real
    queries = ["@kim_jong_un", "КНДР"] if evasion != "fullwidth" else ["КНДР OR kndr"]
    m = compile_matcher([TermSpec(i, q) for i, q in enumerate(queries)], ALIASES)
    for t in real:
        bent = _EVASIONS[evasion](t)
        assert bent != t
        hits = m.match(MatchDoc(bent))
        assert [h.term_id for h in hits] == list(range(len(queries))), (evasion, bent[:80])
        for h in hits:  # spans point at the bent original
            for sp in h.spans:
                assert matching_form(bent[sp.start:sp.end]).strip()


def test_mixed_apostrophes_in_ukrainian_sentence():
    sentence = "Ціни на м{a}ясо та п{a}ять видів зерна зросли"
    m = compile_matcher([TermSpec(1, "м'ясо"), TermSpec(2, "п’ять")])
    for a in ("'", "\u2019", "\u02bc", "`"):
        assert [h.term_id for h in m.match(MatchDoc(sentence.format(a=a)))] == [1, 2], a
