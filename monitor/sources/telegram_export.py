"""Telegram Desktop exports (``result.json``) read as items, so history can be imported.

:func:`read_chats` streams a single-chat export (``{"name", "type", "id", "messages"}``) or a
full account export (``{"chats": {"list": [...]}, "left_chats": {"list": [...]}}``) as chunks of
adapted items, chat by chat, in bounded memory (:mod:`monitor.sources.exportjson`); a ``plan``
callback decides per chat whether it is read and with which public username.
:class:`TelegramExportSource` yields one chat's items in batches, so an import runs through the
same pipeline as live collection and is idempotent: external ids are the message ids, and a
message id seen twice in one chat keeps its first message (a re-import adds no version).
One message that cannot be adapted is dropped and counted; the others are kept.

Format facts this relies on (see NOTES.md): ``date`` has no zone (the exporter's clock), so
``date_unixtime`` is used; old exports lack it, and their ``date`` is read in ``options["tz"]``
(an IANA zone, default UTC) with ``extra["date_zone_assumed"]`` saying so. ``text`` is a string or a
list of strings and ``{type, text}`` parts; ``from_id`` is a string such as ``"channel123"``;
``forwarded_from`` is a display name only.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import InvalidInput, PermanentSourceError
from monitor.settings import LimitSettings
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig
from monitor.sources.exportjson import ChatHeader, export_events, result_file
from monitor.sources.telegram_web import permalink
from monitor.types import Forward, Item, content_hash, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 500

# Chat types whose posts have t.me/c/<id>/<post> links.
_LINKABLE = {"public_channel", "private_channel", "public_supergroup", "private_supergroup"}
_CHANNELS = {"public_channel", "private_channel"}
_MEDIA = {"video_file": "video", "voice_message": "voice", "animation": "gif",
          "sticker": "sticker", "audio_file": "audio", "video_message": "video_note"}


@dataclass(frozen=True, slots=True)
class ExportedChat:
    """One chat of an export, its messages already adapted (service messages skipped)."""

    name: str | None
    id: int | None
    type: str | None
    items: tuple[Item, ...]
    path: Path


def join_text(value: Any) -> str:
    """An export's ``text`` / ``text_entities``: a string or a list of strings and {text} parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", ""))
                       for p in value if isinstance(p, (str, dict)))
    return ""


def _when(msg: dict, key: str, zone: tzinfo) -> tuple[datetime | None, str | None, bool]:
    """``(utc datetime, raw value, zone assumed)`` from ``<key>_unixtime`` or the zone-less key."""
    unix, local = msg.get(f"{key}_unixtime"), msg.get(key)
    if unix is not None:
        try:
            return datetime.fromtimestamp(int(unix), timezone.utc), str(unix), False
        except (TypeError, ValueError, OverflowError, OSError):
            pass
    if isinstance(local, str):
        try:
            parsed = datetime.fromisoformat(local)
        except ValueError:
            return None, local, False
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=zone).astimezone(timezone.utc), local, True
        return parsed.astimezone(timezone.utc), local, False
    return None, None, False


def _channel_from(value: Any) -> int | None:
    if isinstance(value, str) and value.startswith("channel") and value[7:].isascii() \
            and value[7:].isdigit() and len(value) < 30:
        return int(value[7:])
    return None


def _media(msg: dict) -> tuple[str | None, str]:
    """``(media_type, extra text)``; poll questions and answers are text to match."""
    if "photo" in msg:
        return "photo", ""
    if isinstance(poll := msg.get("poll"), dict):
        answers = [join_text(a.get("text")) for a in poll.get("answers") or []
                   if isinstance(a, dict)]
        return "poll", "\n".join(p for p in [join_text(poll.get("question"))] + answers if p)
    if msg.get("media_type"):
        return _MEDIA.get(msg["media_type"], msg["media_type"]), ""
    if "file" in msg:
        return "document", ""
    if "location_information" in msg:
        return "geo", ""
    if "contact_information" in msg:
        return "contact", ""
    return None, ""


def message_to_item(msg: dict, *, chat_id: int | None, chat_type: str | None,
                    username: str | None, zone: tzinfo, fetched_at: datetime) -> Item | None:
    """Adapt one exported message (None for service messages and non-messages)."""
    if not isinstance(msg, dict) or msg.get("type", "message") != "message":
        return None
    text = join_text(msg["text_entities"]) if "text_entities" in msg else join_text(msg.get("text"))
    media_type, media_text = _media(msg)
    if media_text:
        text = f"{text}\n\n{media_text}" if text else media_text
    published, raw_date, assumed = _when(msg, "date", zone)
    edited, _, _ = _when(msg, "edited", zone)
    msg_id = msg.get("id")
    if isinstance(msg_id, bool) or not isinstance(msg_id, int) or not 0 < msg_id < 2 ** 63:
        msg_id = None
    if isinstance(msg_id, int):
        external_id = str(msg_id)
    else:  # minimal exports without ids: a stable key from what the message says
        external_id = "h" + content_hash(raw_date, str(msg.get("from")), text)[:16]
    channel_id = chat_id if chat_type in _CHANNELS else _channel_from(msg.get("from_id"))
    url = None
    if isinstance(msg_id, int) and (username or chat_type in _LINKABLE):
        url = permalink(username, chat_id, msg_id)
    fwd = msg.get("forwarded_from")
    extra: dict[str, Any] = {"date_zone_assumed": str(zone)} if assumed else {}
    if msg.get("from_id") is not None:
        extra["from_id"] = msg["from_id"]
    # In a channel "from" is the channel's own name; the post signature is "author".
    author = msg.get("author") or (None if chat_type in _CHANNELS else msg.get("from"))
    reply_to = msg.get("reply_to_message_id")
    return Item(
        external_id=external_id,
        fetched_at=fetched_at,
        url=url,
        text=text,
        author=author if isinstance(author, str) else None,
        published_at=published or fetched_at,
        published_raw=raw_date,
        date_flag=None if published else ("unparseable" if raw_date else "missing"),
        edited_at=edited,
        channel_id=channel_id,
        channel_username=username,
        reply_to_id=reply_to if isinstance(reply_to, int) and 0 < reply_to < 2 ** 63 else None,
        media_type=media_type,
        forward=Forward(from_name=fwd) if isinstance(fwd, str) and fwd else None,
        raw=_json_bytes(msg),
        raw_format="json",
        extra=extra,
    )


def _json_bytes(value: Any) -> bytes:
    """The message as UTF-8 JSON; a string UTF-8 cannot hold (lone surrogate) stays escaped."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True).encode("ascii")


def _zone(name: str | None) -> tzinfo:
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r} (expected e.g. Europe/Moscow)") from None


class _SeenIds:
    """Message ids already read in one chat, in 8 bytes each: ids mostly come in ascending
    order, kept in a sorted array; the few that come out of order go to a set."""

    def __init__(self) -> None:
        self._sorted, self._others = array("q"), set()

    def add(self, msg_id: int) -> bool:
        """Record ``msg_id``; False when it was seen before."""
        ids = self._sorted
        if not ids or msg_id > ids[-1]:
            ids.append(msg_id)
            return True
        at = bisect.bisect_left(ids, msg_id)
        if (at < len(ids) and ids[at] == msg_id) or msg_id in self._others:
            return False
        self._others.add(msg_id)
        return True


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """How to read one chat: its public username (exports do not name it) for permalinks."""

    username: str | None = None


@dataclass(slots=True)
class Chunk:
    """Up to ``batch`` adapted items of one chat, in file order; ``dropped`` counts messages of
    this chunk that failed to adapt, ``duplicates`` repeated message ids left out."""

    chat: ChatHeader
    items: list[Item] = field(default_factory=list)
    dropped: int = 0
    duplicates: int = 0


def read_chats(path: str | Path, *, tz: str | None = None,
               plan: Callable[[ChatHeader], ChatPlan | None] = lambda _h: ChatPlan(),
               limits: LimitSettings | None = None, batch: int = BATCH_SIZE) -> Iterator[Chunk]:
    """Stream the chats ``plan`` accepts (None skips one) as chunks of items.

    Every accepted chat gives at least one chunk (maybe empty). ``tz`` is the exporter's zone,
    used only for the zone-less dates of old exports. InvalidInput for a file that is not an
    export or breaks a bound (``limits``)."""
    zone = _zone(tz)
    limits = limits or LimitSettings()
    fetched_at = utcnow()
    plans: dict[int, ChatPlan] = {}

    def want(header: ChatHeader) -> bool:
        chosen = plan(header)
        if chosen is not None:
            plans[header.index] = chosen
        return chosen is not None

    chunk: Chunk | None = None
    seen = _SeenIds()
    for event in export_events(path, max_bytes=limits.export_bytes,
                               max_depth=limits.json_depth, want=want):
        if isinstance(event, ChatHeader):
            if chunk is not None:
                yield chunk
            chunk = Chunk(event) if event.index in plans else None
            seen = _SeenIds()
            continue
        if chunk is None:
            continue
        header = chunk.chat
        try:
            item = message_to_item(event, chat_id=header.id, chat_type=header.type,
                                   username=plans[header.index].username, zone=zone,
                                   fetched_at=fetched_at)
        except Exception as exc:  # noqa: BLE001 - one hostile message costs only itself
            chunk.dropped += 1
            log.warning("export %s, chat %s: message %r dropped: %s: %s", path, header.name,
                        event.get("id"), type(exc).__name__, str(exc)[:200])
            continue
        if item is None:
            continue
        if item.external_id.isdigit() and not seen.add(int(item.external_id)):
            chunk.duplicates += 1
            continue
        chunk.items.append(item)
        if len(chunk.items) >= batch:
            yield chunk
            chunk = Chunk(header)
    if chunk is not None:
        yield chunk


def read_export(path: str | Path, *, usernames: Mapping[int, str] | None = None,
                tz: str | None = None) -> list[ExportedChat]:
    """Every chat of an export, held in memory (small exports and tests; imports stream with
    :func:`read_chats`). ``usernames`` (chat id → public username; exports do not name it) gives
    permalinks ``t.me/<username>/<id>``, else channels get ``t.me/c/<id>/<id>``."""
    file = result_file(path)
    chats: dict[int, tuple[ChatHeader, list[Item]]] = {}
    plan = lambda h: ChatPlan((usernames or {}).get(h.id))  # noqa: E731
    for chunk in read_chats(file, tz=tz, plan=plan, batch=1 << 30):
        chats.setdefault(chunk.chat.index, (chunk.chat, []))[1].extend(chunk.items)
    return [ExportedChat(name=h.name, id=h.id, type=h.type, items=tuple(items), path=file)
            for h, items in chats.values()]


def select_chat(chats: list[ExportedChat], chat_id: Any, where: str) -> ExportedChat:
    """The chat ``chat_id`` names (an id, or a name for exports without ids)."""
    if chat_id is None:
        if len(chats) == 1:
            return chats[0]
        raise InvalidInput(f"{where}: holds {len(chats)} chats; choose one with the chat_id "
                           f"option ({_listing(chats)})")
    for chat in chats:
        if chat_matches(chat, chat_id):
            return chat
    raise InvalidInput(f"{where}: no chat with id {chat_id!r}")


def chat_matches(chat: ChatHeader | ExportedChat, wanted: Any) -> bool:
    """True when ``wanted`` (from ``--chat`` or the chat_id option) names this chat: its id,
    or its name (exact, then case-insensitive)."""
    text = str(wanted).strip()
    if chat.id is not None and text.removeprefix("-100") == str(chat.id):
        return True
    return chat.name is not None and (chat.name == text or chat.name.casefold() == text.casefold())


def is_channel_or_group(chat: ChatHeader) -> bool:
    """Chats an import takes from a full-account export by default (not personal chats, bots,
    saved messages)."""
    return bool(chat.type) and chat.type.endswith(("_channel", "_group", "_supergroup"))


def _listing(chats) -> str:
    return ", ".join(f"{c.id}: {c.name}" for c in list(chats)[:20])


class TelegramExportSource(Source):
    """One chat of a Desktop export; locator = the export path, ``options["chat_id"]`` the chat
    (also ``username`` for permalinks and ``tz`` for zone-less old exports)."""

    type = "telegram-export"
    scheduled = False  # imported on demand (`monitor import`)
    silence = "never"
    server_path = True  # the locator is a file on the server: never from the web

    @classmethod
    def check_locator(cls, locator: str) -> str:
        return str(result_file(locator.strip()).resolve())

    @classmethod
    def default_name(cls, locator: str) -> str:
        return f"export {Path(locator).parent.name or locator}"

    async def collect(self, source: SourceConfig, ctx: CollectContext) -> AsyncIterator[Batch]:
        opts = source.options
        chat_id, username = opts.get("chat_id"), opts.get("username")
        headers: list[ChatHeader] = []

        def plan(header: ChatHeader) -> ChatPlan | None:
            headers.append(header)
            if (chat_id is None and header.section == "single") or (
                    chat_id is not None and chat_matches(header, chat_id)):
                return ChatPlan(username)
            return None

        chunks = read_chats(source.locator, tz=opts.get("tz"), plan=plan,
                            limits=ctx.settings.limits)
        cursor: int | None = None
        found = False
        try:
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                found = True
                ids = [int(it.external_id) for it in chunk.items if it.external_id.isdigit()]
                cursor = max([cursor or 0, *ids]) or None
                if ctx.progress and chunk.items:
                    ctx.progress(len(chunk.items))
                state = {"chat_id": chunk.chat.id, "chat_name": chunk.chat.name,
                         "chat_type": chunk.chat.type}
                # The cursor only records how far the import got; re-imports read everything
                # again (idempotent) so edits in a newer export are picked up.
                yield Batch(items=chunk.items, cursor=str(cursor) if cursor else None,
                            state=state, dropped=chunk.dropped + chunk.duplicates)
        except InvalidInput as exc:
            raise PermanentSourceError(str(exc)) from None
        if not found:
            where = source.locator
            if chat_id is None:
                raise PermanentSourceError(f"{where}: holds {len(headers)} chats; choose one "
                                           f"with the chat_id option ({_listing(headers)})")
            raise PermanentSourceError(f"{where}: no chat with id {chat_id!r}")
