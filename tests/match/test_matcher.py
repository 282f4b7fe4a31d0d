"""The evaluator: every operator against documents, spans, fields, metadata, errors per term."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match import MatchDoc, TermSpec, compile_matcher

from .conftest import hits_for, marked, matches

TEXT = ("Министр обороны КНДР заявил, что северокорейские офицеры прибыли в Курск. "
        "Ким Чен Ын встретился с Белоусовым.")


def test_word_matches_inflected_forms_and_gives_spans():
    h = hits_for("офицер", TEXT)["офицер"]
    assert h.field == "text"
    assert marked(h, TEXT) == ["офицеры"]
    assert h.snippet.count("«") == 1 and "«офицеры»" in h.snippet
    assert "<mark>офицеры</mark>" in h.snippet_html


def test_phrase_agreement_forms():
    q = '"северокорейские офицеры"'
    for text in ("Прибыли северокорейские офицеры.", "Видели северокорейских офицеров.",
                 "Приказ северокорейским офицерам.", "О северокорейском офицере."):
        assert matches(q, text), text
    assert not matches(q, "северокорейские солдаты и офицеры")
    assert not matches(q, "офицеры северокорейские")


def test_phrase_ignores_punctuation_between_words_but_not_gaps():
    assert matches('"Kim Jong Un"', "Kim Jong-un said")
    assert matches('"Ким Чен Ын"', "Ким Чен-Ын")
    assert not matches('"Ким Чен Ын"', "Ким и Чен Ын")


def test_and_or_not():
    assert matches("КНДР AND Курск", TEXT)
    assert matches("КНДР Курск", TEXT)
    assert not matches("КНДР AND Сеул", TEXT)
    assert matches("Сеул OR Курск", TEXT)
    assert not matches("КНДР NOT Курск", TEXT)
    assert matches("КНДР -Сеул", TEXT)
    assert matches("КНДР AND NOT (Сеул OR Токио)", TEXT)
    assert not matches("КНДР AND NOT (Сеул OR Курск)", TEXT)


def test_nested_not():
    assert matches("КНДР AND NOT (Курск AND NOT Белоусов)", TEXT)
    assert not matches("КНДР AND NOT (Курск AND NOT Сеул)", TEXT)
    assert matches("КНДР AND NOT NOT Курск", TEXT)
    assert matches("КНДР AND (NOT Сеул OR Токио)", TEXT)


def test_pure_negative_sub_branch_is_evaluated():
    assert matches("lang:ru NOT Сеул", TEXT, lang="ru")
    assert not matches("lang:ru NOT Курск", TEXT, lang="ru")
    assert matches("КНДР AND (NOT Сеул)", TEXT)


def test_near_unordered_and_ordered():
    q = "(КНДР OR северокорейский) NEAR/3 (солдат OR офицер)"
    assert matches(q, TEXT)  # северокорейские офицеры: adjacent
    assert matches("КНДР NEAR/5 офицер", TEXT)  # КНДР заявил что северокорейские офицеры
    assert not matches("КНДР NEAR/2 офицер", TEXT)
    assert matches("офицер NEAR/5 КНДР", TEXT)
    assert not matches("офицер NEAR/5f КНДР", TEXT)
    assert matches("КНДР NEAR/5f офицер", TEXT)
    h = hits_for(q, TEXT)[q]  # КНДР is 3 words before офицеры, so it is marked too
    assert marked(h, TEXT) == ["КНДР", "северокорейские", "офицеры"]
    q2 = "северокорейский NEAR/0 офицер"
    assert marked(hits_for(q2, TEXT)[q2], TEXT) == ["северокорейские", "офицеры"]


def test_near_distance_counts_words_between():
    assert matches("a NEAR/0 b", "a b")
    assert not matches("a NEAR/0 b", "a x b")
    assert matches("a NEAR/1 b", "a x b")
    assert matches("a NEAR/1 b", "b, x: a")


def test_near_needs_distinct_occurrences():
    assert not matches("офицер NEAR/3 офицеры", "офицер")
    assert matches("офицер NEAR/3 офицеры", "офицер и офицеры")


def test_near_never_spans_title_and_text():
    assert not matches("КНДР NEAR/3 офицер", text="офицеры прибыли", title="Новости КНДР")
    assert matches("КНДР NEAR/3 офицер", text="КНДР: офицеры прибыли", title="Новости КНДР")
    assert not matches('"КНДР офицеры"', text="офицеры прибыли", title="Новости КНДР")


def test_chained_near():
    assert matches("a NEAR/1 b NEAR/1 c", "a b x c")
    assert not matches("a NEAR/1 b NEAR/0 c", "a b x c")


def test_phrase_slop_keeps_order():
    assert matches('"Ким Ын"~1', "Ким Чен Ын")
    assert not matches('"Ким Ын"~0', "Ким Чен Ын")
    assert not matches('"Ын Ким"~3', "Ким Чен Ын")
    assert matches('"офицер прибыть"~3', TEXT)  # each word inflects on its own


def test_prefix_and_exact():
    assert matches("офицер*", "офицерский состав")
    assert matches("офицер*", "унтер-офицерами")  # hyphen splits: "офицерами" is a token
    assert not matches("!офицер", "северокорейские офицеры")
    assert matches("!офицеры", "северокорейские ОФИЦЕРЫ")
    assert not matches('!"северокорейские офицеры"', "северокорейских офицеров")


def test_field_scopes():
    assert matches("title:КНДР", text="ничего", title="КНДР сегодня")
    assert not matches("title:КНДР", text="КНДР сегодня", title="ничего")
    assert matches("text:КНДР", text="КНДР сегодня", title="ничего")
    h = hits_for("КНДР", text="КНДР и КНДР", title="О КНДР")["КНДР"]
    assert h.field == "title" and [(s.start, s.end) for s in h.spans] == [(2, 6)]
    assert matches("title:(КНДР OR Сеул) text:офицер", text="офицеры", title="Сеул")


def test_metadata_scopes():
    assert matches("lang:ru КНДР", TEXT, lang="ru")
    assert not matches("lang:uk КНДР", TEXT, lang="ru")
    assert matches("lang:(uk OR ru) КНДР", TEXT, lang="RU")
    assert matches("lang:ru КНДР", TEXT)  # detected when missing
    assert matches("channel:rian_ru КНДР", TEXT, channel="@RIAN_RU")
    assert matches("channel:@rian_ru КНДР", TEXT, channel="https://t.me/rian_ru")
    assert not matches("channel:tass КНДР", TEXT, channel="rian_ru")
    assert matches("source:telegram* КНДР", TEXT, source="telegram-web")
    assert not matches("source:rss КНДР", TEXT)
    assert matches("lang:ru", TEXT, lang="ru")  # a scope alone is a valid (broad) term


def test_alias_members_match_like_phrases():
    for text in ("Ким Чен Ына встретили", "Кім Чен Ин заявив", "Kim Jong-un's visit",
                 "Kim Jong Un said", "김정은이 말했다", "김정은의 발언", "Ким Чен Ыном"):
        assert matches("@kim_jong_un", text), text
    assert not matches("@kim_jong_un", "Ким Ир Сен")
    assert not matches("@kim_jong_un", "김정은행")


def test_overlapping_terms_and_term_inside_another():
    text = "Министр обороны КНДР прибыл."
    qs = ['"министр обороны"', '"министр обороны КНДР"', "обороны", '"обороны КНДР"', "КНДР"]
    hits = hits_for(qs, text)
    assert set(hits) == set(qs)
    assert marked(hits['"министр обороны КНДР"'], text) == ["Министр обороны КНДР"]
    assert marked(hits["обороны"], text) == ["обороны"]


def test_punctuation_and_emoji_glued_to_words():
    text = "❗️КНДР🔥заявила:«офицеры»—в Курске!!!#КНДР"
    hits = hits_for(["КНДР", "офицер", '"КНДР заявить"', "Курск"], text)
    assert set(hits) == {"КНДР", "офицер", '"КНДР заявить"', "Курск"}
    assert marked(hits["КНДР"], text) == ["КНДР", "КНДР"]


def test_english_plural_and_possessive():
    for text in ("an officer", "the officers", "the officer's car", "officers' mess"):
        assert matches("officer", text), text
    assert not matches("officer", "officialdom")
    # a plural query finds the singular too; words in -s that are no plurals stay whole
    for query, text in (("officers", "one officer"), ("cities", "a city"), ("boxes", "the box"),
                        ('"North Korean officers"', "a North Korean officer's rank")):
        assert matches(query, text), (query, text)
    for query, text in (("news", "a new law"), ("series", "a serie"), ("status", "statu")):
        assert not matches(query, text), (query, text)


def test_korean_particles():
    assert matches("김정은", "김정은이 말했다")
    assert matches("김정은", "김정은의 발언")
    assert matches("김정은", "김정은 위원장")
    assert not matches("김정은", "김정은행")


def test_ukrainian_morphology():
    q = '"північнокорейські офіцери"'
    for text in ("Прибули північнокорейські офіцери", "Бачили північнокорейських офіцерів",
                 "Наказ північнокорейським офіцерам"):
        assert matches(q, text), text
    assert matches("м'ясо", "ціни на м’ясо зросли")


def test_unknown_names_tolerate_case_endings():
    assert matches('"Ким Чен Ын"', "переговоры с Ким Чен Ыном")
    assert matches('"Ким Чен Ын"', "фото Ким Чен Ына")
    assert not matches('"Ким Чен Ын"', "Ким Чен Ынхва")


def test_failing_terms_do_not_break_others():
    m = compile_matcher([TermSpec(1, "КНДР"), TermSpec(2, "(broken"), TermSpec(3, "NOT x"),
                         TermSpec(4, "@nobody"), TermSpec(5, "of*"), TermSpec(6, "Курск")])
    assert set(m.errors) == {2, 3, 4, 5}
    assert m.errors[2].position == 7
    assert [h.term_id for h in m.match(MatchDoc(TEXT))] == [1, 6]


def test_alias_without_usable_members_is_an_error():
    m = compile_matcher([TermSpec(1, "@empty")], {"empty": ["", "—"]})
    assert 1 in m.errors


def test_no_terms_and_empty_documents():
    assert compile_matcher([]).match(MatchDoc("КНДР")) == []
    assert compile_matcher([TermSpec(1, "КНДР")]).match(MatchDoc("")) == []
    assert compile_matcher([TermSpec(1, "КНДР")]).match(MatchDoc("", title="")) == []


def test_hits_are_ordered_and_one_per_term():
    m = compile_matcher([TermSpec(9, "КНДР"), TermSpec(2, "КНДР OR Курск"), TermSpec(5, "Ким")])
    hits = m.match(MatchDoc(TEXT + " КНДР КНДР"))
    assert [h.term_id for h in hits] == [2, 5, 9]
    assert len(hits[2].spans) == 3


def test_snippet_html_is_inert():
    text = 'КНДР <script>alert("x")</script> <img src=x onerror=alert(1)> \u202eКНДР'
    h = hits_for("КНДР", text)["КНДР"]
    assert "<script>" not in h.snippet_html and "<img" not in h.snippet_html
    assert "&lt;script&gt;" in h.snippet_html
    assert "\u202e" not in h.snippet_html and "\u202e" not in h.snippet
    assert h.snippet_html.count("<mark>") == 2


@pytest.mark.parametrize("n", [0, 1, 5])
def test_min_prefix_is_configurable(n):
    m = compile_matcher([TermSpec(1, "офи*")], min_prefix=n)
    assert (1 in m.errors) == (n > 3)


def _near_brute(toks, n, ordered):
    a = [i for i, t in enumerate(toks) if t == "aa"]
    b = [i for i, t in enumerate(toks) if t == "bb"]
    return any((j > i and j - i - 1 <= n) or (not ordered and i > j and i - j - 1 <= n)
               for i in a for j in b)


def _slop_brute(toks, n):
    a = [i for i, t in enumerate(toks) if t == "aa"]
    b = [i for i, t in enumerate(toks) if t == "bb"]
    return any(j > i and j - i - 1 <= n for i in a for j in b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["aa", "bb", "xx", "yy"]), max_size=30), st.integers(0, 4))
def test_near_and_slop_agree_with_brute_force(toks, n):
    text = " ".join(toks)
    m = compile_matcher([TermSpec(1, f"aa NEAR/{n} bb"), TermSpec(2, f"aa NEAR/{n}f bb"),
                         TermSpec(3, f'"aa bb"~{n}')])
    got = {h.term_id for h in m.match(MatchDoc(text))}
    assert (1 in got) == _near_brute(toks, n, False)
    assert (2 in got) == _near_brute(toks, n, True)
    assert (3 in got) == _slop_brute(toks, n)
