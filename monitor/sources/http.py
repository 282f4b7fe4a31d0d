"""The shared HTTP client: polite, bounded, and never stuck on one bad server.

One :class:`Fetcher` wraps one ``httpx.AsyncClient`` for a whole collection pass. Every fetch is
bounded in time (a connect timeout plus a wall-clock deadline around the *whole* fetch, all
redirects and the streamed body included, so a server dripping one byte every few seconds still
ends on time), in size (the cap applies to the bytes on the wire and again to the decompressed
bytes, decoded in bounded steps, so a gzip or brotli bomb ends with an error in bounded memory) and
in concurrency (a global limit and a per-host limit, as Miniflux and polite crawlers do).

Redirects are followed here, not by httpx, so we can tell a permanent move (every hop 301/308:
``FetchResponse.permanent_url``, which the source row adopts) from a temporary one, and stop loops.

Every connection goes through the private-address guard (:mod:`monitor.sources.netguard`): each
hop's host is resolved, checked and connected to by the checked address; proxies only when
``fetch.proxy`` or ``fetch.trust_env`` asks for one.

Grading of failures (each error carries ``.status``; timeouts also ``.timeout = True``):

=============================================  ===========================================
connect/read errors, timeouts, deadline, 5xx   :class:`TransientSourceError` (retry w/ backoff)
408, 425                                       :class:`TransientSourceError`
429, 503                                       :class:`RateLimited` (``retry_after`` seconds)
410                                            :class:`SourceGone` (retire the source)
404, 401, 403, other 4xx                       :class:`PermanentSourceError` (operator acts)
body over the cap, redirect loop / too many,   :class:`PermanentSourceError`
bad URL, corrupt compression, a private address
=============================================  ===========================================
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from typing import AsyncIterator, Iterable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.errors import (PermanentSourceError, RateLimited, SourceError, SourceGone,
                            TransientSourceError)
from monitor.schedule import parse_retry_after
from monitor.settings import FetchSettings
from monitor.sources.netguard import GuardedTransport, PrivateAddressRefused
from monitor.types import utcnow

try:  # httpx[brotli] installs it; without it we simply do not advertise br
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

__all__ = ["FetchResponse", "FetchTimeout", "Fetcher", "TooLarge", "decompress",
           "parse_retry_after"]

_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
_STEP = 64 * 1024  # decompressed bytes produced per step: the bound on a bomb's memory use
_DECODE_ERRORS: tuple[type[BaseException], ...] = (zlib.error,) + (
    (brotli.error,) if brotli is not None else ())


class FetchTimeout(TransientSourceError):
    """Connect timeout, read timeout or the overall deadline: graded "soft" by the scheduler."""

    timeout = True


class TooLarge(PermanentSourceError):
    """The body (on the wire or decompressed) exceeded ``fetch.max_bytes``."""


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A completed fetch. ``headers`` are lower-cased; ``body`` is decompressed."""

    status: int
    url: str  # final URL after redirects
    permanent_url: str | None = None  # set when every hop was 301/308: the source moved
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    not_modified: bool = False  # 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag") or None

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified") or None


class _Decoder:
    """Incremental Content-Encoding decoder that never produces more than ``_STEP`` per call."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
            self._raw_deflate_checked = False
        elif encoding == "br" and brotli is not None:
            self._br = brotli.Decompressor()
        else:
            raise PermanentSourceError(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decode ``data`` lazily; each yielded chunk is at most ``_STEP`` bytes, so a consumer
        that stops early (the size cap) never holds more than one step."""
        try:
            if self.encoding == "br":
                yield self._br.process(data, output_buffer_limit=_STEP)
                while not self._br.can_accept_more_data() and not self._br.is_finished():
                    yield self._br.process(b"", output_buffer_limit=_STEP)
                return
            if self.encoding == "deflate" and not self._raw_deflate_checked and data:
                # Some servers send raw deflate (no zlib header) under "deflate".
                self._raw_deflate_checked = True
                if (data[0] & 0x0F) != 8:
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            while data:
                yield self._z.decompress(data, _STEP)
                data = self._z.unconsumed_tail
        except _DECODE_ERRORS as exc:
            raise PermanentSourceError(f"corrupt {self.encoding} body: {exc}") from None

    def feed_all(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            yield from self.feed(piece)


def decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """Decode a whole ``body`` of the given Content-Encoding, refusing more than ``max_bytes``."""
    total, parts = 0, []
    for chunk in _Decoder(encoding).feed(body):
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(f"body over {max_bytes} bytes after {encoding} decompression")
        parts.append(chunk)
    return b"".join(parts)


class Fetcher:
    """One HTTP client for a collection pass. Use as ``async with Fetcher(settings) as f``.

    ``transport`` replaces the guarded one (tests with an ``httpx.MockTransport``); ``trust_env``
    overrides ``fetch.trust_env``.
    """

    def __init__(self, settings: FetchSettings | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 trust_env: bool | None = None):
        self.settings = settings or FetchSettings()
        s = self.settings
        encodings = "gzip, deflate, br" if brotli is not None else "gzip, deflate"
        if transport is None:
            transport = GuardedTransport(
                allowed=s.allowed_private_networks, proxy=s.proxy,
                trust_env=s.trust_env if trust_env is None else trust_env,
                limits=httpx.Limits(max_connections=s.concurrency + 4,
                                    max_keepalive_connections=s.concurrency))
        self._client = httpx.AsyncClient(
            # Per-phase limits; the overall deadline is enforced around the whole fetch below.
            timeout=httpx.Timeout(s.timeout, connect=s.connect_timeout, pool=None),
            headers={"User-Agent": s.user_agent, "Accept-Encoding": encodings,
                     "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, "
                               "application/feed+json, application/xml;q=0.9, text/xml;q=0.9, "
                               "*/*;q=0.8"},
            # Proxies come from the transport, and only when a setting asks for one.
            follow_redirects=False, transport=transport, trust_env=False)
        self._global = asyncio.Semaphore(s.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> "Fetcher":
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._client.__aexit__(*exc_info)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.settings.per_host_concurrency)
        return sem

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    accept: str | None = None) -> FetchResponse:
        """GET ``url`` (conditionally when validators are given), following redirects.

        Raises a :class:`SourceError` subclass for every failure (see the module table).
        """
        s = self.settings
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        seen = {url}
        permanent = True
        deadline: float | None = None  # starts once we hold our first slot, not while queued
        loop = asyncio.get_running_loop()
        for _hop in range(s.max_redirects + 1):
            async with self._host_slot(url), self._global:
                if deadline is None:
                    deadline = loop.time() + s.timeout
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise FetchTimeout(f"deadline of {s.timeout:g}s exceeded", status=None)
                try:
                    async with asyncio.timeout(remaining):
                        status, resp_headers, body = await self._get(url, headers)
                except TimeoutError:
                    raise FetchTimeout(f"no complete answer within {s.timeout:g}s from {url}") \
                        from None
            if status in _REDIRECTS:
                location = resp_headers.get("location")
                if not location:
                    raise PermanentSourceError(f"HTTP {status} without Location", status=status)
                permanent = permanent and status in _PERMANENT
                url = urljoin(url, location.strip())
                if url in seen:
                    raise PermanentSourceError(f"redirect loop at {url}", status=status)
                seen.add(url)
                continue
            return self._answer(status, url, resp_headers, body, permanent and len(seen) > 1)
        raise PermanentSourceError(f"more than {s.max_redirects} redirects", status=status)

    def _answer(self, status: int, url: str, headers: dict[str, str], body: bytes,
                moved: bool) -> FetchResponse:
        permanent_url = url if moved else None
        if status == 304:
            return FetchResponse(304, url, permanent_url, headers, b"", not_modified=True)
        if 200 <= status < 300:
            return FetchResponse(status, url, permanent_url, headers, body)
        reason = f"HTTP {status} from {url}"
        if status in (429, 503):
            raise RateLimited(reason, status=status, retry_after=parse_retry_after(
                headers.get("retry-after"), now=utcnow(), cap=self.settings.max_retry_after))
        if status == 410:
            raise SourceGone(reason, status=status)
        if status >= 500 or status in (408, 425):
            raise TransientSourceError(reason, status=status)
        raise PermanentSourceError(reason, status=status)

    async def _get(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """One request: status, lower-cased headers and the capped, decompressed body."""
        cap = self.settings.max_bytes
        try:
            async with self._client.stream("GET", url, headers=headers) as resp:
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                status = resp.status_code
                if status in _REDIRECTS or status == 304 or not (200 <= status < 300):
                    return status, resp_headers, b""  # error bodies are not worth reading
                length = resp_headers.get("content-length", "")
                if length.isdigit() and int(length) > cap:
                    raise TooLarge(f"Content-Length {length} over the {cap}-byte cap",
                                   status=status)
                body = await _read_capped(resp.aiter_raw(), resp_headers, cap, status)
                return status, resp_headers, body
        except PrivateAddressRefused as exc:
            raise PrivateAddressRefused(f"not fetching {url}: {exc}", host=exc.host,
                                        address=exc.address) from None
        except SourceError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"{type(exc).__name__} from {url}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise PermanentSourceError(f"unusable URL {url!r}: {exc}") from None
        except httpx.TransportError as exc:
            raise TransientSourceError(f"{type(exc).__name__} from {url}: {exc}") from None
        except (ValueError, UnicodeError) as exc:  # malformed URL or header that httpx rejects
            raise PermanentSourceError(f"cannot request {url!r}: {exc}") from None


async def _read_capped(chunks: AsyncIterator[bytes], headers: Mapping[str, str], cap: int,
                       status: int) -> bytes:
    """Stream the raw body, decoding Content-Encoding in bounded steps; both sizes capped."""
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
    decoders = [_Decoder(c) for c in reversed(codings) if c and c not in ("identity", "none")]
    raw_total = total = 0
    parts: list[bytes] = []
    async for chunk in chunks:
        raw_total += len(chunk)
        if raw_total > cap:
            raise TooLarge(f"body over the {cap}-byte cap", status=status)
        pieces: Iterable[bytes] = (chunk,)
        for decoder in decoders:  # generators: nothing is decoded until we pull it below
            pieces = decoder.feed_all(pieces)
        for piece in pieces:
            total += len(piece)
            if total > cap:  # a bomb stops here, one bounded step past the cap
                raise TooLarge(f"body over the {cap}-byte cap after decompression",
                               status=status)
            parts.append(piece)
    return b"".join(parts)
