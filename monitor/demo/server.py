"""A local HTTP server for the offline demo: bundled feeds, t.me/s pages and a webhook sink.

Dates in the bundled files are written relative to the moment the server starts
(``{{rfc822:-90}}`` = 90 minutes ago, RFC 822; ``{{iso:-90}}`` = ISO 8601), so the demo always
shows fresh news that passes the alert age limit. Feeds answer conditional GETs with ETags.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
_TOKEN = re.compile(r"\{\{(rfc822|iso):(-?\d+)\}\}")
_TYPES = {".xml": "application/rss+xml; charset=utf-8", ".atom": "application/atom+xml; charset=utf-8",
          ".json": "application/feed+json; charset=utf-8", ".rdf": "application/rdf+xml; charset=utf-8"}


def render(text: str, base: datetime) -> str:
    def sub(m: re.Match) -> str:
        when = base + timedelta(minutes=int(m.group(2)))
        return format_datetime(when) if m.group(1) == "rfc822" else when.isoformat(timespec="seconds")

    return _TOKEN.sub(sub, text)


class DemoServer:
    """Serves ``/feeds/<file>``, ``/s/<channel>`` and records POSTs to ``/hook``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.base_time = datetime.now(timezone.utc).replace(microsecond=0)
        self.received: list[dict] = []
        self.requests: list[tuple[str, int]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path.startswith("/feeds/"):
                    file = DATA / "feeds" / Path(path).name
                    ctype = _TYPES.get(file.suffix, "application/xml")
                elif path.startswith("/s/"):
                    file = DATA / "tme" / (Path(path).name + ".html")
                    ctype = "text/html; charset=utf-8"
                else:
                    file, ctype = None, ""
                if file is None or not file.is_file():
                    self._reply(404, b"not found", "text/plain")
                    return
                body = render(file.read_text(encoding="utf-8"), server.base_time).encode("utf-8")
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self._reply(304, b"", ctype, etag=etag)
                    return
                self._reply(200, body, ctype, etag=etag)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = {"raw": raw.decode("utf-8", "replace")}
                server.received.append(payload)
                self._reply(200, b'{"ok": true}', "application/json")

            def _reply(self, status, body, ctype, etag=None):
                server.requests.append((self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="demo-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "DemoServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
