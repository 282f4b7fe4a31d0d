"""The fact guard: template reports with other figures or names are not near-duplicates."""

from __future__ import annotations

import pytest

from monitor.dedup.facts import MAX_FACTS, fact_hashes, fact_tokens, facts_conflict
from monitor.dedup.minhash import is_near_duplicate, near_duplicate_score, signature, similarity
from tests.dedup.test_minhash import exact_jaccard
from tests.dedup import texts as T

# Written in the style of daily agency posts (figures invented): one number changes.
LOSSES_A = ("Потери ВСУ на курском направлении за сутки составили более 300 военнослужащих, "
            "уничтожены два танка, сообщили в Минобороны России")
LOSSES_B = LOSSES_A.replace("300", "250")
RATE_A = "Курс евро на внебиржевом рынке Forex превысил 120 рублей впервые с 22 марта 2022 года"
RATE_B = "Курс евро на внебиржевом рынке Forex превысил 115 рублей впервые с 23 марта 2022 года"
VILLAGE_A = "❗️ Российская армия **освободила населенный пункт Раздольное в ДНР**, сообщили в Минобороны"
VILLAGE_B = "❗️ Российская армия** освободила населенный пункт Новая Ильинка в ДНР, **сообщили в Минобороны"


def test_fact_tokens() -> None:
    facts = fact_tokens("❗️ Российская армия освободила Раздольное в ДНР. Сообщили в "
                        "Минобороны, выделят 48,5 млрд; https://t.me/x/1 @rian_ru")
    # sentence-initial words are not names; numbers normalise their decimal comma; names are
    # script-independent keys (translit.name_fact)
    assert facts == {"rzdl", "dnr", "mnbr", "#48.5"}


def test_inflected_names_are_one_fact() -> None:
    assert fact_tokens("удар по Белгороду") == fact_tokens("удар по Белгороде")


@pytest.mark.parametrize(("a", "b"), [("Рёнхап", "Yonhap"), ("Ренхапа", "Yonhap"),
                                      ("Шольца", "Scholz"), ("Блумберг", "Bloomberg")])
def test_a_name_in_two_scripts_is_one_fact(a: str, b: str) -> None:
    assert fact_tokens(f"сообщает {a}") == fact_tokens(f"сообщает {b}")


def test_near_copy_citing_the_agency_in_two_scripts_is_confirmed() -> None:
    # The case: a near-copy (similarity 0.88) split only because one post wrote
    # «Рёнхап» and the other "Yonhap".
    a = ("Президент Южной Кореи Юн Сок Ёль объявил о введении военного положения в стране, "
         "заявив об угрозе паралича власти, передает агентство Рёнхап")
    b = a.replace("Рёнхап", "Yonhap")
    sa, sb = signature(a), signature(b)
    assert not facts_conflict(sa.facts, sb.facts)
    assert is_near_duplicate(sa, sb)
    # ... while another agency is still another name
    assert fact_tokens(a) != fact_tokens(a.replace("Рёнхап", "Синьхуа"))


@pytest.mark.parametrize(("a", "b"), [(LOSSES_A, LOSSES_B), (RATE_A, RATE_B), (VILLAGE_A, VILLAGE_B)],
                         ids=["losses", "rate", "village"])
def test_template_twins_similar_but_conflicting(a: str, b: str) -> None:
    sa, sb = signature(a), signature(b)
    # MinHash alone cannot tell them apart: their true Jaccard similarity is so close to 0.75
    # (village 0.68, the others higher) that a 128-permutation estimate may land either side ...
    assert exact_jaccard(a, b) >= 0.65
    assert facts_conflict(sa.facts, sb.facts)
    assert not is_near_duplicate(sa, sb)  # ... the fact guard can
    assert near_duplicate_score(sa, sb) == 0.0


def test_reposts_and_edits_have_no_conflict() -> None:
    orig = signature(T.ORIGINAL_POST)
    assert is_near_duplicate(orig, signature(T.REPOST, footer=T.REPOST_FOOTER))
    assert is_near_duplicate(orig, signature(T.EDITED_REPOST, footer=T.REPOST_FOOTER))
    # a repost that adds a date and a name keeps every original fact: one-sided, no conflict
    added = "12 октября, Вячеслав Гладков: " + T.ORIGINAL_POST
    assert is_near_duplicate(orig, signature(added))
    assert near_duplicate_score(orig, signature(added)) == similarity(orig, signature(added))


def test_one_corrected_figure_in_a_long_text_is_no_conflict() -> None:
    a = fact_hashes(T.SUMMARY_OCT_12)
    b = fact_hashes(T.SUMMARY_OCT_12.replace("30 украинских", "31 украинских"))
    assert not facts_conflict(a, b)


def test_truncated_fact_samples_compare_in_common_range() -> None:
    many = " ".join(f"в {chr(0x410 + i)}{chr(0x430 + i)}рода {i}" for i in range(30))
    a, b = fact_hashes("и " + many), fact_hashes("и " + many + " и Ещёодно 999")
    assert len(a) == len(b) == MAX_FACTS
    assert not facts_conflict(a, b)


def test_footer_facts_are_left_out() -> None:
    with_footer = fact_hashes(T.REPOST, footer=T.REPOST_FOOTER)
    assert set(with_footer) < set(fact_hashes(T.REPOST))
