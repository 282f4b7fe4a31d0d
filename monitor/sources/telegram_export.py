"""Telegram Desktop exports (``result.json``) read as items, so history can be imported.

:func:`read_export` reads a single-chat export (``{"name", "type", "id", "messages"}``) or a full
account export (``{"chats": {"list": [...]}, "left_chats": {"list": [...]}}``) into
:class:`ExportedChat` values. :class:`TelegramExportSource` yields one chat's items in batches, so
an import runs through the same pipeline as live collection and is idempotent: external ids are
the message ids.

Format facts this relies on (see NOTES.md): ``date`` has no zone (the exporter's clock), so
``date_unixtime`` is used; old exports lack it, and their ``date`` is read in ``options["tz"]``
(an IANA zone, default UTC) with ``extra["date_zone_assumed"]`` saying so. ``text`` is a string or a
list of strings and ``{type, text}`` parts; ``from_id`` is a string such as ``"channel123"``;
``forwarded_from`` is a display name only.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any, AsyncIterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import InvalidInput, PermanentSourceError
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig
from monitor.sources.telegram_web import permalink
from monitor.types import Forward, Item, content_hash, utcnow

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
        except (TypeError, ValueError, OverflowError):
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
    if isinstance(value, str) and value.startswith("channel") and value[7:].isdigit():
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
        reply_to_id=msg.get("reply_to_message_id") if isinstance(
            msg.get("reply_to_message_id"), int) else None,
        media_type=media_type,
        forward=Forward(from_name=fwd) if isinstance(fwd, str) and fwd else None,
        raw=json.dumps(msg, ensure_ascii=False).encode("utf-8"),
        raw_format="json",
        extra=extra,
    )


def _result_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "result.json"
    if not p.is_file():
        raise InvalidInput(f"{p}: no such file (expected a Telegram Desktop result.json or a "
                           f"folder holding one)")
    return p


def _zone(name: str | None) -> tzinfo:
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r} (expected e.g. Europe/Moscow)") from None


def read_export(path: str | Path, *, usernames: Mapping[int, str] | None = None,
                tz: str | None = None) -> list[ExportedChat]:
    """Every chat of an export. ``usernames`` (chat id → public username; exports do not name
    it) gives permalinks ``t.me/<username>/<id>``, else channels get ``t.me/c/<id>/<id>``.
    ``tz`` is the exporter's zone, used only for the zone-less dates of old exports."""
    file = _result_file(path)
    zone = _zone(tz)
    try:
        data = json.loads(file.read_bytes())
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}): "
                           f"not a Telegram Desktop export") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file}: cannot read: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        raw_chats = [data]
    elif isinstance(data, dict) and isinstance(data.get("chats"), dict) \
            and isinstance(data["chats"].get("list"), list):
        left = data.get("left_chats")
        left_list = (left.get("list") or []) if isinstance(left, dict) else []
        raw_chats = data["chats"]["list"] + left_list
    else:
        raise InvalidInput(f"{file}: not a Telegram Desktop export (expected a JSON object with "
                           f"'messages' or 'chats.list')")
    fetched_at = utcnow()
    chats = []
    for raw in raw_chats:
        if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
            raise InvalidInput(f"{file}: a chat without a 'messages' list: not a Telegram export")
        chat_id = raw.get("id") if isinstance(raw.get("id"), int) else None
        items = [it for m in raw["messages"]
                 if (it := message_to_item(m, chat_id=chat_id, chat_type=raw.get("type"),
                                           username=(usernames or {}).get(chat_id), zone=zone,
                                           fetched_at=fetched_at)) is not None]
        chats.append(ExportedChat(name=raw.get("name"), id=chat_id, type=raw.get("type"),
                                  items=tuple(items), path=file))
    return chats


def select_chat(chats: list[ExportedChat], chat_id: Any, where: str) -> ExportedChat:
    """The chat ``chat_id`` names (an id, or a name for exports without ids)."""
    if chat_id is None:
        if len(chats) == 1:
            return chats[0]
        listing = ", ".join(f"{c.id}: {c.name}" for c in chats[:20])
        raise InvalidInput(f"{where}: holds {len(chats)} chats; choose one with the chat_id "
                           f"option ({listing})")
    for chat in chats:
        if str(chat.id) == str(chat_id) or (chat.id is None and chat.name == chat_id):
            return chat
    raise InvalidInput(f"{where}: no chat with id {chat_id!r}")


class TelegramExportSource(Source):
    """One chat of a Desktop export; locator = the export path, ``options["chat_id"]`` the chat
    (also ``username`` for permalinks and ``tz`` for zone-less old exports)."""

    type = "telegram-export"
    scheduled = False  # imported on demand (`monitor import`)
    silence = "never"

    @classmethod
    def check_locator(cls, locator: str) -> str:
        return str(_result_file(locator.strip()).resolve())

    @classmethod
    def default_name(cls, locator: str) -> str:
        return f"export {Path(locator).parent.name or locator}"

    async def collect(self, source: SourceConfig, ctx: CollectContext) -> AsyncIterator[Batch]:
        opts = source.options
        try:
            chat_id, username = opts.get("chat_id"), opts.get("username")
            names = {int(chat_id): username} if username and str(chat_id).isdigit() else None
            chats = await asyncio.to_thread(read_export, source.locator, usernames=names,
                                            tz=opts.get("tz"))
            chat = select_chat(chats, chat_id, source.locator)
            if username and names is None and chat.id is not None:  # single chat, no chat_id
                chats = await asyncio.to_thread(read_export, source.locator,
                                                usernames={chat.id: username}, tz=opts.get("tz"))
                chat = select_chat(chats, chat.id, source.locator)
        except InvalidInput as exc:
            raise PermanentSourceError(str(exc)) from None
        items = sorted(chat.items, key=lambda it: (not it.external_id.isdigit(),
                                                   int(it.external_id) if it.external_id.isdigit()
                                                   else 0, it.published_at))
        state = {"chat_id": chat.id, "chat_name": chat.name, "chat_type": chat.type}
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start:start + BATCH_SIZE]
            ids = [int(it.external_id) for it in chunk if it.external_id.isdigit()]
            if ctx.progress:
                ctx.progress(len(chunk))
            # The cursor only records how far the import got; re-imports read everything again
            # (idempotent) so edits in a newer export are picked up.
            yield Batch(items=chunk, cursor=str(max(ids)) if ids else None,
                        state=state if start == 0 else None)
        if not items:
            yield Batch(state=state)
