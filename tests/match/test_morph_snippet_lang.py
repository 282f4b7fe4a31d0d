"""Morphology expansion, prefilter guarantees, snippets and language detection."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import QuerySyntaxError
from monitor.match import (
    MatchDoc,
    TermSpec,
    compile_matcher,
    detect_language,
    matching_form,
    prefilter,
    snippet,
)
from monitor.match.morph import EXACT, KOREAN, TOLERANT, phrase_variants


def texts(variants):
    return {" ".join(p.text for p in v) for v in variants if all(p.kind == EXACT for p in v)}


def test_russian_phrase_expands_by_agreement_not_cross_product():
    vs = phrase_variants(["северокорейский", "офицер"])
    assert len(vs) == 10
    got = texts(vs)
    assert {"северокорейских офицеров", "северокорейским офицерам",
            "северокорейскими офицерами"} <= got
    assert "северокорейских офицерам" not in got


def test_ukrainian_phrase_expands_by_agreement():
    vs = phrase_variants(["північнокорейський", "офіцер"])
    # 11 case × number slots; Ukrainian doublets (офіцеру / офіцерові) add a few sequences
    assert 11 <= len(vs) <= 16
    assert "північнокорейських офіцерам" not in texts(vs)
    assert {"північнокорейських офіцерів", "північнокорейським офіцерам"} <= texts(vs)


def test_dependent_genitive_stays_as_written():
    got = texts(phrase_variants(["министр", "обороны"]))
    assert "министру обороны" in got and "министру обороне" not in got


def test_unknown_word_gets_ending_tolerance_and_korean_particles():
    (v,) = phrase_variants(["ын"])
    assert v[0].kind == TOLERANT and v[0].accepts("ыном") and not v[0].accepts("ынхва")
    (k,) = phrase_variants(["김정은"])
    assert k[0].kind == KOREAN and k[0].accepts("김정은이") and not k[0].accepts("김정은행")


def test_exact_means_no_morphology():
    assert phrase_variants(["офицеры"], exact=True) == [((phrase_variants(["офицеры"],
                                                                          exact=True)[0][0]),)]
    assert texts(phrase_variants(["офицеры"], exact=True)) == {"офицеры"}


def test_prefilter():
    assert prefilter("офицер") == ["офицер"]
    assert prefilter('"министр обороны" NEAR/3 КНДР') == ["кндр"] or \
        prefilter('"министр обороны" NEAR/3 КНДР') == ["министр"]
    assert prefilter("lang:ru") is None
    assert prefilter("source:x AND NOT y") is None
    assert set(prefilter("КНДР OR Сеул")) == {"кндр", "сеул"}
    with pytest.raises(QuerySyntaxError):
        prefilter("(")


_WORDS = ["офицеры", "КНДР", "Ким Чен Ына", "северокорейских", "m'ясо", "kim", "Jong-un", "x",
          "officer's", "солдат", "армии", "김정은이"]
_Q = ["офицер", "КНДР", '"Ким Чен Ын"', '"северокорейские офицеры"', "офицер* NOT армия",
      "солдат NEAR/2 армия", "officer OR @k", "КНДР -x"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_WORDS + [" ", ", ", "!", "\u200b"]), max_size=20).map(" ".join),
       st.sampled_from(_Q))
def test_prefilter_is_a_guarantee(text, query):
    aliases = {"k": ["김정은", "Ким Чен Ын"]}
    m = compile_matcher([TermSpec(1, query)], aliases)
    pre = prefilter(query, aliases)
    if m.match(MatchDoc(text)):
        assert pre is None or any(p in matching_form(text) for p in pre)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_WORDS + [" ", ", ", "\u200b", "\u00ad", "🔥", "ＫＮＤＲ"]),
                max_size=25).map("".join))
def test_spans_normalize_to_a_literal_form(text):
    """Each span of a hit is, on its own, exactly an occurrence of that term's literal."""
    m = compile_matcher([TermSpec(i, q) for i, q in enumerate(_Q[:4])])
    for h in m.match(MatchDoc(text)):
        alone = _SINGLE[h.term_id]
        for sp in h.spans:
            piece = text[sp.start:sp.end]
            again = alone.match(MatchDoc(piece))
            assert again, (_Q[h.term_id], piece)
            assert [(x.start, x.end) for x in again[0].spans] == [(0, len(piece))], (_Q[h.term_id], piece)


_SINGLE = [compile_matcher([TermSpec(i, q)]) for i, q in enumerate(_Q[:4])]


def test_snippet_window_markers_and_escaping():
    text = "A" * 300 + " the <b>target</b> word " + "B" * 300
    s = text.index("target")
    plain, html = snippet(text, [(s, s + 6)], width=80)
    assert plain.startswith("…") and plain.endswith("…") and "«target»" in plain
    assert "<mark>target</mark>" in html and "&lt;b&gt;" in html and "<b>" not in html
    assert len(plain) <= 90
    assert snippet("short", []) == ("short", "short")
    plain, _ = snippet("line one\n\n\tline two", [(0, 4)])
    assert plain == "«line» one line two"


def test_snippet_forged_markers_are_removed():
    plain, html = snippet("x \ue000fake\ue001 КНДР", [(10, 14)])
    assert plain.count("«") == 1 and html.count("<mark>") == 1


def test_detect_language():
    assert detect_language("Министр обороны КНДР заявил, что офицеры прибыли в Курск.") == "ru"
    assert detect_language("Міністр оборони заявив, що північнокорейські офіцери прибули.") == "uk"
    assert detect_language("The minister said that North Korean officers arrived today.") == "en"
    assert detect_language("김정은 국무위원장이 오늘 평양에서 회의를 열었다") == "ko"
    assert detect_language("ok") is None
    assert detect_language("") is None
    t = "Der Minister sagte heute, dass die Offiziere angekommen sind."
    assert detect_language(t) == detect_language(t) == "de"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.lists(st.tuples(st.integers(-5, 450), st.integers(-5, 450)),
                                       max_size=6), st.integers(0, 300))
def test_snippet_never_crashes_and_html_is_inert(text, spans, width):
    plain, html = snippet(text, spans, width=width)
    stripped = html.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped and '"' not in stripped
    assert html.count("<mark>") == html.count("</mark>")
    if "«" not in text and "\ue000" not in text:
        assert plain.count("«") == html.count("<mark>")
