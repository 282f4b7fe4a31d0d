"""Local receivers for alert tests: an HTTP webhook sink and an SMTP server, both on loopback.

``WebhookSink`` is a threaded ``http.server`` that records every request and answers in the
mode it is switched to: ``ok`` (200), ``status`` (any code, e.g. 500 or 404, optional
Retry-After), ``slow`` (waits before answering), ``refuse`` (the port is closed: connection
refused). ``SmtpSink`` is an aiosmtpd ``Controller`` with optional AUTH that keeps the messages.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookSink:
    """Start with ``with WebhookSink() as sink:``; ``sink.url("json")`` gives a target URL."""

    mode: str = "ok"
    status: int = 200
    delay: float = 0.0
    retry_after: str | None = None
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "WebhookSink":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                sink.requests.append(Recorded("POST", self.path, dict(self.headers.items()), body))
                if sink.mode == "slow":
                    time.sleep(sink.delay)
                code = sink.status if sink.mode in ("status", "slow") else 200
                payload = b'{"ok": true}'
                self.send_response(code)
                if sink.retry_after:
                    self.send_header("Retry-After", sink.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout test)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def refuse(self) -> None:
        """Close the listening socket: new connections to the port are refused."""
        self.stop()


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                policy=policy.default))
        return "250 OK"


class SmtpSink:
    """aiosmtpd on 127.0.0.1 and a free port; with ``user``/``password`` it requires AUTH."""

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.user, self.password = user, password
        self.handler = _Handler()
        self.port = free_port()
        self._controller: Any = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def __enter__(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        kwargs: dict[str, Any] = {}
        if self.user:
            def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
                ok = (getattr(auth_data, "login", b"") == self.user.encode()
                      and getattr(auth_data, "password", b"") == (self.password or "").encode())
                return AuthResult(success=ok)

            kwargs = {"authenticator": authenticator, "auth_require_tls": False,
                      "auth_required": True}
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      **kwargs)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
