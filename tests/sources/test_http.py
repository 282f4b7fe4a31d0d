"""The Fetcher against a real loopback server: every failure ends as a clear SourceError in
bounded time and memory. Deadlines here are small settings plus a hang guard, never assertions
about how long something took."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import tracemalloc
from email.utils import formatdate

import brotli
import pytest

from monitor.errors import (PermanentSourceError, RateLimited, SourceGone,
                            TransientSourceError)
from monitor.schedule import error_kind
from monitor.settings import FetchSettings
from monitor.sources.http import FetchTimeout, Fetcher, TooLarge, decompress
from tests.sources.feedserver import LOOPBACK, FeedServer, Route, gzip_stream, redirect

HANG_GUARD = 20  # seconds: only stops a broken test from hanging the suite


def settings(**kw) -> FetchSettings:
    base = dict(timeout=2.0, connect_timeout=1.0, max_bytes=1 << 20, max_redirects=3,
                concurrency=8, per_host_concurrency=4,
                allowed_private_networks=LOOPBACK)
    return FetchSettings(**{**base, **kw})


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


async def fetch(url, st=None, **kw):
    async with asyncio.timeout(HANG_GUARD):
        async with Fetcher(st or settings(), trust_env=False) as f:
            return await f.fetch(url, **kw)


async def test_plain_get_sends_user_agent_and_encodings(server):
    url = server.route("/a", Route(body=b"hello", headers={"Content-Type": "text/plain"}))
    resp = await fetch(url)
    assert (resp.status, resp.body, resp.url, resp.permanent_url) == (200, b"hello", url, None)
    sent = server.hits("/a")[0]
    assert sent["user-agent"].startswith("monitor/")
    assert {"gzip", "br"} <= {e.strip() for e in sent["accept-encoding"].split(",")}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compressed_bodies_are_decoded(server, encoding):
    text = "Привет, мир ".encode() * 500
    body = {"gzip": gzip.compress, "br": brotli.compress,
            "deflate": __import__("zlib").compress}[encoding](text)
    url = server.route("/c", Route(body=body, headers={"Content-Encoding": encoding}))
    assert (await fetch(url)).body == text


async def test_conditional_headers_are_sent_and_304_is_not_modified(server):
    url = server.route("/f", Route(status=304, headers={"ETag": '"v2"'}))
    resp = await fetch(url, etag='"v1"', last_modified="Sat, 29 Jun 2024 12:00:00 GMT")
    assert resp.not_modified and resp.status == 304 and resp.body == b""
    assert resp.etag == '"v2"'
    sent = server.hits("/f")[0]
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Sat, 29 Jun 2024 12:00:00 GMT"


@pytest.mark.parametrize("status", [301, 308])
async def test_permanent_redirect_reports_new_url(server, status):
    final = server.route("/new", Route(body=b"x"))
    url = server.route("/old", redirect(status, "/new"))
    resp = await fetch(url)
    assert resp.url == final and resp.permanent_url == final


@pytest.mark.parametrize("chain", [[302], [307], [301, 302], [302, 301]])
async def test_temporary_hop_means_no_permanent_url(server, chain):
    server.route("/end", Route(body=b"x"))
    for i, status in enumerate(chain):
        target = f"/r{i + 1}" if i + 1 < len(chain) else "/end"
        server.route(f"/r{i}", redirect(status, target))
    resp = await fetch(server.url("/r0"))
    assert resp.url == server.url("/end") and resp.permanent_url is None


async def test_redirect_loop_and_too_many_redirects(server):
    server.route("/loop1", redirect(302, "/loop2"))
    server.route("/loop2", redirect(302, "/loop1"))
    with pytest.raises(PermanentSourceError, match="loop"):
        await fetch(server.url("/loop1"))
    for i in range(6):
        server.route(f"/hop{i}", redirect(301, f"/hop{i + 1}"))
    with pytest.raises(PermanentSourceError, match="redirects"):
        await fetch(server.url("/hop0"), settings(max_redirects=3))


@pytest.mark.parametrize("status,error,kind", [
    (404, PermanentSourceError, "soft"), (401, PermanentSourceError, "hard"),
    (403, PermanentSourceError, "hard"), (400, PermanentSourceError, "hard"),
    (410, SourceGone, "hard"), (500, TransientSourceError, "soft"),
    (502, TransientSourceError, "soft"), (408, TransientSourceError, "temporary"),
])
async def test_status_grading(server, status, error, kind):
    url = server.route("/s", Route(status=status, body=b"nope"))
    with pytest.raises(error) as caught:
        await fetch(url)
    assert caught.value.status == status
    assert caught.type is error or status == 410
    if status != 408:
        assert error_kind(caught.value) == kind


@pytest.mark.parametrize("status", [429, 503])
async def test_rate_limited_with_retry_after_seconds_and_date(server, status):
    url = server.route("/rl", Route(status=status, headers={"Retry-After": "120"}))
    with pytest.raises(RateLimited) as caught:
        await fetch(url)
    assert caught.value.status == status and caught.value.retry_after == 120
    when = formatdate(time.time() + 600, usegmt=True)
    url = server.route("/rl2", Route(status=status, headers={"Retry-After": when}))
    with pytest.raises(RateLimited) as caught:
        await fetch(url)
    assert 500 < caught.value.retry_after <= 600


async def test_stalling_server_ends_at_the_deadline(server):
    url = server.route("/stall", Route(body=b"<rss>" + b" " * 100, drip=0.7))
    with pytest.raises(FetchTimeout) as caught:
        await fetch(url, settings(timeout=1.5))
    assert caught.value.transient and error_kind(caught.value) == "soft"


async def test_body_over_cap_by_length_and_by_stream(server):
    url = server.route("/big", Route(body=b"x" * 2048))
    with pytest.raises(TooLarge):
        await fetch(url, settings(max_bytes=1024))
    url = server.route("/bigstream", Route(chunks=lambda: (b"y" * 700 for _ in range(4))))
    with pytest.raises(TooLarge):
        await fetch(url, settings(max_bytes=1024))


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_decompression_bomb_ends_with_bounded_memory(server, encoding):
    size = 64 << 20  # 64 MiB of zeros in ~64 KiB on the wire
    if encoding == "gzip":
        route = Route(chunks=gzip_stream(size), headers={"Content-Encoding": "gzip"})
    else:
        comp = brotli.Compressor(quality=5)
        body = b"".join(comp.process(b"\0" * (1 << 20)) for _ in range(size >> 20)) + comp.finish()
        route = Route(body=body, headers={"Content-Encoding": "br"})
    url = server.route("/bomb", route)
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="decompression"):
            await fetch(url, settings(max_bytes=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"peak {peak} bytes while refusing a {size}-byte bomb"


def test_decompress_helper_caps_too():
    with pytest.raises(TooLarge):
        decompress(gzip.compress(b"\0" * (4 << 20)), "gzip", 1 << 20)
    assert decompress(gzip.compress(b"abc"), "gzip", 10) == b"abc"
    with pytest.raises(PermanentSourceError, match="corrupt"):
        decompress(b"\x1f\x8bnot gzip at all", "gzip", 10)


async def test_connection_refused_and_bad_url():
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(TransientSourceError) as caught:
        await fetch(f"http://127.0.0.1:{port}/feed")
    assert error_kind(caught.value) == "temporary"
    with pytest.raises(PermanentSourceError):
        await fetch("ftp://example.com/feed")


async def test_per_host_limit_is_respected(server):
    active, peak = [0], [0]
    lock = threading.Lock()

    def handler(headers):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return Route(body=b"ok")

    server.route("/slow", handler)
    st = settings(per_host_concurrency=2, concurrency=10)
    async with asyncio.timeout(HANG_GUARD):
        async with Fetcher(st, trust_env=False) as f:
            results = await asyncio.gather(*(f.fetch(server.url("/slow")) for _ in range(6)))
    assert all(r.body == b"ok" for r in results)
    assert peak[0] == 2
