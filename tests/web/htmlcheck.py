"""Structural checks on rendered HTML: what would run in a browser, whatever the text says."""

from __future__ import annotations

from html.parser import HTMLParser


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict] = []
        self.handlers: list[tuple[str, str]] = []
        self.js_urls: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self.marks = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
        if tag == "mark":
            self.marks += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction", "xlink:href") and value and \
                    value.strip().lower().startswith(("javascript:", "data:text/html", "vbscript:")):
                self.js_urls.append((tag, value))


def inspect_html(html: str) -> _Collector:
    c = _Collector()
    c.feed(html)
    c.close()
    return c


def assert_inert(html: str) -> _Collector:
    """No script but our own static file, no event handler attributes, no script URLs, no svg/img
    smuggled in from content."""
    c = inspect_html(html)
    assert all(s.get("src") == "/static/app.js" for s in c.scripts), c.scripts
    assert c.handlers == [], c.handlers
    assert c.js_urls == [], c.js_urls
    assert "svg" not in c.tags and "img" not in c.tags, c.tags
    return c
