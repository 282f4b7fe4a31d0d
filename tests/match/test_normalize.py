"""Normalization: each rule, idempotence, offsets back to the original, fast path == definition."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.match import matching_form, normalize
from monitor.match.normalize import fold, fold_for_scan, fold_reference, tokens_of


def toks(text: str) -> list[str]:
    return [t.text for t in normalize(text).tokens]


def test_casefold_nfkc_and_yo():
    assert matching_form("ЁЛКА Ёж") == "елка еж"
    assert matching_form("ＫＮＤＲ ｏｆｆｉｃｅｒ") == "kndr officer"
    assert matching_form("Straße") == "strasse"
    assert matching_form("𝐊𝐢𝐦") == "kim"


def test_invisible_characters_are_removed():
    assert toks("Ки\u200bм Чен\u00adЫн") == ["ким", "ченын"]
    assert toks("\ufeffКНДР\u2060") == ["кндр"]
    assert toks("К\u200dН\u200cДР") == ["кндр"]
    assert toks("офи\u034fцер") == ["офицер"]


def test_stress_marks_removed():
    assert toks("офице́ры") == ["офицеры"]
    assert toks("за̀мок") == ["замок"]


def test_apostrophes_are_canonical():
    for ap in ("'", "\u2019", "\u02bc", "`", "\u2018"):
        assert toks(f"м{ap}ясо") == ["м'ясо"], ap
    assert toks("officer's 'quoted'") == ["officer's", "quoted"]


def test_tokens_split_at_punctuation_hyphens_and_emoji():
    assert toks("Kim Jong-un") == ["kim", "jong", "un"]
    assert toks("❗️Глава🔥КНДР,сказал") == ["глава", "кндр", "сказал"]
    assert toks("#КНДР @rian_ru") == ["кндр", "rian", "ru"]
    assert toks("«Северо-Восточной»") == ["северо", "восточной"]


def test_homoglyphs_repaired_only_in_mixed_tokens():
    assert toks("КHДР") == ["кндр"]  # Latin H
    assert toks("Kим Чен Ын") == ["ким", "чен", "ын"]  # Latin K
    assert toks("Nаsа") == ["nasa"]  # Cyrillic а in a Latin word
    assert toks("севеpокоpейские") == ["северокорейские"]  # Latin p
    assert toks("οфицер") == ["офицер"]  # Greek omicron
    # whole words in one script stay as they are
    assert toks("Bear Вера Cop Сор") == ["bear", "вера", "cop", "сор"]


def test_offsets_point_into_the_original():
    text = "❗️Глава «Ки\u200bм Чен Ына» — ＫＮＤＲ…"
    n = normalize(text)
    for t in n.tokens:
        assert matching_form(text[t.start:t.end]) == t.text
    assert len(n.offsets) == len(n.text) + 1
    assert n.offsets[-1] == len(text)
    s, e = n.span(n.text.index("kndr"), n.text.index("kndr") + 4)
    assert text[s:e] == "ＫＮＤＲ"


def test_fold_reports_identity_offsets_for_plain_text():
    assert fold("Простой текст, без сюрпризов.")[1] is None
    assert fold("plain ascii")[1] is None


_special = st.sampled_from([
    "\u200b", "\u00ad", "\ufe0f", "\u0301", "\u0308", "\u00a0", "…", "ß", "İ", "ﬁ", "Ё", "’", "ʼ",
    "´", "`", "½", "Ｋ", "𝐊", "\u1100\u1161", "\u11a8", "가", "_", "-", "'", "H", "o", "р", "е",
    "\u034f", "\u2060", "ǰ", "ΐ", "ﬀ", "\U0001f525", "\u0345", "ꙮ", "Ω", "ǅ",
])
_texts = st.lists(st.text(max_size=3) | _special | st.sampled_from(["КНДР", "офицер", "Kim"]),
                  max_size=12).map("".join)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_normalization_is_idempotent(text):
    once = matching_form(text)
    assert matching_form(once) == once


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_fast_path_agrees_with_the_definition(text):
    assert fold(text)[0] == fold_reference(text)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_token_spans_normalize_back_to_the_token(text):
    n = normalize(text)
    assert len(n.offsets) == len(n.text) + 1
    assert all(0 <= o <= len(text) for o in n.offsets)
    for t in n.tokens:
        assert 0 <= t.start < t.end <= len(text)
        assert t.text in tokens_of(matching_form(text[t.start:t.end]))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_scan_tokenizer_agrees_with_normalize(text):
    form, _, token_re = fold_for_scan(text)
    assert token_re.findall(form) == tokens_of(form) == toks(text)
