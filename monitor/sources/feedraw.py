"""The exact bytes of each entry of a feed document, kept as the entry's raw payload (evidence).

feedparser gives parsed entries, not the markup they came from. expat (the standard library's
XML parser) reports byte offsets: each top-level ``<item>`` / ``<entry>`` element (any namespace
prefix: RSS, RDF, Atom) is cut out of the body exactly as the server sent it. The document is read
as ISO-8859-1 whatever it declares, so every byte is one character and offsets stay exact for
UTF-8, windows-1251, KOI8-R and every other ASCII-compatible encoding; markup is all ASCII.
Anything expat will not parse (broken markup feedparser recovered from, UTF-16) gives None, and
the caller keeps feedparser's view of the entry instead.
"""

from __future__ import annotations

import xml.parsers.expat

_ENTRY_NAMES = frozenset({"item", "entry"})


def entry_fragments(body: bytes) -> list[bytes] | None:
    """The raw bytes of every top-level item/entry element, in document order; or None."""
    if body.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark is not markup
        body = body[3:]
    parser = xml.parsers.expat.ParserCreate(encoding="ISO-8859-1")
    out: list[bytes] = []
    open_at: list[int] = []  # start offset of the entry being read
    depth = [0]  # element depth inside that entry

    def start(name: str, _attrs) -> None:
        if open_at:
            depth[0] += 1
        elif name.rsplit(":", 1)[-1] in _ENTRY_NAMES:
            open_at.append(parser.CurrentByteIndex)
            depth[0] = 0

    def end(name: str) -> None:
        if not open_at:
            return
        if depth[0]:
            depth[0] -= 1
            return
        begin = open_at.pop()
        at = parser.CurrentByteIndex
        if body[at:at + 2] != b"</":  # an empty element (<item/>): it ends with its start tag
            at = begin
        close = body.find(b">", at)
        out.append(body[begin:close + 1] if close >= 0 else body[begin:])

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError:
        return None
    return out
