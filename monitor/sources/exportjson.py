"""Telegram Desktop ``result.json`` files read as a stream: bounded memory whatever their size.

A full-account export is one JSON document that can weigh gigabytes; reading it whole (and
adapting every message at once) took about ten times its size in memory. Here ijson (yajl in C)
walks the document and only one message at a time is built as a Python object, so memory stays
flat: a chat's header, the message being read, and whatever the consumer keeps.

:func:`export_events` yields a :class:`ChatHeader` when a chat's ``messages`` list begins, then
that chat's messages one by one (as plain dicts), then the next chat's header, and so on. The
consumer's ``want`` callback says for each header whether its messages are wanted; the others are
skipped without being built. Telegram Desktop writes ``name``, ``type`` and ``id`` before
``messages``; keys that come after the list are not seen by ``want``.

Bounds: the file's size (``limits.export_bytes``, checked before reading and again while reading,
so a growing or special file cannot run forever), and JSON nesting depth (``limits.json_depth``).
Both raise :class:`~monitor.errors.InvalidInput` naming the cap: a file is refused, never
silently truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import ijson

from monitor.errors import InvalidInput

__all__ = ["ChatHeader", "export_events", "result_file"]

# Where chats live in the two shapes of export.
_CHAT_PREFIXES = {"": "single", "chats.list.item": "chats", "left_chats.list.item": "left_chats"}
_HEADER_KEYS = ("name", "type", "id")
_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})


@dataclass(frozen=True, slots=True)
class ChatHeader:
    """A chat of an export as its header says (before its messages are read)."""

    name: str | None
    id: int | None
    type: str | None
    section: str  # "single" (a one-chat export), "chats" or "left_chats" (a full export)
    index: int  # position among the export's chats, from 0


def result_file(path: str | Path) -> Path:
    """The export file a path names (``result.json`` inside a folder); InvalidInput otherwise."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "result.json"
    if not p.exists():
        raise InvalidInput(f"{p}: no such file (expected a Telegram Desktop result.json or a "
                           f"folder holding one)")
    if not p.is_file():
        raise InvalidInput(f"{p}: not a regular file (expected a Telegram Desktop result.json)")
    return p


class _CappedReader:
    """A binary file that refuses to give more than ``cap`` bytes in all."""

    def __init__(self, fh: IO[bytes], cap: int, where: Path):
        self.fh, self.cap, self.where, self.total = fh, cap, where, 0

    def read(self, size: int = -1) -> bytes:
        # ijson first reads 0 bytes to learn whether the file gives bytes or text
        data = self.fh.read(size if size is not None and size >= 0 else 1 << 16)
        self.total += len(data)
        if self.total > self.cap:
            raise InvalidInput(f"{self.where}: larger than the {self.cap}-byte cap for exports "
                               f"(limits.export_bytes); nothing was imported past it")
        return data


def export_events(path: str | Path, *, max_bytes: int, max_depth: int,
                  want: Callable[[ChatHeader], bool] = lambda _h: True,
                  ) -> Iterator[ChatHeader | dict]:
    """Stream an export: a ChatHeader per chat, followed by its messages when ``want`` says so.

    Raises InvalidInput for a file over ``max_bytes``, nesting deeper than ``max_depth``,
    invalid JSON, or a document that is not an export (checked as the stream reveals it)."""
    file = result_file(path)
    size = file.stat().st_size
    if size > max_bytes:
        raise InvalidInput(f"{file}: {size} bytes, over the {max_bytes}-byte cap for exports "
                           f"(limits.export_bytes)")
    chats = 0
    header: dict[str, Any] = {}
    chat_prefix: str | None = None  # the chat object being read
    messages_prefix = ""  # "<chat>.messages" once its list began
    wanted = False
    builder = None
    message_depth = 0
    depth = 0
    shape_known = False
    try:
        with open(file, "rb") as fh:
            reader = _CappedReader(fh, max_bytes, file)
            for prefix, event, value in ijson.parse(reader, use_float=True):
                if event in _STARTS:
                    depth += 1
                    if depth > max_depth:
                        raise InvalidInput(f"{file}: JSON nested deeper than {max_depth} levels "
                                           f"(limits.json_depth): not a Telegram export")
                elif event in _ENDS:
                    depth -= 1
                if builder is not None:  # inside a wanted message: build it
                    builder.event(event, value)
                    if depth == message_depth:
                        yield builder.value
                        builder = None
                    continue
                if depth == 1 and event == "map_key" and not shape_known:
                    if value in ("messages", "chats", "left_chats"):
                        shape_known = True
                if messages_prefix and (prefix == messages_prefix
                                        or prefix.startswith(messages_prefix + ".")):
                    if prefix == messages_prefix + ".item" and event == "start_map" and wanted:
                        builder = ijson.ObjectBuilder()
                        builder.event(event, value)
                        message_depth = depth - 1
                    elif prefix == messages_prefix and event == "end_array":
                        messages_prefix = ""
                    continue
                if prefix in _CHAT_PREFIXES and event == "start_map" and (
                        prefix or depth == 1):
                    chat_prefix, header, messages_prefix = prefix, {}, ""
                    continue
                if chat_prefix is None:
                    continue
                dot = f"{chat_prefix}." if chat_prefix else ""
                if event in ("string", "number", "boolean", "null") and \
                        prefix.removeprefix(dot) in _HEADER_KEYS and prefix.startswith(dot) and \
                        prefix.count(".") == dot.count("."):
                    header[prefix.removeprefix(dot)] = value
                elif prefix == f"{dot}messages" and event == "start_array":
                    chat_id = header.get("id")
                    info = ChatHeader(
                        name=header["name"] if isinstance(header.get("name"), str) else None,
                        id=chat_id if isinstance(chat_id, int) and not isinstance(chat_id, bool)
                        else None,
                        type=header["type"] if isinstance(header.get("type"), str) else None,
                        section=_CHAT_PREFIXES[chat_prefix], index=chats)
                    chats += 1
                    messages_prefix = f"{dot}messages"
                    wanted = bool(want(info))
                    yield info
                elif prefix == chat_prefix and event == "end_map":
                    chat_prefix = None
    except InvalidInput:
        raise
    except ijson.JSONError as exc:
        raise InvalidInput(f"{file}: not valid JSON ({str(exc)[:200]}): not a Telegram Desktop "
                           f"export") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{file}: unreadable JSON ({type(exc).__name__}: "
                           f"{str(exc)[:200]})") from None
    except OSError as exc:
        raise InvalidInput(f"{file}: cannot read: {exc.strerror or exc}") from None
    if not chats:
        raise InvalidInput(f"{file}: not a Telegram Desktop export (expected a JSON object with "
                           f"'messages' or 'chats.list')")

