"""Offline stand-ins for Telegram's two front doors, for the Telegram collector tests.

* :class:`TgServer`: a real HTTP server on loopback that serves ``t.me``-like pages from a route
  table (pages, redirects, 429s), and logs every request path.
* :class:`FakeTelegram`: answers the MTProto requests a real, unconnected ``TelegramClient`` sends
  (``messages.getHistory`` with Telegram's offset semantics, ``contacts.resolveUsername``,
  ``users.getUsers``) by replacing only the client's network call ``client._call``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from telethon import TelegramClient, errors
from telethon.tl import functions, types

FIXTURES = Path(__file__).resolve().parent / "tg_fixtures"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class TgServer:
    """``routes`` maps a path with its query (``/s/name?before=10``) to a :class:`Route`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append(self.path)
                route = server.routes.get(self.path) or Route(404, b"<html>not found</html>")
                self.send_response(route.status)
                headers = {"Content-Type": "text/html; charset=utf-8", **route.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "TgServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def page(self, path: str, body: str | bytes, status: int = 200, **headers: str) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        extra = {k.replace("_", "-"): v for k, v in headers.items()}
        self.routes[path] = Route(status, data, extra)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Route(status, b"", {"Location": location})


def channel_page(name: str, fragments: list[str], *, before: int | None = None,
                 title: str = "Channel") -> str:
    """A ``t.me/s/<name>`` page around post fragments (as Telegram lays it out)."""
    more = (f'<a href="/s/{name}?before={before}" class="tme_messages_more js-messages_more" '
            f'data-before="{before}"></a>' if before else "")
    prev = f'<link rel="prev" href="/s/{name}?before={before}">' if before else ""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>{prev}</head>'
            f'<body><div class="tgme_channel_info"><div class="tgme_channel_info_header">'
            f'<div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>'
            f'<div class="tgme_channel_info_header_username"><a href="https://t.me/{name}">@{name}'
            f'</a></div></div></div><section class="tgme_channel_history js-message_history">'
            f'{more}{"".join(fragments)}</section></body></html>')


class FakeTelegram:
    """One channel's server side. ``flood_on`` = the n-th getHistory call (1-based) that answers
    FLOOD_WAIT_<flood_seconds> (once)."""

    def __init__(self, channel: types.Channel | types.User, messages: list[types.Message]):
        self.channel = channel
        self.messages = list(messages)
        self.requests: list[Any] = []
        self.flood_on: int | None = None
        self.flood_seconds = 600
        self.history_calls = 0

    def install(self, client: TelegramClient) -> TelegramClient:
        client._call = self._call  # the one network entry point behind client(...)
        return client

    def resolves(self) -> int:
        return sum(isinstance(r, functions.contacts.ResolveUsernameRequest) for r in self.requests)

    async def _call(self, sender: Any, request: Any, ordered: bool = False,
                    flood_sleep_threshold: Any = None) -> Any:
        self.requests.append(request)
        if isinstance(request, functions.messages.GetHistoryRequest):
            self.history_calls += 1
            if self.flood_on == self.history_calls:
                self.flood_on = None
                raise errors.FloodWaitError(request, capture=self.flood_seconds)
            return self._history(request)
        if isinstance(request, functions.contacts.ResolveUsernameRequest):
            name = getattr(self.channel, "username", None) or ""
            if request.username.lower() != name.lower():
                raise errors.UsernameNotOccupiedError(request)
            peer = (types.PeerChannel(self.channel.id) if isinstance(self.channel, types.Channel)
                    else types.PeerUser(self.channel.id))
            chats = [self.channel] if isinstance(self.channel, types.Channel) else []
            users = [] if chats else [self.channel]
            return types.contacts.ResolvedPeer(peer=peer, chats=chats, users=users)
        if isinstance(request, functions.channels.GetChannelsRequest):
            if any(c.channel_id == self.channel.id for c in request.id):
                return types.messages.Chats(chats=[self.channel])
            raise errors.ChannelInvalidError(request)
        if isinstance(request, functions.users.GetUsersRequest):
            raise ConnectionError("offline")  # get_me() while dispatching events
        raise AssertionError(f"unexpected request {type(request).__name__}")

    def _history(self, req: Any) -> types.messages.ChannelMessages:
        newest_first = sorted(self.messages, key=lambda m: m.id, reverse=True)
        if req.offset_id:
            index = next((i for i, m in enumerate(newest_first) if m.id < req.offset_id),
                         len(newest_first))
        elif req.offset_date:
            index = next((i for i, m in enumerate(newest_first) if m.date < req.offset_date),
                         len(newest_first))
        else:
            index = 0
        start = index + req.add_offset
        end = start + req.limit
        page = newest_first[max(start, 0):max(end, 0)]
        return types.messages.ChannelMessages(pts=1, count=len(newest_first), messages=page,
                                              topics=[], chats=[], users=[])


def channel(channel_id: int = 1234567890, username: str | None = "novosti_test",
            title: str = "Новости", access_hash: int = 987654321) -> types.Channel:
    return types.Channel(id=channel_id, title=title, photo=types.ChatPhotoEmpty(),
                         date=datetime(2020, 1, 1), broadcast=True, access_hash=access_hash,
                         username=username)
