"""Language detection: script rules decide the clear cases without the model; fastText the rest."""

import pytest

import monitor.match.lang as lang


@pytest.mark.parametrize("text, code", [
    ("Під Донецьком загинули шестеро північнокорейських офіцерів", "uk"),
    ("Шесть северокорейских офицеров были убиты, Сеул не подтвердил", "ru"),
    ("북한 장교 6명이 도네츠크 인근 공습으로 사망했다고 우크라이나 관리들이 밝혔다", "ko"),
])
def test_clear_scripts_are_decided_without_the_model(monkeypatch, text, code):
    def refuse():
        raise AssertionError("the model should not be needed")

    monkeypatch.setattr(lang, "_get_detector", refuse)
    assert lang.detect_language(text) == code


@pytest.mark.parametrize("text, code", [
    ("У сколопендр обнаружили способность менять токсичность яда", "ru"),  # no ы/э/ё at all
    ("България и Сърбия подписаха споразумение за енергетиката днес", "bg"),
    ("Шестима севернокорейски офицери са загинали при удар край Донецк.", "bg"),  # no ъ either
    ("Шэсць паўночнакарэйскіх афіцэраў загінулі ў выніку ўдару пад Данецкам.", "be"),
    ("Nordkoreanische Offiziere wurden bei einem Angriff nahe Donezk getötet.", "de"),
    ("North Korean officers were killed in a strike near Donetsk, officials said.", "en"),
])
def test_the_model_decides_the_rest(text, code):
    assert lang.detect_language(text) == code


def test_too_little_text_has_no_language():
    assert lang.detect_language("ok 👍 https://t.me/x/1") is None
    assert lang.detect_language("") is None
