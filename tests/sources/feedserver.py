"""A real HTTP server on loopback for collector tests and the refresh benchmark.

Threaded, HTTP/1.1 with keep-alive, real sockets: what the Fetcher meets in the wild, minus the
internet. Routes map a path (with query) to a :class:`Route` or to a callable that receives the
request headers and returns one, so conditional GETs and changing feeds are easy to script::

    with FeedServer() as server:
        server.route("/feed", Route(body=xml, headers={"Content-Type": "application/rss+xml"}))
        url = server.url("/feed")

``Route.drip`` makes a stalling server (one byte every ``drip`` seconds); ``Route.chunks`` streams
a body piece by piece (a bomb generated on the fly never sits in memory). Every request is logged
in ``server.requests`` as ``(path, headers)``.
"""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable, Mapping

__all__ = ["LOOPBACK", "FeedServer", "Route", "conditional", "gzip_stream", "redirect"]

# What tests allow content fetches to reach (fetch.allowed_private_networks): the servers here
# listen on 127.0.0.1; 127.0.0.2 stays "internal" for the hostile-server tests.
LOOPBACK = ["127.0.0.1/32"]


@dataclass
class Route:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Callable[[], Iterable[bytes]] | None = None  # streamed instead of body
    drip: float | None = None  # seconds between single bytes of ``body``: a stalling server


Handler = Callable[[Mapping[str, str]], Route]


def conditional(body: bytes, *, etag: str | None = None, last_modified: str | None = None,
                content_type: str = "application/rss+xml") -> Handler:
    """A route that answers 304 when the client's validators match, else 200 with ``body``."""

    def handle(headers: Mapping[str, str]) -> Route:
        validators = {}
        if etag:
            validators["ETag"] = etag
        if last_modified:
            validators["Last-Modified"] = last_modified
        if (etag and headers.get("if-none-match") == etag) or (
                not etag and last_modified and headers.get("if-modified-since") == last_modified):
            return Route(status=304, headers=validators)
        return Route(body=body, headers={"Content-Type": content_type, **validators})

    return handle


def redirect(status: int, location: str) -> Route:
    return Route(status=status, headers={"Location": location})


def gzip_stream(size: int, piece: int = 1 << 20) -> Callable[[], Iterable[bytes]]:
    """A gzip body that inflates to ``size`` zero bytes, compressed piece by piece."""

    def chunks() -> Iterable[bytes]:
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = b"\0" * piece
        for _ in range(size // piece):
            if out := z.compress(zeros):
                yield out
        yield z.flush()

    return chunks


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.server.owner
        owner.requests.append((self.path, headers))
        target = owner.routes.get(self.path)
        if target is None:
            route = Route(status=404, body=b"not found")
        else:
            route = target(headers) if callable(target) else target
        try:
            self._send(route)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, route: Route) -> None:
        self.send_response(route.status)
        names = {k.lower() for k in route.headers}
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.chunks is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in route.chunks():
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            return
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if route.status == 304 or not route.body:
            return
        if route.drip is None:
            self.wfile.write(route.body)
            return
        for i in range(len(route.body)):
            if self.server.owner.stopping.is_set():
                break
            self.wfile.write(route.body[i:i + 1])
            self.wfile.flush()
            time.sleep(route.drip)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512
    owner: "FeedServer"


class FeedServer:
    """Start on an ephemeral loopback port; ``with FeedServer() as s`` stops it afterwards."""

    def __init__(self, host: str = "127.0.0.1"):
        self.routes: dict[str, Route | Handler] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, target: Route | Handler) -> str:
        """Serve ``target`` at ``path``; returns the full URL."""
        self.routes[path] = target
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == path]

    def start(self) -> "FeedServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FeedServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
