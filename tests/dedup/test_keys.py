"""Exact keys: reduced text, footers, Telegram identities, URLs."""

from __future__ import annotations

from datetime import datetime, timezone

import feedparser
import pytest

from monitor.dedup.keys import (
    MIN_TEXT_CHARS,
    dedup_text,
    detect_footer,
    exact_keys,
    forward_key,
    text_key,
    url_key,
)
from monitor.types import Forward, Item
from tests.dedup import texts as T

NOW = datetime(2024, 10, 12, 9, 0, tzinfo=timezone.utc)


# --- dedup_text ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "reduced"),
    [
        ("Hello, World!!!", "hello world"),
        ("Ёлки-палки — ЁЖ", "елки палки еж"),
        ("**Жирный** __курсив__ ~~зачёркнутый~~ `код` ||спойлер||", "жирный курсив зачеркнутый код спойлер"),
        ("Читайте https://ria.ru/2024/a.html?x=1 и t.me/rian_ru/5 и www.example.com/a", "читайте и и"),
        ("Пишите @rian_ru или на press@example.ru", "пишите или на"),
        ("Взрыв в #Белгороде", "взрыв в белгороде"),
        ("⚡️🔴👨‍👩‍👧 1️⃣ 🇷🇺 ✅ ★ Срочно", "1 срочно"),
        ("ｆｕｌｌｗｉｄｔｈ ＡＢＣ", "fullwidth abc"),
        ("soft\u00adhyphen zero\u200bwidth", "softhyphen zerowidth"),
        ("<p>Тег &amp; сущность&nbsp;здесь</p>", "тег сущность здесь"),
        ("&lt;b&gt;двойное&lt;/b&gt; экранирование", "двойное экранирование"),
        ("a < b > c", "a b c"),
        ("  много\n\n\tпробелов  ", "много пробелов"),
    ],
)
def test_dedup_text_reduces(raw: str, reduced: str) -> None:
    assert dedup_text(raw) == reduced


def test_hashtag_rubric_lines_go_inline_hashtags_stay() -> None:
    text = "🔴 #срочно\nВзрыв в #Белгороде, #новости дня\n#Белгород #новости"
    assert dedup_text(text) == "взрыв в белгороде новости дня"


def test_footer_removed_only_at_the_end() -> None:
    footer = "Подписаться на канал | @rian_ru"
    assert dedup_text("Новость дня.\n\nПодписаться на канал | @rian_ru", footer=footer) == "новость дня"
    # compared in reduced form: other punctuation, emoji and a trailing link do not matter
    assert dedup_text("Новость дня. 👉ПОДПИСАТЬСЯ на канал! https://t.me/rian_ru", footer=footer) == (
        "новость дня")
    # in the middle it is content and stays
    assert dedup_text("Подписаться на канал можно здесь", footer=footer) == (
        "подписаться на канал можно здесь")
    # a word that merely ends with the footer's first word is not the footer
    assert dedup_text("Новость ждать", footer="дать") == "новость ждать"


# --- text_key ------------------------------------------------------------------------------------

@pytest.mark.parametrize("short", ["Фото", "👍", "Видео 🎥", "", "   ", "#реклама", "https://t.me/x/1",
                                   "Подробности позже"])
def test_short_texts_have_no_key(short: str) -> None:
    assert text_key(short) is None


def test_short_threshold_is_on_reduced_text() -> None:
    assert len(dedup_text("⚡️⚡️⚡️ Взрыв в центре ⚡️⚡️⚡️")) < MIN_TEXT_CHARS
    assert text_key("⚡️⚡️⚡️ Взрыв в центре ⚡️⚡️⚡️") is None
    assert text_key("Взрыв в центре Белгорода") is not None


def test_rss_and_atom_forms_of_one_article_share_text_key() -> None:
    rss = feedparser.parse(T.RSS_FEED.encode("utf-8")).entries[0]
    atom = feedparser.parse(T.ATOM_FEED.encode("utf-8")).entries[0]
    rss_html, atom_html = rss.summary, atom.content[0].value
    assert rss_html != atom_html  # different markup ...
    assert text_key(rss_html) == text_key(atom_html) == text_key("\n".join(T.ARTICLE_PARAGRAPHS))
    # ... and the URL key ignores scheme-level noise but keeps the (canonicalisation's) query
    assert url_key(rss.link) == "url:news.example.ru/economy/2024/10/12/elektrichki.html"


def test_repost_with_emoji_prefix_and_footer_shares_text_key() -> None:
    assert text_key(T.REPOST) != text_key(T.ORIGINAL_POST)  # the footer is still there
    assert text_key(T.REPOST, footer=T.REPOST_FOOTER) == text_key(T.ORIGINAL_POST)


def test_edited_repost_is_not_an_exact_duplicate() -> None:
    assert text_key(T.EDITED_REPOST, footer=T.REPOST_FOOTER) != text_key(T.ORIGINAL_POST)


def test_template_twins_do_not_share_text_key() -> None:
    assert text_key(T.SUMMARY_OCT_12) != text_key(T.SUMMARY_OCT_13)
    assert text_key(T.BARE_TEMPLATE_A) != text_key(T.BARE_TEMPLATE_B)


# --- detect_footer ---------------------------------------------------------------------------

def test_detect_footer_finds_the_signature_line() -> None:
    footer = detect_footer(T.RIA_POSTS)
    assert footer == T.RIA_FOOTER
    stripped = [dedup_text(p, footer=footer) for p in T.RIA_POSTS]
    assert not any(s.endswith("подписаться на канал") for s in stripped)
    assert stripped[1] == "цб сохранил ключевую ставку на уровне 19"


def test_detect_footer_inline_signature_returns_reduced_form() -> None:
    posts = [f"{body} Подписывайтесь на «Эксперт»!" for body in (
        "Выпуск облигаций отложен.", "Рубль укрепился к юаню.", "Нефть подорожала на 2%.",
        "Банк России опубликовал обзор.", "Инфляция замедлилась до 8,5%.")]
    footer = detect_footer(posts)
    assert footer == "подписывайтесь на эксперт"
    assert dedup_text(posts[0], footer=footer) == "выпуск облигаций отложен"


def test_detect_footer_needs_enough_posts_and_a_majority() -> None:
    assert detect_footer(T.RIA_POSTS[:4]) is None  # fewer than 5 posts
    mixed = [p.replace(T.RIA_FOOTER, "") for p in T.RIA_POSTS[:4]] + T.RIA_POSTS[4:]
    assert detect_footer(mixed) is None  # 2 of 7 is not "most"
    assert detect_footer(["Фото"] * 6) is None  # nothing precedes it: a caption, not a footer
    unrelated = [T.ORIGINAL_POST, T.SUMMARY_OCT_12, T.SUMMARY_OCT_13, T.EN_REPORT_A, T.EN_REPORT_B]
    assert detect_footer(unrelated) is None


# --- Telegram identities and URLs ---------------------------------------------------------------

def test_forward_key_normalises_marked_channel_ids() -> None:
    assert forward_key(1234567890, 42) == "tg:1234567890/42"
    assert forward_key(-1001234567890, 42) == "tg:1234567890/42"  # Telethon's marked id
    assert forward_key(None, 42) is None
    assert forward_key(1234567890, None) is None


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://ria.ru/20241012/dron-1977.html", "url:ria.ru/20241012/dron-1977.html"),
        ("http://WWW.Ria.RU/20241012/dron-1977.html#comments", "url:ria.ru/20241012/dron-1977.html"),
        ("https://example.com:8443/a?id=7", "url:example.com:8443/a?id=7"),
        ("https://example.com/?p=123", "url:example.com/?p=123"),
        ("https://ria.ru/", None),
        ("https://ria.ru", None),
        ("https://ria.ru/index.html", None),
        ("https://t.me/rian_ru/123", None),
        ("https://telegram.me/rian_ru/123", None),
        ("ftp://example.com/file.txt", None),
        ("javascript:alert(1)", None),
        ("not a url", None),
        ("http://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_url_key(url: str | None, key: str | None) -> None:
    assert url_key(url) == key


def test_very_long_url_key_is_hashed() -> None:
    key = url_key("https://example.com/" + "a" * 500)
    assert key is not None and key.startswith("url#") and len(key) == 68


def _tg_item(channel_id: int, msg_id: int, text: str, forward: Forward | None = None) -> Item:
    return Item(external_id=str(msg_id), fetched_at=NOW, channel_id=channel_id, text=text,
                url=f"https://t.me/c/{channel_id}/{msg_id}", forward=forward)


def test_exact_keys_order_and_forward_meets_original() -> None:
    original = _tg_item(1111, 77, T.ORIGINAL_POST)
    fwd = _tg_item(2222, 5, T.REPOST, Forward(origin_channel_id=1111, origin_post_id=77))
    orig_keys = exact_keys(original)
    fwd_keys = exact_keys(fwd, footer=T.REPOST_FOOTER)
    assert [k for k, _ in orig_keys] == ["tg", "text"]  # t.me permalink gives no url key
    assert [k for k, _ in fwd_keys] == ["forward", "tg", "text"]
    assert dict(fwd_keys)["forward"] == dict(orig_keys)["tg"] == "tg:1111/77"
    assert dict(fwd_keys)["tg"] == "tg:2222/5"
    assert dict(fwd_keys)["text"] == dict(orig_keys)["text"]


def test_exact_keys_press_item() -> None:
    item = Item(external_id="guid-1", fetched_at=NOW, title="Электрички",
                url="https://news.example.ru/economy/2024/10/12/elektrichki.html",
                text="\n".join(T.ARTICLE_PARAGRAPHS))
    kinds = [k for k, _ in exact_keys(item)]
    assert kinds == ["url", "text"]


def test_exact_keys_falls_back_to_title_when_text_is_short() -> None:
    item = Item(external_id="g", fetched_at=NOW, title="Правительство утвердило программу ремонта",
                text="Фото", url="https://example.ru/")
    keys = exact_keys(item)
    assert [k for k, _ in keys] == ["text"]
    bare = Item(external_id="g2", fetched_at=NOW, text="👍")
    assert exact_keys(bare) == []
