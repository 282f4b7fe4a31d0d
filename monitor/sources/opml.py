"""OPML import and export of feed lists.

:func:`parse_opml` reads what real readers export, including junk: nested category outlines (the
category is the path of titles, ``"News/Russia"``), ``xmlUrl`` spelled in any case, stray text,
unclosed tags (lxml's recovering parser), several outlines for one feed (the first wins). It is
safe on hostile files: no DTD loading, no external or internal entity expansion, no network.

:func:`write_opml` writes OPML 2.0 that :func:`parse_opml` (and other readers) read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from monitor.errors import InvalidInput
from monitor.sources.urls import is_http_url

__all__ = ["OpmlFeed", "parse_opml", "write_opml"]

_DOCTYPE = re.compile(rb"<!DOCTYPE(?:[^\[>]*\[.*?\]\s*>|[^>]*>)", re.S | re.I)


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed from an OPML file: its URL, a title if any, and its category path if any."""

    url: str
    title: str | None = None
    category: str | None = None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, recover=True,
                           remove_comments=True, remove_pis=True)


def _attr(el, *names: str) -> str | None:
    """An attribute by case-insensitive name, stripped; None when absent or blank."""
    wanted = {n.lower() for n in names}
    for key, value in el.attrib.items():
        if isinstance(key, str) and etree.QName(key).localname.lower() in wanted:
            value = " ".join(str(value).split())
            if value:
                return value
    return None


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds listed in an OPML document, in document order, one per URL.

    Raises ``InvalidInput`` when the bytes are not XML with ``outline`` elements at all; outlines
    without an http(s) ``xmlUrl`` (folders, junk, ``javascript:``) are skipped quietly.
    """
    if not data or not data.strip():
        raise InvalidInput("empty OPML file")
    # Drop the DOCTYPE and its internal subset: entity declarations are how XML bombs and
    # local-file reads get in, and no feed list needs them (libxml2 expands internal entities
    # in attribute values even with resolve_entities=False).
    data = _DOCTYPE.sub(b"", data, count=1)
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidInput(f"not an OPML document: {exc}") from None
    if root is None:
        raise InvalidInput("not an OPML document: no XML element found")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    outlines = 0

    def walk(el, path: tuple[str, ...]) -> None:
        nonlocal outlines
        for child in el:
            if not isinstance(child.tag, str):
                continue  # entities and other oddities left by the recovering parser
            if etree.QName(child).localname.lower() != "outline":
                walk(child, path)  # <body>, or junk wrapping more outlines
                continue
            outlines += 1
            title = _attr(child, "title") or _attr(child, "text")
            url = _attr(child, "xmlUrl")
            if not url and (_attr(child, "type") or "").lower() in ("rss", "atom"):
                url = _attr(child, "url")
            if url and is_http_url(url):
                if title == url:  # write_opml's placeholder text for an untitled feed
                    title = None
                if url not in seen:
                    seen.add(url)
                    category = "/".join(path) or (
                        (_attr(child, "category") or "").split(",")[0].strip("/ ") or None)
                    feeds.append(OpmlFeed(url=url, title=title, category=category))
                walk(child, path)
            else:
                walk(child, path + ((title,) if title else ()))

    walk(root, ())
    if outlines == 0 and etree.QName(root).localname.lower() != "opml":
        raise InvalidInput("not an OPML document: no <outline> elements")
    return feeds


def write_opml(feeds: list[OpmlFeed], title: str = "monitor feeds") -> bytes:
    """OPML 2.0 bytes (UTF-8); categories become nested folder outlines."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    folders: dict[tuple[str, ...], etree._Element] = {(): body}
    for feed in feeds:
        path = tuple(p for p in (feed.category or "").split("/") if p.strip())
        for depth in range(1, len(path) + 1):
            key = path[:depth]
            if key not in folders:
                folders[key] = etree.SubElement(folders[key[:-1]], "outline", text=key[-1],
                                                title=key[-1])
        attrs = {"type": "rss", "text": feed.title or feed.url, "xmlUrl": feed.url}
        if feed.title:
            attrs["title"] = feed.title
        etree.SubElement(folders[path], "outline", attrs)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
