"""Text from HTML: summaries (regex stripper) and article pages (trafilatura, offline)."""

from __future__ import annotations

from monitor.sources.fulltext import decode_html, extract_article, html_to_text

ARTICLE = """<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>Новость</title>
<script>var tracking = "ignore me";</script><style>p {color: red}</style></head>
<body><header><nav><a href="/">Главная</a> | <a href="/about">О нас</a> | Подписка</nav></header>
<aside class="sidebar"><h3>Популярное</h3><ul><li><a href="/x">Другая новость</a></li></ul></aside>
<main><article><h1>Пожар на складе в Подмосковье</h1>
<p>В среду вечером на складе в Подольске начался пожар, площадь возгорания составила около
тысячи квадратных метров, сообщили в региональном управлении МЧС.</p>
<p>К тушению привлекли тридцать единиц техники и более ста человек личного состава; пострадавших
нет, причины возгорания устанавливаются, на месте работают дознаватели.</p>
<p>Местные жители рассказали, что дым был виден за несколько километров, а движение по соседней
трассе на время ограничивали, чтобы пропустить пожарные расчёты к месту происшествия.</p>
</article></main>
<footer><p>© 2024 Редакция. Все права защищены. Перепечатка запрещена.</p></footer></body></html>"""


def test_extract_article_keeps_body_drops_boilerplate():
    text = extract_article(ARTICLE, "https://example.ru/news/1")
    assert text is not None
    assert "тридцать единиц техники" in text and "пропустить пожарные расчёты" in text
    for noise in ("Главная", "Популярное", "Все права защищены", "ignore me", "color: red"):
        assert noise not in text


def test_extract_article_nothing_to_find():
    assert extract_article("") is None
    assert extract_article("<html><body></body></html>") is None


def test_html_to_text():
    fragment = ("<p>Первый&nbsp;абзац &amp; <b>жирный</b></p><p>Второй<br/>строка</p>"
                "<!-- comment --><script>alert(1)</script><ul><li>a</li><li>b</li></ul>")
    assert html_to_text(fragment) == "Первый абзац & жирный\nВторой\nстрока\na\nb"
    assert html_to_text("  plain\t text  ") == "plain text"
    assert html_to_text(None) == "" and html_to_text("&lt;b&gt;") == "<b>"


def test_decode_html_charsets():
    page = "<html><head><meta charset='windows-1251'></head><body>Привет</body></html>"
    assert "Привет" in decode_html(page.encode("cp1251"))
    assert "Привет" in decode_html("Привет".encode("koi8-r"), "text/html; charset=KOI8-R")
    assert "Привет" in decode_html("Привет".encode("utf-8"), "text/html")
    assert decode_html(b"\xff\xfe caf\xe9") .endswith("café")
