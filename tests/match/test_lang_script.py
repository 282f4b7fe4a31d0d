"""Script rules of language detection decide the common cases without langdetect."""

import pytest

import monitor.match.lang as lang


@pytest.mark.parametrize("text, code", [
    ("У сколопендр обнаружили способность менять токсичность яда", "ru"),  # no ы/э/ё at all
    ("Під Донецьком загинули шестеро північнокорейських офіцерів", "uk"),
    ("Шесть северокорейских офицеров погибли, Сеул не подтвердил", "ru"),
])
def test_cyrillic_is_decided_by_script_without_langdetect(monkeypatch, text, code):
    def refuse():
        raise AssertionError("langdetect should not be needed")

    monkeypatch.setattr(lang, "_get_factory", refuse)
    assert lang.detect_language(text) == code


def test_bulgarian_is_not_taken_for_russian():
    assert lang.detect_language("България и Сърбия подписаха споразумение за енергетиката днес") == "bg"
