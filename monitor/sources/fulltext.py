"""Text out of HTML: feed summaries (fast, :func:`html_to_text`) and whole article pages
(:func:`extract_article`, trafilatura, offline).

Feed summaries are small, already sanitized fragments: a few regular expressions turn them into
readable plain text (block elements become line breaks, entities are decoded, whitespace is
tidied) at a fraction of an HTML parser's cost, which matters because it runs once per entry.

Article pages are whole documents full of menus and footers; trafilatura finds the main text.
Both functions are top-level and pure so they can run in a process pool.
"""

from __future__ import annotations

import html as _html
import re

__all__ = ["decode_html", "extract_article", "guess_legacy_charset", "html_to_text", "tidy_text"]

_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_DROP = re.compile(r"<(script|style|template)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_BLOCK = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|section|article|"
    r"header|footer|figure|figcaption|dd|dt|dl|hr)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_BYTES_TAG = re.compile(rb"<[^>]*>")
_ASCII_LETTERS = re.compile(rb"[A-Za-z]")
_HIGH = re.compile(rb"[\xc0-\xff]")
_HIGH_LOWER_1251 = re.compile(rb"[\xe0-\xff]")  # а..я in windows-1251 (KOI8-R: А..Я)


def guess_legacy_charset(body: bytes) -> str | None:
    """``windows-1251`` or ``koi8-r`` for undeclared, non-UTF-8 Russian text, else None.

    Used only when nothing declares a charset and the bytes are not UTF-8: parsers then fall back
    to windows-1252 and Russian becomes mojibake. Cyrillic text is mostly high bytes (Western text
    only sprinkles a few accents), and it is mostly lower case, which windows-1251 puts in
    0xE0-0xFF and KOI8-R in 0xC0-0xDF: that tells the two apart.
    """
    sample = _BYTES_TAG.sub(b" ", body[:65536])
    high = len(_HIGH.findall(sample))
    if high < 20 or high < 0.3 * (high + len(_ASCII_LETTERS.findall(sample))):
        return None
    upper_range_share = len(_HIGH_LOWER_1251.findall(sample)) / high
    return "windows-1251" if upper_range_share > 0.5 else "koi8-r"


def tidy_text(text: str) -> str:
    """Collapse runs of spaces (including NBSP) inside lines; drop blank lines."""
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(fragment: str | None) -> str:
    """Readable plain text of an HTML fragment: markup stripped, entities decoded, tidy."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return tidy_text(fragment)
    s = _COMMENT.sub(" ", fragment)
    s = _DROP.sub(" ", s)
    s = _BLOCK.sub("\n", s)
    s = _TAG.sub("", s)
    return tidy_text(_html.unescape(s))


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTML page: HTTP charset, else ``<meta charset>``, else UTF-8, else a guessed
    Cyrillic code page, else windows-1252."""
    candidates = []
    if content_type and "charset=" in content_type.lower():
        candidates.append(content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" '\""))
    if m := _CHARSET.search(body[:4096]):
        candidates.append(m.group(1).decode("ascii", "replace"))
    for name in candidates + ["utf-8"]:
        try:
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode(guess_legacy_charset(body) or "cp1252", "replace")


def extract_article(html: str, url: str | None = None) -> str | None:
    """The main text of an article page, or None when nothing article-like is found.

    Runs offline (trafilatura never fetches here). Comments, tables of links and boilerplate are
    left out; paragraphs are separated by line breaks.
    """
    if not html or not html.strip():
        return None
    try:
        import trafilatura  # imported lazily: it is heavy and only full-text sources need it

        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False,
                                   include_images=False, favor_precision=True,
                                   deduplicate=False, with_metadata=False)
    except Exception:  # noqa: BLE001 - a page that breaks the extractor is "no article"
        return None
    text = tidy_text(text or "")
    return text or None
