"""Property tests: reduction is a fixed point, signatures round-trip, keys are deterministic."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.dedup.keys import dedup_text, text_key
from monitor.dedup.minhash import Signature, band_keys, signature, similarity

# Mix the alphabets and the noise that real posts carry: Cyrillic, Latin, digits, emoji,
# joiners, combining marks, markup characters and URL-ish fragments.
_PIECES = st.sampled_from([
    "Белгород", "ёж", "Ёлка", "İ", "ß", "ﬁ", "e\u0301", "\u0301", "\u00ad", "\u200b", "\u200d",
    "⚡️", "👨‍👩‍👧", "🇷🇺", "1️⃣", "**", "__", "~~", "`", "||", "#тег", "@rian_ru", "a@b.cd",
    "https://x.ru/a?b=1", "t.me/x/1", "<b>", "</p>", "&amp;", "&lt;i&gt;", "\n", " ", "—", "«", "»",
    "Ǆ", "ǅ", "ﾊﾟ", "ｶﾞ", "ᾈ", "ΐ", "ﬀ", "\u0345", "ㄱ", "ᄀ\u1161",
])
_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=40).map("".join),
)


@given(_TEXT)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_dedup_text_is_idempotent(text: str) -> None:
    once = dedup_text(text)
    assert dedup_text(once) == once


@given(_TEXT, _TEXT)
@settings(max_examples=200)
def test_footer_removal_leaves_a_fixed_point(text: str, footer: str) -> None:
    reduced = dedup_text(text, footer=footer)
    assert dedup_text(reduced) == reduced
    assert len(reduced) <= len(dedup_text(text))


@given(_TEXT)
@settings(max_examples=200)
def test_text_key_is_deterministic_and_sized(text: str) -> None:
    key = text_key(text)
    assert key == text_key(text)
    assert key is None or len(key) == 64


@given(st.text(min_size=20, max_size=400))
@settings(max_examples=100, deadline=None)
def test_signature_round_trips_bytes(text: str) -> None:
    sig = signature(text)
    if sig is None:
        assert len(dedup_text(text)) < 20
        return
    back = Signature.from_bytes(sig.to_bytes())
    assert back == sig
    assert similarity(back, sig) == 1.0


@given(st.text(min_size=20, max_size=400))
@settings(max_examples=100, deadline=None)
def test_band_keys_identical_for_identical_texts(text: str) -> None:
    a, b = signature(text), signature(str(text))  # a fresh computation, not a cached object
    if a is None:
        assert b is None
        return
    assert band_keys(a) == band_keys(b)
    assert band_keys(Signature.from_bytes(a.to_bytes())) == band_keys(a)
