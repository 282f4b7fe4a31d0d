"""Canonical URLs: one spelling per article, so the same story linked twice is one key.

:func:`canonical_url` resolves a (possibly relative) link against its base (the feed URL or the
``xml:base`` in force), lower-cases scheme and host, drops the default port, the fragment and the
tracking parameters that newsletters and social networks append (``utm_*``, ``fbclid`` ...). Every
other query parameter is kept, in its original order and spelling: ``?id=5&page=2`` names a
different article than ``?page=2``, and re-encoding values could change what the server sees.

Only http(s) URLs are normalized; anything else (``tag:`` ids, ``mailto:``) comes back stripped but
otherwise untouched, because those are identifiers, not addresses.
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

__all__ = ["TRACKING_PARAMS", "TRACKING_PREFIXES", "canonical_url", "is_http_url"]

# Parameters that only say who sent the reader, never which document it is.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "ysclid",
    "mc_cid", "mc_eid", "_openstat", "igshid", "twclid", "ttclid", "li_fat_id", "mkt_tok",
    "_hsenc", "_hsmi", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid",
    "s_cid", "wt_mc", "wt.mc_id", "at_medium", "at_campaign", "ref_src", "ref_url",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def safe_url(url: str | None) -> str | None:
    """``url`` when it is safe to put in a link (web page ``href``, alert body): an absolute
    http(s) URL with a host and no whitespace, controls or markup characters; else None.
    Post content is hostile: ``javascript:``, ``data:`` and look-alikes never pass."""
    if not url:
        return None
    url = url.strip()
    if len(url) > 2048 or any(ord(c) < 0x21 or c in '\x7f<>"\\`' for c in url):
        return None
    return url if is_http_url(url) else None


def _is_tracking(raw_pair: str) -> bool:
    name = unquote_plus(raw_pair.split("=", 1)[0]).strip().lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The canonical spelling of ``url`` (resolved against ``base``); None when there is no URL.

    >>> canonical_url("../a?utm_source=x&id=5#top", "HTTPS://Example.COM:443/news/feed/")
    'https://example.com/news/a?id=5'
    """
    if url is None:
        return None
    url = url.strip().replace(" ", "%20")
    if not url:
        return None
    try:
        # urljoin is costly and most feed links are absolute already: join only when needed.
        if base and not url.startswith(("http://", "https://")):
            url = urljoin(base.strip(), url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return url
        host = parts.hostname  # urlsplit lower-cases it and strips IPv6 brackets
        port = parts.port
    except ValueError:  # "http://[::1" or a port that is not a number: keep what we were given
        return url
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))
