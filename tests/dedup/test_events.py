"""The event clusterer (coverage level): representation, decisions, guards, reasons.

Texts are hand-written in the style of agency posts; names, places and figures are invented.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.dedup.eventindex import MemoryIndex, Weighted
from monitor.dedup.eventrep import Representation, represent
from monitor.dedup.events import (
    DEFAULT,
    Clusterer,
    EventParams,
    compare,
    copy_decision,
    weigh,
)
from monitor.dedup.translit import name_fact, name_key

T0 = datetime(2024, 11, 26, 9, 0, tzinfo=UTC)
MSK = timezone(timedelta(hours=3))

# a background of unrelated posts so that rarity weights mean something
BACKGROUND = [
    "Курс юаня на Мосбирже снизился до 14 рублей впервые с сентября",
    "Синоптики пообещали москвичам мокрый снег и гололедицу в среду",
    "Футбольный клуб «Ротор» сменил главного тренера после серии поражений",
    "В Самаре открыли новую станцию метро после десяти лет строительства",
    "Премьер Норвегии заявил о планах пересмотреть налоговую реформу",
    "Учёные описали новый вид лягушек из дождевых лесов Эквадора",
    "Биржевой индекс вырос на фоне отчётов технологических компаний",
    "Власти Вологды закрыли на ремонт старый мост через реку",
    "Суд в Казани арестовал бывшего чиновника по делу о взятке",
    "Министр образования предложил изменить расписание экзаменов",
]


def clusterer(params: EventParams = DEFAULT) -> Clusterer:
    c = Clusterer(MemoryIndex(params.window_hours * 3600), params)
    for i, text in enumerate(BACKGROUND):
        c.add(1000 + i, represent(text, T0 - timedelta(hours=20 - i), tz=MSK))
    return c


def feed(c: Clusterer, posts: list[tuple[str, float]]) -> list:
    """Add (text, hours after T0) posts in order; (story id, decision) per post."""
    return [c.add(i, represent(text, T0 + timedelta(hours=h), tz=MSK))
            for i, (text, h) in enumerate(posts, start=1)]


# --- names in two scripts -------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b"), [("Рёнхап", "Yonhap"), ("Ренхап", "Yonhap"),
                                      ("Шольц", "Scholz"), ("Блумберг", "Bloomberg"),
                                      ("Зеленский", "Zelensky"), ("Трамп", "Trump"),
                                      ("РФ", "Россия")])
def test_one_name_in_two_scripts_has_one_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b) != ""


@pytest.mark.parametrize(("a", "b"), [("Иран", "Ирак"), ("Курск", "Красноярск"),
                                      ("Рёнхап", "Синьхуа"), ("Турция", "Тунис")])
def test_different_names_have_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_name_facts_ignore_case_endings() -> None:
    assert name_fact("Белгороде") == name_fact("Белгородской") == name_fact("Белгороду")
    assert name_fact("Ренхапа") == name_fact("Yonhap") == name_fact("Рёнхап")
    assert name_fact("Trump's") == name_fact("Трампа")


# --- representation -------------------------------------------------------------------------

def test_numbers_dates_and_clock_times() -> None:
    rep = represent("❗️ ВСУ 23 ноября пятью ракетами атаковали аэродром, сбиты три ракеты. "
                    "Режим вступит в силу в 11:00 мск, в 04.00 мск; потери — 1 510 человек, "
                    "ущерб 2 тысяч квадратов и 48,5 млрд рублей", T0)
    assert rep.dates == ("11-23",)
    assert set(rep.numbers) == {"5", "3", "1510", "2000", "4.85e+10"}
    assert "11" not in rep.numbers and "4" not in rep.numbers  # clock times are not figures


def test_names_inside_sentences_and_known_names_at_their_start() -> None:
    rep = represent("Президент Южной Кореи объявил военное положение, передает Рёнхап. "
                    "Сеул закрыт.", T0)
    shown = {s for _, _, s, _ in rep.names}
    assert {"Южной", "Кореи", "Рёнхап", "Сеул"} <= shown
    assert "Президент" not in shown  # a common noun opening a sentence


def test_flags() -> None:
    assert represent("ПВО за ночь уничтожила 24 беспилотника", T0).daily
    assert represent("Число погибших выросло до пяти", T0).update
    assert not represent("Ракеты достигли цели", T0).update
    digest = represent("Главное за день:\n▪️ Первое событие в Омске\n▪️ Второе в Туле\n"
                       "▪️ Третье в Перми", T0)
    assert digest.digest
    # only its headline represents it
    assert not {s for _, _, s, _ in digest.names} & {"Омске", "Туле", "Перми"}


def test_calendar_day_follows_the_source_zone() -> None:
    late = datetime(2024, 11, 26, 22, 30, tzinfo=UTC)  # 01:30 on the 27th in Moscow
    assert represent("ПВО за ночь сбила 5 дронов", late, tz=MSK).day == \
        represent("ПВО за ночь сбила 5 дронов", late + timedelta(hours=2)).day


def test_representation_round_trips_through_bytes() -> None:
    rep = represent("Число пострадавших при пожаре в Климовске выросло до 4, сообщает Рёнхап",
                    T0)
    assert Representation.from_bytes(rep.to_bytes()) == rep
    item = weigh(rep, {rep.terms[0][0]: 3}, 100)
    back = Weighted.from_bytes(item.to_bytes())
    assert back.rep == rep and back.stories == 100
    assert back.idf == pytest.approx(item.idf, abs=1 / 32)
    with pytest.raises(ValueError):
        Representation.from_bytes(b"junk")
    with pytest.raises(ValueError):
        Weighted.from_bytes(rep.to_bytes())


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_represented_and_round_trips(text: str) -> None:
    rep = represent(text, T0)
    assert Representation.from_bytes(rep.to_bytes()) == rep
    assert rep.lead <= {t for t, _ in rep.terms}


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="абвгдежзиклмнопрстуфхцчшщэюя", min_size=2, max_size=12))
def test_a_cyrillic_name_and_its_latin_transliteration_share_a_key(word: str) -> None:
    from monitor.dedup.translit import _alias, _fold, to_latin

    if _alias(_fold(word)) is None and _alias(to_latin(word)) is None:
        assert name_key(word) == name_key(to_latin(word))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(BACKGROUND), st.sampled_from(BACKGROUND))
def test_comparison_is_symmetric_in_similarity(a: str, b: str) -> None:
    ra, rb = represent(a, T0), represent(b, T0)
    df = {t: 1 for t, _ in ra.terms + rb.terms}
    wa, wb = weigh(ra, df, 50), weigh(rb, df, 50)
    s1, s2 = compare(wa, wb).similarity, compare(wb, wa).similarity
    assert s1 == pytest.approx(s2) and 0.0 <= s1 <= 1.0 + 1e-9


# --- decisions: what joins -------------------------------------------------------------------

FIRE = ("Производственное здание горит в подмосковном Климовске, огонь распространился на "
        "площади 1300 квадратных метров, сообщает МЧС")
FIRE_REWRITE = ("Крупный пожар на производственном предприятии в подмосковном Климовске: "
                "площадь возгорания выросла до 2 тысяч квадратных метров, обрушилась кровля")
LONG = ("Прогулочное судно с пассажирами перевернулось в Баренцевом море рядом с селом "
        "Териберка, все спасены, начата проверка, сообщила транспортная прокуратура. "
        "На борту находились 11 туристов и 2 члена экипажа. Капитана судна задержали, "
        "в его крови нашли алкоголь, возбуждено уголовное дело.")
FLASH = ("Прогулочное судно с пассажирами перевернулось в Баренцевом море рядом с селом "
         "Териберка, все спасены")


def test_a_rewrite_joins_with_a_reason() -> None:
    c = clusterer()
    (s1, d1), (s2, d2) = feed(c, [(FIRE, 0), (FIRE_REWRITE, 0.7)])
    assert d1.story_id is None and s2 == s1
    reason = d2.reason
    assert (reason.level, reason.kind, reason.item_id) == ("coverage", "rewrite", 1)
    assert "Климовске" in reason.names
    assert reason.explain().startswith("coverage (rewrite) of #1: similarity")


def test_an_abridged_copy_joins_by_containment() -> None:
    c = clusterer()
    (s1, _), (s2, d2) = feed(c, [(LONG, 0), (FLASH, 0.3)])
    assert s2 == s1
    assert d2.reason.kind in ("abridged", "rewrite")
    assert d2.reason.containment >= DEFAULT.containment
    # the other way round: the flash first, the full post after it
    c = clusterer()
    (s1, _), (s2, d2) = feed(c, [(FLASH, 0), (LONG, 0.5)])
    assert s2 == s1 and d2.reason.containment >= DEFAULT.containment


def test_an_agency_named_in_two_scripts_does_not_split_a_story() -> None:
    a = ("Президент Южной Кореи Юн Сок Ёль объявил о введении военного положения, передает "
         "агентство Рёнхап")
    b = "Военное положение введено в Южной Корее по решению президента Юн Сок Ёля, пишет Yonhap"
    c = clusterer()
    (s1, _), (s2, d2) = feed(c, [(a, 0), (b, 0.2)])
    assert s2 == s1
    assert "Yonhap" in d2.reason.names or "Рёнхап" in d2.reason.names


def test_the_copy_level_speaks_the_same_language() -> None:
    d = copy_decision(7, "near-duplicate", item_id=3, similarity=0.88)
    assert (d.story_id, d.reason.level, d.reason.kind) == (7, "copy", "near-duplicate")
    assert d.reason.explain() == "copy (near-duplicate) of #3: similarity 0.88"


# --- decisions: hard negatives stay apart ----------------------------------------------------

def test_the_same_template_on_the_next_night_stays_apart() -> None:
    c = clusterer()
    night1 = ("ПВО за ночь уничтожила 24 украинских БПЛА над Белгородской и Курской областями, "
              "сообщило Минобороны")
    night2 = ("ПВО за ночь уничтожила 31 украинский БПЛА над Белгородской и Курской областями, "
              "сообщило Минобороны")
    (s1, _), (s2, d2) = feed(c, [(night1, -5), (night2, 19)])
    assert s2 != s1
    assert d2.vetoes and d2.vetoes[0].story_id == s1
    assert "differ" in d2.vetoes[0].why or "periodic" in d2.vetoes[0].why


def test_same_words_other_figures_on_one_day_stay_apart() -> None:
    c = clusterer()
    a = "Курс евро на внебиржевом рынке превысил 115 рублей впервые с 23 марта 2022 года"
    b = "Курс евро на внебиржевом рынке превысил 120 рублей впервые с 22 марта 2022 года"
    (s1, _), (s2, d2) = feed(c, [(a, 0), (b, 2)])
    assert s2 != s1
    assert d2.vetoes and ("dates differ" in d2.vetoes[0].why or "numbers" in d2.vetoes[0].why)


def test_two_drone_attacks_in_two_villages_stay_apart() -> None:
    c = clusterer()
    a = ("Двое мужчин ранены в селе Устинка Белгородской области при атаке дрона ВСУ на "
         "движущийся автомобиль, сообщил губернатор")
    b = ("Двое мужчин ранены в посёлке Малиновка Белгородской области при атаке дрона ВСУ на "
         "движущийся автомобиль, сообщил губернатор")
    (s1, _), (s2, d2) = feed(c, [(a, 0), (b, 3)])
    assert s2 != s1
    assert d2.vetoes and "names differ" in d2.vetoes[0].why


def test_a_new_statement_on_the_topic_days_later_starts_a_story() -> None:
    c = clusterer()
    a = ("Министр Ковалёв заявил, что переговоры о поставках газа в Сербию продолжатся "
         "на следующей неделе")
    b = ("Министр Ковалёв заявил, что переговоры о поставках газа в Сербию продолжатся, "
         "стороны обсудят цену")
    (s1, _), (s2, _) = feed(c, [(a, 0), (b, 24 * 2.8)])
    assert s2 != s1  # within the window, but 2.8 days of silence raise the bar
    c = clusterer()
    (s1, _), (s2, _) = feed(c, [(a, 0), (b, 24 * 4)])
    assert s2 != s1  # past the 72-hour window


def test_a_digest_does_not_absorb_the_events_it_lists() -> None:
    c = clusterer()
    digest = ("Главные события дня:\n▪️ " + FIRE + "\n▪️ Курс юаня вырос до 15 рублей\n"
              "▪️ В Самаре открыли станцию метро")
    (s1, _), (s2, d2) = feed(c, [(FIRE, 0), (digest, 6)])
    assert s2 != s1 and d2.reason is None


def test_an_update_with_a_new_toll_joins_its_incident() -> None:
    c = clusterer()
    a = ("ВСУ обстреляли автобус в Новой Каховке, известно о трех погибших и семи раненых, "
         "сообщили власти")
    b = "Число погибших при обстреле автобуса в Новой Каховке выросло до 4, еще 7 пострадали"
    (s1, _), (s2, d2) = feed(c, [(a, 0), (b, 0.5)])
    assert s2 == s1, d2.vetoes


def test_a_long_post_cut_to_its_terms_keeps_only_names_among_them() -> None:
    # more distinct terms than MAX_TERMS, a name used once among them: the representation stays
    # serialisable (each name is one of its terms)
    from monitor.dedup.eventrep import MAX_TERMS

    syl = [c + v for c in "бвгдзклмнпрст" for v in "аеиоу"]
    words = " ".join(syl[i % 65] + syl[(i // 65 + 3 * i) % 65] + syl[(7 * i + 1) % 65] + "ка"
                     for i in range(MAX_TERMS + 10))
    text = f"Шойгу приехал в Бердянск. {words} {words}"
    rep = represent(text, T0)
    assert len(rep.terms) <= MAX_TERMS
    ids = {t for t, _ in rep.terms}
    assert all(t in ids for t, *_ in rep.names)
    assert Representation.from_bytes(rep.to_bytes()) == rep


def test_representations_are_worked_out_once_per_content_and_time() -> None:
    from monitor.dedup.coverage import Representations
    from monitor.types import Item

    calls = []

    def work(value):
        calls.append(value.external_id)
        return represent(value.text, value.published_at)

    reps = Representations(size=2, work=work)
    a = Item(external_id="a", fetched_at=T0, published_at=T0, text="Пожар в Климовске")
    b = Item(external_id="b", fetched_at=T0, published_at=T0, text="Снег в Москве")
    c = Item(external_id="c", fetched_at=T0, published_at=T0, text="Туман в Твери")
    reps.prepare([a, b, a])
    assert calls == ["a", "b"]
    assert reps.get(a) == represent(a.text, T0)
    reps.prepare([c])  # the least recently used (b) is forgotten
    reps.prepare([a, b])
    assert calls == ["a", "b", "c", "b"]
